#include "s3/s3_errors.h"

#include <charconv>

#include "s3/s3_xml.h"
#include "util/encoding.h"

namespace ck {
namespace {

bool OneOf(std::string_view code, std::initializer_list<std::string_view> set) {
  for (auto s : set)
    if (code == s) return true;
  return false;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 301:
      return "Moved Permanently";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

std::string NotFoundHint(const S3ErrorContext& ctx) {
  switch (ctx.resource) {
    case S3Resource::kBucket:
      return "bucket " + PrintableName(ctx.bucket) + " does not exist";
    case S3Resource::kUpload:
      return "the multipart upload does not exist (it was completed or aborted)";
    case S3Resource::kObject:
      return "the object does not exist";
  }
  return "";
}

}  // namespace

ErrorKind ClassifyS3Error(int http_status, std::string_view code) {
  if (OneOf(code, {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "ExpiredToken",
                   "InvalidToken", "TokenRefreshRequired", "RequestTimeTooSkewed",
                   "AuthorizationHeaderMalformed", "MissingSecurityHeader", "InvalidSecurity",
                   "AccountProblem", "NotSignedUp", "AllAccessDisabled"}))
    return ErrorKind::kAuth;
  if (OneOf(code, {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "NoSuchVersion"}))
    return ErrorKind::kNotFound;
  if (code == "SlowDown" || code == "TooManyRequests" || http_status == 429)
    return ErrorKind::kThrottled;
  if (OneOf(code, {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}))
    return ErrorKind::kChecksumMismatch;
  if (code == "QuotaExceeded") return ErrorKind::kCapExceeded;
  // A server that lacks an operation will keep lacking it: not worth a retry.
  if (code == "NotImplemented" || http_status == 501 || code == "MethodNotAllowed")
    return ErrorKind::kPermanent;
  if (OneOf(code, {"RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted"}))
    return ErrorKind::kTransient;
  if (http_status >= 500 || http_status == 408) return ErrorKind::kTransient;
  if (http_status == 401 || http_status == 403) return ErrorKind::kAuth;
  if (http_status == 404) return ErrorKind::kNotFound;
  return ErrorKind::kPermanent;
}

std::string S3ErrorHint(const S3ErrorContext& ctx, int http_status, std::string_view code) {
  if (code == "SignatureDoesNotMatch") return "the secret access key is wrong";
  if (code == "InvalidAccessKeyId") return "the access key ID is not known to the server";
  if (code == "AccessDenied") return "these credentials are not allowed to do this";
  if (code == "ExpiredToken") return "the session token has expired";
  if (code == "InvalidToken") return "the session token is not valid";
  if (code == "RequestTimeTooSkewed") return "the local clock is too far from the server's";
  if (code == "AuthorizationHeaderMalformed") return "the configured region is probably wrong";
  if (code == "NoSuchBucket") return "bucket " + PrintableName(ctx.bucket) + " does not exist";
  // Ceph RGW 16 answers NoSuchKey for an upload that is gone (ListParts).
  if (code == "NoSuchKey")
    return ctx.resource == S3Resource::kUpload ? NotFoundHint(ctx) : "the object does not exist";
  if (code == "NoSuchUpload")
    return "the multipart upload does not exist (it was completed or aborted)";
  if (code == "SlowDown" || http_status == 429) return "the server asks to slow down";
  if (code == "NotImplemented" || http_status == 501 || code == "MethodNotAllowed")
    return "this server does not implement the operation";
  if (code == "BadDigest") return "the Content-MD5 does not match the bytes the server received";
  if (code == "InvalidDigest") return "the Content-MD5 header is not valid";
  if (code == "XAmzContentSHA256Mismatch")
    return "the SHA-256 does not match the bytes the server received";
  if (code == "QuotaExceeded") return "the storage quota is used up";
  if (code == "EntityTooSmall") return "a part other than the last is smaller than 5 MiB";
  if (code == "EntityTooLarge") return "the object or part is larger than the server allows";
  if (code == "InvalidPart") return "a part is missing or its ETag does not match";
  if (code == "InvalidPartOrder") return "the part list is not in ascending order";
  if (code == "InvalidRange") return "the requested range is outside the object";
  if (code == "RequestTimeout") return "the server gave up waiting for the request body";
  if (code == "InternalError") return "the server had an internal error";
  if (code == "BucketAlreadyExists") return "the bucket name is taken by another account";
  if (code == "InvalidBucketName") return "the bucket name is not valid";
  if (code == "PermanentRedirect" || http_status == 301)
    return "the bucket is in another region; use that region's endpoint";
  if (code.empty()) {
    if (http_status == 404) return NotFoundHint(ctx);
    if (http_status == 403) return "access denied: wrong credentials or not allowed";
    if (http_status == 401) return "the server wants credentials";
  }
  if (http_status >= 500 && code.empty()) return "server error";
  return "";
}

std::string S3ErrorPrefix(const S3ErrorContext& ctx) {
  std::string s(ctx.name);
  s += ": ";
  s += ctx.operation;
  if (!ctx.target.empty()) {
    s += ' ';
    s += PrintableName(ctx.target);
  }
  return s;
}

Status S3ResponseError(const S3ErrorContext& ctx, const HttpResponse& resp,
                       std::chrono::system_clock::time_point now) {
  std::optional<S3ErrorDocument> doc = ParseS3Error(resp.body);
  std::string code = doc ? doc->code : "";
  // Some servers put the code in a header on bodiless (HEAD) responses.
  if (code.empty()) code = resp.Header("x-amz-error-code");
  const std::string hint = S3ErrorHint(ctx, resp.status, code);

  std::string msg = S3ErrorPrefix(ctx) + ": " + std::to_string(resp.status) + " ";
  msg += code.empty() ? std::string(ReasonPhrase(resp.status)) : code;
  if (!hint.empty()) {
    msg += " (" + hint + ")";
  } else if (doc && !doc->message.empty()) {
    msg += " (" + PrintableName(doc->message) + ")";
  }
  if (resp.status == 301) {
    std::string region = resp.Header("x-amz-bucket-region");
    if (!region.empty()) msg += " [bucket region: " + PrintableName(region) + "]";
  }
  // A 200 carrying an <Error> (CompleteMultipartUpload) is classified by its code alone.
  int status_for_kind = resp.status >= 200 && resp.status < 300 ? 0 : resp.status;
  ErrorKind kind = ClassifyS3Error(status_for_kind, code);
  const std::string retry_after = resp.Header("Retry-After");
  // A 503 that says when to come back is the server pacing us.
  if (kind == ErrorKind::kTransient && resp.status == 503 && !retry_after.empty())
    kind = ErrorKind::kThrottled;
  Status st(kind, std::move(msg));
  st.set_http_status(resp.status);

  if (!retry_after.empty()) {
    int64_t seconds = 0;
    auto [p, ec] =
        std::from_chars(retry_after.data(), retry_after.data() + retry_after.size(), seconds);
    if (ec == std::errc() && p == retry_after.data() + retry_after.size() && seconds >= 0) {
      st.set_retry_after(std::chrono::seconds(seconds));
    } else if (auto when = ParseHttpDateMs(retry_after)) {
      int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      st.set_retry_after(std::chrono::milliseconds(std::max<int64_t>(0, *when - now_ms)));
    }
  }
  return st;
}

}  // namespace ck
