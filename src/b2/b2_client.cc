#include "b2/b2_client.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxUploadBytes = 5ull << 30;  // 5 GiB: single upload and one part
constexpr size_t kMaxInfoEntries = 10;
constexpr size_t kMaxInfoKeyBytes = 50;
constexpr size_t kMaxNameAndInfoHeaderBytes = 7000;
constexpr std::string_view kInfoHeaderPrefix = "X-Bz-Info-";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool HasControlOrSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Serializes a request body; names and info values were checked to be UTF-8,
// but a listing prefix may not have been.
Result<std::string> ToJson(const json& j) {
  try {
    return j.dump();
  } catch (const json::exception&) {
    return InvalidArgument("request contains text that is not valid UTF-8");
  }
}

// The hex SHA-1 a reply reports, lowercase, without B2's "unverified:" marker.
std::string ReportedSha1(std::string_view s) {
  if (s.substr(0, 11) == "unverified:") s.remove_prefix(11);
  return Lower(s);
}

// Checks what the server says it stored against what we sent.
Status VerifyStored(std::string_view what, std::string_view reported_sha1, uint64_t reported_len,
                    std::string_view sent_sha1_hex, uint64_t sent_len) {
  std::string got = ReportedSha1(reported_sha1);
  if (!got.empty() && got != "none" && got != sent_sha1_hex)
    return Status(ErrorKind::kChecksumMismatch, std::string(what) + ": the server stored SHA-1 " +
                                                    PrintableName(got) + ", but " +
                                                    std::string(sent_sha1_hex) + " was sent");
  if (reported_len != sent_len)
    return Status(ErrorKind::kChecksumMismatch, std::string(what) + ": the server stored " +
                                                    std::to_string(reported_len) + " bytes, but " +
                                                    std::to_string(sent_len) + " were sent");
  return Status::OK();
}

Status MalformedReply(const std::string& prefix, const Status& parse_error) {
  return parse_error.WithContext(prefix);
}

}  // namespace

// ---------------------------------------------------------------- validation

Status ValidateB2FileName(std::string_view name) {
  if (name.empty()) return Status(ErrorKind::kInvalidName, "file name is empty");
  if (name.size() > 1024)
    return Status(ErrorKind::kInvalidName,
                  "file name is " + std::to_string(name.size()) +
                      " bytes; B2 allows 1024: " + PrintableName(name.substr(0, 64)) + "...");
  if (!IsValidUtf8(name))
    return Status(ErrorKind::kInvalidName, "file name is not valid UTF-8: " + PrintableName(name));
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F)
      return Status(ErrorKind::kInvalidName,
                    "file name contains a control character: " + PrintableName(name));
  }
  return Status::OK();
}

Result<std::map<std::string, std::string>> NormalizeB2FileInfo(
    const std::map<std::string, std::string>& file_info) {
  if (file_info.size() > kMaxInfoEntries)
    return InvalidArgument("file info has " + std::to_string(file_info.size()) +
                           " entries; B2 allows 10");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : file_info) {
    if (key.empty()) return InvalidArgument("file info name is empty");
    if (key.size() > kMaxInfoKeyBytes)
      return InvalidArgument("file info name '" + PrintableName(key) + "' is longer than 50 bytes");
    for (char c : key) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
        return InvalidArgument("file info name '" + PrintableName(key) +
                               "' may only contain letters, digits, '-' and '_'");
    }
    std::string lkey = Lower(key);
    if (lkey.rfind("b2-", 0) == 0)
      return InvalidArgument("file info name '" + lkey + "' is reserved by B2");
    if (!IsValidUtf8(value))
      return InvalidArgument("file info value for '" + lkey +
                             "' is not valid UTF-8: " + PrintableName(value));
    if (!out.emplace(lkey, value).second)
      return InvalidArgument("file info name '" + lkey + "' given twice");
  }
  return out;
}

// ---------------------------------------------------------------- construction

Result<std::unique_ptr<B2Client>> B2Client::Make(B2ClientOptions options, HttpClient* http) {
  if (http == nullptr) return Status(ErrorKind::kConfig, "B2Client needs an HttpClient");
  return MakeWithTransport(std::move(options),
                           [http](const HttpRequest& r) { return http->Send(r); });
}

