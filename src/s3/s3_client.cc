#include "s3/s3_client.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

constexpr uint64_t kMaxSinglePut = 5ull << 30;  // 5 GiB
// A GET body is held back up to this size until the status is known, so an
// error document is not handed to the caller's sink.
constexpr size_t kGetHoldBytes = 64 * 1024;

bool Is2xx(int status) {
  return status >= 200 && status < 300;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool IsIPv4(std::string_view host) {
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t j = host.find('.', i);
    if (j == std::string_view::npos) j = host.size();
    std::string_view p = host.substr(i, j - i);
    if (p.empty() || p.size() > 3) return false;
    for (char c : p)
      if (c < '0' || c > '9') return false;
    if (std::stoi(std::string(p)) > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

// A bucket name usable as a DNS label for virtual-hosted style.
bool DnsCompatibleBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return alnum(b.front()) && alnum(b.back()) && b.find("..") == std::string_view::npos &&
         !IsIPv4(b);
}

bool ValidBucketChars(std::string_view b) {
  if (b.empty() || b.size() > 255) return false;
  for (char c : b)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return false;
  return true;
}

bool HasControlOrSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

// Adds x-amz-meta-* headers; kInvalidArgument for names or values that would
// not round-trip through HTTP headers.
Status AddMetadata(const std::map<std::string, std::string>& metadata, HttpHeaders* headers) {
  size_t total = 0;
  std::map<std::string, int> seen;
  for (const auto& [name, value] : metadata) {
    if (name.empty()) return InvalidArgument("metadata name is empty");
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-'))
        return InvalidArgument("metadata name '" + PrintableName(name) +
                               "' may only contain letters, digits and '-'");
    }
    std::string lname = Lower(name);
    if (seen[lname]++ > 0) return InvalidArgument("metadata name '" + lname + "' given twice");
    for (char c : value) {
      if (c < 0x20 || c > 0x7E)
        return InvalidArgument("metadata value for '" + lname + "' must be printable ASCII (got " +
                               PrintableName(value) + ")");
    }
    if (!value.empty() && (value.front() == ' ' || value.back() == ' '))
      return InvalidArgument("metadata value for '" + lname +
                             "' must not start or end with a space");
    total += lname.size() + value.size();
    headers->emplace_back("x-amz-meta-" + lname, value);
  }
  if (total > 2048)
    return InvalidArgument("user metadata is " + std::to_string(total) + " bytes; S3 allows 2048");
  return Status::OK();
}

void AddParam(std::string* q, std::string_view name, std::string_view value) {
  if (!q->empty()) *q += '&';
  *q += UriEncode(name);
  *q += '=';
  *q += UriEncode(value);
}

void AddFlag(std::string* q, std::string_view name) {
  if (!q->empty()) *q += '&';
  *q += name;
}

}  // namespace

Status ValidateS3Key(std::string_view key) {
  if (key.empty()) return Status(ErrorKind::kInvalidName, "object key is empty");
  if (key.size() > 1024)
    return Status(ErrorKind::kInvalidName,
                  "object key is " + std::to_string(key.size()) +
                      " bytes; S3 allows 1024: " + PrintableName(key.substr(0, 64)) + "...");
  if (!IsValidUtf8(key))
    return Status(ErrorKind::kInvalidName, "object key is not valid UTF-8: " + PrintableName(key));
  return Status::OK();
}

// One S3 request, before signing.
struct S3Client::Call {
  std::string_view operation;
  S3Resource resource = S3Resource::kObject;
  bool bucket_level = false;
  std::string key;
  std::string method = "GET";
  std::string query;  // wire form
  HttpHeaders headers;
  const BodySource* body = nullptr;
  std::string payload_hash;  // empty: SHA-256 of an empty body
  std::function<bool(std::string_view)> sink;
};

Result<std::unique_ptr<S3Client>> S3Client::Make(S3ClientOptions options, HttpClient* http) {
  if (http == nullptr) return Status(ErrorKind::kConfig, "S3Client needs an HttpClient");
  return MakeWithTransport(std::move(options),
                           [http](const HttpRequest& r) { return http->Send(r); });
}

