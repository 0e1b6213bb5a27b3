// Configuration file parsing and validation (see config.h).
//
// The file is parsed with toml++ (which stops at the first syntax error), then a
// Validator walks the tree and records every problem it finds, with the position
// toml++ kept for each key and value, instead of stopping at the first one.
#include "config/config.h"

#include "util/glob.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "util/encoding.h"

namespace ck {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kTiB = uint64_t{1} << 40;
// S3 limits: every part but the last is at least 5 MiB, no part (and no single
// PUT) exceeds 5 GiB.
constexpr uint64_t kMinPartSize = 5 * kMiB;
constexpr uint64_t kMaxPartSize = 5 * kGiB;
constexpr int kMaxTransfers = 64;

using KeyList = std::span<const std::string_view>;

constexpr std::string_view kTopKeys[] = {"state",  "sync",    "log",
                                         "server", "sources", "destinations"};
constexpr std::string_view kServerKeys[] = {"listen",
                                            "cert",
                                            "key",
                                            "token_file",
                                            "scan_interval",
                                            "reconcile_interval",
                                            "health_check_interval",
                                            "list_parallelism"};
constexpr std::string_view kStateKeys[] = {"database"};
constexpr std::string_view kSyncKeys[] = {"transfers", "multipart_threshold", "part_size",
                                          "max_attempts", "request_retries"};
constexpr std::string_view kLogKeys[] = {"level", "file"};
constexpr std::string_view kSourceKeys[] = {"path", "exclude", "prefix", "follow_symlinks"};
constexpr std::string_view kDestCommonKeys[] = {
    "type", "enabled", "bucket", "prefix", "transfers", "multipart_threshold", "part_size"};
constexpr std::string_view kDestS3Keys[] = {
    "region",        "endpoint",          "path_style",        "profile",
    "access_key_id", "access_key_id_env", "secret_access_key", "secret_access_key_env",
    "session_token", "session_token_env", "sign_payload"};
constexpr std::string_view kDestB2Keys[] = {"api_url", "key_id", "key_id_env", "application_key",
                                            "application_key_env"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

bool Contains(KeyList list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string Join(KeyList list, std::string_view sep) {
  std::string out;
  for (std::string_view s : list) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool IsAsciiDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAsciiLower(char c) {
  return c >= 'a' && c <= 'z';
}
bool IsAsciiAlpha(char c) {
  return IsAsciiLower(c) || (c >= 'A' && c <= 'Z');
}
char ToLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// [A-Za-z0-9_-]+ : TOML bare keys, and the allowed destination names.
bool IsBareKey(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '_' && c != '-') return false;
  return true;
}

// One component of a dotted key path, quoted as TOML would need it.
std::string QuoteKey(std::string_view k) {
  if (IsBareKey(k)) return std::string(k);
  std::string out = "\"";
  for (char c : k) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string KeyPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? QuoteKey(key) : parent + "." + QuoteKey(key);
}

// "a string", "an integer", ... for "expected X, got Y" messages.
std::string_view TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return n.as_array()->is_array_of_tables() ? "an array of tables" : "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

template <typename T>
constexpr std::string_view ExpectedName() {
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  if constexpr (std::is_same_v<T, int64_t>) return "an integer";
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions),
// ASCII case-insensitive.
size_t EditDistance(std::string_view a, std::string_view b) {
  const std::string x = ToLower(a), y = ToLower(b);
  std::vector<std::vector<size_t>> d(x.size() + 1, std::vector<size_t>(y.size() + 1));
  for (size_t i = 0; i <= x.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= y.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= x.size(); ++i) {
    for (size_t j = 1; j <= y.size(); ++j) {
      const size_t cost = x[i - 1] == y[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[x.size()][y.size()];
}

// The known key closest to `key`, or "" when none is close enough to be a typo.
std::string_view ClosestKey(std::string_view key, KeyList known) {
  const size_t limit = key.size() <= 4 ? 1 : key.size() <= 8 ? 2 : 3;
  std::string_view best;
  size_t best_distance = limit + 1;
  for (std::string_view k : known) {
    const size_t dist = EditDistance(key, k);
    if (dist < best_distance) {
      best = k;
      best_distance = dist;
    }
  }
  return best;
}

// Exact size for messages: "5MiB", or "5000000 bytes (4.8 MiB)".
std::string SizeText(uint64_t bytes) {
  static constexpr std::pair<uint64_t, std::string_view> kUnits[] = {
      {kTiB, "TiB"}, {kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  for (const auto& [mult, name] : kUnits)
    if (bytes != 0 && bytes % mult == 0) return fmt::format("{}{}", bytes / mult, name);
  if (bytes < kKiB) return fmt::format("{} bytes", bytes);
  return fmt::format("{} bytes ({})", bytes, HumanBytes(bytes));
}

// Absolute, lexically normalised, without a trailing slash (except "/").
std::string NormalPath(const fs::path& p) {
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string Resolve(const fs::path& dir, const std::string& p) {
  fs::path path(p);
  return NormalPath(path.is_absolute() ? path : dir / path);
}

std::string AbsoluteFile(const std::string& path) {
  fs::path p(path);
  if (!p.is_absolute()) {
    std::error_code ec;
    fs::path cwd = fs::current_path(ec);
    if (!ec) p = cwd / p;
  }
  return NormalPath(p);
}

bool IsIpv4(const std::string& s) {
  in_addr addr;
  return inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

bool IsIpv6(const std::string& s) {
  in6_addr addr;
  return inet_pton(AF_INET6, s.c_str(), &addr) == 1;
}

// S3 bucket naming rules: 3-63 characters of a-z 0-9 . -, starting and ending
// with a letter or digit, no "..", not an IPv4 address. Returns "" when valid,
// else the rule broken.
std::string S3BucketProblem(const std::string& b) {
  if (b.size() < 3 || b.size() > 63)
    return fmt::format("must be 3 to 63 characters long (it has {})", b.size());
  for (char c : b)
    if (!IsAsciiLower(c) && !IsAsciiDigit(c) && c != '.' && c != '-')
      return "may contain only lowercase letters, digits, '.' and '-'";
  auto alnum = [](char c) { return IsAsciiLower(c) || IsAsciiDigit(c); };
  if (!alnum(b.front()) || !alnum(b.back())) return "must start and end with a letter or digit";
  if (b.find("..") != std::string::npos) return "must not contain \"..\"";
  if (IsIpv4(b)) return "must not be formatted as an IP address";
  return "";
}

// B2 bucket naming rules: 6-50 characters of letters, digits and '-', not
// starting with "b2-" (reserved).
std::string B2BucketProblem(const std::string& b) {
  if (b.size() < 6 || b.size() > 50)
    return fmt::format("must be 6 to 50 characters long (it has {})", b.size());
  for (char c : b)
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '-')
      return "may contain only letters, digits and '-'";
  if (ToLower(b.substr(0, 3)) == "b2-")
    return "must not start with \"b2-\" (reserved by Backblaze)";
  return "";
}

struct ParsedUrl {
  std::string normalized;  // scheme lowercased, without a trailing '/'
  bool host_is_ip = false;
  bool host_is_localhost = false;
};

// Accepts http(s)://host[:port] with an optional single trailing '/'; host is a
// DNS name, an IPv4 address or a bracketed IPv6 address. On failure returns
// nullopt and sets *why.
std::optional<ParsedUrl> ParseServiceUrl(const std::string& url, std::string* why) {
  std::string_view rest = url;
  std::string scheme;
  for (std::string_view s : {"https://", "http://"}) {
    if (rest.size() >= s.size() && ToLower(rest.substr(0, s.size())) == s) {
      scheme = s;
      rest.remove_prefix(s.size());
      break;
    }
  }
  if (scheme.empty()) {
    *why = "must start with http:// or https://";
    return std::nullopt;
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    *why = "must not have a query or fragment";
    return std::nullopt;
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    *why = "must not contain a path";
    return std::nullopt;
  }
  if (rest.find('@') != std::string_view::npos) {
    *why = "must not contain user information";
    return std::nullopt;
  }
  ParsedUrl out;
  std::string host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      *why = "has an unterminated '[' in the host";
      return std::nullopt;
    }
    host = std::string(rest.substr(1, close - 1));
    if (!IsIpv6(host)) {
      *why = "has an invalid IPv6 address";
      return std::nullopt;
    }
    out.host_is_ip = true;
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *why = "has unexpected characters after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
      if (port.empty()) {
        *why = "has an empty port";
        return std::nullopt;
      }
    }
  } else {
    const size_t colon = rest.find(':');
    host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) {
        *why = "has an empty port";
        return std::nullopt;
      }
    }
    if (host.empty()) {
      *why = "has no host";
      return std::nullopt;
    }
    for (char c : host) {
      if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '.' && c != '-') {
        *why = "has an invalid host name";
        return std::nullopt;
      }
    }
    if (host.front() == '.' || host.back() == '.' || host.find("..") != std::string::npos) {
      *why = "has an invalid host name";
      return std::nullopt;
    }
    out.host_is_ip = IsIpv4(host);
    out.host_is_localhost = ToLower(host) == "localhost";
  }
  if (!port.empty()) {
    bool digits = port.size() <= 5;
    for (char c : port) digits = digits && IsAsciiDigit(c);
    const int value = digits ? std::stoi(std::string(port)) : 0;
    if (!digits || value < 1 || value > 65535) {
      *why = "has an invalid port (expected 1 to 65535)";
      return std::nullopt;
    }
  }
  out.normalized = scheme + std::string(rest);
  return out;
}

// [A-Za-z_][A-Za-z0-9_]*
bool IsEnvVarName(std::string_view s) {
  if (s.empty() || IsAsciiDigit(s.front())) return false;
  for (char c : s)
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '_') return false;
  return true;
}

// Walks a parsed document, filling a Config and recording every problem.
class Validator {
 public:
  Validator(std::string file, fs::path dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  std::vector<ConfigIssue>& issues() { return issues_; }

  void Report(const toml::source_region& where, std::string key, std::string message, bool error) {
    ConfigIssue issue;
    issue.file = file_;
    issue.line = static_cast<int>(where.begin.line);
    issue.column = static_cast<int>(where.begin.column);
    issue.key = std::move(key);
    issue.message = std::move(message);
    issue.error = error;
    issues_.push_back(std::move(issue));
  }
  void Error(const toml::node& at, std::string key, std::string message) {
    Report(at.source(), std::move(key), std::move(message), true);
  }
  void Warn(const toml::node& at, std::string key, std::string message) {
    Report(at.source(), std::move(key), std::move(message), false);
  }
  // A problem with the file as a whole (no position).
  void FileError(std::string key, std::string message) {
    Report(toml::source_region{}, std::move(key), std::move(message), true);
  }

  void Validate(const toml::table& root, Config* cfg) {
    CheckKeys(root, "", kTopKeys);
    cfg->database = Resolve(dir_, "cloudkeep.db");
    if (const toml::table* state = Section(root, "state")) ParseState(*state, cfg);
    if (const toml::table* sync = Section(root, "sync")) ParseSync(*sync, &cfg->sync);
    if (const toml::table* log = Section(root, "log")) ParseLog(*log, &cfg->log);
    cfg->server.token_file = Resolve(dir_, "cloudkeep.token");
    if (const toml::table* srv = Section(root, "server")) ParseServer(*srv, &cfg->server);
    ParseSources(root.get("sources"), cfg);
    ParseDestinations(root.get("destinations"), cfg);
  }

 private:
  // Reports every key of `t` not in `known`, suggesting the closest known key.
  // `explain` may return a more specific message for a key ("" = generic).
  void CheckKeys(const toml::table& t, const std::string& path, KeyList known,
                 const std::function<std::string(std::string_view)>& explain = {}) {
    for (auto&& [k, v] : t) {
      const std::string_view name = k.str();
      if (Contains(known, name)) continue;
      std::string message = explain ? explain(name) : std::string();
      if (message.empty()) {
        const std::string_view guess = ClosestKey(name, known);
        if (!guess.empty()) {
          message = fmt::format("unknown key '{}'; did you mean '{}'?", name, guess);
        } else {
          message = fmt::format("unknown key '{}' (expected one of: {})", name, Join(known, ", "));
        }
      }
      Report(k.source(), KeyPath(path, name), std::move(message), true);
    }
  }

  // The table under `key`, nullptr (with an error) when it is something else.
  const toml::table* Section(const toml::table& root, std::string_view key) {
    const toml::node* n = root.get(key);
    if (n == nullptr) return nullptr;
    if (const toml::table* t = n->as_table()) return t;
    Error(*n, std::string(key), fmt::format("expected a table ([{}]), got {}", key, TypeName(*n)));
    return nullptr;
  }

  // The value under `key` when present and of type T; reports a type error and
  // returns nullptr when it has another type; nullptr when absent.
  template <typename T>
  const toml::value<T>* Typed(const toml::table& t, const std::string& path, std::string_view key) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    if (const toml::value<T>* v = n->as<T>()) return v;
    Error(*n, KeyPath(path, key),
          fmt::format("expected {}, got {}", ExpectedName<T>(), TypeName(*n)));
    return nullptr;
  }

  void ReadBool(const toml::table& t, const std::string& path, std::string_view key, bool* out) {
    if (const auto* v = Typed<bool>(t, path, key)) *out = v->get();
  }

  // An integer in [lo, hi] stored into *out; errors otherwise.
  void ReadInt(const toml::table& t, const std::string& path, std::string_view key, int64_t lo,
               int64_t hi, int* out) {
    const auto* v = Typed<int64_t>(t, path, key);
    if (v == nullptr) return;
    if (v->get() < lo || v->get() > hi) {
      Error(*v, KeyPath(path, key),
            fmt::format("must be between {} and {}, got {}", lo, hi, v->get()));
      return;
    }
    *out = static_cast<int>(v->get());
  }

  // A byte count (integer or size string) in [lo, hi] stored into *out.
  void ReadSize(const toml::table& t, const std::string& path, std::string_view key, uint64_t lo,
                uint64_t hi, uint64_t* out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const std::string dotted = KeyPath(path, key);
    uint64_t bytes = 0;
    if (const auto* i = n->as_integer()) {
      if (i->get() < 0) {
        Error(*n, dotted, fmt::format("must not be negative, got {}", i->get()));
        return;
      }
      bytes = static_cast<uint64_t>(i->get());
    } else if (const auto* s = n->as_string()) {
      std::optional<uint64_t> parsed = ParseByteSize(s->get());
      if (!parsed) {
        Error(*n, dotted,
              fmt::format("invalid size \"{}\": expected a number of bytes or a number with a "
                          "unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. \"64MiB\"",
                          s->get()));
        return;
      }
      bytes = *parsed;
    } else {
      Error(*n, dotted,
            fmt::format("expected an integer (bytes) or a size string like \"64MiB\", got {}",
                        TypeName(*n)));
      return;
    }
    if (bytes < lo || bytes > hi) {
      Error(*n, dotted,
            fmt::format("must be between {} and {}, got {}", SizeText(lo), SizeText(hi),
                        SizeText(bytes)));
      return;
    }
    *out = bytes;
  }

  // A key prefix: must not start with '/'; '/' is appended when missing.
  void ReadPrefix(const toml::table& t, const std::string& path, std::string* out) {
    const auto* v = Typed<std::string>(t, path, "prefix");
    if (v == nullptr) return;
    std::string prefix = v->get();
    if (!prefix.empty() && prefix.front() == '/') {
      Error(*v, KeyPath(path, "prefix"),
            fmt::format("must not start with '/' (got \"{}\"); object keys are relative", prefix));
      return;
    }
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    *out = std::move(prefix);
  }

  void ParseState(const toml::table& t, Config* cfg) {
    CheckKeys(t, "state", kStateKeys);
    if (const auto* v = Typed<std::string>(t, "state", "database")) {
      if (v->get().empty()) {
        Error(*v, "state.database", "must not be empty (default is \"cloudkeep.db\")");
      } else {
        cfg->database = Resolve(dir_, v->get());
      }
    }
  }

  void ParseSync(const toml::table& t, SyncConfig* sync) {
    CheckKeys(t, "sync", kSyncKeys);
    ReadInt(t, "sync", "transfers", 1, kMaxTransfers, &sync->transfers);
    ReadSize(t, "sync", "multipart_threshold", kMinPartSize, kMaxPartSize,
             &sync->multipart_threshold);
    ReadSize(t, "sync", "part_size", kMinPartSize, kMaxPartSize, &sync->part_size);
    ReadInt(t, "sync", "max_attempts", 1, 1000, &sync->max_attempts);
    ReadInt(t, "sync", "request_retries", 0, 100, &sync->request_retries);
  }

  void ParseLog(const toml::table& t, LogConfig* log) {
    CheckKeys(t, "log", kLogKeys);
    if (const auto* v = Typed<std::string>(t, "log", "level")) {
      if (Contains(kLogLevels, v->get())) {
        log->level = v->get();
      } else {
        Error(*v, "log.level",
              fmt::format("unknown log level \"{}\" (expected one of: {})", v->get(),
                          Join(kLogLevels, ", ")));
      }
    }
    if (const auto* v = Typed<std::string>(t, "log", "file")) {
      log->file = v->get().empty() ? std::string() : Resolve(dir_, v->get());
    }
  }

  void ParseServer(const toml::table& t, ServerConfig* srv) {
    CheckKeys(t, "server", kServerKeys);
    if (const auto* v = Typed<std::string>(t, "server", "listen")) {
      const std::string& l = v->get();
      auto colon = l.rfind(':');
      bool ok = colon != std::string::npos && colon > 0 && colon + 1 < l.size();
      long port = 0;
      if (ok) {
        const std::string digits = l.substr(colon + 1);
        ok = digits.find_first_not_of("0123456789") == std::string::npos && digits.size() <= 5;
        if (ok) port = std::stol(digits);
        ok = ok && port >= 0 && port <= 65535;
      }
      if (ok) {
        srv->listen = l;
      } else {
        Error(*v, "server.listen",
              fmt::format("expected \"host:port\" (e.g. \"127.0.0.1:8080\"), got \"{}\"", l));
      }
    }
    for (const char* key : {"cert", "key", "token_file"}) {
      if (const auto* v = Typed<std::string>(t, "server", key)) {
        std::string resolved = v->get().empty() ? std::string() : Resolve(dir_, v->get());
        if (std::string_view(key) == "cert") srv->cert = resolved;
        if (std::string_view(key) == "key") srv->key = resolved;
        if (std::string_view(key) == "token_file" && !resolved.empty()) srv->token_file = resolved;
      }
    }
    if (srv->cert.empty() != srv->key.empty()) {
      Error(t, "server", "cert and key go together: set both for TLS, or neither");
    }
    ReadInt(t, "server", "scan_interval", 0, 7 * 86400, &srv->scan_interval_s);
    ReadInt(t, "server", "reconcile_interval", 10, 7 * 86400, &srv->reconcile_interval_s);
    ReadInt(t, "server", "health_check_interval", 0, 3600, &srv->health_check_interval_s);
    ReadInt(t, "server", "list_parallelism", 1, 32, &srv->list_parallelism);
  }

  struct SourceSeen {
    std::string path;  // as stored in SourceConfig
    std::string real;  // canonical path; "" when the path is not a usable directory
    std::string prefix;
    bool prefix_ok = false;
    const toml::node* path_node = nullptr;
    const toml::node* prefix_at = nullptr;  // the prefix value, or the source table
  };

  void ParseSources(const toml::node* n, Config* cfg) {
    if (n == nullptr) {
      FileError("sources",
                "no [[sources]]: add at least one directory to back up, e.g.\n"
                "  [[sources]]\n  path = \"/home/me/documents\"");
      return;
    }
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      Error(*n, "sources",
            fmt::format("expected an array of tables ([[sources]]), got {}", TypeName(*n)));
      return;
    }
    if (arr->empty()) {
      Error(*n, "sources", "no sources: add at least one [[sources]] table");
      return;
    }
    std::vector<SourceSeen> seen;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& elem = *arr->get(i);
      const std::string path = fmt::format("sources[{}]", i);
      const toml::table* t = elem.as_table();
      if (t == nullptr) {
        Error(elem, path, fmt::format("expected a table, got {}", TypeName(elem)));
        continue;
      }
      CheckKeys(*t, path, kSourceKeys);
      SourceConfig src;
      SourceSeen s;
      s.path_node = t;
      s.prefix_at = t;
      if (const toml::node* pn = t->get("path")) s.path_node = pn;
      if (const toml::node* pn = t->get("prefix")) s.prefix_at = pn;
      CheckSourcePath(*t, path, &src, &s);
      if (const toml::node* ex = t->get("exclude")) ReadExcludes(*ex, path, &src.exclude);
      const size_t errors_before = ErrorCount();
      ReadPrefix(*t, path, &src.prefix);
      s.prefix = src.prefix;
      s.prefix_ok = ErrorCount() == errors_before;
      ReadBool(*t, path, "follow_symlinks", &src.follow_symlinks);
      s.path = src.path;
      seen.push_back(s);
      cfg->sources.push_back(std::move(src));
    }
    CheckSourceOverlaps(seen);
  }