Result<std::unique_ptr<B2Client>> B2Client::MakeWithTransport(B2ClientOptions o,
                                                              B2Transport transport) {
  if (!transport) return Status(ErrorKind::kConfig, "B2Client needs a transport");
  if (o.name.empty()) o.name = "b2";
  auto config_error = [&](const std::string& m) {
    return Status(ErrorKind::kConfig, o.name + ": " + m);
  };
  if (o.api_url.empty()) o.api_url = "https://api.backblazeb2.com";
  std::string_view rest = o.api_url;
  std::string scheme;
  if (StartsWithNoCase(rest, "https://")) {
    scheme = "https://";
  } else if (StartsWithNoCase(rest, "http://")) {
    scheme = "http://";
  } else {
    return config_error("api_url '" + PrintableName(o.api_url) +
                        "' must start with http:// or https://");
  }
  rest.remove_prefix(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos ||
      HasControlOrSpace(rest))
    return config_error("api_url '" + PrintableName(o.api_url) +
                        "' must be scheme://host[:port] with no path");
  o.api_url = scheme + Lower(rest);

  if (o.bucket.empty()) return config_error("bucket is empty");
  if (o.bucket.size() > 63 || !std::all_of(o.bucket.begin(), o.bucket.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
      }))
    return config_error("bucket name '" + PrintableName(o.bucket) +
                        "' is not valid (letters, digits and '-', at most 63)");
  if (o.key_id.empty() || o.application_key.empty())
    return Status(ErrorKind::kAuth, o.name + ": missing credentials: " +
                                        (o.key_id.empty() ? "application key ID is empty"
                                                          : "application key is empty"));
  if (HasControlOrSpace(o.key_id) || o.key_id.find(':') != std::string::npos)
    return config_error("application key ID contains spaces, ':' or control characters");
  if (HasControlOrSpace(o.application_key))
    return config_error("application key contains spaces or control characters");
  if (o.env == nullptr) o.env = Env::Default();
  if (o.upload_url_max_age.count() <= 0) return config_error("upload_url_max_age must be positive");
  return std::unique_ptr<B2Client>(new B2Client(std::move(o), std::move(transport)));
}

