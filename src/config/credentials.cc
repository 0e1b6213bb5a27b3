// Credential resolution (see credentials.h).
#include "config/credentials.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace ck {
namespace {

constexpr std::string_view kAwsKeyVar = "AWS_ACCESS_KEY_ID";
constexpr std::string_view kAwsSecretVar = "AWS_SECRET_ACCESS_KEY";
constexpr std::string_view kAwsTokenVar = "AWS_SESSION_TOKEN";
constexpr std::string_view kB2KeyIdVar = "B2_APPLICATION_KEY_ID";
constexpr std::string_view kB2AppKeyVar = "B2_APPLICATION_KEY";

// First 4 characters of a key id followed by "****"; only "****" for ids too
// short to reveal anything safely.
std::string RedactId(const std::string& id) {
  return (id.size() >= 8 ? id.substr(0, 4) : std::string()) + "****";
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string JoinStrings(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// One credential named by the config: the value and where it came from.
struct RefValue {
  std::string value;
  std::string origin;  // "environment variable X" or "config file"
};

RefValue ReadRef(const CredentialRef& ref, const GetEnvFn& getenv) {
  if (!ref.env.empty()) {
    std::string v = getenv(ref.env);
    if (!v.empty()) return {std::move(v), "environment variable " + ref.env};
  }
  if (!ref.inline_value.empty()) return {ref.inline_value, "config file"};
  return {};
}

// Why `ref` (config key `key`) gave no value, e.g. "environment variable X
// (secret_access_key_env) is not set". `defaulted`: the variable is the built-in
// default, not one the config named.
std::string WhyMissing(const CredentialRef& ref, std::string_view key, bool defaulted = false) {
  if (defaulted) {
    return fmt::format("environment variable {} is not set (or name another variable with {}_env)",
                       ref.env, key);
  }
  if (!ref.env.empty())
    return fmt::format("environment variable {} ({}_env) is not set", ref.env, key);
  return fmt::format("{} is not configured (set {}_env)", key, key);
}

// "a + b" of the distinct origins, in order.
std::string CombineOrigins(const std::vector<std::string>& origins) {
  std::vector<std::string> distinct;
  for (const std::string& o : origins) {
    if (o.empty()) continue;
    bool seen = false;
    for (const std::string& d : distinct) seen = seen || d == o;
    if (!seen) distinct.push_back(o);
  }
  return JoinStrings(distinct, " + ");
}

// An AWS shared credentials file: profile name -> lowercased key -> value.
using IniSections = std::map<std::string, std::map<std::string, std::string>>;

// Parses INI text: "[profile]" headers, "key = value" (or "key: value") lines,
// blank lines and full-line comments starting with '#' or ';'. Indented lines
// after a key with an empty value are a nested block (as in ~/.aws/config) and
// are skipped. Returns the 1-based number of the first malformed line, or 0.
int ParseIni(std::string_view text, IniSections* out) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  std::map<std::string, std::string>* section = nullptr;
  bool in_nested_block = false;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') return line_no;
      const std::string name(Trim(line.substr(1, line.size() - 2)));
      if (name.empty()) return line_no;
      section = &(*out)[name];
      in_nested_block = false;
      continue;
    }
    const bool indented = raw.front() == ' ' || raw.front() == '\t';
    if (indented && in_nested_block) continue;
    const size_t eq = line.find_first_of("=:");
    if (eq == std::string_view::npos || section == nullptr) return line_no;
    const std::string key = ToLower(Trim(line.substr(0, eq)));
    if (key.empty()) return line_no;
    const std::string value(Trim(line.substr(eq + 1)));
    in_nested_block = value.empty();
    (*section)[key] = value;
  }
  return 0;
}

// Reads a whole file. nullopt with *err = errno on failure.
std::optional<std::string> ReadFile(const std::string& path, int* err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return std::nullopt;
  }
  std::string text;
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

Status AuthError(const DestinationConfig& dest, const std::string& what) {
  return Status(ErrorKind::kAuth, fmt::format("destination {}: {}", dest.name, what));
}