  size_t ErrorCount() const {
    return static_cast<size_t>(std::count_if(issues_.begin(), issues_.end(),
                                             [](const ConfigIssue& i) { return i.error; }));
  }

  // Resolves and checks `path`: it must name an existing directory.
  void CheckSourcePath(const toml::table& t, const std::string& path, SourceConfig* src,
                       SourceSeen* seen) {
    const std::string dotted = KeyPath(path, "path");
    if (t.get("path") == nullptr) {
      Error(t, dotted, "missing required key 'path' (the directory to back up)");
      return;
    }
    const auto* v = Typed<std::string>(t, path, "path");
    if (v == nullptr) return;
    const std::string& raw = v->get();
    if (raw.empty()) {
      Error(*v, dotted, "must not be empty");
      return;
    }
    src->path = Resolve(dir_, raw);
    std::error_code ec;
    const fs::file_status st = fs::status(src->path, ec);
    if (ec || !fs::exists(st)) {
      std::string message;
      if (ec && ec != std::errc::no_such_file_or_directory) {
        message = fmt::format("cannot access source directory {}: {}", src->path, ec.message());
      } else {
        message = fmt::format("source directory {} does not exist", src->path);
        if (raw.front() == '~')
          message += " ('~' is not expanded; write the full path, e.g. \"/home/me/...\")";
      }
      Error(*v, dotted, std::move(message));
      return;
    }
    if (!fs::is_directory(st)) {
      Error(*v, dotted, fmt::format("{} is not a directory", src->path));
      return;
    }
    const fs::path real = fs::canonical(src->path, ec);
    if (ec) {
      Error(*v, dotted, fmt::format("cannot resolve {}: {}", src->path, ec.message()));
      return;
    }
    seen->real = NormalPath(real);
  }

