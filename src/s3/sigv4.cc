#include "s3/sigv4.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Headers never signed: they are changed by proxies or by the transport.
bool Unsigned(std::string_view lower_name) {
  static constexpr std::string_view kSkip[] = {
      "authorization",       "connection", "expect",          "keep-alive",
      "proxy-authorization", "te",         "trailer",         "upgrade",
      "transfer-encoding",   "user-agent", "x-amzn-trace-id",
  };
  for (auto s : kSkip)
    if (s == lower_name) return true;
  return false;
}

void RemoveHeader(HttpHeaders* h, std::string_view name) {
  std::erase_if(*h, [&](const auto& kv) { return IEquals(kv.first, name); });
}

struct CanonicalHeaders {
  std::string text;            // "name:value\n" lines
  std::string signed_headers;  // "a;b;c"
};

CanonicalHeaders Canonicalize(const HttpHeaders& headers) {
  // std::map sorts names bytewise; values keep their order of appearance.
  std::map<std::string, std::string> merged;
  for (const auto& [name, value] : headers) {
    std::string lname = Lower(name);
    if (Unsigned(lname)) continue;
    std::string v = CanonicalHeaderValue(value);
    auto [it, inserted] = merged.try_emplace(lname, v);
    if (!inserted) {
      it->second += ',';
      it->second += v;
    }
  }
  CanonicalHeaders out;
  for (const auto& [name, value] : merged) {
    out.text += name;
    out.text += ':';
    out.text += value;
    out.text += '\n';
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }
  return out;
}

bool HasHeader(const HttpHeaders& h, std::string_view name) {
  return std::any_of(h.begin(), h.end(), [&](const auto& kv) { return IEquals(kv.first, name); });
}

std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> out;
  bool trailing_slash = !path.empty() && path.back() == '/';
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing_slash = true;
    } else if (seg == ".") {
      trailing_slash = true;
    } else if (!seg.empty()) {
      out.push_back(seg);
      trailing_slash = j < path.size();
    }
    i = j + 1;
  }
  std::string result;
  for (auto seg : out) {
    result += '/';
    result += seg;
  }
  if (result.empty() || trailing_slash) result += '/';
  return result;
}

}  // namespace

std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

Result<std::string> CanonicalQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t i = 0;
  while (i <= query.size()) {
    size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view part = query.substr(i, j - i);
    i = j + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view raw_name = part.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    std::string name, value;
    if (!UriDecode(raw_name, &name) || !UriDecode(raw_value, &value))
      return InvalidArgument("malformed percent-escape in query parameter");
    params.emplace_back(UriEncode(name), UriEncode(value));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [n, v] : params) {
    if (!out.empty()) out += '&';
    out += n;
    out += '=';
    out += v;
  }
  return out;
}

Result<std::string> CanonicalUri(std::string_view path, const SigV4Options& options) {
  if (options.path_mode == SigV4PathMode::kS3) {
    std::string decoded;
    if (!UriDecode(path, &decoded)) return InvalidArgument("malformed percent-escape in path");
    return UriEncode(decoded, /*keep_slash=*/true);
  }
  std::string p = options.normalize_path ? NormalizePath(path) : std::string(path);
  if (options.double_encode) p = UriEncode(p, /*keep_slash=*/true);
  return p;
}

std::string FormatAmzDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string DeriveSigV4SigningKey(std::string_view secret, std::string_view date,
                                  std::string_view region, std::string_view service) {
  std::string k = HmacSha256("AWS4" + std::string(secret), date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, "aws4_request");
}

// ---------------------------------------------------------------- key cache

SigningKeyCache::SigningKeyCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

std::string SigningKeyCache::Get(std::string_view secret, std::string_view date,
                                 std::string_view region, std::string_view service) {
  std::string id;
  id.reserve(date.size() + region.size() + service.size() + 35);
  id.append(date).push_back('\0');
  id.append(region).push_back('\0');
  id.append(service).push_back('\0');
  id += Sha256(secret);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = keys_.find(id); it != keys_.end()) return it->second;
  }
  std::string key = DeriveSigV4SigningKey(secret, date, region, service);
  std::lock_guard<std::mutex> l(mu_);
  ++derivations_;
  // Ids start with the date, so the first entry is (one of) the oldest.
  while (keys_.size() >= capacity_) keys_.erase(keys_.begin());
  keys_[id] = key;
  return key;
}

