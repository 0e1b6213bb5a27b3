#include "b2/b2_errors.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include <nlohmann/json.hpp>

#include "util/encoding.h"

namespace ck {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool OneOf(std::string_view code, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), code) != set.end();
}

bool IsCapCode(std::string_view code) {
  return OneOf(code, {"cap_exceeded", "storage_cap_exceeded", "transaction_cap_exceeded",
                      "download_cap_exceeded"});
}

bool MentionsChecksum(std::string_view code, std::string_view message) {
  std::string c = Lower(code), m = Lower(message);
  for (std::string_view w : {"sha1", "sha-1", "checksum"}) {
    if (c.find(w) != std::string::npos || m.find(w) != std::string::npos) return true;
  }
  return false;
}

// B2's wording for "that file ID names no unfinished large file" is not
// documented (this server says "No active upload for: <id>"), so accept the
// plausible phrasings, and a bare bad_request.
bool SaysNoSuchLargeFile(std::string_view message) {
  if (message.empty()) return true;
  std::string m = Lower(message);
  for (std::string_view w : {"no active upload", "not in progress", "not found", "does not exist",
                             "no such", "not present", "invalid fileid", "invalid file id",
                             "bad fileid", "bad file id", "unknown file"}) {
    if (m.find(w) != std::string::npos) return true;
  }
  return false;
}

bool IsTokenLimit(std::string_view code, std::string_view message) {
  return code == "auth_token_limit" ||
         Lower(message).find("more than one upload using auth token") != std::string::npos;
}

// What an error means for a user, or "" when the server message says it all.
std::string Hint(const B2ErrorContext& ctx, int status, std::string_view code, ErrorKind kind) {
  if (code == "bad_bucket_id" || code == "invalid_bucket_id")
    return "bucket " + PrintableName(ctx.bucket) + " does not exist";
  if (kind == ErrorKind::kChecksumMismatch)
    return "the server did not receive the bytes whose SHA-1 was sent";
  if (status == 401) {
    if (ctx.resource == B2Resource::kUploadUrl)
      return "the upload URL's token was refused; the URL was discarded";
    if (ctx.resource == B2Resource::kAccount && (code == "unauthorized" || code.empty()))
      return "the key ID or application key is wrong";
    if (code == "unsupported")
      return "the application key does not work with this version of the B2 API";
    if (code == "unauthorized")
      return "the application key lacks the capability for this, or is restricted to another "
             "bucket or name prefix";
    if (code == "bad_auth_token" || code == "expired_auth_token")
      return "the authorization token was refused even after authorizing again";
    return "not authorized";
  }
  if (status == 403) {
    if (IsCapCode(code))
      return "a B2 cap was reached; raise it on the Caps & Alerts page of the Backblaze account";
    return "access denied";
  }
  if (status == 429) return "too many requests; slow down";
  if (kind == ErrorKind::kTransient && ctx.resource == B2Resource::kUploadUrl)
    return "the upload URL was discarded; the next attempt gets a new one";
  if (kind == ErrorKind::kNotFound) {
    switch (ctx.resource) {
      case B2Resource::kLargeFile:
        return "the large file does not exist or is no longer unfinished (finished or cancelled)";
      case B2Resource::kBucket:
        return "bucket " + PrintableName(ctx.bucket) + " does not exist";
      default:
        return "the file does not exist";
    }
  }
  return "";
}

}  // namespace

std::optional<B2ErrorBody> ParseB2Error(std::string_view body) {
  if (body.empty() || body.front() != '{') return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  B2ErrorBody out;
  bool any = false;
  if (auto it = j.find("status"); it != j.end() && it->is_number_integer()) {
    out.status = it->get<int>();
    any = true;
  }
  if (auto it = j.find("code"); it != j.end() && it->is_string()) {
    out.code = it->get<std::string>();
    any = true;
  }
  if (auto it = j.find("message"); it != j.end() && it->is_string()) {
    out.message = it->get<std::string>();
    any = true;
  }
  if (!any) return std::nullopt;
  return out;
}

ErrorKind ClassifyB2Error(int status, std::string_view code, std::string_view message,
                          B2Resource resource) {
  if (status == 401)
    return resource == B2Resource::kUploadUrl ? ErrorKind::kTransient : ErrorKind::kAuth;
  if (status == 403) return IsCapCode(code) ? ErrorKind::kCapExceeded : ErrorKind::kAuth;
  if (status == 429) return ErrorKind::kThrottled;
  if (status == 408 || status >= 500) return ErrorKind::kTransient;
  if (status == 404) return ErrorKind::kNotFound;
  if (status == 400) {
    if (MentionsChecksum(code, message)) return ErrorKind::kChecksumMismatch;
    if (IsTokenLimit(code, message)) return ErrorKind::kTransient;
    if (OneOf(code, {"bad_bucket_id", "invalid_bucket_id", "no_such_file", "file_not_present",
                     "invalid_file_id", "not_found"}))
      return ErrorKind::kNotFound;
    if (resource == B2Resource::kLargeFile && (code == "bad_request" || code.empty()) &&
        SaysNoSuchLargeFile(message))
      return ErrorKind::kNotFound;
  }
  return ErrorKind::kPermanent;
}

bool IsExpiredAuthToken(int status, std::string_view code) {
  return status == 401 &&
         (code == "bad_auth_token" || code == "expired_auth_token" || code.empty());
}

bool IsUploadTokenRejected(int status, std::string_view code, std::string_view message) {
  return status == 401 || (status == 400 && IsTokenLimit(code, message));
}

std::string RedactSecrets(std::string text, const std::vector<std::string_view>& secrets) {
  for (std::string_view secret : secrets) {
    if (secret.size() < 4) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + 10)) {
      text.replace(pos, secret.size(), "<redacted>");
    }
  }
  return text;
}

std::string B2ErrorPrefix(const B2ErrorContext& ctx) {
  std::string out(ctx.name);
  out += ": ";
  out += ctx.operation;
  if (!ctx.target.empty()) {
    out += ' ';
    out += PrintableName(ctx.target);
  }
  return out;
}

Status B2ResponseError(const B2ErrorContext& ctx, const HttpResponse& resp,
                       const std::vector<std::string_view>& secrets) {
  auto doc = ParseB2Error(resp.body);
  std::string code = doc ? doc->code : "";
  std::string server_message = doc ? doc->message : "";
  ErrorKind kind = ClassifyB2Error(resp.status, code, server_message, ctx.resource);
  std::string msg = B2ErrorPrefix(ctx) + ": " + std::to_string(resp.status);
  if (!code.empty()) msg += " " + PrintableName(code);
  server_message = RedactSecrets(std::move(server_message), secrets);
  if (server_message.size() > 300) server_message = server_message.substr(0, 300) + "...";
  if (!server_message.empty()) msg += ": " + PrintableName(server_message);
  if (std::string hint = Hint(ctx, resp.status, code, kind); !hint.empty())
    msg += " (" + hint + ")";
  Status st(kind, std::move(msg));
  st.set_http_status(resp.status);
  std::string retry_after = resp.Header("Retry-After");
  int64_t seconds = 0;
  auto [p, ec] =
      std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
  if (!retry_after.empty() && ec == std::errc() && p == retry_after.data() + retry_after.size() &&
      seconds >= 0)
    st.set_retry_after(std::chrono::seconds(seconds));
  return st;
}

}  // namespace ck