B2Client::B2Client(B2ClientOptions options, B2Transport transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

// ---------------------------------------------------------------- errors

std::vector<std::string> B2Client::Secrets(const std::string& extra) const {
  std::vector<std::string> out = {options_.application_key, options_.key_id};
  if (auto a = CurrentAuth()) out.push_back(a->auth.token);
  if (!extra.empty()) out.push_back(extra);
  return out;
}

B2ErrorContext B2Client::Context(std::string_view operation, std::string_view target,
                                 B2Resource resource) const {
  return B2ErrorContext{options_.name, operation, target, options_.bucket, resource};
}

Status B2Client::ErrorFor(const B2ErrorContext& ctx, const HttpResponse& resp,
                          const std::string& extra_secret) const {
  std::vector<std::string> secrets = Secrets(extra_secret);
  std::vector<std::string_view> views(secrets.begin(), secrets.end());
  return B2ResponseError(ctx, resp, views);
}

// ---------------------------------------------------------------- authorization

std::shared_ptr<const B2Client::AuthState> B2Client::CurrentAuth() const {
  std::lock_guard<std::mutex> l(mu_);
  return auth_;
}

Status B2Client::AuthorizeLocked() {
  B2ErrorContext ctx = Context("b2_authorize_account", "", B2Resource::kAccount);
  HttpRequest req;
  req.method = "GET";
  req.url = options_.api_url + "/b2api/v2/b2_authorize_account";
  req.headers.emplace_back(
      "Authorization", "Basic " + Base64Encode(options_.key_id + ":" + options_.application_key));
  req.timeout = options_.request_timeout;
  authorizations_.fetch_add(1);
  auto resp = transport_(req);
  if (!resp.ok()) return resp.status().WithContext(B2ErrorPrefix(ctx));
  if (resp->status != 200) return ErrorFor(ctx, *resp);
  auto parsed = ParseB2Authorization(resp->body);
  if (!parsed.ok()) return MalformedReply(B2ErrorPrefix(ctx), parsed.status());
  auto state = std::make_shared<AuthState>();
  state->auth = std::move(parsed).value();
  state->auth.api_url = StripTrailingSlashes(state->auth.api_url);
  state->auth.download_url = StripTrailingSlashes(state->auth.download_url);
  std::lock_guard<std::mutex> l(mu_);
  state->generation = auth_ ? auth_->generation + 1 : 1;
  auth_ = std::move(state);
  return Status::OK();
}

Result<std::shared_ptr<const B2Client::AuthState>> B2Client::EnsureAuthorized() {
  if (auto a = CurrentAuth()) return a;
  std::lock_guard<std::mutex> l(auth_mu_);
  if (auto a = CurrentAuth()) return a;
  CK_RETURN_IF_ERROR(AuthorizeLocked());
  return CurrentAuth();
}

Status B2Client::Reauthorize(uint64_t failed_generation) {
  std::lock_guard<std::mutex> l(auth_mu_);
  auto a = CurrentAuth();
  if (a && a->generation != failed_generation) return Status::OK();  // another thread did it
  return AuthorizeLocked();
}

Status B2Client::Authorize() {
  {
    std::lock_guard<std::mutex> l(auth_mu_);
    CK_RETURN_IF_ERROR(AuthorizeLocked());
  }
  auto id = BucketId(/*force=*/true);
  return id.ok() ? Status::OK() : id.status();
}

Result<std::string> B2Client::BucketId(bool force) {
  auto cached = [&]() -> std::string {
    std::lock_guard<std::mutex> l(mu_);
    return bucket_id_;
  };
  if (!force) {
    if (std::string id = cached(); !id.empty()) return id;
  }
  std::lock_guard<std::mutex> bl(bucket_mu_);
  if (!force) {
    if (std::string id = cached(); !id.empty()) return id;
  }
  CK_ASSIGN_OR_RETURN(auto auth, EnsureAuthorized());
  const std::string& bucket = options_.bucket;
  std::string id;
  const auto& allowed = auth->auth.allowed_buckets;
  if (!allowed.empty()) {
    bool named = false;
    std::string others;
    for (const auto& [bid, bname] : allowed) {
      if (bname == bucket) {
        named = true;
        if (!bid.empty()) id = bid;
      }
      if (!bname.empty()) others += (others.empty() ? "" : ", ") + PrintableName(bname);
    }
    if (!named && !others.empty())
      return Status(ErrorKind::kAuth, options_.name + ": the application key is restricted to " +
                                          "bucket " + others + " and cannot use bucket " +
                                          PrintableName(bucket));
  }
  if (id.empty()) {
    json body = {{"accountId", auth->auth.account_id}, {"bucketName", bucket}};
    if (allowed.size() == 1 && !allowed[0].first.empty()) body["bucketId"] = allowed[0].first;
    CK_ASSIGN_OR_RETURN(std::string text, ToJson(body));
    CK_ASSIGN_OR_RETURN(HttpResponse resp,
                        Api({"b2_list_buckets", bucket, B2Resource::kBucket, std::move(text)}));
    auto buckets = ParseB2Buckets(resp.body);
    std::string prefix = B2ErrorPrefix(Context("b2_list_buckets", bucket, B2Resource::kBucket));
    if (!buckets.ok()) return MalformedReply(prefix, buckets.status());
    for (const auto& b : *buckets)
      if (b.bucket_name == bucket && !b.bucket_id.empty()) id = b.bucket_id;
    if (id.empty())
      return NotFound(prefix + ": bucket " + PrintableName(bucket) + " does not exist");
  }
  std::lock_guard<std::mutex> l(mu_);
  bucket_id_ = id;
  return id;
}

Result<B2AccountInfo> B2Client::AccountInfo() {
  CK_RETURN_IF_ERROR(BucketId().status());
  auto info = CachedAccountInfo();
  if (!info) return Internal(options_.name + ": authorization vanished");
  return *info;
}

std::optional<B2AccountInfo> B2Client::CachedAccountInfo() const {
  std::lock_guard<std::mutex> l(mu_);
  if (!auth_) return std::nullopt;
  const B2Authorization& a = auth_->auth;
  return B2AccountInfo{a.account_id,
                       a.api_url,
                       a.download_url,
                       a.recommended_part_size,
                       a.absolute_minimum_part_size,
                       bucket_id_};
}

// ---------------------------------------------------------------- transport

Result<HttpResponse> B2Client::Api(const ApiCall& call) {
  B2ErrorContext ctx = Context(call.operation, call.target, call.resource);
  for (int attempt = 0;; ++attempt) {
    CK_ASSIGN_OR_RETURN(auto auth, EnsureAuthorized());
    MemoryBody body(call.body);
    HttpRequest req;
    req.method = "POST";
    req.url = auth->auth.api_url + "/b2api/v2/" + std::string(call.operation);
    req.headers = {{"Authorization", auth->auth.token}, {"Content-Type", "application/json"}};
    req.body = &body;
    req.timeout = options_.request_timeout;
    auto resp = transport_(req);
    if (!resp.ok()) return resp.status().WithContext(B2ErrorPrefix(ctx));
    if (resp->status == 200) return resp;
    if (attempt == 0) {
      auto doc = ParseB2Error(resp->body);
      if (IsExpiredAuthToken(resp->status, doc ? doc->code : "")) {
        CK_RETURN_IF_ERROR(Reauthorize(auth->generation));
        continue;
      }
    }
    return ErrorFor(ctx, *resp);
  }
}

Result<HttpResponse> B2Client::Download(const std::string& method, const std::string& file_name,
                                        const std::optional<B2Range>& range,
                                        const std::function<bool(std::string_view)>& sink) {
  B2ErrorContext ctx =
      Context(method == "HEAD" ? "b2_download_file_by_name (HEAD)" : "b2_download_file_by_name",
              file_name, B2Resource::kFile);
  for (int attempt = 0;; ++attempt) {
    CK_ASSIGN_OR_RETURN(auto auth, EnsureAuthorized());
    HttpRequest req;
    req.method = method;
    req.url = auth->auth.download_url + "/file/" + B2PercentEncode(options_.bucket) + "/" +
              B2PercentEncode(file_name);
    req.headers.emplace_back("Authorization", auth->auth.token);
    if (range)
      req.headers.emplace_back(
          "Range", "bytes=" + std::to_string(range->first) + "-" + std::to_string(range->last));
    req.timeout = options_.request_timeout;
    req.body_sink = sink;
    auto resp = transport_(req);
    if (!resp.ok()) return resp.status().WithContext(B2ErrorPrefix(ctx));
    if (resp->status >= 200 && resp->status < 300) return resp;
    if (attempt == 0) {
      auto doc = ParseB2Error(resp->body);
      if (IsExpiredAuthToken(resp->status, doc ? doc->code : "")) {
        CK_RETURN_IF_ERROR(Reauthorize(auth->generation));
        continue;
      }
    }
    return ErrorFor(ctx, *resp);
  }
}

// ---------------------------------------------------------------- upload URL pools

Result<B2Client::PooledUrl> B2Client::CheckOutUrl(const std::string& key) {
  const auto now = options_.env->SteadyNow();
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = idle_urls_.find(key);
    if (it != idle_urls_.end()) {
      auto& pool = it->second;
      while (!pool.empty()) {
        PooledUrl u = std::move(pool.back());
        pool.pop_back();
        if (now - u.fetched < options_.upload_url_max_age) return u;
      }
    }
  }
  return FetchUrl(key);
}

