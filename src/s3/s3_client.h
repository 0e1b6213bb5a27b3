// S3Client: the S3 REST API (the subset a backup tool needs) over HttpClient,
// signed with SigV4. One client talks to one bucket.
//
// Object keys are exact bytes (valid UTF-8, 1..1024 bytes): the URL path
// carries them percent-encoded once (everything but A-Z a-z 0-9 - . _ ~ and
// '/'), so keys with spaces, '+', '%', '?', '#', '//', './', '../', leading or
// trailing spaces round-trip unchanged. Listings request encoding-type=url so
// keys with control characters survive the XML.
//
// Every error is a classified Status (see s3_errors.h) whose message starts
// "<name>: <Operation> <key or bucket>: ". No message contains a secret.
// Thread-safe: concurrent calls are independent requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"
#include "s3/s3_errors.h"
#include "s3/s3_xml.h"
#include "s3/sigv4.h"
#include "util/result.h"

namespace ck {

struct S3ClientOptions {
  // Label that starts every error message, usually the destination name. Default "s3".
  std::string name = "s3";
  // "scheme://host[:port]" (http or https, no path). Default (empty):
  // "https://s3.<region>.amazonaws.com".
  std::string endpoint;
  // Region used for signing (and CreateBucket's LocationConstraint). Default "us-east-1".
  std::string region = "us-east-1";
  // Bucket name. Required.
  std::string bucket;
  // Address the bucket in the path (scheme://host/bucket/key) instead of the
  // host name (scheme://bucket.host/key). Default false; Make forces it on when
  // the endpoint host is an IP address or "localhost", and when the bucket
  // name is not usable as a host name label (uppercase, '_', or '.' with https).
  bool path_style = false;
  // access_key_id and secret_access_key are required (Make: kAuth "missing
  // credentials" otherwise); session_token optional.
  AwsCredentials credentials;
  // Clock used for signing (and Retry-After dates). Null: the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
  // Per-request timeout; 0 = the HttpClient's default. Default 0.
  std::chrono::milliseconds request_timeout{0};
};

// Sends one HTTP request; HttpClient::Send in production, a fake in tests.
using S3Transport = std::function<Result<HttpResponse>(const HttpRequest&)>;

struct S3PutObjectRequest {
  std::string key;
  const BodySource* body = nullptr;  // null: empty object. Not owned.
  std::string md5;     // raw 16-byte MD5 of the body; empty: computed by reading the body
  std::string sha256;  // raw 32-byte SHA-256; empty: sent as UNSIGNED-PAYLOAD
  std::map<std::string, std::string> metadata;  // x-amz-meta-<name>; printable ASCII values
  std::string content_type = "application/octet-stream";
};

struct S3PutObjectResult {
  std::string etag;  // unquoted
  std::string version_id;
};

struct S3ObjectHead {
  uint64_t size = 0;
  std::string etag;  // unquoted
  int64_t last_modified_ms = 0;
  std::string version_id;
  std::string content_type;
  std::map<std::string, std::string> metadata;  // lowercase names without "x-amz-meta-"
};

// Inclusive byte range [first, last].
struct S3Range {
  uint64_t first = 0;
  uint64_t last = 0;
};

struct S3ListObjectsRequest {
  std::string prefix;
  std::string delimiter;           // "" = flat
  std::string continuation_token;  // "" = first page
  std::string start_after;
  int max_keys = 1000;  // clamped to 1..1000
};

struct S3UploadPartRequest {
  std::string key;
  std::string upload_id;
  int part_number = 0;               // 1..10000
  const BodySource* body = nullptr;  // not owned
  std::string md5;                   // raw MD5 of the part; empty: computed
  std::string sha256;                // raw SHA-256; empty: UNSIGNED-PAYLOAD
};

struct S3CompletedPart {
  int part_number = 0;
  std::string etag;  // as returned by UploadPart (quotes optional)
};

struct S3ListUploadsRequest {
  std::string prefix;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = 1000;  // clamped to 1..1000
};

class S3Client {
 public:
  // Validates options (bucket and region present and well-formed, endpoint
  // http(s)://host[:port], credentials present) and applies the defaults
  // documented on S3ClientOptions. kConfig on invalid options, kAuth when the
  // access key or secret is empty. `http` is not owned and must outlive the
  // client.
  static Result<std::unique_ptr<S3Client>> Make(S3ClientOptions options, HttpClient* http);
  // Same, sending requests through `transport` (tests).
  static Result<std::unique_ptr<S3Client>> MakeWithTransport(S3ClientOptions options,
                                                             S3Transport transport);

  // The effective options (defaults applied, path_style possibly forced).
  const S3ClientOptions& options() const { return options_; }

