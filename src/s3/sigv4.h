// AWS Signature Version 4: request signing in header form (Authorization
// header) and presigned query form, signing of aws-chunked payloads, and a
// cache of derived signing keys.
//
// Written from the public description of the algorithm; checked against the
// AWS test vectors in tests/data/sigv4/.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_client.h"
#include "util/result.h"

namespace ck {

// Credentials used to sign. The secret never leaves the signer: it is not
// part of any returned string or message.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty when not using temporary credentials
};

// Payload hash values with a special meaning for S3.
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingPayloadTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

// How the request path becomes the canonical URI.
enum class SigV4PathMode {
  // S3: the path is percent-encoded exactly once (every byte except
  // A-Z a-z 0-9 - . _ ~ and '/'); escapes already present in the wire path are
  // kept, not encoded again; '.', '..' and '//' are left alone.
  kS3,
  // Other services: optional removal of '.'/'..' segments and repeated slashes,
  // then the wire path is encoded once more when double_encode is set.
  kGeneric,
};

struct SigV4Options {
  // Service name in the credential scope. Default "s3".
  std::string service = "s3";
  // Region in the credential scope. Default "us-east-1".
  std::string region = "us-east-1";
  // Default kS3.
  SigV4PathMode path_mode = SigV4PathMode::kS3;
  // kGeneric only: normalize the path. Default true.
  bool normalize_path = true;
  // kGeneric only: encode the wire path again. Default true.
  bool double_encode = true;
  // Header form: add and sign x-amz-content-sha256 carrying the payload hash
  // (S3 requires it). Default true.
  bool add_content_sha256 = true;
  // When false, a session token is attached after signing (so it is not part
  // of the signature), as some services expect. Default true (signed).
  bool sign_session_token = true;
};

// A request to be signed. The signer adds its headers / query parameters to it.
struct SigV4Request {
  std::string method = "GET";
  // The path as sent on the wire, starting with '/': percent-encoded text;
  // raw bytes outside the unreserved set are tolerated and get encoded.
  std::string path = "/";
  // The query string as sent on the wire, without '?'; may be empty.
  std::string query;
  // Headers to send; must contain Host. All of them are signed except
  // hop-by-hop headers, Authorization, User-Agent and Expect.
  HttpHeaders headers;
  // Hex SHA-256 of the body, or kUnsignedPayload / kStreamingPayload...;
  // empty means the SHA-256 of an empty body.
  std::string payload_hash;
};

// The intermediate values of one signature, for tests and debugging. None of
// them contains the secret key.
struct SigV4Signature {
  std::string amz_date;          // "20150830T123600Z"
  std::string credential_scope;  // "20150830/us-east-1/service/aws4_request"
  std::string signed_headers;    // "host;x-amz-date"
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lowercase hex
};

// Cache of derived signing keys keyed by (secret, date, region, service):
// deriving one costs four HMACs, and every request of a day shares it.
// Thread-safe.
class SigningKeyCache {
 public:
  // Keeps at most `capacity` keys (at least 1); the oldest dates go first.
  explicit SigningKeyCache(size_t capacity = 8);

  // Returns the signing key (raw 32 bytes) for date "YYYYMMDD", deriving and
  // storing it on a miss.
  std::string Get(std::string_view secret, std::string_view date, std::string_view region,
                  std::string_view service);

  // Number of keys derived so far (cache misses), for tests.
  uint64_t derivations() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> keys_;  // "date\0region\0service\0sha256(secret)" -> key
  uint64_t derivations_ = 0;
};

// Derives the SigV4 signing key from the secret (no caching).
std::string DeriveSigV4SigningKey(std::string_view secret, std::string_view date,
                                  std::string_view region, std::string_view service);

// "YYYYMMDDTHHMMSSZ" (UTC) for a point in time.
std::string FormatAmzDate(std::chrono::system_clock::time_point t);

// Canonical form of a wire query string: each name and value decoded and
// re-encoded, pairs sorted by encoded name then value, a name without '='
// rendered "name=". kInvalidArgument on a malformed %-escape.
Result<std::string> CanonicalQueryString(std::string_view query);

// Canonical URI of a wire path under the given options. kInvalidArgument on a
// malformed %-escape in kS3 mode.
Result<std::string> CanonicalUri(std::string_view path, const SigV4Options& options);

