#include "dest/memory_destination.h"

#include <chrono>

namespace ck {

namespace {
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

MemoryDestination::MemoryDestination(Options opts) : opts_(std::move(opts)) {}

void MemoryDestination::set_fault_hook(FaultHook hook) {
  std::lock_guard<std::mutex> l(mu_);
  hook_ = std::move(hook);
}

uint64_t MemoryDestination::calls(std::string_view op) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

std::optional<std::string> MemoryDestination::ObjectData(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.data;
}

size_t MemoryDestination::object_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return objects_.size();
}

size_t MemoryDestination::open_multipart_uploads() const {
  std::lock_guard<std::mutex> l(mu_);
  return uploads_.size();
}

Status MemoryDestination::Enter(std::string_view op, const std::string& key) {
  FaultHook hook;
  {
    std::lock_guard<std::mutex> l(mu_);
    calls_[std::string(op)]++;
    hook = hook_;
  }
  if (hook) return hook(op, key);
  return Status::OK();
}

Result<std::string> MemoryDestination::ReadBody(const BodySource* body) {
  std::string data;
  if (body == nullptr) return data;
  data.resize(body->size());
  uint64_t off = 0;
  while (off < data.size()) {
    CK_ASSIGN_OR_RETURN(size_t n, body->ReadAt(off, data.data() + off, data.size() - off));
    if (n == 0) return Status(ErrorKind::kChanged, "body shorter than announced");
    off += n;
  }
  return data;
}

Status MemoryDestination::Check() {
  return Enter("Check", "");
}

Result<PutResult> MemoryDestination::Put(const PutRequest& req) {
  CK_RETURN_IF_ERROR(Enter("Put", req.key));
  if (req.key.empty() || req.key.size() > opts_.caps.max_key_bytes)
    return Status(ErrorKind::kInvalidName, "key length out of range");
  CK_ASSIGN_OR_RETURN(std::string data, ReadBody(req.body));
  if (opts_.caps.max_single_put != 0 && data.size() > opts_.caps.max_single_put)
    return Status(ErrorKind::kPermanent, "EntityTooLarge");
  if (opts_.caps.verified_digest == DigestAlgo::kMd5) {
    if (req.md5.size() != 16) return InvalidArgument("Put without Content-MD5");
    if (Md5(data) != req.md5) return Status(ErrorKind::kChecksumMismatch, "BadDigest");
  } else if (Sha1(data) != req.sha1) {
    return Status(ErrorKind::kChecksumMismatch, "SHA-1 mismatch");
  }
  Object o{.data = std::move(data), .metadata = req.metadata, .modified_ms = NowMs()};
  o.etag = HexEncode(Md5(o.data));
  o.sha1_hex = HexEncode(Sha1(o.data));
  PutResult r{.etag = o.etag, .version_id = ""};
  std::lock_guard<std::mutex> l(mu_);
  objects_[req.key] = std::move(o);
  return r;
}

Result<ObjectInfo> MemoryDestination::Head(const std::string& key) {
  CK_RETURN_IF_ERROR(Enter("Head", key));
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return NotFound("no such key: " + key);
  const Object& o = it->second;
  return ObjectInfo{.key = key,
                    .size = o.data.size(),
                    .etag = o.etag,
                    .sha1_hex = o.sha1_hex,
                    .last_modified_ms = o.modified_ms,
                    .version_id = "",
                    .metadata = o.metadata};
}

Result<ListPage> MemoryDestination::List(const ListOptions& opts) {
  CK_RETURN_IF_ERROR(Enter("List", opts.prefix));
  std::lock_guard<std::mutex> l(mu_);
  ListPage page;
  int max = opts.max_keys <= 0 ? 1000 : std::min(opts.max_keys, 1000);
  auto it = opts.continuation_token.empty() ? objects_.lower_bound(opts.prefix)
                                            : objects_.upper_bound(opts.continuation_token);
  // start-after counts on the first request only (S3 ignores it with a token).
  if (opts.continuation_token.empty() && !opts.start_after.empty() &&
      opts.start_after >= opts.prefix)
    it = objects_.upper_bound(opts.start_after);
  std::string last;
  int n = 0;
  for (; it != objects_.end(); ++it) {
    const std::string& k = it->first;
    if (k.compare(0, opts.prefix.size(), opts.prefix) != 0) break;
    if (!opts.delimiter.empty()) {
      auto pos = k.find(opts.delimiter, opts.prefix.size());
      if (pos != std::string::npos) {
        std::string cp = k.substr(0, pos + opts.delimiter.size());
        if (!page.common_prefixes.empty() && page.common_prefixes.back() == cp) {
          last = k;
          continue;
        }
        if (n == max) {
          page.next_continuation_token = last;
          break;
        }
        page.common_prefixes.push_back(std::move(cp));
        last = k;
        ++n;
        continue;
      }
    }
    if (n == max) {
      page.next_continuation_token = last;
      break;
    }
    page.objects.push_back(ObjectInfo{.key = k,
                                      .size = it->second.data.size(),
                                      .etag = it->second.etag,
                                      .sha1_hex = it->second.sha1_hex,
                                      .last_modified_ms = it->second.modified_ms,
                                      .version_id = "",
                                      .metadata = {}});
    last = k;
    ++n;
  }
  return page;
}

Status MemoryDestination::Get(const std::string& key, const GetOptions& opts,
                              const std::function<bool(std::string_view)>& sink) {
  CK_RETURN_IF_ERROR(Enter("Get", key));
  std::string data;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return NotFound("no such key: " + key);
    data = it->second.data;
  }
  std::string_view v(data);
  if (opts.range) {
    auto [first, last] = *opts.range;
    if (first >= v.size()) return Status(ErrorKind::kPermanent, "InvalidRange");
    v = v.substr(first, std::min<uint64_t>(last, v.size() - 1) - first + 1);
  }
  if (!sink(v)) return Status(ErrorKind::kCancelled, "download aborted by the receiver");
  return Status::OK();
}