  void ReadExcludes(const toml::node& n, const std::string& path, std::vector<std::string>* out) {
    const std::string dotted = KeyPath(path, "exclude");
    const toml::array* arr = n.as_array();
    if (arr == nullptr) {
      Error(n, dotted,
            fmt::format("expected an array of strings (e.g. [\"*.tmp\"]), got {}", TypeName(n)));
      return;
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const std::string elem_key = fmt::format("{}[{}]", dotted, i);
      if (const auto* s = e.as_string()) {
        if (s->get().empty()) {
          Error(e, elem_key, "exclude pattern must not be empty");
        } else if (auto g = GlobSet::Make({s->get()}); !g.ok()) {
          Error(e, elem_key, g.status().message());
        } else {
          out->push_back(s->get());
        }
      } else {
        Error(e, elem_key, fmt::format("expected a string, got {}", TypeName(e)));
      }
    }
  }

  // Two sources must not cover the same files (same or nested directories), and
  // their prefixes must not let two files map to the same object key.
  void CheckSourceOverlaps(const std::vector<SourceSeen>& seen) {
    for (size_t j = 0; j < seen.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        const SourceSeen& a = seen[i];
        const SourceSeen& b = seen[j];
        const std::string b_key = fmt::format("sources[{}].path", j);
        if (!a.real.empty() && !b.real.empty()) {
          if (a.real == b.real) {
            Error(*b.path_node, b_key,
                  fmt::format("source {} is the same directory as sources[{}] ({}, line {})",
                              b.path, i, a.path, a.path_node->source().begin.line));
          } else if (IsInside(b.real, a.real)) {
            Error(*b.path_node, b_key,
                  fmt::format("source {} is inside sources[{}] ({}, line {}); sources must not "
                              "overlap (use exclude instead)",
                              b.path, i, a.path, a.path_node->source().begin.line));
          } else if (IsInside(a.real, b.real)) {
            Error(*b.path_node, b_key,
                  fmt::format("source {} contains sources[{}] ({}, line {}); sources must not "
                              "overlap (use exclude instead)",
                              b.path, i, a.path, a.path_node->source().begin.line));
          }
        }
        if (a.prefix_ok && b.prefix_ok) CheckPrefixPair(i, a, j, b);
      }
    }
  }

  static bool IsInside(const std::string& child, const std::string& parent) {
    if (parent == "/") return child != "/";
    return child.size() > parent.size() && child.compare(0, parent.size(), parent) == 0 &&
           child[parent.size()] == '/';
  }

  void CheckPrefixPair(size_t i, const SourceSeen& a, size_t j, const SourceSeen& b) {
    const std::string key = fmt::format("sources[{}].prefix", j);
    const int a_line = static_cast<int>(a.prefix_at->source().begin.line);
    if (a.prefix == b.prefix) {
      Error(*b.prefix_at, key,
            fmt::format("sources[{}] ({}) and sources[{}] ({}, line {}) have the same prefix "
                        "\"{}\", so their object keys could collide; give each source its own "
                        "prefix",
                        j, b.path, i, a.path, a_line, b.prefix));
      return;
    }
    const bool a_in_b = a.prefix.compare(0, b.prefix.size(), b.prefix) == 0;
    const bool b_in_a = b.prefix.compare(0, a.prefix.size(), a.prefix) == 0;
    if (a_in_b || b_in_a) {
      Error(*b.prefix_at, key,
            fmt::format("prefix \"{}\" of sources[{}] ({}) and prefix \"{}\" of sources[{}] ({}, "
                        "line {}) nest, so their object keys could collide; use prefixes that "
                        "are not inside one another",
                        b.prefix, j, b.path, a.prefix, i, a.path, a_line));
    }
  }

  void ParseDestinations(const toml::node* n, Config* cfg) {
    if (n == nullptr) {
      FileError("destinations",
                "no destinations: add at least one [destinations.NAME] table with type = \"s3\" "
                "or \"b2\"");
      return;
    }
    const toml::table* t = n->as_table();
    if (t == nullptr) {
      Error(*n, "destinations",
            fmt::format("expected a table of destinations ([destinations.NAME]), got {}",
                        TypeName(*n)));
      return;
    }
    if (t->empty()) {
      Error(*n, "destinations", "no destinations: add at least one [destinations.NAME] table");
      return;
    }
    // toml++ keeps keys sorted; the config keeps destinations in file order.
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [k, v] : *t) entries.emplace_back(&k, &v);
    std::stable_sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) {
      const auto& a = x.first->source().begin;
      const auto& b = y.first->source().begin;
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    bool any_enabled = false;
    for (const auto& [key, node] : entries) {
      const std::string name(key->str());
      const std::string path = KeyPath("destinations", name);
      if (!IsBareKey(name)) {
        Report(key->source(), path,
               "invalid destination name: use only letters, digits, '_' and '-'", true);
      }
      const toml::table* dt = node->as_table();
      if (dt == nullptr) {
        Error(*node, path,
              fmt::format("expected a table ([destinations.{}]), got {}", QuoteKey(name),
                          TypeName(*node)));
        continue;
      }
      DestinationConfig dest;
      dest.name = name;
      ParseDestination(*dt, path, &dest);
      any_enabled = any_enabled || dest.enabled;
      cfg->destinations.push_back(std::move(dest));
    }
    if (!any_enabled && !cfg->destinations.empty()) {
      Warn(*n, "destinations", "every destination has enabled = false; sync will upload nothing");
    }
  }

  void ParseDestination(const toml::table& t, const std::string& path, DestinationConfig* dest) {
    const auto* type = Typed<std::string>(t, path, "type");
    if (type != nullptr) {
      if (type->get() == "s3" || type->get() == "b2") {
        dest->type = type->get();
      } else {
        Error(*type, KeyPath(path, "type"),
              fmt::format("unknown destination type \"{}\" (expected \"s3\" or \"b2\")",
                          type->get()));
      }
    } else if (t.get("type") == nullptr) {
      Error(t, KeyPath(path, "type"), "missing required key 'type' (\"s3\" or \"b2\")");
    }

    std::vector<std::string_view> known(std::begin(kDestCommonKeys), std::end(kDestCommonKeys));
    if (dest->type != "b2")
      known.insert(known.end(), std::begin(kDestS3Keys), std::end(kDestS3Keys));
    if (dest->type != "s3")
      known.insert(known.end(), std::begin(kDestB2Keys), std::end(kDestB2Keys));
    const std::string type_name = dest->type;
    CheckKeys(t, path, known, [&](std::string_view k) -> std::string {
      if ((type_name == "b2" && Contains(kDestS3Keys, k)) ||
          (type_name == "s3" && Contains(kDestB2Keys, k))) {
        return fmt::format("'{}' does not apply to a destination of type \"{}\"", k, type_name);
      }
      return "";
    });

    ReadBool(t, path, "enabled", &dest->enabled);
    ReadBucket(t, path, dest);
    ReadPrefix(t, path, &dest->prefix);
    ReadInt(t, path, "transfers", 1, kMaxTransfers, &dest->transfers);
    ReadSize(t, path, "multipart_threshold", kMinPartSize, kMaxPartSize,
             &dest->multipart_threshold);
    ReadSize(t, path, "part_size", kMinPartSize, kMaxPartSize, &dest->part_size);

    if (dest->type != "b2") ParseS3Settings(t, path, dest);
    if (dest->type != "s3") ParseB2Settings(t, path, dest);
  }

  void ReadBucket(const toml::table& t, const std::string& path, DestinationConfig* dest) {
    const std::string dotted = KeyPath(path, "bucket");
    if (t.get("bucket") == nullptr) {
      Error(t, dotted, "missing required key 'bucket'");
      return;
    }
    const auto* v = Typed<std::string>(t, path, "bucket");
    if (v == nullptr) return;
    dest->bucket = v->get();
    std::string problem;
    if (dest->type == "s3") problem = S3BucketProblem(dest->bucket);
    if (dest->type == "b2") problem = B2BucketProblem(dest->bucket);
    if (dest->bucket.empty()) problem = "must not be empty";
    if (!problem.empty()) {
      Error(*v, dotted, fmt::format("invalid bucket name \"{}\": {}", dest->bucket, problem));
    }
  }

  void ParseS3Settings(const toml::table& t, const std::string& path, DestinationConfig* dest) {
    if (const auto* v = Typed<std::string>(t, path, "region")) {
      const std::string& region = v->get();
      bool ok = !region.empty();
      for (char c : region)
        ok = ok && (IsAsciiAlpha(c) || IsAsciiDigit(c) || c == '-' || c == '_' || c == '.');
      if (ok) {
        dest->region = region;
      } else {
        Error(*v, KeyPath(path, "region"),
              region.empty() ? std::string("must not be empty (e.g. \"us-east-1\")")
                             : fmt::format("invalid region \"{}\" (e.g. \"us-east-1\")", region));
      }
    }
    bool force_path_style = false;
    if (const auto* v = Typed<std::string>(t, path, "endpoint")) {
      std::string why;
      if (std::optional<ParsedUrl> url = ParseServiceUrl(v->get(), &why)) {
        dest->endpoint = url->normalized;
        force_path_style = url->host_is_ip || url->host_is_localhost;
      } else {
        Error(*v, KeyPath(path, "endpoint"),
              fmt::format("invalid endpoint \"{}\": {} (expected http(s)://host[:port])", v->get(),
                          why));
      }
    }
    ReadBool(t, path, "path_style", &dest->path_style);
    if (force_path_style) {
      if (const auto* ps = t.get("path_style"); ps != nullptr && ps->value_or(true) == false) {
        Warn(*ps, KeyPath(path, "path_style"),
             "path_style = false is ignored: the endpoint is an IP address or localhost, which "
             "needs path-style requests");
      }
      dest->path_style = true;
    }
    if (const auto* v = Typed<std::string>(t, path, "profile")) dest->profile = v->get();
    ReadBool(t, path, "sign_payload", &dest->sign_payload);

    ReadCredential(t, path, "access_key_id", /*secret=*/false, &dest->access_key_id);
    ReadCredential(t, path, "secret_access_key", /*secret=*/true, &dest->secret_access_key);
    ReadCredential(t, path, "session_token", /*secret=*/true, &dest->session_token);
    const bool has_key = !dest->access_key_id.empty();
    const bool has_secret = !dest->secret_access_key.empty();
    if (has_key != has_secret) {
      Error(t, path,
            has_key ? "access_key_id is configured but secret_access_key is not: set "
                      "secret_access_key_env (or secret_access_key) too, or neither to use "
                      "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials file"
                    : "secret_access_key is configured but access_key_id is not: set "
                      "access_key_id_env (or access_key_id) too, or neither to use "
                      "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials file");
    } else if (!has_key && !dest->session_token.empty()) {
      Error(t, path,
            "session_token is configured without access_key_id and secret_access_key; set all "
            "three in the config, or none");
    }
    if (has_key && has_secret && !dest->profile.empty()) {
      if (const toml::node* p = t.get("profile")) {
        Warn(*p, KeyPath(path, "profile"),
             "profile is not used: the destination's configured credentials take precedence");
      }
    }
  }

  void ParseB2Settings(const toml::table& t, const std::string& path, DestinationConfig* dest) {
    if (const auto* v = Typed<std::string>(t, path, "api_url")) {
      std::string why;
      if (std::optional<ParsedUrl> url = ParseServiceUrl(v->get(), &why)) {
        dest->api_url = url->normalized;
      } else {
        Error(*v, KeyPath(path, "api_url"),
              fmt::format("invalid api_url \"{}\": {} (expected http(s)://host[:port])", v->get(),
                          why));
      }
    }
    ReadCredential(t, path, "key_id", /*secret=*/false, &dest->key_id);
    ReadCredential(t, path, "application_key", /*secret=*/true, &dest->application_key);
  }

  // Reads `<name>_env` (an environment variable name) and `<name>` (an inline
  // value, warned about). Messages never include either value: a misplaced
  // secret must not end up in a log.
  void ReadCredential(const toml::table& t, const std::string& path, std::string_view name,
                      bool secret, CredentialRef* out) {
    const std::string env_key = std::string(name) + "_env";
    if (const auto* v = Typed<std::string>(t, path, env_key)) {
      if (IsEnvVarName(v->get())) {
        out->env = v->get();
      } else {
        Error(*v, KeyPath(path, env_key),
              fmt::format("expected the name of an environment variable (letters, digits and "
                          "'_', not starting with a digit); if this is the credential itself, "
                          "put it in an environment variable and name that variable here"));
      }
    }
    if (const auto* v = Typed<std::string>(t, path, name)) {
      if (v->get().empty()) {
        Error(*v, KeyPath(path, name),
              fmt::format("must not be empty (remove it, or use {})", env_key));
        return;
      }
      out->inline_value = v->get();
      Warn(*v, KeyPath(path, name),
           fmt::format("inline {} in config file; prefer {}", secret ? "secret" : "credential",
                       env_key));
    }
  }

  std::string file_;
  fs::path dir_;
  std::vector<ConfigIssue> issues_;
};

