// Configuration: the TOML file a user writes, parsed and validated.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

namespace ck {

// One problem found in a configuration file. `line`/`column` are 1-based, 0 when unknown.
struct ConfigIssue {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;  // dotted path, e.g. "destinations.aws-s3.bucket"
  std::string message;
  bool error = true;  // false: a warning (e.g. inline secret)
  // "file:line:column: error: key: message"
  std::string ToString() const;
};

struct SourceConfig {
  std::string path;  // absolute, lexically normalised (no trailing slash); symlinks kept
                     // as written (overlap checks compare the resolved real paths)
  std::vector<std::string> exclude;  // glob patterns on the relative path
  std::string prefix;                // key prefix for this source ("" or ending in '/')
  bool follow_symlinks = false;
};

// Where a credential comes from: an environment variable name or an inline value.
struct CredentialRef {
  std::string env;           // environment variable to read, if set
  std::string inline_value;  // literal value from the file (warned about)
  bool empty() const { return env.empty() && inline_value.empty(); }
};

struct DestinationConfig {
  std::string name;  // table name under [destinations]
  std::string type;  // "s3" or "b2"
  bool enabled = true;
  std::string bucket;
  std::string prefix;  // "" or ending in '/' (appended when the file omits it)
  // --- s3 ---
  std::string region = "us-east-1";
  std::string endpoint;       // "" = AWS (https://s3.<region>.amazonaws.com); else
                              // scheme://host[:port], lowercase scheme, no trailing '/'
  bool path_style = false;    // forced true when the endpoint host is an IP address or localhost
  std::string profile;        // ~/.aws/credentials profile; "" = AWS_PROFILE or "default"
  bool sign_payload = false;  // also sign each body's SHA-256 (see MakeS3Destination)
  CredentialRef access_key_id;
  CredentialRef secret_access_key;
  CredentialRef session_token;
  // --- b2 ---
  std::string api_url = "https://api.backblazeb2.com";
  CredentialRef key_id;           // empty = B2_APPLICATION_KEY_ID (see ResolveB2Credentials)
  CredentialRef application_key;  // empty = B2_APPLICATION_KEY
  // --- transfer tuning (0 = inherit from [sync]) ---
  int transfers = 0;
  uint64_t multipart_threshold = 0;
  uint64_t part_size = 0;
};

struct SyncConfig {
  int transfers = 4;                           // concurrent uploads per destination
  uint64_t multipart_threshold = 64ull << 20;  // bytes; files at or above use multipart
  uint64_t part_size = 16ull << 20;            // bytes per part
  int max_attempts = 5;     // a failed file is re-tried by `sync` until it failed this often
  int request_retries = 5;  // retries of one request on transient errors
};

struct LogConfig {
  std::string level = "info";  // trace|debug|info|warn|error|off
  std::string file;            // "" = stderr only
};

// [server]: what `cloudkeep serve` runs.
struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // host:port
  std::string cert;                       // TLS certificate (PEM), absolute; "" = plain HTTP
  std::string key;                        // TLS private key (PEM), absolute; required with cert
  std::string token_file;          // API token file, absolute; "" = <config dir>/cloudkeep.token
  int scan_interval_s = 900;       // background sync pass every this many seconds (0 = never)
  int reconcile_interval_s = 900;  // full bucket re-listing at most this often
  // A status request probes a destination (HEAD bucket / B2 b2_get_upload_url)
  // when nothing was heard from it for this long; 0 = on every request.
  int health_check_interval_s = 1;
  // Key ranges one bucket listing is split into and listed in parallel
  // (InspectorOptions::list_parallelism); also `status` with bucket figures.
  int list_parallelism = 4;
};

struct Config {
  std::string file;      // absolute path of the config file
  std::string database;  // absolute path of the SQLite state DB
  std::vector<SourceConfig> sources;
  std::vector<DestinationConfig> destinations;  // in file order
  SyncConfig sync;
  LogConfig log;
  ServerConfig server;

  const DestinationConfig* FindDestination(const std::string& name) const;
};

// Parses and validates a configuration file. Every problem (syntax, unknown keys,
// wrong types, missing required keys, bad values, overlapping sources, colliding
// keys) is appended to *issues with file, line and key; warnings too. Issues are
// appended in file order, whole-file ones (line 0, e.g. "no [[sources]]") last;
// `issues` may be null. toml++ stops at the first syntax error, so a file with a
// syntax error yields exactly that one issue. Messages never contain credential
// values (inline or misplaced secrets).
// Returns the config if there were no errors (warnings allowed), else a kConfig
// status "FILE: N errors (first at line L: KEY: MESSAGE)". An unreadable file is
// a kConfig error too (and one line-0 issue). Relative paths resolve against the
// file's directory; source directories must exist (checked on the real
// filesystem).
Result<Config> LoadConfig(const std::string& path, std::vector<ConfigIssue>* issues);

// Same, from text (`path` is used for messages and relative paths).
Result<Config> ParseConfig(const std::string& text, const std::string& path,
                           std::vector<ConfigIssue>* issues);

// A commented starter configuration (what `cloudkeep init` writes).
std::string StarterConfig();

// Parses sizes like "64MiB", "16 MB", "5000000" (bytes), "1.5GiB": a decimal
// number, optional spaces, and an optional case-insensitive unit B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). Fractions are rounded
// to the nearest byte (not allowed without a unit or with B). nullopt when
// malformed, negative or above UINT64_MAX.
std::optional<uint64_t> ParseByteSize(const std::string& s);

}  // namespace ck