  // Full URL of an object (no query): endpoint, bucket and the key encoded once.
  std::string ObjectUrl(std::string_view key) const;
  // Full URL of the bucket itself (no query).
  std::string BucketUrl() const;
  // Host header value sent with every request.
  const std::string& host() const { return host_; }

  // PUT Object. Sends Content-MD5 always and x-amz-content-sha256 = hex
  // SHA-256 when req.sha256 is given (else UNSIGNED-PAYLOAD). Returns the
  // unquoted ETag. kInvalidName for a bad key, kInvalidArgument for bad
  // digests or metadata, kChecksumMismatch when the server saw other bytes.
  Result<S3PutObjectResult> PutObject(const S3PutObjectRequest& req);

  // HEAD Object. kNotFound when the object (or bucket) does not exist.
  Result<S3ObjectHead> HeadObject(const std::string& key);

  // GET Object (whole, or `range`), streaming the body to sink; sink returns
  // false to stop (kCancelled). kNotFound when the object does not exist;
  // kPermanent if the server ignored the range. On error the sink may have
  // received part of the body: discard it.
  Status GetObject(const std::string& key, const std::optional<S3Range>& range,
                   const std::function<bool(std::string_view)>& sink);

  // DELETE Object. OK also when the object did not exist; kNotFound only
  // when the bucket does not exist.
  Status DeleteObject(const std::string& key);

  // One page of ListObjectsV2 (encoding-type=url; keys come back decoded).
  Result<S3ListObjectsResult> ListObjectsV2(const S3ListObjectsRequest& req);

  // Starts a multipart upload; returns its upload ID. metadata and
  // content_type end up on the completed object.
  Result<std::string> CreateMultipartUpload(const std::string& key,
                                            const std::map<std::string, std::string>& metadata,
                                            const std::string& content_type);

  // Uploads one part (Content-MD5 always sent). Returns the part's unquoted ETag.
  // kNotFound when the upload no longer exists.
  Result<std::string> UploadPart(const S3UploadPartRequest& req);

  // One page of ListParts after part number `part_number_marker` (0 = from the
  // start), at most max_parts (1..1000) parts.
  Result<S3ListPartsResult> ListPartsPage(const std::string& key, const std::string& upload_id,
                                          int part_number_marker, int max_parts = 1000);
  // Every part of the upload, ascending (follows the part-number-marker).
  // kNotFound when the upload does not exist.
  Result<std::vector<S3Part>> ListParts(const std::string& key, const std::string& upload_id);

  // Completes the upload from parts (ascending). A 200 response whose body is
  // an <Error> is an error. When the server returns an empty ETag (Ceph RGW
  // 16) the object is HEADed to get it.
  Result<S3PutObjectResult> CompleteMultipartUpload(const std::string& key,
                                                    const std::string& upload_id,
                                                    const std::vector<S3CompletedPart>& parts);

  // Aborts the upload. OK also when the upload no longer exists (NoSuchUpload).
  Status AbortMultipartUpload(const std::string& key, const std::string& upload_id);

  // One page of ListMultipartUploads (encoding-type=url).
  Result<S3ListUploadsResult> ListMultipartUploadsPage(const S3ListUploadsRequest& req);
  // Every unfinished upload whose key starts with prefix (follows the markers).
  Result<std::vector<S3MultipartUpload>> ListMultipartUploads(const std::string& prefix);

  // HEAD Bucket: a cheap connectivity and credentials check. kNotFound "bucket
  // X does not exist", kAuth, kTransient, kPermanent (e.g. 301 other region).
  Status HeadBucket();

  // Creates the bucket (LocationConstraint = region unless us-east-1). OK also
  // when the bucket already exists and is ours (BucketAlreadyOwnedByYou).
  Status CreateBucket();

  // Deletes the (empty) bucket. kPermanent BucketNotEmpty when it is not empty.
  Status DeleteBucket();

 private:
  struct Call;
  S3Client(S3ClientOptions options, S3Transport transport, std::string scheme,
           std::string endpoint_host);

  std::chrono::system_clock::time_point Now() const;
  // Sends call; a transport failure comes back with the call's context added.
  // Any HTTP status is a successful result.
  Result<HttpResponse> Execute(const Call& call) const;
  // Execute plus: a non-2xx status becomes the classified error.
  Result<HttpResponse> Perform(const Call& call) const;
  Status ErrorFor(const Call& call, const HttpResponse& resp) const;
  std::string PathFor(const Call& call) const;

  S3ClientOptions options_;
  S3Transport transport_;
  std::string scheme_;         // "http" / "https"
  std::string endpoint_host_;  // host[:port] of the endpoint
  std::string host_;           // Host header (bucket. prefix when virtual-hosted)
  SigV4Signer signer_;
};

// Checks an object key: 1..1024 bytes of valid UTF-8. kInvalidName otherwise.
Status ValidateS3Key(std::string_view key);

}  // namespace ck