Status Missing(const DestinationConfig& dest, const std::string& what) {
  return Status(ErrorKind::kAuth,
                fmt::format("missing credentials for destination {}: {}", dest.name, what));
}

// Step 1 of ResolveS3Credentials: credentials the destination config names.
Result<S3Credentials> FromConfig(const DestinationConfig& dest, const GetEnvFn& getenv) {
  const RefValue key = ReadRef(dest.access_key_id, getenv);
  const RefValue secret = ReadRef(dest.secret_access_key, getenv);
  const RefValue token = ReadRef(dest.session_token, getenv);
  std::vector<std::string> problems;
  if (key.value.empty()) problems.push_back(WhyMissing(dest.access_key_id, "access_key_id"));
  if (secret.value.empty())
    problems.push_back(WhyMissing(dest.secret_access_key, "secret_access_key"));
  if (!dest.session_token.empty() && token.value.empty())
    problems.push_back(WhyMissing(dest.session_token, "session_token"));
  if (!problems.empty()) return Missing(dest, JoinStrings(problems, "; "));
  S3Credentials c;
  c.access_key_id = key.value;
  c.secret_access_key = secret.value;
  c.session_token = token.value;
  c.origin = "destination config: " + CombineOrigins({key.origin, secret.origin, token.origin});
  return c;
}

}  // namespace

std::string S3Credentials::Redacted() const {
  return fmt::format("access key {}{} (from {})", RedactId(access_key_id),
                     session_token.empty() ? "" : " with session token",
                     origin.empty() ? "unknown" : origin);
}

void PrintTo(const S3Credentials& c, std::ostream* os) {
  *os << c.Redacted();
}

std::string B2Credentials::Redacted() const {
  return fmt::format("key {} (from {})", RedactId(key_id), origin.empty() ? "unknown" : origin);
}

void PrintTo(const B2Credentials& c, std::ostream* os) {
  *os << c.Redacted();
}

GetEnvFn ProcessEnv() {
  return [](const std::string& name) -> std::string {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::string() : std::string(v);
  };
}

