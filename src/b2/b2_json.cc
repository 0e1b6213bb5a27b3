#include "b2/b2_json.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace ck {
namespace {

using nlohmann::json;

Status Malformed(std::string_view what) {
  return Status(ErrorKind::kTransient, "malformed reply: " + std::string(what));
}

Result<json> ParseObject(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Malformed("not JSON");
  if (!j.is_object()) return Malformed("not a JSON object");
  return j;
}

const json* Find(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string field; "" when absent or null. Numbers are given in decimal.
std::string Str(const json& j, std::string_view key) {
  const json* v = Find(j, key);
  if (v == nullptr) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number_unsigned()) return std::to_string(v->get<uint64_t>());
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return v->dump();
}

// An integer field given as a number or a decimal string; nullopt otherwise.
template <typename T>
std::optional<T> Int(const json& j, std::string_view key) {
  const json* v = Find(j, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<T>();
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    T out{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return out;
  }
  return std::nullopt;
}

B2File FileFrom(const json& j) {
  B2File f;
  f.file_id = Str(j, "fileId");
  f.file_name = Str(j, "fileName");
  f.action = Str(j, "action");
  f.content_length =
      Int<uint64_t>(j, "contentLength").value_or(Int<uint64_t>(j, "size").value_or(0));
  f.content_sha1 = Str(j, "contentSha1");
  f.content_type = Str(j, "contentType");
  f.upload_timestamp = Int<int64_t>(j, "uploadTimestamp").value_or(0);
  if (const json* info = Find(j, "fileInfo"); info != nullptr && info->is_object()) {
    for (auto it = info->begin(); it != info->end(); ++it) {
      if (it->is_null()) continue;
      f.file_info[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
    }
  }
  return f;
}

B2Part PartFrom(const json& j) {
  B2Part p;
  p.file_id = Str(j, "fileId");
  p.part_number = Int<int>(j, "partNumber").value_or(0);
  p.content_length =
      Int<uint64_t>(j, "contentLength").value_or(Int<uint64_t>(j, "size").value_or(0));
  p.content_sha1 = Str(j, "contentSha1");
  p.upload_timestamp = Int<int64_t>(j, "uploadTimestamp").value_or(0);
  return p;
}

void AddAllowedBuckets(const json& allowed, B2Authorization* a) {
  // v2: bucketId / bucketName strings.
  std::string id = Str(allowed, "bucketId");
  std::string name;
  if (const json* n = Find(allowed, "bucketName"); n != nullptr && n->is_string())
    name = n->get<std::string>();
  if (!id.empty() || !name.empty()) a->allowed_buckets.emplace_back(id, name);
  // v4: buckets: [{id, name}].
  if (const json* bs = Find(allowed, "buckets"); bs != nullptr && bs->is_array()) {
    for (const auto& b : *bs) {
      std::string bid = Str(b, "id").empty() ? Str(b, "bucketId") : Str(b, "id");
      std::string bname = Str(b, "name").empty() ? Str(b, "bucketName") : Str(b, "name");
      if (!bid.empty() || !bname.empty()) a->allowed_buckets.emplace_back(bid, bname);
    }
  }
  // Other clients' shapes: parallel bucketIds / bucketNames (or bucketName) arrays.
  const json* ids = Find(allowed, "bucketIds");
  const json* names = Find(allowed, "bucketNames");
  if (names == nullptr) {
    if (const json* n = Find(allowed, "bucketName"); n != nullptr && n->is_array()) names = n;
  }
  size_t count = std::max(ids && ids->is_array() ? ids->size() : 0,
                          names && names->is_array() ? names->size() : 0);
  for (size_t i = 0; i < count; ++i) {
    std::string bid, bname;
    if (ids && ids->is_array() && i < ids->size() && (*ids)[i].is_string())
      bid = (*ids)[i].get<std::string>();
    if (names && names->is_array() && i < names->size() && (*names)[i].is_string())
      bname = (*names)[i].get<std::string>();
    if (!bid.empty() || !bname.empty()) a->allowed_buckets.emplace_back(bid, bname);
  }
  if (const json* caps = Find(allowed, "capabilities"); caps != nullptr && caps->is_array()) {
    for (const auto& c : *caps)
      if (c.is_string()) a->capabilities.push_back(c.get<std::string>());
  }
  a->name_prefix = Str(allowed, "namePrefix");
}

}  // namespace

Result<B2Authorization> ParseB2Authorization(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  B2Authorization a;
  a.account_id = Str(j, "accountId");
  a.token = Str(j, "authorizationToken");
  // v3/v4 nest the storage API under apiInfo.storageApi; v2 has it at the top.
  const json* storage = &j;
  if (const json* info = Find(j, "apiInfo"); info != nullptr) {
    if (const json* s = Find(*info, "storageApi"); s != nullptr && s->is_object()) storage = s;
  }
  auto field = [&](std::string_view key) {
    std::string v = Str(*storage, key);
    return v.empty() ? Str(j, key) : v;
  };
  a.api_url = field("apiUrl");
  a.download_url = field("downloadUrl");
  a.s3_api_url = field("s3ApiUrl");
  auto size_field = [&](std::string_view key) -> std::optional<uint64_t> {
    auto v = Int<uint64_t>(*storage, key);
    return v ? v : Int<uint64_t>(j, key);
  };
  a.recommended_part_size = size_field("recommendedPartSize").value_or(0);
  a.absolute_minimum_part_size =
      size_field("absoluteMinimumPartSize").value_or(size_field("minimumPartSize").value_or(0));
  const json* allowed = Find(*storage, "allowed");
  if (allowed == nullptr) allowed = Find(j, "allowed");
  if (allowed != nullptr && allowed->is_object()) AddAllowedBuckets(*allowed, &a);
  if (a.token.empty()) return Malformed("b2_authorize_account: no authorizationToken");
  if (a.api_url.empty()) return Malformed("b2_authorize_account: no apiUrl");
  if (a.download_url.empty()) return Malformed("b2_authorize_account: no downloadUrl");
  return a;
}

Result<B2File> ParseB2File(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  B2File f = FileFrom(j);
  if (f.file_id.empty() && f.file_name.empty()) return Malformed("no fileId or fileName");
  return f;
}

Result<B2Part> ParseB2Part(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  B2Part p = PartFrom(j);
  if (p.part_number <= 0) return Malformed("b2_upload_part: no partNumber");
  return p;
}

Result<B2UploadUrl> ParseB2UploadUrl(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  B2UploadUrl u{Str(j, "uploadUrl"), Str(j, "authorizationToken")};
  if (u.url.empty()) return Malformed("no uploadUrl");
  if (u.token.empty()) return Malformed("no authorizationToken");
  return u;
}

Result<std::vector<B2Bucket>> ParseB2Buckets(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  const json* bs = Find(j, "buckets");
  if (bs == nullptr || !bs->is_array()) return Malformed("b2_list_buckets: no buckets array");
  std::vector<B2Bucket> out;
  for (const auto& b : *bs) out.push_back(B2Bucket{Str(b, "bucketId"), Str(b, "bucketName")});
  return out;
}

Result<B2FileList> ParseB2FileList(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  const json* fs = Find(j, "files");
  if (fs == nullptr || !fs->is_array()) return Malformed("no files array");
  B2FileList out;
  out.files.reserve(fs->size());
  for (const auto& f : *fs) out.files.push_back(FileFrom(f));
  if (Find(j, "nextFileName") != nullptr) out.next_file_name = Str(j, "nextFileName");
  if (Find(j, "nextFileId") != nullptr) out.next_file_id = Str(j, "nextFileId");
  return out;
}

Result<B2PartList> ParseB2PartList(std::string_view body) {
  CK_ASSIGN_OR_RETURN(json j, ParseObject(body));
  const json* ps = Find(j, "parts");
  if (ps == nullptr || !ps->is_array()) return Malformed("b2_list_parts: no parts array");
  B2PartList out;
  out.parts.reserve(ps->size());
  for (const auto& p : *ps) out.parts.push_back(PartFrom(p));
  out.next_part_number = Int<int>(j, "nextPartNumber");
  return out;
}

}  // namespace ck
