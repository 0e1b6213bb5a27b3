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
  std::string path;                  // absolute, normalised (no trailing slash)
  std::vector<std::string> exclude;  // glob patterns on the relative path
  std::string prefix;                // key prefix for this source ("" or ending in '/')
  bool follow_symlinks = false;
};

// Where a credential comes from: an environment variable name or an inline value.
struct CredentialRef {
  std::string env;     // environment variable to read, if set
  std::string inline_value;  // literal value from the file (warned about)
  bool empty() const { return env.empty() && inline_value.empty(); }
};

struct DestinationConfig {
  std::string name;  // table name under [destinations]
  std::string type;  // "s3" (later "b2")
  bool enabled = true;
  std::string bucket;
  std::string prefix;  // "" or ending in '/'
  // --- s3 ---
  std::string region = "us-east-1";
  std::string endpoint;     // "" = AWS (https://s3.<region>.amazonaws.com)
  bool path_style = false;  // forced true when endpoint is an IP address
  std::string profile;      // ~/.aws/credentials profile; "" = AWS_PROFILE or "default"
  CredentialRef access_key_id;
  CredentialRef secret_access_key;
  CredentialRef session_token;
  // --- b2 ---
  std::string api_url = "https://api.backblazeb2.com";
  CredentialRef key_id;
  CredentialRef application_key;
  // --- transfer tuning (0 = inherit from [sync]) ---
  int transfers = 0;
  uint64_t multipart_threshold = 0;
  uint64_t part_size = 0;
};

struct SyncConfig {
  int transfers = 4;                             // concurrent uploads per destination
  uint64_t multipart_threshold = 64ull << 20;    // bytes; files at or above use multipart
  uint64_t part_size = 16ull << 20;              // bytes per part
  int max_attempts = 5;     // a failed file is re-tried by `sync` until it failed this often
  int request_retries = 5;  // retries of one request on transient errors
};

struct LogConfig {
  std::string level = "info";  // trace|debug|info|warn|error|off
  std::string file;            // "" = stderr only
};

struct Config {
  std::string file;      // absolute path of the config file
  std::string database;  // absolute path of the SQLite state DB
  std::vector<SourceConfig> sources;
  std::vector<DestinationConfig> destinations;  // in file order
  SyncConfig sync;
  LogConfig log;

  const DestinationConfig* FindDestination(const std::string& name) const;
};

// Parses and validates a configuration file. Every problem (syntax, unknown keys,
// wrong types, missing required keys, bad values, overlapping sources, colliding
// keys) is appended to *issues with file, line and key; warnings too.
// Returns the config if there were no errors, else a kConfig status whose message
// summarises the count. Relative paths resolve against the file's directory.
Result<Config> LoadConfig(const std::string& path, std::vector<ConfigIssue>* issues);

// Same, from text (`path` is used for messages and relative paths).
Result<Config> ParseConfig(const std::string& text, const std::string& path,
                           std::vector<ConfigIssue>* issues);

// A commented starter configuration (what `cloudkeep init` writes).
std::string StarterConfig();

// Parses sizes like "64MiB", "16 MB", "5000000" (bytes). nullopt when malformed.
std::optional<uint64_t> ParseByteSize(const std::string& s);

}  // namespace ck