// Sorts issues into file order, whole-file issues (line 0) last.
void SortIssues(std::vector<ConfigIssue>* found) {
  std::stable_sort(found->begin(), found->end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    const auto rank = [](const ConfigIssue& i) {
      return std::pair(i.line == 0 ? std::numeric_limits<int>::max() : i.line, i.column);
    };
    return rank(a) < rank(b);
  });
}

// "FILE: N errors (first at line L: KEY: MESSAGE)".
Status Summary(const std::string& file, size_t errors, const ConfigIssue& first) {
  std::string where = first.line > 0 ? fmt::format(" at line {}", first.line) : std::string();
  std::string key = first.key.empty() ? std::string() : first.key + ": ";
  return Status(ErrorKind::kConfig, fmt::format("{}: {} error{} (first{}: {}{})", file, errors,
                                                errors == 1 ? "" : "s", where, key, first.message));
}

}  // namespace

std::string ConfigIssue::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += fmt::format(":{}", line);
    if (column > 0) out += fmt::format(":{}", column);
  }
  out += error ? ": error: " : ": warning: ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

const DestinationConfig* Config::FindDestination(const std::string& name) const {
  for (const DestinationConfig& d : destinations)
    if (d.name == name) return &d;
  return nullptr;
}

Result<Config> ParseConfig(const std::string& text, const std::string& path,
                           std::vector<ConfigIssue>* issues) {
  Config cfg;
  cfg.file = AbsoluteFile(path);
  Validator validator(cfg.file, fs::path(cfg.file).parent_path());
  try {
    const toml::table root = toml::parse(std::string_view(text), std::string_view(cfg.file));
    validator.Validate(root, &cfg);
  } catch (const toml::parse_error& e) {
    validator.Report(e.source(), "", fmt::format("TOML syntax error: {}", e.description()), true);
  }
  std::vector<ConfigIssue> found = std::move(validator.issues());
  SortIssues(&found);
  const size_t errors = static_cast<size_t>(
      std::count_if(found.begin(), found.end(), [](const ConfigIssue& i) { return i.error; }));
  std::optional<Status> failure;
  if (errors > 0) {
    const auto first =
        std::find_if(found.begin(), found.end(), [](const ConfigIssue& i) { return i.error; });
    failure = Summary(cfg.file, errors, *first);
  }
  if (issues != nullptr) {
    issues->insert(issues->end(), std::make_move_iterator(found.begin()),
                   std::make_move_iterator(found.end()));
  }
  if (failure) return *failure;
  return cfg;
}

