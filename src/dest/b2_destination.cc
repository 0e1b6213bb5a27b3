#include "dest/b2_destination.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

constexpr uint64_t kMinPartFloor = 5'000'000;
constexpr uint64_t kMaxPartOrPut = 5'000'000'000;  // "5 GB" in B2's documentation
constexpr std::string_view kMillisKey = "src_last_modified_millis";
constexpr std::string_view kLargeSha1Key = "large_file_sha1";

bool IsHexSha1(std::string_view s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

ObjectInfo ToObjectInfo(B2File f) {
  ObjectInfo info;
  info.key = std::move(f.file_name);
  info.size = f.content_length;
  if (IsHexSha1(f.content_sha1)) {
    info.sha1_hex = Lower(f.content_sha1);
  } else if (auto it = f.file_info.find(std::string(kLargeSha1Key));
             it != f.file_info.end() && IsHexSha1(it->second)) {
    info.sha1_hex = Lower(it->second);
  }
  info.last_modified_ms = f.upload_timestamp;
  info.version_id = std::move(f.file_id);
  info.metadata = MetadataFromB2FileInfo(f.file_info);
  return info;
}

}  // namespace

Capabilities B2Capabilities(uint64_t absolute_minimum_part_size) {
  Capabilities c;
  c.multipart = true;
  c.min_part_size = std::max(kMinPartFloor, absolute_minimum_part_size);
  c.max_part_size = kMaxPartOrPut;
  c.max_parts = 10000;
  c.max_single_put = kMaxPartOrPut;
  c.max_key_bytes = 1024;
  c.verified_digest = DigestAlgo::kSha1;
  c.etag_is_md5 = false;
  c.multipart_etag_md5_of_md5s = false;
  return c;
}

std::optional<int64_t> MtimeToMillis(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty())) return std::nullopt;
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
  if (ec != std::errc() || p != whole.data() + whole.size()) return std::nullopt;
  if (secs > INT64_MAX / 1000 - 1) return std::nullopt;
  int64_t ms = 0;
  for (size_t i = 0; i < frac.size(); ++i) {
    if (frac[i] < '0' || frac[i] > '9') return std::nullopt;
    if (i < 3) ms = ms * 10 + (frac[i] - '0');
  }
  for (size_t i = frac.size(); i < 3; ++i) ms *= 10;
  // The engine writes times before 1970 as "-<s>.<positive nanoseconds>",
  // i.e. -s + fraction.
  return negative ? -secs * 1000 + ms : secs * 1000 + ms;
}

std::string MillisToMtime(int64_t ms) {
  int64_t s = ms / 1000, rem = ms % 1000;
  if (rem < 0) {
    s -= 1;
    rem += 1000;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%03lld000000", static_cast<long long>(s),
                static_cast<long long>(rem));
  return buf;
}

std::map<std::string, std::string> B2FileInfoFromMetadata(
    const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> info = metadata;
  if (auto it = metadata.find("mtime"); it != metadata.end()) {
    if (auto ms = MtimeToMillis(it->second)) info[std::string(kMillisKey)] = std::to_string(*ms);
  }
  return info;
}

std::map<std::string, std::string> MetadataFromB2FileInfo(
    const std::map<std::string, std::string>& file_info) {
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : file_info) {
    if (k == kMillisKey || k == kLargeSha1Key) continue;
    meta[k] = v;
  }
  if (!meta.count("mtime")) {
    if (auto it = file_info.find(std::string(kMillisKey)); it != file_info.end()) {
      int64_t ms = 0;
      const std::string& v = it->second;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (ec == std::errc() && p == v.data() + v.size() && !v.empty())
        meta["mtime"] = MillisToMtime(ms);
    }
  }
  return meta;
}

B2Destination::B2Destination(std::string name, std::unique_ptr<B2Client> client)
    : name_(std::move(name)), client_(std::move(client)) {}

Capabilities B2Destination::capabilities() const {
  auto info = client_->CachedAccountInfo();
  return B2Capabilities(info ? info->absolute_minimum_part_size : 0);
}

Status B2Destination::Check() {
  return client_->Authorize();
}

Status B2Destination::Probe() {
  return client_->Probe();
}