Result<std::unique_ptr<S3Client>> S3Client::MakeWithTransport(S3ClientOptions o,
                                                              S3Transport transport) {
  if (!transport) return Status(ErrorKind::kConfig, "S3Client needs a transport");
  if (o.name.empty()) o.name = "s3";
  auto config_error = [&](const std::string& m) {
    return Status(ErrorKind::kConfig, o.name + ": " + m);
  };
  if (o.region.empty()) return config_error("region is empty");
  for (char c : o.region) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return config_error("region '" + PrintableName(o.region) +
                          "' may only contain a-z, 0-9 and '-'");
  }
  if (!ValidBucketChars(o.bucket))
    return config_error(o.bucket.empty()
                            ? "bucket is empty"
                            : "bucket name '" + PrintableName(o.bucket) + "' is not valid");
  if (o.credentials.access_key_id.empty() || o.credentials.secret_access_key.empty())
    return Status(ErrorKind::kAuth,
                  o.name + ": missing credentials: " +
                      (o.credentials.access_key_id.empty() ? "access key ID is empty"
                                                           : "secret access key is empty"));
  if (HasControlOrSpace(o.credentials.access_key_id) ||
      o.credentials.access_key_id.find('/') != std::string::npos)
    return config_error("access key ID contains spaces, '/' or control characters");
  if (HasControlOrSpace(o.credentials.session_token))
    return config_error("session token contains spaces or control characters");

  if (o.endpoint.empty()) o.endpoint = "https://s3." + o.region + ".amazonaws.com";
  std::string scheme;
  std::string_view rest = o.endpoint;
  if (StartsWithNoCase(rest, "https://")) {
    scheme = "https";
    rest.remove_prefix(8);
  } else if (StartsWithNoCase(rest, "http://")) {
    scheme = "http";
    rest.remove_prefix(7);
  } else {
    return config_error("endpoint '" + PrintableName(o.endpoint) +
                        "' must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string_view::npos ||
      HasControlOrSpace(rest))
    return config_error("endpoint '" + PrintableName(o.endpoint) +
                        "' must be scheme://host[:port] with no path");
  std::string_view host_only = rest;
  std::string_view port;
  if (rest.front() == '[') {  // IPv6 literal
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return config_error("endpoint has an unclosed '['");
    host_only = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return config_error("endpoint has junk after the IPv6 address");
      port = after.substr(1);
    }
  } else if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    host_only = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host_only.empty()) return config_error("endpoint has no host");
  if (rest.find(':') != std::string_view::npos && rest.front() != '[' && port.empty())
    return config_error("endpoint has an empty port");
  if (!port.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535)
      return config_error("endpoint port '" + std::string(port) + "' is not valid");
  }
  std::string lhost = Lower(host_only);
  if (host_only.front() == '[' || IsIPv4(host_only) || lhost == "localhost" ||
      !DnsCompatibleBucket(o.bucket) ||
      (scheme == "https" && o.bucket.find('.') != std::string::npos))
    o.path_style = true;
  std::string endpoint_host = Lower(rest);
  o.endpoint = scheme + "://" + endpoint_host;
  return std::unique_ptr<S3Client>(new S3Client(std::move(o), std::move(transport),
                                                std::move(scheme), std::move(endpoint_host)));
}

S3Client::S3Client(S3ClientOptions options, S3Transport transport, std::string scheme,
                   std::string endpoint_host)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      scheme_(std::move(scheme)),
      endpoint_host_(std::move(endpoint_host)),
      host_(options_.path_style ? endpoint_host_ : options_.bucket + "." + endpoint_host_),
      signer_(options_.credentials, SigV4Options{.service = "s3", .region = options_.region}) {}

std::chrono::system_clock::time_point S3Client::Now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

std::string S3Client::PathFor(const Call& call) const {
  std::string path;
  if (options_.path_style) path = "/" + options_.bucket;
  if (!call.bucket_level) {
    path += '/';
    path += UriEncode(call.key, /*keep_slash=*/true);
  }
  if (path.empty()) path = "/";
  return path;
}

