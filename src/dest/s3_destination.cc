#include "dest/s3_destination.h"

#include <algorithm>
#include <cctype>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;

bool IsHexMd5(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

}  // namespace

Capabilities S3Capabilities() {
  Capabilities c;
  c.multipart = true;
  c.min_part_size = 5 * kMiB;
  c.max_part_size = 5 * kGiB;
  c.max_parts = 10000;
  c.max_single_put = 5 * kGiB;
  c.max_key_bytes = 1024;
  c.verified_digest = DigestAlgo::kMd5;
  c.etag_is_md5 = true;
  c.multipart_etag_md5_of_md5s = true;
  return c;
}

S3Destination::S3Destination(std::string name, std::unique_ptr<S3Client> client, bool sign_payload)
    : name_(std::move(name)), client_(std::move(client)), sign_payload_(sign_payload) {}

Capabilities S3Destination::capabilities() const {
  return S3Capabilities();
}

Status S3Destination::Check() {
  Status st = client_->HeadBucket();
  if (st.ok() || st.kind() != ErrorKind::kAuth) return st;
  // A HEAD response carries no error document, so "403" is all it says. Ask
  // once more with a GET to learn why (wrong secret, unknown key, not allowed):
  // only on this failure path, so a healthy check stays one HEAD.
  S3ListObjectsRequest r;
  r.max_keys = 1;
  auto page = client_->ListObjectsV2(r);
  if (!page.ok()) return page.status();
  return st;
}

Result<PutResult> S3Destination::Put(const PutRequest& req) {
  if (req.md5.size() != 16)
    return InvalidArgument(name_ + ": Put " + PrintableName(req.key) +
                           ": the MD5 of the body is required");
  S3PutObjectRequest r;
  r.key = req.key;
  r.body = req.body;
  r.md5 = req.md5;
  if (sign_payload_) r.sha256 = req.sha256;
  r.metadata = req.metadata;
  r.content_type = req.content_type;
  CK_ASSIGN_OR_RETURN(S3PutObjectResult out, client_->PutObject(r));
  return PutResult{std::move(out.etag), std::move(out.version_id)};
}

Result<ObjectInfo> S3Destination::Head(const std::string& key) {
  CK_ASSIGN_OR_RETURN(S3ObjectHead h, client_->HeadObject(key));
  ObjectInfo info;
  info.key = key;
  info.size = h.size;
  info.etag = std::move(h.etag);
  info.last_modified_ms = h.last_modified_ms;
  info.version_id = std::move(h.version_id);
  info.metadata = std::move(h.metadata);
  return info;
}

Result<ListPage> S3Destination::List(const ListOptions& opts) {
  S3ListObjectsRequest r;
  r.prefix = opts.prefix;
  r.delimiter = opts.delimiter;
  r.continuation_token = opts.continuation_token;
  // Only on the first request: S3 ignores start-after once a token is given,
  // and not every S3-compatible server is known to.
  if (opts.continuation_token.empty()) r.start_after = opts.start_after;
  r.max_keys = opts.max_keys;
  CK_ASSIGN_OR_RETURN(S3ListObjectsResult res, client_->ListObjectsV2(r));
  ListPage page;
  page.objects.reserve(res.objects.size());
  for (auto& o : res.objects) {
    ObjectInfo info;
    info.key = std::move(o.key);
    info.size = o.size;
    info.etag = std::move(o.etag);
    info.last_modified_ms = o.last_modified_ms;
    page.objects.push_back(std::move(info));
  }
  page.common_prefixes = std::move(res.common_prefixes);
  if (res.is_truncated) page.next_continuation_token = std::move(res.next_continuation_token);
  return page;
}

Status S3Destination::Get(const std::string& key, const GetOptions& opts,
                          const std::function<bool(std::string_view)>& sink) {
  std::optional<S3Range> range;
  if (opts.range) range = S3Range{opts.range->first, opts.range->second};
  return client_->GetObject(key, range, sink);
}

Status S3Destination::Delete(const std::string& key) {
  return client_->DeleteObject(key);
}

Result<std::string> S3Destination::StartMultipart(
    const std::string& key, const std::map<std::string, std::string>& metadata,
    const std::string& content_type) {
  return client_->CreateMultipartUpload(key, metadata, content_type);
}

Result<PartInfo> S3Destination::UploadPart(const std::string& key, const std::string& upload_id,
                                           const PartUpload& part) {
  if (part.md5.size() != 16)
    return InvalidArgument(name_ + ": UploadPart " + PrintableName(key) +
                           ": the MD5 of the part is required");
  S3UploadPartRequest r;
  r.key = key;
  r.upload_id = upload_id;
  r.part_number = part.part_number;
  r.body = part.body;
  r.md5 = part.md5;
  if (sign_payload_) r.sha256 = part.sha256;
  CK_ASSIGN_OR_RETURN(std::string etag, client_->UploadPart(r));
  PartInfo info;
  info.part_number = part.part_number;
  info.size = part.body ? part.body->size() : 0;
  info.etag = std::move(etag);
  info.checksum = HexEncode(part.md5);
  return info;
}

Result<std::vector<PartInfo>> S3Destination::ListParts(const std::string& key,
                                                       const std::string& upload_id) {
  CK_ASSIGN_OR_RETURN(std::vector<S3Part> parts, client_->ListParts(key, upload_id));
  std::vector<PartInfo> out;
  out.reserve(parts.size());
  for (auto& p : parts) {
    PartInfo info;
    info.part_number = p.part_number;
    info.size = p.size;
    if (IsHexMd5(p.etag)) {
      info.checksum = p.etag;
      std::transform(info.checksum.begin(), info.checksum.end(), info.checksum.begin(), [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      });
    }
    info.etag = std::move(p.etag);
    out.push_back(std::move(info));
  }
  return out;
}

Result<PutResult> S3Destination::CompleteMultipart(const std::string& key,
                                                   const std::string& upload_id,
                                                   const std::vector<PartInfo>& parts) {
  std::vector<S3CompletedPart> done;
  done.reserve(parts.size());
  for (const auto& p : parts) done.push_back({p.part_number, p.etag});
  CK_ASSIGN_OR_RETURN(S3PutObjectResult out,
                      client_->CompleteMultipartUpload(key, upload_id, done));
  return PutResult{std::move(out.etag), std::move(out.version_id)};
}

Status S3Destination::AbortMultipart(const std::string& key, const std::string& upload_id) {
  return client_->AbortMultipartUpload(key, upload_id);
}

Result<std::vector<MultipartUploadInfo>> S3Destination::ListMultipartUploads(
    const std::string& prefix) {
  CK_ASSIGN_OR_RETURN(std::vector<S3MultipartUpload> ups, client_->ListMultipartUploads(prefix));
  std::vector<MultipartUploadInfo> out;
  out.reserve(ups.size());
  for (auto& u : ups)
    out.push_back(MultipartUploadInfo{std::move(u.key), std::move(u.upload_id), u.initiated_ms});
  return out;
}

Result<std::unique_ptr<Destination>> MakeS3Destination(const std::string& name,
                                                       S3ClientOptions opts, HttpClient* http,
                                                       bool sign_payload) {
  opts.name = name;
  CK_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, S3Client::Make(std::move(opts), http));
  return std::unique_ptr<Destination>(new S3Destination(name, std::move(client), sign_payload));
}

}  // namespace ck