Result<Config> LoadConfig(const std::string& path, std::vector<ConfigIssue>* issues) {
  const std::string file = AbsoluteFile(path);
  auto fail = [&](int err) -> Status {
    ConfigIssue issue;
    issue.file = file;
    issue.message = fmt::format("cannot read configuration file: {}", std::strerror(err));
    if (issues != nullptr) issues->push_back(issue);
    return Status(ErrorKind::kConfig,
                  fmt::format("cannot read configuration file {}: {}", file, std::strerror(err)));
  };
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return ParseConfig(text, file, issues);
}

std::string StarterConfig() {
  return R"(# cloudkeep configuration (TOML).
#
# Relative paths are resolved against the directory of this file.
# Sizes are a number of bytes or a number with a unit: "64MiB", "1.5GiB", "100MB".
# Credentials are never written in this file: they are read from environment
# variables (or ~/.aws/credentials for S3), see the destinations below.

[state]
# SQLite database in which cloudkeep records what it has uploaded.
# Keep it outside the directories you back up.
database = "cloudkeep.db"

[sync]
# Concurrent uploads per destination (1 to 64).
transfers = 4
# Files of at least this size are uploaded in parts (5MiB to 5GiB).
multipart_threshold = "64MiB"
# Size of each part of a multipart upload (5MiB to 5GiB).
part_size = "16MiB"
# A file that failed to upload is tried again by later syncs until it has
# failed this many times.
max_attempts = 5
# Retries of a single request after a network or server error.
request_retries = 5

[log]
# One of: trace, debug, info, warn, error, off.
level = "info"
# Also write the log to this file ("" = standard error only).
file = ""

# What `cloudkeep serve` runs: the API, the dashboard and a background sync.
[server]
# Address to listen on. Keep it on loopback unless TLS is set up.
listen = "127.0.0.1:8080"
# TLS certificate and key (PEM files); leave both empty for plain HTTP.
# cert = "/etc/cloudkeep/cert.pem"
# key = "/etc/cloudkeep/key.pem"
# API token file. CLOUDKEEP_API_TOKEN wins when set; if neither exists, serve
# creates a random token here (mode 0600) on first start.
# token_file = "cloudkeep.token"
# Seconds between background sync passes (0 = only when asked through the API).
scan_interval = 900
# Seconds between full re-listings of each bucket for the live statistics.
reconcile_interval = 900
# Seconds of silence from a destination after which a status request checks
# its connection with one cheap request (0 = on every request).
health_check_interval = 1
# A bucket is listed as this many key ranges at once (1-32; split at keys from
# the state database, so each range costs at most one extra list request).
list_parallelism = 4

# One [[sources]] block per directory to back up. Repeat the block for more
# directories: sources must not overlap, and each needs its own prefix.
[[sources]]
# The directory to back up.
path = "/home/me/Documents"
# Glob patterns, relative to path, of files and directories to skip.
exclude = ["*.tmp", ".cache/**"]
# Prefix of this source's object keys: with "documents/",
# /home/me/Documents/notes.txt is stored as "documents/notes.txt".
prefix = "documents/"
# Follow symbolic links found inside path.
follow_symlinks = false

# Destinations: one [destinations.NAME] table per bucket. NAME (letters,
# digits, '_' and '-') identifies the destination in commands and in the
# state database, so do not rename it once backups exist.

[destinations.aws-s3]
# "s3": Amazon S3 or an S3-compatible service (MinIO, Ceph, Garage, ...).
type = "s3"
# Set to false to skip this destination.
enabled = true
# Bucket name: 3 to 63 characters, lowercase letters, digits, '.' and '-'.
bucket = "my-backup-bucket"
# Prefix of every key in the bucket (e.g. this host's name); "" = bucket root.
prefix = "myhost/"
# Region of the bucket.
region = "us-east-1"
# S3-compatible services only: the service URL, http(s)://host[:port].
# endpoint = "http://127.0.0.1:9000"
# Path-style requests (http://host/bucket/key) instead of bucket.host; most
# S3-compatible services need this. Always on for IP-address endpoints.
# path_style = true
# Every upload's Content-MD5 is signed, so the service rejects altered bytes.
# true also signs each body's SHA-256 (x-amz-content-sha256), which makes the
# service hash every body once more; default false, as the AWS CLI does.
# sign_payload = false
#
# Credentials, first match wins:
#  - AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for
#    temporary credentials);
#  - else ~/.aws/credentials (or the file named by AWS_SHARED_CREDENTIALS_FILE),
#    profile AWS_PROFILE, else "default".
# To use a given profile of that file (it then wins over the variables):
# profile = "backup"
# Or read the credentials from environment variables of your choice:
# access_key_id_env = "MY_S3_ACCESS_KEY_ID"
# secret_access_key_env = "MY_S3_SECRET_ACCESS_KEY"
# session_token_env = "MY_S3_SESSION_TOKEN"
#
# Optional overrides of the [sync] settings for this destination:
# transfers = 8
# multipart_threshold = "128MiB"
# part_size = "32MiB"

[destinations.backblaze-b2]
# "b2": Backblaze B2, native API.
type = "b2"
# Disabled until configured: set the bucket and the key variables, then set
# this to true.
enabled = false
# Bucket name: 6 to 50 characters, letters, digits and '-'.
bucket = "my-b2-backup-bucket"
# Prefix of every key in the bucket; "" = bucket root.
prefix = "myhost/"
# API URL (only change it for testing).
# api_url = "https://api.backblazeb2.com"
# Credentials: an application key, read from the environment variables
# B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY, or from variables you name:
# key_id_env = "MY_B2_KEY_ID"
# application_key_env = "MY_B2_APPLICATION_KEY"
)";
}