std::string S3Client::ObjectUrl(std::string_view key) const {
  Call c;
  c.key = std::string(key);
  return scheme_ + "://" + host_ + PathFor(c);
}

std::string S3Client::BucketUrl() const {
  Call c;
  c.bucket_level = true;
  return scheme_ + "://" + host_ + PathFor(c);
}

Status S3Client::ErrorFor(const Call& call, const HttpResponse& resp) const {
  S3ErrorContext ctx{options_.name, call.operation,
                     call.bucket_level ? std::string_view(options_.bucket) : call.key,
                     options_.bucket, call.resource};
  return S3ResponseError(ctx, resp, Now());
}

Result<HttpResponse> S3Client::Execute(const Call& call) const {
  auto context = [&] {
    return S3ErrorPrefix(
        S3ErrorContext{options_.name, call.operation,
                       call.bucket_level ? std::string_view(options_.bucket) : call.key,
                       options_.bucket, call.resource});
  };
  SigV4Request sreq;
  sreq.method = call.method;
  sreq.path = PathFor(call);
  sreq.query = call.query;
  sreq.headers.emplace_back("Host", host_);
  for (const auto& h : call.headers) sreq.headers.push_back(h);
  sreq.payload_hash = call.payload_hash;
  auto signed_ok = signer_.SignHeaders(&sreq, Now());
  if (!signed_ok.ok()) return signed_ok.status().WithContext(context());

  HttpRequest req;
  req.method = call.method;
  req.url = scheme_ + "://" + host_ + sreq.path;
  if (!call.query.empty()) req.url += "?" + call.query;
  req.headers = std::move(sreq.headers);
  req.body = call.body;
  req.timeout = options_.request_timeout;
  req.body_sink = call.sink;
  auto resp = transport_(req);
  if (!resp.ok()) return resp.status().WithContext(context());
  return resp;
}

Result<HttpResponse> S3Client::Perform(const Call& call) const {
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Execute(call));
  if (!Is2xx(resp.status)) return ErrorFor(call, resp);
  return resp;
}

// ---------------------------------------------------------------- objects

Result<S3PutObjectResult> S3Client::PutObject(const S3PutObjectRequest& r) {
  Call c;
  c.operation = "PutObject";
  c.key = r.key;
  auto fail = [&](const Status& st) {
    return st.WithContext(S3ErrorPrefix({options_.name, c.operation, r.key, options_.bucket}));
  };
  if (Status st = ValidateS3Key(r.key); !st.ok()) return fail(st);
  const uint64_t size = r.body ? r.body->size() : 0;
  if (size > kMaxSinglePut)
    return fail(InvalidArgument("body is " + HumanBytes(size) +
                                "; a single PUT takes at most 5 GiB (use multipart)"));
  std::string md5 = r.md5;
  if (md5.empty()) {
    auto m = DigestBody(r.body, DigestAlgo::kMd5);
    if (!m.ok()) return fail(m.status());
    md5 = *m;
  }
  if (md5.size() != 16) return fail(InvalidArgument("MD5 must be 16 raw bytes"));
  if (!r.sha256.empty() && r.sha256.size() != 32)
    return fail(InvalidArgument("SHA-256 must be 32 raw bytes"));
  c.method = "PUT";
  c.body = r.body;
  c.headers.emplace_back("Content-MD5", Base64Encode(md5));
  c.headers.emplace_back("Content-Type",
                         r.content_type.empty() ? "application/octet-stream" : r.content_type);
  if (Status st = AddMetadata(r.metadata, &c.headers); !st.ok()) return fail(st);
  c.payload_hash = r.sha256.empty() ? std::string(kUnsignedPayload) : HexEncode(r.sha256);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  S3PutObjectResult out;
  out.etag = UnquoteEtag(resp.Header("ETag"));
  out.version_id = resp.Header("x-amz-version-id");
  return out;
}