Result<PutResult> B2Destination::Put(const PutRequest& req) {
  if (req.sha1.size() != 20)
    return InvalidArgument(name_ + ": Put " + PrintableName(req.key) +
                           ": the SHA-1 of the body is required");
  B2UploadFileRequest r;
  r.file_name = req.key;
  r.body = req.body;
  r.sha1 = req.sha1;
  r.content_type = req.content_type;
  r.file_info = B2FileInfoFromMetadata(req.metadata);
  CK_ASSIGN_OR_RETURN(B2File f, client_->UploadFile(r));
  return PutResult{"", std::move(f.file_id)};
}

Result<ObjectInfo> B2Destination::Head(const std::string& key) {
  CK_ASSIGN_OR_RETURN(B2File f, client_->HeadFileByName(key));
  ObjectInfo info = ToObjectInfo(std::move(f));
  info.key = key;
  return info;
}

Result<ListPage> B2Destination::List(const ListOptions& opts) {
  B2ListFileNamesRequest r;
  r.prefix = opts.prefix;
  r.delimiter = opts.delimiter;
  r.start_file_name = opts.continuation_token;
  // B2's startFileName is inclusive; start_after is not: start at that name
  // and drop it from the answer. Only on the first request (the token, a
  // nextFileName, is where the following pages start).
  const bool after = opts.continuation_token.empty() && !opts.start_after.empty();
  if (after) r.start_file_name = opts.start_after;
  r.max_file_count = std::clamp(opts.max_keys, 1, 10000);
  CK_ASSIGN_OR_RETURN(B2FileList res, client_->ListFileNames(r));
  ListPage page;
  for (auto& f : res.files) {
    if (after && f.file_name == opts.start_after && f.action != "folder") continue;
    if (f.action == "folder") {
      page.common_prefixes.push_back(std::move(f.file_name));
    } else if (f.action == "upload" || f.action.empty()) {
      page.objects.push_back(ToObjectInfo(std::move(f)));
    }
  }
  if (res.next_file_name) page.next_continuation_token = std::move(*res.next_file_name);
  return page;
}

Status B2Destination::Get(const std::string& key, const GetOptions& opts,
                          const std::function<bool(std::string_view)>& sink) {
  std::optional<B2Range> range;
  if (opts.range) range = B2Range{opts.range->first, opts.range->second};
  return client_->DownloadFileByName(key, range, sink);
}

Status B2Destination::Delete(const std::string& key) {
  B2ListFileVersionsRequest r;
  r.prefix = key;
  r.start_file_name = key;
  r.max_file_count = 100;
  for (;;) {
    CK_ASSIGN_OR_RETURN(B2FileList page, client_->ListFileVersions(r));
    bool past_name = false;
    for (const auto& f : page.files) {
      if (f.file_name != key) {
        past_name = true;
        break;
      }
      if (f.action == "start" || f.action == "folder" || f.file_id.empty()) continue;
      Status st = client_->DeleteFileVersion(key, f.file_id);
      if (!st.ok() && st.kind() != ErrorKind::kNotFound) return st;
    }
    if (past_name || !page.next_file_name || *page.next_file_name != key || !page.next_file_id ||
        page.next_file_id->empty() || *page.next_file_id == r.start_file_id)
      return Status::OK();
    r.start_file_id = *page.next_file_id;
  }
}

Result<std::string> B2Destination::StartMultipart(
    const std::string& key, const std::map<std::string, std::string>& metadata,
    const std::string& content_type) {
  CK_ASSIGN_OR_RETURN(B2File f,
                      client_->StartLargeFile(key, content_type, B2FileInfoFromMetadata(metadata)));
  return std::move(f.file_id);
}

Result<PartInfo> B2Destination::UploadPart(const std::string& key, const std::string& upload_id,
                                           const PartUpload& part) {
  if (part.sha1.size() != 20)
    return InvalidArgument(name_ + ": UploadPart " + PrintableName(key) + " part " +
                           std::to_string(part.part_number) +
                           ": the SHA-1 of the part is required");
  B2UploadPartRequest r;
  r.file_id = upload_id;
  r.part_number = part.part_number;
  r.body = part.body;
  r.sha1 = part.sha1;
  CK_ASSIGN_OR_RETURN(B2Part p, client_->UploadPart(r));
  PartInfo info;
  info.part_number = p.part_number;
  info.size = p.content_length;
  info.checksum = std::move(p.content_sha1);
  return info;
}