Result<B2Client::PooledUrl> B2Client::FetchUrl(const std::string& key) {
  const auto now = options_.env->SteadyNow();
  ApiCall call;
  if (key.empty()) {
    CK_ASSIGN_OR_RETURN(std::string bucket_id, BucketId());
    CK_ASSIGN_OR_RETURN(std::string text, ToJson(json{{"bucketId", bucket_id}}));
    call = ApiCall{"b2_get_upload_url", options_.bucket, B2Resource::kBucket, std::move(text)};
  } else {
    CK_ASSIGN_OR_RETURN(std::string text, ToJson(json{{"fileId", key}}));
    call = ApiCall{"b2_get_upload_part_url", key, B2Resource::kLargeFile, std::move(text)};
  }
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Api(call));
  auto url = ParseB2UploadUrl(resp.body);
  if (!url.ok())
    return MalformedReply(B2ErrorPrefix(Context(call.operation, call.target, call.resource)),
                          url.status());
  return PooledUrl{std::move(url).value(), now};
}

namespace {
constexpr size_t kMaxIdleUploadUrls = 8;  // probes add to the pool up to this many
}  // namespace

Status B2Client::Probe() {
  CK_ASSIGN_OR_RETURN(PooledUrl url, FetchUrl(""));
  std::lock_guard<std::mutex> l(mu_);
  auto& pool = idle_urls_[""];
  if (pool.size() < kMaxIdleUploadUrls) pool.push_back(std::move(url));
  return Status::OK();
}

void B2Client::ReturnUrl(const std::string& key, PooledUrl url) {
  std::lock_guard<std::mutex> l(mu_);
  idle_urls_[key].push_back(std::move(url));
}

void B2Client::DropPartUrls(const std::string& file_id) {
  std::lock_guard<std::mutex> l(mu_);
  idle_urls_.erase(file_id);
}

size_t B2Client::idle_upload_urls() const {
  return idle_part_urls("");
}

size_t B2Client::idle_part_urls(const std::string& file_id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = idle_urls_.find(file_id);
  return it == idle_urls_.end() ? 0 : it->second.size();
}