Result<S3ObjectHead> S3Client::HeadObject(const std::string& key) {
  Call c;
  c.operation = "HeadObject";
  c.key = key;
  c.method = "HEAD";
  if (Status st = ValidateS3Key(key); !st.ok())
    return st.WithContext(S3ErrorPrefix({options_.name, c.operation, key, options_.bucket}));
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  S3ObjectHead h;
  std::string len = resp.Header("Content-Length");
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), h.size);
  if (len.empty() || ec != std::errc() || p != len.data() + len.size())
    return Status(ErrorKind::kTransient,
                  S3ErrorPrefix({options_.name, c.operation, key, options_.bucket}) +
                      ": response has no valid Content-Length");
  h.etag = UnquoteEtag(resp.Header("ETag"));
  h.last_modified_ms = ParseHttpDateMs(resp.Header("Last-Modified")).value_or(0);
  h.version_id = resp.Header("x-amz-version-id");
  h.content_type = resp.Header("Content-Type");
  for (const auto& [name, value] : resp.headers) {
    if (StartsWithNoCase(name, "x-amz-meta-")) h.metadata[Lower(name.substr(11))] = value;
  }
  return h;
}

Status S3Client::GetObject(const std::string& key, const std::optional<S3Range>& range,
                           const std::function<bool(std::string_view)>& sink) {
  Call c;
  c.operation = "GetObject";
  c.key = key;
  const std::string prefix = S3ErrorPrefix({options_.name, c.operation, key, options_.bucket});
  if (Status st = ValidateS3Key(key); !st.ok()) return st.WithContext(prefix);
  if (range) {
    if (range->first > range->last) return InvalidArgument(prefix + ": range starts after its end");
    c.headers.emplace_back(
        "Range", "bytes=" + std::to_string(range->first) + "-" + std::to_string(range->last));
  }
  // Hold the start of the body back until the status is known (see kGetHoldBytes).
  std::string held;
  bool flowing = false;
  bool sink_refused = false;
  c.sink = [&](std::string_view data) {
    if (flowing) {
      sink_refused = !sink(data);
      return !sink_refused;
    }
    held.append(data);
    if (held.size() < kGetHoldBytes) return true;
    flowing = true;
    sink_refused = !sink(held);
    held.clear();
    return !sink_refused;
  };
  auto resp = Execute(c);
  if (!resp.ok()) {
    if (sink_refused) return Status(ErrorKind::kCancelled, prefix + ": stopped by the receiver");
    return resp.status();
  }
  if (!Is2xx(resp->status)) {
    if (resp->body.empty() && !flowing) resp->body = std::move(held);
    return ErrorFor(c, *resp);
  }
  if (range) {
    std::string cr = resp->Header("Content-Range");
    std::string want = "bytes " + std::to_string(range->first) + "-";
    if (resp->status != 206 || cr.compare(0, want.size(), want) != 0)
      return Status(ErrorKind::kPermanent,
                    prefix + ": the server did not honour the Range header (status " +
                        std::to_string(resp->status) + ", Content-Range '" + PrintableName(cr) +
                        "')");
  }
  if (!flowing && !held.empty() && !sink(held))
    return Status(ErrorKind::kCancelled, prefix + ": stopped by the receiver");
  return Status::OK();
}

Status S3Client::DeleteObject(const std::string& key) {
  Call c;
  c.operation = "DeleteObject";
  c.key = key;
  c.method = "DELETE";
  if (Status st = ValidateS3Key(key); !st.ok())
    return st.WithContext(S3ErrorPrefix({options_.name, c.operation, key, options_.bucket}));
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Execute(c));
  if (Is2xx(resp.status)) return Status::OK();
  if (resp.status == 404) {
    auto doc = ParseS3Error(resp.body);
    if (doc && doc->code == "NoSuchKey") return Status::OK();
  }
  return ErrorFor(c, resp);
}

