// The XML documents of the S3 REST API that the client reads and writes, and
// the date formats S3 uses. Pure functions: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace ck {

// One entry of a ListObjectsV2 result.
struct S3Object {
  std::string key;  // exact bytes (URL-decoded when the server used encoding-type=url)
  uint64_t size = 0;
  std::string etag;  // unquoted
  int64_t last_modified_ms = 0;
  std::string storage_class;
};

struct S3ListObjectsResult {
  std::vector<S3Object> objects;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_continuation_token;  // "" on the last page
};

// One part of a multipart upload as the server holds it.
struct S3Part {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // unquoted
  int64_t last_modified_ms = 0;
};

struct S3ListPartsResult {
  std::vector<S3Part> parts;
  bool is_truncated = false;
  int next_part_number_marker = 0;
};

struct S3MultipartUpload {
  std::string key;
  std::string upload_id;
  int64_t initiated_ms = 0;
};

struct S3ListUploadsResult {
  std::vector<S3MultipartUpload> uploads;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

// An S3 <Error> document. RGW leaves Message empty; rely on code.
struct S3ErrorDocument {
  std::string code;
  std::string message;
  std::string request_id;
  std::string resource;
};

// Body of a CompleteMultipartUpload success response.
struct S3CompleteResult {
  std::string etag;  // unquoted; empty when the server left it empty (Ceph RGW 16)
  std::string key;
};

// Parsers. Each returns kTransient "malformed <what> response: ..." when the
// body is not the expected document (a cut-off body is the usual cause).
// Keys, prefixes and markers are URL-decoded ('+' = space) when the document
// says <EncodingType>url</EncodingType>.
Result<S3ListObjectsResult> ParseListObjectsV2(std::string_view xml);
Result<S3ListPartsResult> ParseListParts(std::string_view xml);
// requested_url_encoding: the request asked for encoding-type=url. Ceph RGW 16
// then encodes <Key> without saying so (no <EncodingType>) and leaves the
// markers raw, so keys are decoded when either the document or the request
// says url; markers only when the document does.
Result<S3ListUploadsResult> ParseListMultipartUploads(std::string_view xml,
                                                      bool requested_url_encoding);
// Returns the UploadId of an InitiateMultipartUploadResult.
Result<std::string> ParseInitiateMultipartUpload(std::string_view xml);
Result<S3CompleteResult> ParseCompleteMultipartUpload(std::string_view xml);

// Returns the error document when xml is one (root element <Error>), else
// nullopt (empty or other bodies, malformed XML).
std::optional<S3ErrorDocument> ParseS3Error(std::string_view xml);

// <CompleteMultipartUpload> body listing (part number, unquoted ETag) pairs in
// the given order.
std::string BuildCompleteMultipartUploadXml(const std::vector<std::pair<int, std::string>>& parts);

// <CreateBucketConfiguration> body for region; "" for us-east-1, which takes
// no LocationConstraint.
std::string BuildCreateBucketXml(std::string_view region);

// Escapes & < > " ' for XML text.
std::string XmlEscape(std::string_view s);

// Strips one pair of surrounding double quotes (also a W/ weak prefix).
std::string UnquoteEtag(std::string_view etag);

// "2009-10-12T17:50:30.000Z" (fraction optional) -> ms since the epoch.
std::optional<int64_t> ParseIso8601Ms(std::string_view s);
// RFC 7231 HTTP-date "Wed, 12 Oct 2009 17:50:00 GMT" -> ms since the epoch.
std::optional<int64_t> ParseHttpDateMs(std::string_view s);

}  // namespace ck