// Trims a header value and collapses runs of whitespace (including line
// folds) into one space.
std::string CanonicalHeaderValue(std::string_view value);

class SigV4ChunkSigner;

// Signs requests with one set of credentials. Immutable after construction;
// all methods are thread-safe.
class SigV4Signer {
 public:
  // cache: shared derived-key cache; null = a cache private to this signer.
  SigV4Signer(AwsCredentials credentials, SigV4Options options,
              std::shared_ptr<SigningKeyCache> cache = nullptr);

  // Header form. Sets X-Amz-Date, x-amz-content-sha256 (if enabled),
  // X-Amz-Security-Token (if there is a token) and Authorization on
  // req->headers, replacing earlier values of those headers. Returns the
  // intermediate values. kInvalidArgument when Host is missing or the path /
  // query has a malformed escape.
  Result<SigV4Signature> SignHeaders(SigV4Request* req,
                                     std::chrono::system_clock::time_point now) const;

  // Query form (presigned URL). Appends X-Amz-Algorithm, X-Amz-Credential,
  // X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Security-Token (if
  // any) and X-Amz-Signature to req->query; headers are signed but not
  // changed. For S3 set req->payload_hash to kUnsignedPayload. expires must
  // be 1..604800 s, else kInvalidArgument.
  Result<SigV4Signature> Presign(SigV4Request* req, std::chrono::seconds expires,
                                 std::chrono::system_clock::time_point now) const;

  // Starts signing the chunks of an aws-chunked body whose headers were
  // signed (SignHeaders) with payload hash kStreamingPayload[Trailer] into
  // `seed`.
  SigV4ChunkSigner StartChunks(const SigV4Signature& seed) const;

  // The options given at construction.
  const SigV4Options& options() const { return options_; }
  // The access key ID (not secret) used in the credential scope.
  const std::string& access_key_id() const { return credentials_.access_key_id; }
  // The derived-key cache in use (shared or private).
  SigningKeyCache& key_cache() const { return *cache_; }

 private:
  // Computes the signature of req whose canonical headers are already final;
  // query is the full wire query to canonicalize.
  Result<SigV4Signature> Sign(const SigV4Request& req, std::string_view query,
                              const std::string& amz_date) const;
  std::string SigningKey(std::string_view date) const;

  AwsCredentials credentials_;
  SigV4Options options_;
  std::shared_ptr<SigningKeyCache> cache_;
};

// Signs the chunks of one aws-chunked upload in order (each signature chains
// the previous one). Not thread-safe: one per request.
class SigV4ChunkSigner {
 public:
  // The string to sign for the next chunk given the hex SHA-256 of its data.
  std::string ChunkStringToSign(std::string_view data_sha256_hex) const;
  // Signs the next chunk (data may be empty: the final chunk) and advances.
  std::string SignChunk(std::string_view data);
  // Frames a chunk for the wire: "<hex len>;chunk-signature=<sig>\r\n<data>\r\n".
  // Signs it (advancing) as SignChunk does. For the final chunk of an upload
  // with a trailer, use SignChunk + FinalChunkHeader + EncodeTrailer instead.
  std::string EncodeChunk(std::string_view data);
  // "<hex len>;chunk-signature=<sig>" (no CRLF).
  static std::string ChunkHeader(uint64_t data_length, std::string_view signature);

  // Trailer (after the final zero-length chunk). canonical_trailers is
  // "name:value\n" per trailing header, names lowercase.
  std::string TrailerStringToSign(std::string_view canonical_trailers) const;
  std::string SignTrailer(std::string_view canonical_trailers);
  // Signs the trailing headers and returns their wire form:
  // "name:value\r\n...x-amz-trailer-signature:<sig>\r\n\r\n".
  std::string EncodeTrailer(const HttpHeaders& trailers);

  // Signature of the last chunk signed (the seed signature before any).
  const std::string& previous_signature() const { return previous_signature_; }

 private:
  friend class SigV4Signer;
  SigV4ChunkSigner(std::string signing_key, std::string amz_date, std::string scope,
                   std::string seed_signature);

  std::string signing_key_;
  std::string amz_date_;
  std::string scope_;
  std::string previous_signature_;
};

}  // namespace ck