Result<S3ListObjectsResult> S3Client::ListObjectsV2(const S3ListObjectsRequest& r) {
  Call c;
  c.operation = "ListObjectsV2";
  c.bucket_level = true;
  c.resource = S3Resource::kBucket;
  AddParam(&c.query, "list-type", "2");
  if (!r.continuation_token.empty()) AddParam(&c.query, "continuation-token", r.continuation_token);
  if (!r.delimiter.empty()) AddParam(&c.query, "delimiter", r.delimiter);
  AddParam(&c.query, "encoding-type", "url");
  AddParam(&c.query, "max-keys", std::to_string(std::clamp(r.max_keys, 1, 1000)));
  if (!r.prefix.empty()) AddParam(&c.query, "prefix", r.prefix);
  if (!r.start_after.empty()) AddParam(&c.query, "start-after", r.start_after);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  auto parsed = ParseListObjectsV2(resp.body);
  if (!parsed.ok())
    return parsed.status().WithContext(
        S3ErrorPrefix({options_.name, c.operation, options_.bucket, options_.bucket}));
  return parsed;
}

// ---------------------------------------------------------------- multipart

Result<std::string> S3Client::CreateMultipartUpload(
    const std::string& key, const std::map<std::string, std::string>& metadata,
    const std::string& content_type) {
  Call c;
  c.operation = "CreateMultipartUpload";
  c.key = key;
  c.method = "POST";
  const std::string prefix = S3ErrorPrefix({options_.name, c.operation, key, options_.bucket});
  if (Status st = ValidateS3Key(key); !st.ok()) return st.WithContext(prefix);
  AddFlag(&c.query, "uploads");
  c.headers.emplace_back("Content-Type",
                         content_type.empty() ? "application/octet-stream" : content_type);
  if (Status st = AddMetadata(metadata, &c.headers); !st.ok()) return st.WithContext(prefix);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  auto id = ParseInitiateMultipartUpload(resp.body);
  if (!id.ok()) return id.status().WithContext(prefix);
  return id;
}

Result<std::string> S3Client::UploadPart(const S3UploadPartRequest& r) {
  Call c;
  c.operation = "UploadPart";
  c.key = r.key;
  c.resource = S3Resource::kUpload;
  c.method = "PUT";
  const std::string prefix = S3ErrorPrefix({options_.name, c.operation, r.key, options_.bucket}) +
                             " part " + std::to_string(r.part_number);
  if (Status st = ValidateS3Key(r.key); !st.ok()) return st.WithContext(prefix);
  if (r.part_number < 1 || r.part_number > 10000)
    return InvalidArgument(prefix + ": part number must be 1..10000");
  if (r.upload_id.empty()) return InvalidArgument(prefix + ": upload ID is empty");
  const uint64_t size = r.body ? r.body->size() : 0;
  if (size > kMaxSinglePut) return InvalidArgument(prefix + ": a part may be at most 5 GiB");
  std::string md5 = r.md5;
  if (md5.empty()) {
    auto m = DigestBody(r.body, DigestAlgo::kMd5);
    if (!m.ok()) return m.status().WithContext(prefix);
    md5 = *m;
  }
  if (md5.size() != 16) return InvalidArgument(prefix + ": MD5 must be 16 raw bytes");
  if (!r.sha256.empty() && r.sha256.size() != 32)
    return InvalidArgument(prefix + ": SHA-256 must be 32 raw bytes");
  AddParam(&c.query, "partNumber", std::to_string(r.part_number));
  AddParam(&c.query, "uploadId", r.upload_id);
  c.body = r.body;
  c.headers.emplace_back("Content-MD5", Base64Encode(md5));
  c.payload_hash = r.sha256.empty() ? std::string(kUnsignedPayload) : HexEncode(r.sha256);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  std::string etag = UnquoteEtag(resp.Header("ETag"));
  if (etag.empty()) return Status(ErrorKind::kTransient, prefix + ": response has no ETag");
  return etag;
}

Result<S3ListPartsResult> S3Client::ListPartsPage(const std::string& key,
                                                  const std::string& upload_id,
                                                  int part_number_marker, int max_parts) {
  Call c;
  c.operation = "ListParts";
  c.key = key;
  c.resource = S3Resource::kUpload;
  const std::string prefix = S3ErrorPrefix({options_.name, c.operation, key, options_.bucket});
  if (Status st = ValidateS3Key(key); !st.ok()) return st.WithContext(prefix);
  if (upload_id.empty()) return InvalidArgument(prefix + ": upload ID is empty");
  AddParam(&c.query, "max-parts", std::to_string(std::clamp(max_parts, 1, 1000)));
  if (part_number_marker > 0)
    AddParam(&c.query, "part-number-marker", std::to_string(part_number_marker));
  AddParam(&c.query, "uploadId", upload_id);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  auto parsed = ParseListParts(resp.body);
  if (!parsed.ok()) return parsed.status().WithContext(prefix);
  return parsed;
}