Result<HttpResponse> B2Client::SendUpload(const std::string& pool_key, std::string_view operation,
                                          std::string_view target, const HttpHeaders& headers,
                                          const BodySource* body) {
  B2ErrorContext ctx = Context(operation, target, B2Resource::kUploadUrl);
  for (int attempt = 0;; ++attempt) {
    CK_ASSIGN_OR_RETURN(PooledUrl u, CheckOutUrl(pool_key));
    HttpRequest req;
    req.method = "POST";
    req.url = u.url.url;
    req.headers = headers;
    req.headers.emplace_back("Authorization", u.url.token);
    req.body = body;
    req.timeout = options_.request_timeout;
    auto resp = transport_(req);
    // From here on `u` goes back to the pool only after a success: a URL that
    // saw a failure of any kind is dropped (B2: get a new upload URL).
    if (!resp.ok()) {
      Status st = resp.status().WithContext(B2ErrorPrefix(ctx));
      if (st.kind() != ErrorKind::kTransient) return st;
      return Status(st.kind(), st.message() + " (the upload URL was discarded)");
    }
    if (resp->status == 200) {
      ReturnUrl(pool_key, std::move(u));
      return resp;
    }
    auto doc = ParseB2Error(resp->body);
    if (attempt == 0 &&
        IsUploadTokenRejected(resp->status, doc ? doc->code : "", doc ? doc->message : ""))
      continue;  // the URL's token was refused: a fresh URL right away
    return ErrorFor(ctx, *resp, u.url.token);
  }
}

// ---------------------------------------------------------------- files

Result<B2File> B2Client::UploadFile(const B2UploadFileRequest& r) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_upload_file", r.file_name, B2Resource::kUploadUrl));
  if (Status st = ValidateB2FileName(r.file_name); !st.ok()) return st.WithContext(prefix);
  const uint64_t size = r.body ? r.body->size() : 0;
  if (size > kMaxUploadBytes)
    return InvalidArgument(prefix + ": body is " + HumanBytes(size) +
                           "; one upload takes at most 5 GiB (use a large file)");
  std::string sha1 = r.sha1;
  if (sha1.empty()) {
    auto s = DigestBody(r.body, DigestAlgo::kSha1);
    if (!s.ok()) return s.status().WithContext(prefix);
    sha1 = *s;
  }
  if (sha1.size() != 20) return InvalidArgument(prefix + ": SHA-1 must be 20 raw bytes");
  auto info = NormalizeB2FileInfo(r.file_info);
  if (!info.ok()) return info.status().WithContext(prefix);
  const std::string sha1_hex = HexEncode(sha1);
  HttpHeaders headers;
  headers.emplace_back("X-Bz-File-Name", B2PercentEncode(r.file_name));
  headers.emplace_back("Content-Type",
                       r.content_type.empty() ? "application/octet-stream" : r.content_type);
  headers.emplace_back("X-Bz-Content-Sha1", sha1_hex);
  size_t header_bytes = headers[0].second.size();
  for (const auto& [key, value] : *info) {
    headers.emplace_back(std::string(kInfoHeaderPrefix) + key, B2PercentEncode(value));
    header_bytes += headers.back().first.size() + headers.back().second.size();
  }
  if (header_bytes > kMaxNameAndInfoHeaderBytes)
    return InvalidArgument(prefix + ": file name and file info take " +
                           std::to_string(header_bytes) + " bytes of headers; B2 allows 7000");
  CK_ASSIGN_OR_RETURN(HttpResponse resp,
                      SendUpload("", "b2_upload_file", r.file_name, headers, r.body));
  auto file = ParseB2File(resp.body);
  if (!file.ok()) return MalformedReply(prefix, file.status());
  CK_RETURN_IF_ERROR(
      VerifyStored(prefix, file->content_sha1, file->content_length, sha1_hex, size));
  return file;
}

Result<B2File> B2Client::HeadFileByName(const std::string& file_name) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_download_file_by_name (HEAD)", file_name, B2Resource::kFile));
  if (Status st = ValidateB2FileName(file_name); !st.ok()) return st.WithContext(prefix);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Download("HEAD", file_name, std::nullopt, nullptr));
  B2File f;
  f.action = "upload";
  std::string len = resp.Header("Content-Length");
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), f.content_length);
  if (len.empty() || ec != std::errc() || p != len.data() + len.size())
    return Status(ErrorKind::kTransient, prefix + ": response has no valid Content-Length");
  f.file_id = resp.Header("X-Bz-File-Id");
  if (!B2PercentDecode(resp.Header("X-Bz-File-Name"), &f.file_name) || f.file_name.empty())
    f.file_name = file_name;
  f.content_sha1 = resp.Header("X-Bz-Content-Sha1");
  f.content_type = resp.Header("Content-Type");
  std::string ts = resp.Header("X-Bz-Upload-Timestamp");
  std::from_chars(ts.data(), ts.data() + ts.size(), f.upload_timestamp);
  for (const auto& [name, value] : resp.headers) {
    if (!StartsWithNoCase(name, kInfoHeaderPrefix) || name.size() == kInfoHeaderPrefix.size())
      continue;
    std::string decoded;
    if (!B2PercentDecode(value, &decoded)) decoded = value;
    f.file_info[Lower(std::string_view(name).substr(kInfoHeaderPrefix.size()))] = decoded;
  }
  return f;
}

