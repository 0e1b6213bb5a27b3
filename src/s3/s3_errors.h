// Turning S3 error responses into classified, human-readable Status values.
//
// Message form: "<name>: <Operation> <target>: <HTTP status> <S3 code> (<what it means>)",
// e.g. "aws-s3: PutObject photos/a.jpg: 403 SignatureDoesNotMatch (the secret
// access key is wrong)". Messages never contain credentials: they are built
// from the operation, target, status and the error document's Code/Message.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "util/status.h"

namespace ck {

// What a request addressed, so a 404 without an error code (HEAD) can be told.
enum class S3Resource { kBucket, kObject, kUpload };

struct S3ErrorContext {
  std::string_view name;       // label starting the message (destination name)
  std::string_view operation;  // "PutObject"
  std::string_view target;     // object key or bucket, raw bytes (escaped for display)
  std::string_view bucket;     // bucket name, for "bucket X does not exist"
  S3Resource resource = S3Resource::kObject;
};

// The ErrorKind for an HTTP status and S3 error code ("" when the response had
// no error document, e.g. HEAD):
//   SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied, ExpiredToken, ... / 401 / 403 -> kAuth
//   NoSuchKey, NoSuchBucket, NoSuchUpload, NoSuchVersion / 404   -> kNotFound
//   SlowDown, 429, 503 with Retry-After (S3ResponseError)         -> kThrottled
//   BadDigest, InvalidDigest, XAmzContentSHA256Mismatch           -> kChecksumMismatch
//   QuotaExceeded                                                 -> kCapExceeded
//   RequestTimeout, InternalError, ServiceUnavailable, 408, 5xx   -> kTransient
//   anything else                                                 -> kPermanent
ErrorKind ClassifyS3Error(int http_status, std::string_view code);

// A short explanation of an error code for users, or "" when there is none.
std::string S3ErrorHint(const S3ErrorContext& ctx, int http_status, std::string_view code);

// The Status for an error response (a non-2xx status, or a 2xx whose body is an
// <Error> document). Sets http_status, and retry_after from a Retry-After
// header (seconds or HTTP-date relative to `now`).
Status S3ResponseError(const S3ErrorContext& ctx, const HttpResponse& resp,
                       std::chrono::system_clock::time_point now);

// "<name>: <Operation> <target>" with the target escaped for display.
std::string S3ErrorPrefix(const S3ErrorContext& ctx);

}  // namespace ck