Result<std::vector<S3Part>> S3Client::ListParts(const std::string& key,
                                                const std::string& upload_id) {
  std::vector<S3Part> all;
  int marker = 0;
  while (true) {
    CK_ASSIGN_OR_RETURN(S3ListPartsResult page, ListPartsPage(key, upload_id, marker));
    for (auto& p : page.parts) all.push_back(std::move(p));
    if (!page.is_truncated) break;
    if (page.next_part_number_marker <= marker)
      return Status(ErrorKind::kTransient,
                    S3ErrorPrefix({options_.name, "ListParts", key, options_.bucket}) +
                        ": the server's part-number-marker does not advance");
    marker = page.next_part_number_marker;
  }
  return all;
}

Result<S3PutObjectResult> S3Client::CompleteMultipartUpload(
    const std::string& key, const std::string& upload_id,
    const std::vector<S3CompletedPart>& parts) {
  Call c;
  c.operation = "CompleteMultipartUpload";
  c.key = key;
  c.resource = S3Resource::kUpload;
  c.method = "POST";
  const std::string prefix = S3ErrorPrefix({options_.name, c.operation, key, options_.bucket});
  if (Status st = ValidateS3Key(key); !st.ok()) return st.WithContext(prefix);
  if (upload_id.empty()) return InvalidArgument(prefix + ": upload ID is empty");
  if (parts.empty()) return InvalidArgument(prefix + ": no parts");
  std::vector<std::pair<int, std::string>> list;
  for (const auto& p : parts) {
    if (!list.empty() && p.part_number <= list.back().first)
      return InvalidArgument(prefix + ": part numbers must ascend");
    if (p.etag.empty())
      return InvalidArgument(prefix + ": part " + std::to_string(p.part_number) + " has no ETag");
    list.emplace_back(p.part_number, p.etag);
  }
  const std::string xml = BuildCompleteMultipartUploadXml(list);
  MemoryBody body(xml);
  AddParam(&c.query, "uploadId", upload_id);
  c.body = &body;
  c.headers.emplace_back("Content-Type", "application/xml");
  c.payload_hash = HexEncode(Sha256(xml));
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  // S3 may answer 200 and report the failure in the body.
  if (ParseS3Error(resp.body)) return ErrorFor(c, resp);
  auto parsed = ParseCompleteMultipartUpload(resp.body);
  if (!parsed.ok()) return parsed.status().WithContext(prefix);
  S3PutObjectResult out;
  out.etag = parsed->etag;
  out.version_id = resp.Header("x-amz-version-id");
  if (out.etag.empty()) {
    // Ceph RGW 16 returns <ETag></ETag>; the object's HEAD has the real one.
    CK_ASSIGN_OR_RETURN(S3ObjectHead head, HeadObject(key));
    out.etag = head.etag;
    if (out.version_id.empty()) out.version_id = head.version_id;
  }
  return out;
}

Status S3Client::AbortMultipartUpload(const std::string& key, const std::string& upload_id) {
  Call c;
  c.operation = "AbortMultipartUpload";
  c.key = key;
  c.resource = S3Resource::kUpload;
  c.method = "DELETE";
  const std::string prefix = S3ErrorPrefix({options_.name, c.operation, key, options_.bucket});
  if (Status st = ValidateS3Key(key); !st.ok()) return st.WithContext(prefix);
  if (upload_id.empty()) return InvalidArgument(prefix + ": upload ID is empty");
  AddParam(&c.query, "uploadId", upload_id);
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Execute(c));
  if (Is2xx(resp.status)) return Status::OK();
  if (resp.status == 404) {
    auto doc = ParseS3Error(resp.body);
    if (doc && doc->code == "NoSuchUpload") return Status::OK();
  }
  return ErrorFor(c, resp);
}