Result<std::vector<PartInfo>> B2Destination::ListParts(const std::string& /*key*/,
                                                       const std::string& upload_id) {
  CK_ASSIGN_OR_RETURN(std::vector<B2Part> parts, client_->ListParts(upload_id));
  std::vector<PartInfo> out;
  out.reserve(parts.size());
  for (auto& p : parts) {
    PartInfo info;
    info.part_number = p.part_number;
    info.size = p.content_length;
    info.checksum = std::move(p.content_sha1);
    out.push_back(std::move(info));
  }
  return out;
}

Result<PutResult> B2Destination::CompleteMultipart(const std::string& key,
                                                   const std::string& upload_id,
                                                   const std::vector<PartInfo>& parts) {
  const std::string prefix = name_ + ": CompleteMultipart " + PrintableName(key);
  if (parts.empty()) return InvalidArgument(prefix + ": no parts");
  std::vector<std::string> sha1s;
  sha1s.reserve(parts.size());
  uint64_t total = 0;
  bool sizes_known = true;
  for (size_t i = 0; i < parts.size(); ++i) {
    const PartInfo& p = parts[i];
    if (p.part_number != static_cast<int>(i + 1))
      return InvalidArgument(prefix + ": parts must be numbered 1.." +
                             std::to_string(parts.size()) + " in order (found part " +
                             std::to_string(p.part_number) + " at position " +
                             std::to_string(i + 1) + ")");
    if (!IsHexSha1(p.checksum))
      return InvalidArgument(prefix + ": part " + std::to_string(p.part_number) +
                             " has no hex SHA-1 checksum");
    sha1s.push_back(Lower(p.checksum));
    if (p.size == 0) sizes_known = false;
    total += p.size;
  }
  auto done = client_->FinishLargeFile(upload_id, sha1s);
  if (done.ok()) {
    if (sizes_known && done->content_length != total && done->content_length != 0)
      return Status(ErrorKind::kChecksumMismatch, prefix + ": the finished file has " +
                                                      std::to_string(done->content_length) +
                                                      " bytes, the parts " + std::to_string(total));
    return PutResult{"", done->file_id.empty() ? upload_id : std::move(done->file_id)};
  }
  ErrorKind kind = done.status().kind();
  if (kind != ErrorKind::kNotFound && kind != ErrorKind::kPermanent) return done.status();
  // No such unfinished file: maybe an earlier attempt finished it (the reply was lost).
  auto file = client_->GetFileInfo(upload_id);
  if (file.ok() && file->action == "upload" && file->file_name == key &&
      (!sizes_known || file->content_length == total))
    return PutResult{"", std::move(file->file_id)};
  if (!file.ok() && file.status().kind() != ErrorKind::kNotFound && kind == ErrorKind::kNotFound)
    return file.status();  // could not tell (e.g. network): worth another try
  if (kind == ErrorKind::kPermanent) return done.status();
  return Status(ErrorKind::kPermanent, done.status().message() +
                                           "; the large file is not there either, so the upload "
                                           "must start over")
      .set_http_status(done.status().http_status());
}

Status B2Destination::AbortMultipart(const std::string& /*key*/, const std::string& upload_id) {
  Status st = client_->CancelLargeFile(upload_id);
  if (st.kind() == ErrorKind::kNotFound) return Status::OK();
  return st;
}

Result<std::vector<MultipartUploadInfo>> B2Destination::ListMultipartUploads(
    const std::string& prefix) {
  CK_ASSIGN_OR_RETURN(std::vector<B2File> files, client_->ListUnfinishedLargeFiles(prefix));
  std::vector<MultipartUploadInfo> out;
  out.reserve(files.size());
  for (auto& f : files)
    out.push_back(
        MultipartUploadInfo{std::move(f.file_name), std::move(f.file_id), f.upload_timestamp});
  return out;
}

Result<std::unique_ptr<Destination>> MakeB2Destination(const std::string& name,
                                                       B2ClientOptions opts, HttpClient* http) {
  opts.name = name;
  CK_ASSIGN_OR_RETURN(std::unique_ptr<B2Client> client, B2Client::Make(std::move(opts), http));
  return std::unique_ptr<Destination>(new B2Destination(name, std::move(client)));
}

}  // namespace ck