uint64_t SigningKeyCache::derivations() const {
  std::lock_guard<std::mutex> l(mu_);
  return derivations_;
}

// ---------------------------------------------------------------- signer

SigV4Signer::SigV4Signer(AwsCredentials credentials, SigV4Options options,
                         std::shared_ptr<SigningKeyCache> cache)
    : credentials_(std::move(credentials)),
      options_(std::move(options)),
      cache_(cache ? std::move(cache) : std::make_shared<SigningKeyCache>()) {}

std::string SigV4Signer::SigningKey(std::string_view date) const {
  return cache_->Get(credentials_.secret_access_key, date, options_.region, options_.service);
}

Result<SigV4Signature> SigV4Signer::Sign(const SigV4Request& req, std::string_view query,
                                         const std::string& amz_date) const {
  if (!HasHeader(req.headers, "host")) return InvalidArgument("request to sign has no Host header");
  CK_ASSIGN_OR_RETURN(std::string uri, CanonicalUri(req.path, options_));
  CK_ASSIGN_OR_RETURN(std::string canonical_query, CanonicalQueryString(query));
  CanonicalHeaders ch = Canonicalize(req.headers);

  SigV4Signature sig;
  sig.amz_date = amz_date;
  const std::string date = amz_date.substr(0, 8);
  sig.credential_scope = date + "/" + options_.region + "/" + options_.service + "/aws4_request";
  sig.signed_headers = ch.signed_headers;
  sig.canonical_request =
      req.method + "\n" + uri + "\n" + canonical_query + "\n" + ch.text + "\n" + ch.signed_headers +
      "\n" + (req.payload_hash.empty() ? std::string(kEmptySha256Hex) : req.payload_hash);
  sig.string_to_sign = std::string(kAlgorithm) + "\n" + amz_date + "\n" + sig.credential_scope +
                       "\n" + HexEncode(Sha256(sig.canonical_request));
  sig.signature = HexEncode(HmacSha256(SigningKey(date), sig.string_to_sign));
  return sig;
}

Result<SigV4Signature> SigV4Signer::SignHeaders(SigV4Request* req,
                                                std::chrono::system_clock::time_point now) const {
  const std::string amz_date = FormatAmzDate(now);
  const bool has_token = !credentials_.session_token.empty();
  RemoveHeader(&req->headers, "authorization");
  RemoveHeader(&req->headers, "x-amz-date");
  RemoveHeader(&req->headers, "x-amz-security-token");
  req->headers.emplace_back("X-Amz-Date", amz_date);
  if (has_token && options_.sign_session_token)
    req->headers.emplace_back("X-Amz-Security-Token", credentials_.session_token);
  if (options_.add_content_sha256) {
    RemoveHeader(&req->headers, "x-amz-content-sha256");
    req->headers.emplace_back("x-amz-content-sha256", req->payload_hash.empty()
                                                          ? std::string(kEmptySha256Hex)
                                                          : req->payload_hash);
  }
  CK_ASSIGN_OR_RETURN(SigV4Signature sig, Sign(*req, req->query, amz_date));
  if (has_token && !options_.sign_session_token)
    req->headers.emplace_back("X-Amz-Security-Token", credentials_.session_token);
  req->headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials_.access_key_id + "/" +
                           sig.credential_scope + ", SignedHeaders=" + sig.signed_headers +
                           ", Signature=" + sig.signature);
  return sig;
}

