// Status: the outcome of an operation that can fail, with an error kind that
// callers (notably the retry layer) use to decide policy.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ck {

// What went wrong, in terms a caller can act on. Backends classify their own
// errors into these kinds; policy (retry or not) lives in the retry layer.
enum class ErrorKind {
  kOk = 0,
  kInvalidArgument,   // caller passed something malformed
  kNotFound,          // object, bucket, upload or file does not exist
  kAuth,              // credentials missing, wrong or not allowed
  kThrottled,         // server asked us to slow down (429, SlowDown, 503 with Retry-After)
  kTransient,         // network error, timeout, 5xx: worth retrying
  kPermanent,         // the server refused and will refuse again (4xx other than the above)
  kCapExceeded,       // storage/transaction cap reached (B2)
  kIo,                // local I/O error
  kPermissionDenied,  // local file not readable
  kInvalidName,       // name cannot be stored (not UTF-8, too long)
  kChanged,           // local file changed while it was read
  kVanished,          // local file disappeared
  kChecksumMismatch,  // server did not confirm the bytes we sent
  kCancelled,         // the operation was interrupted on request
  kConfig,            // configuration problem
  kInternal,          // a bug
};

// Stable lowercase names, used in the database and JSON output.
std::string_view ErrorKindName(ErrorKind k);
// Inverse of ErrorKindName; unknown names map to kInternal.
ErrorKind ErrorKindFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  static Status OK() { return Status(); }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // HTTP status of the response that produced this error, 0 if none.
  int http_status() const { return http_status_; }
  Status& set_http_status(int s) {
    http_status_ = s;
    return *this;
  }
  // Delay the server asked for (Retry-After), if any.
  std::optional<std::chrono::milliseconds> retry_after() const { return retry_after_; }
  Status& set_retry_after(std::chrono::milliseconds d) {
    retry_after_ = d;
    return *this;
  }

  // "kind: message"
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
  int http_status_ = 0;
  std::optional<std::chrono::milliseconds> retry_after_;
};

inline Status InvalidArgument(std::string m) {
  return {ErrorKind::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {ErrorKind::kNotFound, std::move(m)};
}
inline Status IoError(std::string m) {
  return {ErrorKind::kIo, std::move(m)};
}
inline Status Internal(std::string m) {
  return {ErrorKind::kInternal, std::move(m)};
}

}  // namespace ck

#define CK_RETURN_IF_ERROR(expr)     \
  do {                               \
    ::ck::Status _ck_st = (expr);    \
    if (!_ck_st.ok()) return _ck_st; \
  } while (0)