Result<S3ListUploadsResult> S3Client::ListMultipartUploadsPage(const S3ListUploadsRequest& r) {
  Call c;
  c.operation = "ListMultipartUploads";
  c.bucket_level = true;
  c.resource = S3Resource::kBucket;
  AddParam(&c.query, "encoding-type", "url");
  if (!r.key_marker.empty()) AddParam(&c.query, "key-marker", r.key_marker);
  AddParam(&c.query, "max-uploads", std::to_string(std::clamp(r.max_uploads, 1, 1000)));
  if (!r.prefix.empty()) AddParam(&c.query, "prefix", r.prefix);
  if (!r.upload_id_marker.empty()) AddParam(&c.query, "upload-id-marker", r.upload_id_marker);
  AddFlag(&c.query, "uploads");
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Perform(c));
  auto parsed = ParseListMultipartUploads(resp.body, /*requested_url_encoding=*/true);
  if (!parsed.ok())
    return parsed.status().WithContext(
        S3ErrorPrefix({options_.name, c.operation, options_.bucket, options_.bucket}));
  return parsed;
}

Result<std::vector<S3MultipartUpload>> S3Client::ListMultipartUploads(const std::string& prefix) {
  std::vector<S3MultipartUpload> all;
  S3ListUploadsRequest req;
  req.prefix = prefix;
  while (true) {
    CK_ASSIGN_OR_RETURN(S3ListUploadsResult page, ListMultipartUploadsPage(req));
    if (!page.is_truncated) {
      for (auto& u : page.uploads) all.push_back(std::move(u));
      break;
    }
    // Continue after the last upload listed: that is what the Next*Marker
    // values mean, and it avoids their encoding differing between servers.
    std::string key_marker = page.next_key_marker;
    std::string id_marker = page.next_upload_id_marker;
    if (!page.uploads.empty()) {
      key_marker = page.uploads.back().key;
      id_marker = page.uploads.back().upload_id;
    }
    if (key_marker == req.key_marker && id_marker == req.upload_id_marker)
      return Status(ErrorKind::kTransient, S3ErrorPrefix({options_.name, "ListMultipartUploads",
                                                          options_.bucket, options_.bucket}) +
                                               ": the server's markers do not advance");
    for (auto& u : page.uploads) all.push_back(std::move(u));
    req.key_marker = std::move(key_marker);
    req.upload_id_marker = std::move(id_marker);
  }
  return all;
}

// ---------------------------------------------------------------- buckets

Status S3Client::HeadBucket() {
  Call c;
  c.operation = "HeadBucket";
  c.bucket_level = true;
  c.resource = S3Resource::kBucket;
  c.method = "HEAD";
  auto resp = Perform(c);
  return resp.ok() ? Status::OK() : resp.status();
}

Status S3Client::CreateBucket() {
  Call c;
  c.operation = "CreateBucket";
  c.bucket_level = true;
  c.resource = S3Resource::kBucket;
  c.method = "PUT";
  const std::string xml = BuildCreateBucketXml(options_.region);
  MemoryBody body(xml);
  if (!xml.empty()) {
    c.body = &body;
    c.headers.emplace_back("Content-Type", "application/xml");
  }
  c.payload_hash = HexEncode(Sha256(xml));
  CK_ASSIGN_OR_RETURN(HttpResponse resp, Execute(c));
  if (Is2xx(resp.status)) return Status::OK();
  auto doc = ParseS3Error(resp.body);
  if (resp.status == 409 && doc && doc->code == "BucketAlreadyOwnedByYou") return Status::OK();
  return ErrorFor(c, resp);
}

Status S3Client::DeleteBucket() {
  Call c;
  c.operation = "DeleteBucket";
  c.bucket_level = true;
  c.resource = S3Resource::kBucket;
  c.method = "DELETE";
  auto resp = Perform(c);
  return resp.ok() ? Status::OK() : resp.status();
}

}  // namespace ck