Status MemoryDestination::Delete(const std::string& key) {
  CK_RETURN_IF_ERROR(Enter("Delete", key));
  std::lock_guard<std::mutex> l(mu_);
  objects_.erase(key);
  return Status::OK();
}

Result<std::string> MemoryDestination::StartMultipart(
    const std::string& key, const std::map<std::string, std::string>& metadata,
    const std::string& /*content_type*/) {
  CK_RETURN_IF_ERROR(Enter("StartMultipart", key));
  std::lock_guard<std::mutex> l(mu_);
  std::string id = "upload-" + std::to_string(next_upload_++);
  uploads_[id] = Upload{.key = key, .metadata = metadata, .parts = {}, .initiated_ms = NowMs()};
  return id;
}

Result<PartInfo> MemoryDestination::UploadPart(const std::string& key, const std::string& upload_id,
                                               const PartUpload& part) {
  CK_RETURN_IF_ERROR(Enter("UploadPart", key));
  if (part.part_number < 1 || part.part_number > opts_.caps.max_parts)
    return Status(ErrorKind::kPermanent, "InvalidPartNumber");
  CK_ASSIGN_OR_RETURN(std::string data, ReadBody(part.body));
  std::string md5 = Md5(data);
  if (opts_.caps.verified_digest == DigestAlgo::kMd5 && md5 != part.md5)
    return Status(ErrorKind::kChecksumMismatch, "BadDigest");
  if (opts_.caps.verified_digest == DigestAlgo::kSha1 && Sha1(data) != part.sha1)
    return Status(ErrorKind::kChecksumMismatch, "SHA-1 mismatch");
  std::lock_guard<std::mutex> l(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return NotFound("NoSuchUpload " + upload_id);
  PartInfo info{.part_number = part.part_number,
                .size = data.size(),
                .etag = HexEncode(md5),
                .checksum = opts_.caps.verified_digest == DigestAlgo::kMd5 ? HexEncode(md5)
                                                                           : HexEncode(Sha1(data))};
  it->second.parts[part.part_number] = {std::move(data), info.etag};
  return info;
}

Result<std::vector<PartInfo>> MemoryDestination::ListParts(const std::string& key,
                                                           const std::string& upload_id) {
  CK_RETURN_IF_ERROR(Enter("ListParts", key));
  std::lock_guard<std::mutex> l(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return NotFound("NoSuchUpload " + upload_id);
  std::vector<PartInfo> out;
  for (const auto& [n, p] : it->second.parts)
    out.push_back(PartInfo{.part_number = n,
                           .size = p.first.size(),
                           .etag = p.second,
                           .checksum = opts_.caps.verified_digest == DigestAlgo::kMd5
                                           ? p.second
                                           : HexEncode(Sha1(p.first))});
  return out;
}

Result<PutResult> MemoryDestination::CompleteMultipart(const std::string& key,
                                                       const std::string& upload_id,
                                                       const std::vector<PartInfo>& parts) {
  CK_RETURN_IF_ERROR(Enter("CompleteMultipart", key));
  std::lock_guard<std::mutex> l(mu_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end() || it->second.key != key) return NotFound("NoSuchUpload " + upload_id);
  Upload& up = it->second;
  if (parts.empty()) return Status(ErrorKind::kPermanent, "MalformedXML: no parts");
  std::string all, md5s;
  int prev = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const PartInfo& p = parts[i];
    if (p.part_number <= prev) return Status(ErrorKind::kPermanent, "InvalidPartOrder");
    prev = p.part_number;
    auto pit = up.parts.find(p.part_number);
    if (pit == up.parts.end()) return Status(ErrorKind::kPermanent, "InvalidPart");
    const std::string& want = opts_.caps.verified_digest == DigestAlgo::kMd5
                                  ? pit->second.second
                                  : HexEncode(Sha1(pit->second.first));
    const std::string& given = opts_.caps.verified_digest == DigestAlgo::kMd5 ? p.etag : p.checksum;
    if (given != want) return Status(ErrorKind::kPermanent, "InvalidPart: checksum differs");
    if (i + 1 < parts.size() && pit->second.first.size() < opts_.caps.min_part_size)
      return Status(ErrorKind::kPermanent, "EntityTooSmall");
    all += pit->second.first;
    std::string raw;
    HexDecode(pit->second.second, &raw);
    md5s += raw;
  }
  Object o{.data = std::move(all), .metadata = up.metadata, .modified_ms = NowMs()};
  o.etag = HexEncode(Md5(md5s)) + "-" + std::to_string(parts.size());
  o.sha1_hex = HexEncode(Sha1(o.data));
  PutResult r{.etag = o.etag, .version_id = ""};
  objects_[key] = std::move(o);
  uploads_.erase(it);
  return r;
}

Status MemoryDestination::AbortMultipart(const std::string& key, const std::string& upload_id) {
  CK_RETURN_IF_ERROR(Enter("AbortMultipart", key));
  std::lock_guard<std::mutex> l(mu_);
  uploads_.erase(upload_id);
  return Status::OK();
}

Result<std::vector<MultipartUploadInfo>> MemoryDestination::ListMultipartUploads(
    const std::string& prefix) {
  CK_RETURN_IF_ERROR(Enter("ListMultipartUploads", prefix));
  std::lock_guard<std::mutex> l(mu_);
  std::vector<MultipartUploadInfo> out;
  for (const auto& [id, up] : uploads_)
    if (up.key.compare(0, prefix.size(), prefix) == 0)
      out.push_back({.key = up.key, .upload_id = id, .initiated_ms = up.initiated_ms});
  return out;
}

}  // namespace ck