Status B2Client::DownloadFileByName(const std::string& file_name,
                                    const std::optional<B2Range>& range,
                                    const std::function<bool(std::string_view)>& sink) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_download_file_by_name", file_name, B2Resource::kFile));
  if (Status st = ValidateB2FileName(file_name); !st.ok()) return st.WithContext(prefix);
  if (range && range->first > range->last)
    return InvalidArgument(prefix + ": range starts after its end");
  // With a range, never hand the caller more bytes than it asked for (a server
  // that ignores Range would send the whole file).
  const uint64_t limit = range ? range->last - range->first + 1 : UINT64_MAX;
  uint64_t received = 0;
  bool too_long = false;
  bool refused = false;
  auto guarded = [&](std::string_view data) {
    if (data.size() > limit - received) {
      too_long = true;
      return false;
    }
    received += data.size();
    if (!sink(data)) {
      refused = true;
      return false;
    }
    return true;
  };
  auto resp = Download("GET", file_name, range, guarded);
  if (too_long)
    return Status(ErrorKind::kPermanent,
                  prefix + ": the server sent more bytes than the range asked for");
  if (refused) return Status(ErrorKind::kCancelled, prefix + ": stopped by the receiver");
  if (!resp.ok()) return resp.status();
  if (range) {
    std::string cr = resp->Header("Content-Range");
    std::string want = "bytes " + std::to_string(range->first) + "-";
    if (resp->status != 206 || cr.compare(0, want.size(), want) != 0)
      return Status(ErrorKind::kPermanent,
                    prefix + ": the server did not honour the Range header (status " +
                        std::to_string(resp->status) + ", Content-Range '" + PrintableName(cr) +
                        "')");
  }
  return Status::OK();
}

Result<B2File> B2Client::GetFileInfo(const std::string& file_id) {
  CK_ASSIGN_OR_RETURN(std::string text, ToJson(json{{"fileId", file_id}}));
  CK_ASSIGN_OR_RETURN(HttpResponse resp,
                      Api({"b2_get_file_info", file_id, B2Resource::kFile, std::move(text)}));
  auto file = ParseB2File(resp.body);
  if (!file.ok())
    return MalformedReply(B2ErrorPrefix(Context("b2_get_file_info", file_id, B2Resource::kFile)),
                          file.status());
  return file;
}

Result<B2FileList> B2Client::ListFileNames(const B2ListFileNamesRequest& r) {
  CK_ASSIGN_OR_RETURN(std::string bucket_id, BucketId());
  json body = {{"bucketId", bucket_id}, {"maxFileCount", std::clamp(r.max_file_count, 1, 10000)}};
  if (!r.prefix.empty()) body["prefix"] = r.prefix;
  if (!r.delimiter.empty()) body["delimiter"] = r.delimiter;
  if (!r.start_file_name.empty()) body["startFileName"] = r.start_file_name;
  const std::string prefix =
      B2ErrorPrefix(Context("b2_list_file_names", options_.bucket, B2Resource::kBucket));
  auto text = ToJson(body);
  if (!text.ok()) return text.status().WithContext(prefix);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Api({"b2_list_file_names", options_.bucket,
                                              B2Resource::kBucket, std::move(text).value()}));
  auto list = ParseB2FileList(resp.body);
  if (!list.ok()) return MalformedReply(prefix, list.status());
  return list;
}

Result<B2FileList> B2Client::ListFileVersions(const B2ListFileVersionsRequest& r) {
  CK_ASSIGN_OR_RETURN(std::string bucket_id, BucketId());
  json body = {{"bucketId", bucket_id}, {"maxFileCount", std::clamp(r.max_file_count, 1, 10000)}};
  if (!r.prefix.empty()) body["prefix"] = r.prefix;
  if (!r.delimiter.empty()) body["delimiter"] = r.delimiter;
  if (!r.start_file_name.empty()) {
    body["startFileName"] = r.start_file_name;
    if (!r.start_file_id.empty()) body["startFileId"] = r.start_file_id;
  }
  const std::string prefix =
      B2ErrorPrefix(Context("b2_list_file_versions", options_.bucket, B2Resource::kBucket));
  auto text = ToJson(body);
  if (!text.ok()) return text.status().WithContext(prefix);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Api({"b2_list_file_versions", options_.bucket,
                                              B2Resource::kBucket, std::move(text).value()}));
  auto list = ParseB2FileList(resp.body);
  if (!list.ok()) return MalformedReply(prefix, list.status());
  return list;
}

