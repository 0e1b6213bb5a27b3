// Turning B2 native-API error replies into classified, human-readable Status
// values (fact sheet §11 and §12).
//
// Message form: "<name>: <operation> <target>: <HTTP status> <code>: <server
// message> (<what it means>)", e.g. "backup-b2: b2_upload_file photos/a.jpg:
// 503 service_unavailable: c001_v0001007_t0042 is too busy (the storage pod is
// busy; the upload URL was discarded)". Messages never contain the application
// key or a token: server messages pass through RedactSecrets first.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_client.h"
#include "util/status.h"

namespace ck {

// What a request addressed, which decides how some codes read.
enum class B2Resource {
  kAccount,    // b2_authorize_account
  kBucket,     // bucket-level calls (list, get_upload_url, start_large_file, ...)
  kFile,       // one file by name or id (download, get_file_info, delete, hide)
  kLargeFile,  // an unfinished large file by id (parts, finish, cancel)
  kUploadUrl,  // a POST to an upload URL (b2_upload_file / b2_upload_part)
};

struct B2ErrorContext {
  std::string_view name;       // label starting the message (destination name)
  std::string_view operation;  // "b2_upload_file"
  std::string_view target;     // file name, file id or bucket; raw bytes (escaped for display)
  std::string_view bucket;     // bucket name, for "bucket X does not exist"
  B2Resource resource = B2Resource::kFile;
};

// The JSON error document {"status", "code", "message"}.
struct B2ErrorBody {
  int status = 0;
  std::string code;
  std::string message;
};

// Parses an error document; nullopt when body is not one (empty, HTML, ...).
std::optional<B2ErrorBody> ParseB2Error(std::string_view body);

// The ErrorKind for an HTTP status and B2 error code (code and message may be
// empty, e.g. for HEAD):
//   401 (any code)                                      -> kAuth; kTransient on kUploadUrl
//   403 cap_exceeded, storage_/transaction_/download_cap_exceeded -> kCapExceeded
//   403 other (access_denied)                           -> kAuth
//   404 not_found                                       -> kNotFound
//   408, 5xx                                            -> kTransient
//   429 too_many_requests                               -> kThrottled
//   400 whose code or message speaks of a SHA-1 / checksum mismatch -> kChecksumMismatch
//   400 bad_bucket_id, invalid_bucket_id                -> kNotFound
//   400 no_such_file, file_not_present, invalid_file_id -> kNotFound
//   400 bad_request on kLargeFile whose message says the file ID names no
//       unfinished large file ("No active upload for: <id>", "... not found",
//       "does not exist", ...; B2's wording is unconfirmed) or is empty -> kNotFound
//   400 auth_token_limit / "more than one upload using auth token" -> kTransient
//   anything else (other 4xx, 3xx)                      -> kPermanent
ErrorKind ClassifyB2Error(int http_status, std::string_view code, std::string_view message,
                          B2Resource resource);

// True when a non-upload call should re-authorize and be sent again: 401
// bad_auth_token or expired_auth_token (401 unauthorized means a missing
// capability and is final). A 401 without a document (a HEAD reply) counts too,
// since it cannot be told apart from an expired token.
bool IsExpiredAuthToken(int http_status, std::string_view code);

// True when an upload URL's token itself was refused (any 401, or B2's "more
// than one upload using auth token" / auth_token_limit): the fault is the
// URL's, not the server's health, so a fresh URL may be tried at once without
// waiting. (Every failed upload discards its URL anyway; see b2_client.h.)
bool IsUploadTokenRejected(int http_status, std::string_view code, std::string_view message);

// Replaces every occurrence of each non-empty secret in text with
// "<redacted>". Secrets shorter than 4 bytes are ignored (too likely to match
// ordinary text).
std::string RedactSecrets(std::string text, const std::vector<std::string_view>& secrets);

// "<name>: <operation> <target>" with the target escaped for display.
std::string B2ErrorPrefix(const B2ErrorContext& ctx);

// The Status for a non-success reply: classified kind, message as described
// above (server message redacted with `secrets`), http_status set, and
// retry_after from a Retry-After header given in seconds.
Status B2ResponseError(const B2ErrorContext& ctx, const HttpResponse& resp,
                       const std::vector<std::string_view>& secrets);

}  // namespace ck