Result<S3Credentials> ResolveS3Credentials(const DestinationConfig& dest, const GetEnvFn& getenv) {
  // 1. The destination's own configuration.
  if (!dest.access_key_id.empty() || !dest.secret_access_key.empty() ||
      !dest.session_token.empty()) {
    return FromConfig(dest, getenv);
  }

  // 2. The standard environment variables (unless a profile was configured).
  const std::string key_var(kAwsKeyVar), secret_var(kAwsSecretVar), token_var(kAwsTokenVar);
  if (dest.profile.empty()) {
    const std::string key = getenv(key_var);
    const std::string secret = getenv(secret_var);
    if (!key.empty() && !secret.empty()) {
      S3Credentials c;
      c.access_key_id = key;
      c.secret_access_key = secret;
      c.session_token = getenv(token_var);
      c.origin = "environment";
      return c;
    }
    if (!key.empty()) {
      return AuthError(dest, fmt::format("{} is set but {} is not; set both, or unset {}", key_var,
                                         secret_var, key_var));
    }
    if (!secret.empty()) {
      return AuthError(dest, fmt::format("{} is set but {} is not; set both, or unset {}",
                                         secret_var, key_var, secret_var));
    }
  }

  // 3. The shared credentials file.
  std::string profile = dest.profile;
  std::string profile_from = "the destination's profile";
  if (profile.empty()) {
    profile = getenv("AWS_PROFILE");
    profile_from = "AWS_PROFILE";
  }
  const bool profile_explicit = !profile.empty();
  if (profile.empty()) profile = "default";

  std::string file = getenv("AWS_SHARED_CREDENTIALS_FILE");
  const bool file_explicit = !file.empty();
  if (file.empty()) {
    const std::string home = getenv("HOME");
    if (!home.empty()) file = home + "/.aws/credentials";
  }
  std::string file_hint;  // for the final "missing" message
  if (!file.empty()) {
    int err = 0;
    std::optional<std::string> text = ReadFile(file, &err);
    if (!text) {
      if (err != ENOENT) {
        return Status(ErrorKind::kConfig,
                      fmt::format("destination {}: cannot read credentials file {}: {}", dest.name,
                                  file, std::strerror(err)));
      }
      if (file_explicit) {
        return AuthError(dest, fmt::format("credentials file {} (AWS_SHARED_CREDENTIALS_FILE) "
                                           "does not exist",
                                           file));
      }
      if (profile_explicit) {
        return AuthError(dest, fmt::format("profile '{}' (from {}) was requested but the "
                                           "credentials file {} does not exist",
                                           profile, profile_from, file));
      }
      file_hint = fmt::format(", or create {} with a [default] profile", file);
    } else {
      IniSections sections;
      if (const int bad_line = ParseIni(*text, &sections); bad_line != 0) {
        return Status(ErrorKind::kConfig,
                      fmt::format("destination {}: malformed credentials file {}, line {}: "
                                  "expected '[profile]', 'key = value' or a comment",
                                  dest.name, file, bad_line));
      }
      const auto it = sections.find(profile);
      if (it != sections.end()) {
        const auto get = [&](const char* k) {
          const auto v = it->second.find(k);
          return v == it->second.end() ? std::string() : v->second;
        };
        S3Credentials c;
        c.access_key_id = get("aws_access_key_id");
        c.secret_access_key = get("aws_secret_access_key");
        c.session_token = get("aws_session_token");
        if (!c.access_key_id.empty() && !c.secret_access_key.empty()) {
          c.origin = fmt::format("profile {} in {}", profile, file);
          return c;
        }
        if (!c.access_key_id.empty() || !c.secret_access_key.empty()) {
          return AuthError(
              dest,
              fmt::format("profile '{}' in {} has {} but no {}", profile, file,
                          c.access_key_id.empty() ? "aws_secret_access_key" : "aws_access_key_id",
                          c.access_key_id.empty() ? "aws_access_key_id" : "aws_secret_access_key"));
        }
        if (profile_explicit) {
          return AuthError(dest, fmt::format("profile '{}' in {} has no aws_access_key_id and "
                                             "aws_secret_access_key",
                                             profile, file));
        }
      } else if (profile_explicit) {
        return AuthError(dest, fmt::format("profile '{}' (from {}) not found in {}", profile,
                                           profile_from, file));
      }
      file_hint = fmt::format(
          ", or add a [{}] profile with aws_access_key_id and "
          "aws_secret_access_key to {}",
          profile, file);
    }
  } else if (profile_explicit) {
    return AuthError(dest, fmt::format("profile '{}' (from {}) was requested but there is no "
                                       "shared credentials file (HOME and "
                                       "AWS_SHARED_CREDENTIALS_FILE are unset)",
                                       profile, profile_from));
  } else {
    file_hint = " (no shared credentials file: HOME and AWS_SHARED_CREDENTIALS_FILE are unset)";
  }
  return Missing(dest, fmt::format("set {} and {}{}, or name other variables with "
                                   "access_key_id_env and secret_access_key_env in the "
                                   "destination",
                                   key_var, secret_var, file_hint));
}

Result<B2Credentials> ResolveB2Credentials(const DestinationConfig& dest, const GetEnvFn& getenv) {
  CredentialRef key_ref = dest.key_id;
  if (key_ref.empty()) key_ref.env = std::string(kB2KeyIdVar);
  CredentialRef app_ref = dest.application_key;
  if (app_ref.empty()) app_ref.env = std::string(kB2AppKeyVar);
  const RefValue key = ReadRef(key_ref, getenv);
  const RefValue app = ReadRef(app_ref, getenv);
  std::vector<std::string> problems;
  if (key.value.empty())
    problems.push_back(WhyMissing(key_ref, "key_id", /*defaulted=*/dest.key_id.empty()));
  if (app.value.empty()) {
    problems.push_back(
        WhyMissing(app_ref, "application_key", /*defaulted=*/dest.application_key.empty()));
  }
  if (!problems.empty()) return Missing(dest, JoinStrings(problems, "; "));
  B2Credentials c;
  c.key_id = key.value;
  c.application_key = app.value;
  c.origin = CombineOrigins({key.origin, app.origin});
  return c;
}

}  // namespace ck