Result<B2File> B2Client::HideFile(const std::string& file_name) {
  const std::string prefix = B2ErrorPrefix(Context("b2_hide_file", file_name, B2Resource::kFile));
  if (Status st = ValidateB2FileName(file_name); !st.ok()) return st.WithContext(prefix);
  CK_ASSIGN_OR_RETURN(std::string bucket_id, BucketId());
  CK_ASSIGN_OR_RETURN(std::string text,
                      ToJson(json{{"bucketId", bucket_id}, {"fileName", file_name}}));
  CK_ASSIGN_OR_RETURN(HttpResponse resp,
                      Api({"b2_hide_file", file_name, B2Resource::kFile, std::move(text)}));
  auto file = ParseB2File(resp.body);
  if (!file.ok()) return MalformedReply(prefix, file.status());
  return file;
}

Status B2Client::DeleteFileVersion(const std::string& file_name, const std::string& file_id) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_delete_file_version", file_name, B2Resource::kFile));
  if (Status st = ValidateB2FileName(file_name); !st.ok()) return st.WithContext(prefix);
  CK_ASSIGN_OR_RETURN(std::string text, ToJson(json{{"fileName", file_name}, {"fileId", file_id}}));
  return Api({"b2_delete_file_version", file_name, B2Resource::kFile, std::move(text)}).status();
}

// ---------------------------------------------------------------- large files

Result<B2File> B2Client::StartLargeFile(const std::string& file_name,
                                        const std::string& content_type,
                                        const std::map<std::string, std::string>& file_info) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_start_large_file", file_name, B2Resource::kBucket));
  if (Status st = ValidateB2FileName(file_name); !st.ok()) return st.WithContext(prefix);
  auto info = NormalizeB2FileInfo(file_info);
  if (!info.ok()) return info.status().WithContext(prefix);
  CK_ASSIGN_OR_RETURN(std::string bucket_id, BucketId());
  json body = {{"bucketId", bucket_id},
               {"fileName", file_name},
               {"contentType", content_type.empty() ? "application/octet-stream" : content_type},
               {"fileInfo", *info}};
  CK_ASSIGN_OR_RETURN(std::string text, ToJson(body));
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Api({"b2_start_large_file", file_name, B2Resource::kBucket,
                                              std::move(text)}));
  auto file = ParseB2File(resp.body);
  if (!file.ok()) return MalformedReply(prefix, file.status());
  if (file->file_id.empty()) return Status(ErrorKind::kTransient, prefix + ": reply has no fileId");
  return file;
}

Result<B2Part> B2Client::UploadPart(const B2UploadPartRequest& r) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_upload_part", r.file_id, B2Resource::kUploadUrl)) + " part " +
      std::to_string(r.part_number);
  if (r.file_id.empty()) return InvalidArgument(prefix + ": file ID is empty");
  if (r.part_number < 1 || r.part_number > 10000)
    return InvalidArgument(prefix + ": part number must be 1..10000");
  const uint64_t size = r.body ? r.body->size() : 0;
  if (size > kMaxUploadBytes) return InvalidArgument(prefix + ": a part may be at most 5 GiB");
  std::string sha1 = r.sha1;
  if (sha1.empty()) {
    auto s = DigestBody(r.body, DigestAlgo::kSha1);
    if (!s.ok()) return s.status().WithContext(prefix);
    sha1 = *s;
  }
  if (sha1.size() != 20) return InvalidArgument(prefix + ": SHA-1 must be 20 raw bytes");
  const std::string sha1_hex = HexEncode(sha1);
  HttpHeaders headers = {{"X-Bz-Part-Number", std::to_string(r.part_number)},
                         {"X-Bz-Content-Sha1", sha1_hex}};
  CK_ASSIGN_OR_RETURN(HttpResponse resp,
                      SendUpload(r.file_id, "b2_upload_part", r.file_id, headers, r.body));
  auto part = ParseB2Part(resp.body);
  if (!part.ok()) return MalformedReply(prefix, part.status());
  if (part->part_number != r.part_number)
    return Status(ErrorKind::kTransient,
                  prefix + ": the reply is for part " + std::to_string(part->part_number));
  CK_RETURN_IF_ERROR(
      VerifyStored(prefix, part->content_sha1, part->content_length, sha1_hex, size));
  if (part->content_sha1.empty()) part->content_sha1 = sha1_hex;
  part->content_sha1 = ReportedSha1(part->content_sha1);
  return part;
}