Result<SigV4Signature> SigV4Signer::Presign(SigV4Request* req, std::chrono::seconds expires,
                                            std::chrono::system_clock::time_point now) const {
  if (expires.count() < 1 || expires.count() > 604800)
    return InvalidArgument("presigned URL lifetime must be 1..604800 seconds");
  const std::string amz_date = FormatAmzDate(now);
  const std::string scope =
      amz_date.substr(0, 8) + "/" + options_.region + "/" + options_.service + "/aws4_request";
  const bool has_token = !credentials_.session_token.empty();
  std::string auth_query =
      "X-Amz-Algorithm=" + std::string(kAlgorithm) +
      "&X-Amz-Credential=" + UriEncode(credentials_.access_key_id + "/" + scope) +
      "&X-Amz-Date=" + amz_date + "&X-Amz-Expires=" + std::to_string(expires.count()) +
      "&X-Amz-SignedHeaders=" + UriEncode(Canonicalize(req->headers).signed_headers);
  if (has_token && options_.sign_session_token)
    auth_query += "&X-Amz-Security-Token=" + UriEncode(credentials_.session_token);
  std::string query = req->query.empty() ? auth_query : req->query + "&" + auth_query;
  CK_ASSIGN_OR_RETURN(SigV4Signature sig, Sign(*req, query, amz_date));
  if (has_token && !options_.sign_session_token)
    query += "&X-Amz-Security-Token=" + UriEncode(credentials_.session_token);
  query += "&X-Amz-Signature=" + sig.signature;
  req->query = std::move(query);
  return sig;
}

SigV4ChunkSigner SigV4Signer::StartChunks(const SigV4Signature& seed) const {
  return SigV4ChunkSigner(SigningKey(seed.amz_date.substr(0, 8)), seed.amz_date,
                          seed.credential_scope, seed.signature);
}

// ---------------------------------------------------------------- chunks

SigV4ChunkSigner::SigV4ChunkSigner(std::string signing_key, std::string amz_date, std::string scope,
                                   std::string seed_signature)
    : signing_key_(std::move(signing_key)),
      amz_date_(std::move(amz_date)),
      scope_(std::move(scope)),
      previous_signature_(std::move(seed_signature)) {}

std::string SigV4ChunkSigner::ChunkStringToSign(std::string_view data_sha256_hex) const {
  return "AWS4-HMAC-SHA256-PAYLOAD\n" + amz_date_ + "\n" + scope_ + "\n" + previous_signature_ +
         "\n" + std::string(kEmptySha256Hex) + "\n" + std::string(data_sha256_hex);
}

std::string SigV4ChunkSigner::SignChunk(std::string_view data) {
  previous_signature_ =
      HexEncode(HmacSha256(signing_key_, ChunkStringToSign(HexEncode(Sha256(data)))));
  return previous_signature_;
}

std::string SigV4ChunkSigner::ChunkHeader(uint64_t data_length, std::string_view signature) {
  char hex[24];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(data_length));
  return std::string(hex) + ";chunk-signature=" + std::string(signature);
}

std::string SigV4ChunkSigner::EncodeChunk(std::string_view data) {
  std::string sig = SignChunk(data);
  std::string out = ChunkHeader(data.size(), sig);
  out += "\r\n";
  out.append(data);
  out += "\r\n";
  return out;
}

std::string SigV4ChunkSigner::TrailerStringToSign(std::string_view canonical_trailers) const {
  return "AWS4-HMAC-SHA256-TRAILER\n" + amz_date_ + "\n" + scope_ + "\n" + previous_signature_ +
         "\n" + HexEncode(Sha256(canonical_trailers));
}

std::string SigV4ChunkSigner::SignTrailer(std::string_view canonical_trailers) {
  previous_signature_ =
      HexEncode(HmacSha256(signing_key_, TrailerStringToSign(canonical_trailers)));
  return previous_signature_;
}

std::string SigV4ChunkSigner::EncodeTrailer(const HttpHeaders& trailers) {
  std::string canonical, wire;
  for (const auto& [name, value] : trailers) {
    std::string lname = Lower(name);
    canonical += lname + ":" + CanonicalHeaderValue(value) + "\n";
    wire += lname + ":" + value + "\r\n";
  }
  wire += "x-amz-trailer-signature:" + SignTrailer(canonical) + "\r\n\r\n";
  return wire;
}

}  // namespace ck