std::optional<uint64_t> ParseByteSize(const std::string& s) {
  __extension__ using U128 = unsigned __int128;
  std::string_view in = Trim(s);
  size_t pos = 0;
  U128 whole = 0;
  const size_t whole_start = pos;
  while (pos < in.size() && IsAsciiDigit(in[pos])) {
    whole = whole * 10 + static_cast<unsigned>(in[pos] - '0');
    if (whole > std::numeric_limits<uint64_t>::max()) return std::nullopt;
    ++pos;
  }
  if (pos == whole_start) return std::nullopt;
  U128 frac = 0;
  U128 frac_scale = 1;
  bool has_frac = false;
  if (pos < in.size() && in[pos] == '.') {
    ++pos;
    const size_t frac_start = pos;
    while (pos < in.size() && IsAsciiDigit(in[pos])) {
      if (pos - frac_start >= 18) return std::nullopt;  // absurd precision
      frac = frac * 10 + static_cast<unsigned>(in[pos] - '0');
      frac_scale *= 10;
      ++pos;
    }
    if (pos == frac_start) return std::nullopt;
    has_frac = true;
  }
  const std::string unit = ToLower(Trim(in.substr(pos)));
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"kb", 1000},
      {"mb", 1000 * 1000},
      {"gb", 1000ull * 1000 * 1000},
      {"tb", 1000ull * 1000 * 1000 * 1000},
      {"kib", kKiB},
      {"mib", kMiB},
      {"gib", kGiB},
      {"tib", kTiB},
  };
  uint64_t mult = 0;
  for (const auto& [name, m] : kUnits)
    if (unit == name) mult = m;
  if (mult == 0) return std::nullopt;
  if (has_frac && mult == 1) return std::nullopt;  // no fractional bytes
  // Round the fractional part to the nearest byte.
  const U128 total = whole * mult + (frac * mult + frac_scale / 2) / frac_scale;
  if (total > std::numeric_limits<uint64_t>::max()) return std::nullopt;
  return static_cast<uint64_t>(total);
}

}  // namespace ck