Result<B2File> B2Client::FinishLargeFile(const std::string& file_id,
                                         const std::vector<std::string>& part_sha1s) {
  const std::string prefix =
      B2ErrorPrefix(Context("b2_finish_large_file", file_id, B2Resource::kLargeFile));
  CK_ASSIGN_OR_RETURN(std::string text,
                      ToJson(json{{"fileId", file_id}, {"partSha1Array", part_sha1s}}));
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Api({"b2_finish_large_file", file_id,
                                              B2Resource::kLargeFile, std::move(text)}));
  DropPartUrls(file_id);
  auto file = ParseB2File(resp.body);
  if (!file.ok()) return MalformedReply(prefix, file.status());
  return file;
}

Status B2Client::CancelLargeFile(const std::string& file_id) {
  CK_ASSIGN_OR_RETURN(std::string text, ToJson(json{{"fileId", file_id}}));
  Status st =
      Api({"b2_cancel_large_file", file_id, B2Resource::kLargeFile, std::move(text)}).status();
  if (st.ok() || st.kind() == ErrorKind::kNotFound) DropPartUrls(file_id);
  return st;
}

Result<B2PartList> B2Client::ListPartsPage(const std::string& file_id, int start_part_number,
                                           int max_part_count) {
  json body = {{"fileId", file_id}, {"maxPartCount", std::clamp(max_part_count, 1, 1000)}};
  if (start_part_number > 0) body["startPartNumber"] = start_part_number;
  CK_ASSIGN_OR_RETURN(std::string text, ToJson(body));
  CK_ASSIGN_OR_RETURN(HttpResponse resp,
                      Api({"b2_list_parts", file_id, B2Resource::kLargeFile, std::move(text)}));
  auto list = ParseB2PartList(resp.body);
  if (!list.ok())
    return MalformedReply(B2ErrorPrefix(Context("b2_list_parts", file_id, B2Resource::kLargeFile)),
                          list.status());
  return list;
}

Result<std::vector<B2Part>> B2Client::ListParts(const std::string& file_id) {
  std::vector<B2Part> out;
  int start = 0;
  for (;;) {
    CK_ASSIGN_OR_RETURN(B2PartList page, ListPartsPage(file_id, start));
    for (auto& p : page.parts) {
      p.content_sha1 = ReportedSha1(p.content_sha1);
      out.push_back(std::move(p));
    }
    if (!page.next_part_number || *page.next_part_number <= start) break;
    start = *page.next_part_number;
  }
  std::sort(out.begin(), out.end(),
            [](const B2Part& a, const B2Part& b) { return a.part_number < b.part_number; });
  return out;
}

Result<B2FileList> B2Client::ListUnfinishedLargeFilesPage(const std::string& name_prefix,
                                                          const std::string& start_file_id,
                                                          int max_file_count) {
  CK_ASSIGN_OR_RETURN(std::string bucket_id, BucketId());
  json body = {{"bucketId", bucket_id}, {"maxFileCount", std::clamp(max_file_count, 1, 100)}};
  if (!name_prefix.empty()) body["namePrefix"] = name_prefix;
  if (!start_file_id.empty()) body["startFileId"] = start_file_id;
  const std::string prefix = B2ErrorPrefix(
      Context("b2_list_unfinished_large_files", options_.bucket, B2Resource::kBucket));
  auto text = ToJson(body);
  if (!text.ok()) return text.status().WithContext(prefix);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Api({"b2_list_unfinished_large_files", options_.bucket,
                                              B2Resource::kBucket, std::move(text).value()}));
  auto list = ParseB2FileList(resp.body);
  if (!list.ok()) return MalformedReply(prefix, list.status());
  return list;
}

Result<std::vector<B2File>> B2Client::ListUnfinishedLargeFiles(const std::string& name_prefix) {
  std::vector<B2File> out;
  std::string start;
  for (int guard = 0; guard < 100000; ++guard) {
    CK_ASSIGN_OR_RETURN(B2FileList page, ListUnfinishedLargeFilesPage(name_prefix, start));
    for (auto& f : page.files) {
      // The server filters by namePrefix already; checked again in case it did not.
      if (f.file_name.compare(0, name_prefix.size(), name_prefix) == 0) out.push_back(std::move(f));
    }
    if (!page.next_file_id || page.next_file_id->empty() || *page.next_file_id == start) break;
    start = *page.next_file_id;
  }
  return out;
}

}  // namespace ck
