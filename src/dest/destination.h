// Destination: one bucket (plus key prefix) on one object store. The sync engine
// talks only to this interface; S3, B2 and the in-memory fake implement it, and
// retry / concurrency / metrics are decorators around it (see decorators.h).
//
// Keys passed in are full object keys (the destination prefix already applied by
// the caller). Every error is classified into an ErrorKind by the backend itself:
// kNotFound, kAuth, kThrottled, kTransient, kPermanent, kCapExceeded,
// kChecksumMismatch, kInvalidArgument. Policy (retrying) is not the backend's job.
// All methods are thread-safe unless stated otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http/http_client.h"
#include "util/hash.h"
#include "util/result.h"

namespace ck {

// What a destination can do; the engine reads these instead of guessing.
struct Capabilities {
  bool multipart = false;      // StartMultipart & co. are implemented
  uint64_t min_part_size = 0;  // every part but the last must be at least this
  uint64_t max_part_size = 0;  // 0 = no limit
  int max_parts = 10000;
  uint64_t max_single_put = 0;  // largest body Put accepts; 0 = no limit
  size_t max_key_bytes = 1024;
  // Which digest the server verifies for Put and parts: MD5 (S3 Content-MD5) or SHA-1 (B2).
  DigestAlgo verified_digest = DigestAlgo::kMd5;
  // Single-part ETag equals hex MD5 of the content (true for S3 without SSE-KMS).
  bool etag_is_md5 = false;
  // The completed multipart ETag has the form hex(md5(concat(part md5s)))-N
  // when the server uses that form (checked only when the ETag has a '-N' suffix).
  bool multipart_etag_md5_of_md5s = false;
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;      // unquoted; may be empty (B2 gives SHA-1 instead)
  std::string sha1_hex;  // B2 content SHA-1 when known
  int64_t last_modified_ms = 0;
  std::string version_id;                       // B2 file ID / S3 version ID, if any
  std::map<std::string, std::string> metadata;  // user metadata, lowercase names without prefix
};

struct PutRequest {
  std::string key;
  const BodySource* body = nullptr;
  std::string md5;     // raw 16-byte MD5 of the body; required
  std::string sha1;    // raw 20-byte SHA-1 of the body; required where verified_digest is SHA-1
  std::string sha256;  // raw 32-byte SHA-256 of the body; optional (signed payload when given)
  std::map<std::string, std::string> metadata;  // user metadata (e.g. sha256, mtime)
  std::string content_type = "application/octet-stream";
};

struct PutResult {
  std::string etag;  // unquoted
  std::string version_id;
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;           // "" = flat listing
  std::string continuation_token;  // "" = from the start
  int max_keys = 1000;             // the backend may cap it
  // Only keys strictly greater than this ("" = from the start), like S3's
  // start-after. Every backend supports it (no capability flag). It applies to
  // the first request of a listing: with a continuation token the token decides
  // where the page starts (S3 ignores start-after then), so callers set it on
  // the first request only. Billed like any list request.
  std::string start_after;
};

struct ListPage {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;  // "" when this is the last page
};

struct PartUpload {
  int part_number = 0;  // 1-based
  const BodySource* body = nullptr;
  std::string md5;     // raw MD5 of the part (S3: Content-MD5)
  std::string sha1;    // raw SHA-1 of the part (B2)
  std::string sha256;  // raw SHA-256, optional
};

struct PartInfo {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;      // unquoted (S3)
  std::string checksum;  // hex of the verified digest (MD5 for S3, SHA-1 for B2)
};

struct MultipartUploadInfo {
  std::string key;
  std::string upload_id;
  int64_t initiated_ms = 0;
};

struct GetOptions {
  std::optional<std::pair<uint64_t, uint64_t>> range;  // inclusive [first, last] bytes
};

class Destination {
 public:
  virtual ~Destination() = default;

  virtual const std::string& name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // Checks that the bucket is reachable with these credentials (one cheap request).
  // OK, or kAuth / kNotFound (bucket) / kTransient (network) / kPermanent.
  virtual Status Check() = 0;

  // The cheapest request that shows whether the bucket is reachable with these
  // credentials right now; unlike Check() it may rely on cached sessions (B2:
  // the cached token, and a free b2_get_upload_url instead of a new
  // authorization). Called often by the bucket inspector's health checks. OK,
  // or the errors of Check(). Thread-safe. Default: Check().
  virtual Status Probe() { return Check(); }

  // Uploads a whole object. Returns only after the server accepted it; the
  // backend sends the digest it verifies (Content-MD5 / X-Bz-Content-Sha1) so
  // the server rejects corrupted bytes (kChecksumMismatch).
  virtual Result<PutResult> Put(const PutRequest& req) = 0;

  // kNotFound when the object does not exist.
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;

  // One page of a listing, keys in ascending byte order.
  virtual Result<ListPage> List(const ListOptions& opts) = 0;

  // Streams the object (or a range) to sink; sink returns false to abort (kCancelled).
  // kNotFound when the object does not exist.
  virtual Status Get(const std::string& key, const GetOptions& opts,
                     const std::function<bool(std::string_view)>& sink) = 0;

  // Deletes the object; OK when it did not exist.
  virtual Status Delete(const std::string& key) = 0;

  // --- multipart (only when capabilities().multipart) ---
  // Returns the upload ID. metadata is stored on the final object.
  virtual Result<std::string> StartMultipart(const std::string& key,
                                             const std::map<std::string, std::string>& metadata,
                                             const std::string& content_type) = 0;
  virtual Result<PartInfo> UploadPart(const std::string& key, const std::string& upload_id,
                                      const PartUpload& part) = 0;
  // Parts the server holds for the upload, ascending. kNotFound when the upload is gone.
  virtual Result<std::vector<PartInfo>> ListParts(const std::string& key,
                                                  const std::string& upload_id) = 0;
  // parts: every part, ascending, with etag (S3) / checksum (B2) filled in.
  virtual Result<PutResult> CompleteMultipart(const std::string& key, const std::string& upload_id,
                                              const std::vector<PartInfo>& parts) = 0;
  // OK when the upload no longer exists.
  virtual Status AbortMultipart(const std::string& key, const std::string& upload_id) = 0;
  // Unfinished uploads under prefix.
  virtual Result<std::vector<MultipartUploadInfo>> ListMultipartUploads(
      const std::string& prefix) = 0;
};

}  // namespace ck
