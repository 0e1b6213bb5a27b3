// SigV4 signer checked against the AWS test vectors copied into
// tests/data/sigv4/ (see its README.md): the v4/ suite (header and query
// variants) and the S3 worked examples, plus unit tests of the pieces.
#include "s3/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::system_clock;

const fs::path kDataDir = fs::path(CK_SOURCE_DIR) / "tests/data/sigv4";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "2015-08-30T12:36:00Z" or "20150830T123600Z"
Clock::time_point ParseTime(const std::string& s) {
  std::tm tm{};
  const char* fmt = s.find('-') != std::string::npos ? "%Y-%m-%dT%H:%M:%SZ" : "%Y%m%dT%H%M%SZ";
  EXPECT_NE(strptime(s.c_str(), fmt, &tm), nullptr) << s;
  return Clock::from_time_t(timegm(&tm));
}

// A request in the suite's request.txt format.
struct RawRequest {
  std::string method;
  std::string path;
  std::string query;
  HttpHeaders headers;
  std::string body;
};

RawRequest ParseRequest(const std::string& text) {
  RawRequest r;
  size_t eol = text.find('\n');
  std::string line = text.substr(0, eol);
  size_t sp = line.find(' ');
  size_t proto = line.rfind(" HTTP/");
  std::string target = line.substr(sp + 1, proto - sp - 1);
  r.method = line.substr(0, sp);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  size_t pos = eol + 1;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string::npos) e = text.size();
    std::string h = text.substr(pos, e - pos);
    pos = e + 1;
    if (h.empty()) {
      r.body = pos < text.size() ? text.substr(pos) : "";
      break;
    }
    if (h[0] == ' ' || h[0] == '\t') {  // folded continuation of the previous value
      r.headers.back().second += "\n" + h;
      continue;
    }
    size_t colon = h.find(':');
    r.headers.emplace_back(h.substr(0, colon), h.substr(colon + 1));
  }
  return r;
}

// Decoded (name, value) pairs of a query string, sorted, for order-free comparison.
std::vector<std::pair<std::string, std::string>> ParseQuery(const std::string& q) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream ss(q);
  std::string part;
  while (std::getline(ss, part, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string n, v;
    EXPECT_TRUE(UriDecode(part.substr(0, eq), &n));
    EXPECT_TRUE(UriDecode(eq == std::string::npos ? "" : part.substr(eq + 1), &v));
    out.emplace_back(n, v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, std::string>> NormalizedHeaders(const HttpHeaders& h) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : h) {
    std::string lk = k;
    std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
    out.emplace_back(lk, v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct V4Case {
  std::string name;
  fs::path dir;
  json context;
  RawRequest request;
};

std::vector<V4Case> LoadV4Cases() {
  std::vector<V4Case> cases;
  fs::path dir = kDataDir / "v4";
  if (!fs::is_directory(dir)) return cases;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    V4Case c;
    c.name = e.path().filename().string();
    c.dir = e.path();
    c.context = json::parse(ReadFile(e.path() / "context.json"));
    c.request = ParseRequest(ReadFile(e.path() / "request.txt"));
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(),
            [](const V4Case& a, const V4Case& b) { return a.name < b.name; });
  return cases;
}

SigV4Options OptionsFor(const V4Case& c, SigV4PathMode mode) {
  SigV4Options o;
  o.service = c.context["service"];
  o.region = c.context["region"];
  o.path_mode = mode;
  o.normalize_path = c.context["normalize"];
  // aws-c-auth runs the suite with double encoding on, over unencoded paths.
  o.double_encode = true;
  o.add_content_sha256 = c.context["sign_body"];
  o.sign_session_token = !c.context.value("omit_session_token", false);
  return o;
}

AwsCredentials CredentialsFor(const json& creds) {
  return {creds["access_key_id"], creds["secret_access_key"], creds.value("token", "")};
}

SigV4Request RequestFor(const V4Case& c) {
  SigV4Request r;
  r.method = c.request.method;
  r.path = c.request.path;
  r.query = c.request.query;
  r.headers = c.request.headers;
  if (c.context["sign_body"]) r.payload_hash = HexEncode(Sha256(c.request.body));
  return r;
}

// True when S3 rules (no normalization, single encoding) give the case's expected canonical URI.
bool AppliesToS3(const V4Case& c) {
  if (!c.context["normalize"]) return true;
  SigV4Options on, off;
  on.path_mode = off.path_mode = SigV4PathMode::kGeneric;
  off.normalize_path = false;
  return *CanonicalUri(c.request.path, on) == *CanonicalUri(c.request.path, off);
}

void CheckHeaderVariant(const V4Case& c, SigV4PathMode mode) {
  SCOPED_TRACE(c.name + (mode == SigV4PathMode::kS3 ? " [s3 header]" : " [generic header]"));
  SigV4Signer signer(CredentialsFor(c.context["credentials"]), OptionsFor(c, mode));
  SigV4Request req = RequestFor(c);
  auto sig = signer.SignHeaders(&req, ParseTime(c.context["timestamp"]));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->canonical_request, ReadFile(c.dir / "header-canonical-request.txt"));
  EXPECT_EQ(sig->string_to_sign, ReadFile(c.dir / "header-string-to-sign.txt"));
  EXPECT_EQ(sig->signature, ReadFile(c.dir / "header-signature.txt"));
  RawRequest expected = ParseRequest(ReadFile(c.dir / "header-signed-request.txt"));
  EXPECT_EQ(NormalizedHeaders(req.headers), NormalizedHeaders(expected.headers));
  EXPECT_EQ(req.query, expected.query);
}

void CheckQueryVariant(const V4Case& c, SigV4PathMode mode) {
  SCOPED_TRACE(c.name + (mode == SigV4PathMode::kS3 ? " [s3 query]" : " [generic query]"));
  SigV4Signer signer(CredentialsFor(c.context["credentials"]), OptionsFor(c, mode));
  SigV4Request req = RequestFor(c);
  auto sig = signer.Presign(&req, std::chrono::seconds(c.context["expiration_in_seconds"]),
                            ParseTime(c.context["timestamp"]));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->canonical_request, ReadFile(c.dir / "query-canonical-request.txt"));
  EXPECT_EQ(sig->string_to_sign, ReadFile(c.dir / "query-string-to-sign.txt"));
  EXPECT_EQ(sig->signature, ReadFile(c.dir / "query-signature.txt"));
  RawRequest expected = ParseRequest(ReadFile(c.dir / "query-signed-request.txt"));
  EXPECT_EQ(ParseQuery(req.query), ParseQuery(expected.query));
  EXPECT_EQ(NormalizedHeaders(req.headers), NormalizedHeaders(expected.headers));
}

TEST(SigV4SuiteTest, DataDirectoryIsComplete) {
  ASSERT_TRUE(fs::is_directory(kDataDir)) << kDataDir << " is missing";
  EXPECT_TRUE(fs::exists(kDataDir / "README.md"));
  EXPECT_TRUE(fs::exists(kDataDir / "v4/LICENSE"));
  EXPECT_TRUE(fs::exists(kDataDir / "v4/NOTICE"));
  EXPECT_TRUE(fs::exists(kDataDir / "s3-examples.json"));
}

TEST(SigV4SuiteTest, S3ModeHeaderAndQueryVariants) {
  auto cases = LoadV4Cases();
  ASSERT_EQ(cases.size(), 38u) << "v4 test cases missing under " << kDataDir;
  int checked = 0;
  for (const auto& c : cases) {
    if (!AppliesToS3(c)) continue;
    CheckHeaderVariant(c, SigV4PathMode::kS3);
    CheckQueryVariant(c, SigV4PathMode::kS3);
    ++checked;
  }
  // 38 cases minus the 6 whose path changes under normalization (S3 never normalizes).
  EXPECT_EQ(checked, 32);
}

TEST(SigV4SuiteTest, GenericModeAllCases) {
  auto cases = LoadV4Cases();
  ASSERT_EQ(cases.size(), 38u) << "v4 test cases missing under " << kDataDir;
  int normalized = 0;
  for (const auto& c : cases) {
    CheckHeaderVariant(c, SigV4PathMode::kGeneric);
    CheckQueryVariant(c, SigV4PathMode::kGeneric);
    if (!AppliesToS3(c)) ++normalized;
  }
  EXPECT_EQ(normalized, 6);
}

// ---------------------------------------------------------------- S3 examples

struct S3Examples {
  json doc;
  AwsCredentials creds;
  SigV4Options options;
  Clock::time_point now;
};

S3Examples LoadS3Examples() {
  S3Examples e;
  e.doc = json::parse(ReadFile(kDataDir / "s3-examples.json"));
  e.creds = CredentialsFor(e.doc["credentials"]);
  e.options.service = e.doc["service"];
  e.options.region = e.doc["region"];
  e.now = ParseTime(e.doc["timestamp"]);
  return e;
}

std::string RawQueryOf(const json& c) {
  if (c.contains("raw_query")) return c["raw_query"];
  std::string q;
  for (const auto& kv : c["query"]) {
    if (!q.empty()) q += '&';
    q += UriEncode(kv[0].get<std::string>()) + "=" + UriEncode(kv[1].get<std::string>());
  }
  return q;
}

std::string Unescape(std::string s) {
  for (size_t p; (p = s.find("\\r\\n")) != std::string::npos;) s.replace(p, 4, "\r\n");
  return s;
}

// Signs the seed request of a header-form case; checks it; returns the signature.
SigV4Signature CheckS3HeaderCase(const S3Examples& e, const json& c) {
  SigV4Signer signer(e.creds, e.options);
  SigV4Request req;
  req.method = c["method"];
  req.path = c["path"];
  req.query = RawQueryOf(c);
  req.payload_hash = c["payload_hash"];
  for (const auto& kv : c["headers"]) {
    std::string name = kv[0];
    // The signer adds these two itself.
    if (name == "x-amz-date" || name == "x-amz-content-sha256") continue;
    req.headers.emplace_back(name, kv[1]);
  }
  auto sig = signer.SignHeaders(&req, e.now);
  EXPECT_TRUE(sig.ok()) << sig.status().ToString();
  if (!sig.ok()) return {};
  EXPECT_EQ(sig->signed_headers, c["signed_headers"]);
  EXPECT_EQ(sig->canonical_request, c["canonical_request"]);
  EXPECT_EQ(sig->string_to_sign, c["string_to_sign"]);
  EXPECT_EQ(sig->signature, c["signature"]);
  auto sent = NormalizedHeaders(req.headers);
  for (const auto& kv : c["headers"]) {
    std::string lk = kv[0];
    std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
    EXPECT_TRUE(std::find(sent.begin(), sent.end(), std::make_pair(lk, kv[1].get<std::string>())) !=
                sent.end())
        << "header " << lk;
  }
  if (c.contains("authorization")) {
    auto strip = [](std::string s) {
      std::erase(s, ' ');
      return s;
    };
    EXPECT_EQ(strip(FindHeader(req.headers, "Authorization")), strip(c["authorization"]));
  }
  return *sig;
}

TEST(SigV4S3ExamplesTest, AllCases) {
  ASSERT_TRUE(fs::exists(kDataDir / "s3-examples.json")) << kDataDir << " is missing";
  S3Examples e = LoadS3Examples();
  int header = 0, query = 0, chunked = 0, trailer = 0;
  for (const auto& c : e.doc["cases"]) {
    const std::string type = c["signature_type"];
    SCOPED_TRACE(c["id"].get<std::string>());
    if (type == "header") {
      CheckS3HeaderCase(e, c);
      ++header;
    } else if (type == "query") {
      SigV4Signer signer(e.creds, e.options);
      SigV4Request req;
      req.method = c["method"];
      req.path = c["path"];
      req.payload_hash = c["payload_hash"];
      for (const auto& kv : c["headers"]) req.headers.emplace_back(kv[0], kv[1]);
      auto sig = signer.Presign(&req, std::chrono::seconds(c["expires"]), e.now);
      ASSERT_TRUE(sig.ok()) << sig.status().ToString();
      EXPECT_EQ(sig->canonical_request, c["canonical_request"]);
      EXPECT_EQ(sig->string_to_sign, c["string_to_sign"]);
      EXPECT_EQ(sig->signature, c["signature"]);
      std::string url = "https://" + c["host"].get<std::string>() + req.path + "?" + req.query;
      EXPECT_EQ(url, c["url"]);
      const std::string expected_url = c["url"];
      EXPECT_EQ(ParseQuery(req.query), ParseQuery(expected_url.substr(expected_url.find('?') + 1)));
      ++query;
    } else if (type == "header+chunks" || type == "header+chunks+trailer") {
      SigV4Signature seed = CheckS3HeaderCase(e, c);
      SigV4Signer signer(e.creds, e.options);
      SigV4ChunkSigner chunks = signer.StartChunks(seed);
      SigV4ChunkSigner framer = signer.StartChunks(seed);
      std::string wire;
      for (const auto& ch : c["chunks"]) {
        std::string data(ch["data_length"].get<size_t>(), 'a');
        EXPECT_EQ(HexEncode(Sha256(data)), ch["data_sha256"]);
        EXPECT_EQ(chunks.ChunkStringToSign(ch["data_sha256"].get<std::string>()),
                  ch["string_to_sign"]);
        std::string sig = chunks.SignChunk(data);
        EXPECT_EQ(sig, ch["signature"]);
        if (ch.contains("chunk_header")) {
          EXPECT_EQ(SigV4ChunkSigner::ChunkHeader(data.size(), sig), ch["chunk_header"]);
        }
        wire += framer.EncodeChunk(data);
      }
      if (type == "header+chunks") {
        std::string length;
        for (const auto& kv : c["headers"])
          if (kv[0] == "Content-Length") length = kv[1];
        EXPECT_EQ(std::to_string(wire.size()), length);
        ++chunked;
      } else {
        const json& t = c["trailer"];
        EXPECT_EQ(chunks.TrailerStringToSign(t["canonical_trailers"].get<std::string>()),
                  t["string_to_sign"]);
        SigV4ChunkSigner copy = chunks;
        EXPECT_EQ(copy.SignTrailer(t["canonical_trailers"].get<std::string>()), t["signature"]);
        EXPECT_EQ(chunks.EncodeTrailer({{"x-amz-checksum-crc32c", "sOO8/Q=="}}),
                  Unescape(t["wire"]));
        EXPECT_EQ(chunks.previous_signature(), t["signature"]);
        ++trailer;
      }
    } else {
      ADD_FAILURE() << "unknown signature_type " << type;
    }
  }
  EXPECT_EQ(header, 4);
  EXPECT_EQ(query, 1);
  EXPECT_EQ(chunked, 1);
  EXPECT_EQ(trailer, 1);
}

// ---------------------------------------------------------------- unit tests

SigV4Options S3Options() {
  return SigV4Options{};
}

TEST(SigV4Test, S3PathIsEncodedExactlyOnce) {
  SigV4Options s3 = S3Options();
  EXPECT_EQ(*CanonicalUri("/a b/c", s3), "/a%20b/c");
  EXPECT_EQ(*CanonicalUri("/a%20b/c", s3), "/a%20b/c");  // already encoded: kept
  EXPECT_EQ(*CanonicalUri("/a%2520b", s3), "/a%2520b");  // a key containing "%20"
  EXPECT_EQ(*CanonicalUri("/b/./x/../y//z", s3), "/b/./x/../y//z");
  EXPECT_EQ(*CanonicalUri("/k+e=y&", s3), "/k%2Be%3Dy%26");
  EXPECT_EQ(*CanonicalUri("/%e1%88%b4", s3), "/%E1%88%B4");
  EXPECT_FALSE(CanonicalUri("/bad%zz", s3).ok());
}

TEST(SigV4Test, GenericPathNormalizesAndEncodesTwice) {
  SigV4Options g;
  g.path_mode = SigV4PathMode::kGeneric;
  EXPECT_EQ(*CanonicalUri("/a%20b", g), "/a%2520b");
  EXPECT_EQ(*CanonicalUri("/a/b/../c/./d//", g), "/a/c/d/");
  EXPECT_EQ(*CanonicalUri("/a/b/..", g), "/a/");
  g.double_encode = false;
  EXPECT_EQ(*CanonicalUri("/a%20b", g), "/a%20b");
  g.normalize_path = false;
  EXPECT_EQ(*CanonicalUri("/a/../b", g), "/a/../b");
}

TEST(SigV4Test, CanonicalQuery) {
  EXPECT_EQ(*CanonicalQueryString(""), "");
  EXPECT_EQ(*CanonicalQueryString("b=2&a=1&a&uploads"), "a=&a=1&b=2&uploads=");
  EXPECT_EQ(*CanonicalQueryString("k=a%2fb&j=x y"), "j=x%20y&k=a%2Fb");
  EXPECT_EQ(*CanonicalQueryString("p=a+b"), "p=a%2Bb");  // '+' is not a space
  EXPECT_EQ(*CanonicalQueryString("&&x=1&"), "x=1");
  EXPECT_FALSE(CanonicalQueryString("x=%4").ok());
}

TEST(SigV4Test, CanonicalHeaderValue) {
  EXPECT_EQ(CanonicalHeaderValue("  a   b\t\tc  "), "a b c");
  EXPECT_EQ(CanonicalHeaderValue("v1\n  v2\r\n  v3"), "v1 v2 v3");
  EXPECT_EQ(CanonicalHeaderValue(""), "");
  EXPECT_EQ(CanonicalHeaderValue("   "), "");
}

TEST(SigV4Test, FormatAmzDate) {
  EXPECT_EQ(FormatAmzDate(ParseTime("2015-08-30T12:36:00Z")), "20150830T123600Z");
  EXPECT_EQ(FormatAmzDate(Clock::from_time_t(0)), "19700101T000000Z");
}

TEST(SigV4Test, MissingHostIsRejected) {
  SigV4Signer signer({"AK", "SK", ""}, S3Options());
  SigV4Request req;
  auto sig = signer.SignHeaders(&req, Clock::now());
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.status().kind(), ErrorKind::kInvalidArgument);
}

TEST(SigV4Test, PresignLifetimeLimits) {
  SigV4Signer signer({"AK", "SK", ""}, S3Options());
  SigV4Request req;
  req.headers = {{"Host", "h"}};
  EXPECT_FALSE(signer.Presign(&req, std::chrono::seconds(0), Clock::now()).ok());
  EXPECT_FALSE(signer.Presign(&req, std::chrono::seconds(604801), Clock::now()).ok());
  EXPECT_TRUE(signer.Presign(&req, std::chrono::seconds(604800), Clock::now()).ok());
}

TEST(SigV4Test, ResigningReplacesEarlierAuthHeaders) {
  SigV4Signer signer({"AK", "SK", "TOKEN"}, S3Options());
  SigV4Request req;
  req.headers = {{"Host", "h"}};
  ASSERT_TRUE(signer.SignHeaders(&req, Clock::now()).ok());
  auto second = signer.SignHeaders(&req, Clock::now() + std::chrono::hours(1));
  ASSERT_TRUE(second.ok());
  for (std::string_view name :
       {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}) {
    EXPECT_EQ(std::count_if(
                  req.headers.begin(), req.headers.end(),
                  [&](const auto& kv) { return strcasecmp(kv.first.c_str(), name.data()) == 0; }),
              1)
        << name;
  }
  EXPECT_EQ(FindHeader(req.headers, "x-amz-date"), second->amz_date);
  EXPECT_EQ(second->signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
}

TEST(SigV4Test, SecretNeverAppearsInOutput) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  SigV4Signer signer({"AKID", secret, "tok"}, S3Options());
  SigV4Request req;
  req.headers = {{"Host", "h"}};
  auto sig = signer.SignHeaders(&req, Clock::now());
  ASSERT_TRUE(sig.ok());
  for (const auto& [k, v] : req.headers) EXPECT_EQ(v.find(secret), std::string::npos) << k;
  for (const std::string* s : {&sig->canonical_request, &sig->string_to_sign, &sig->signature})
    EXPECT_EQ(s->find(secret), std::string::npos);
  SigV4Request q;
  q.headers = {{"Host", "h"}};
  ASSERT_TRUE(signer.Presign(&q, std::chrono::seconds(60), Clock::now()).ok());
  EXPECT_EQ(q.query.find(secret), std::string::npos);
  EXPECT_EQ(q.query.find(UriEncode(secret)), std::string::npos);
}

TEST(SigV4Test, KeyCacheDerivesOncePerDay) {
  auto cache = std::make_shared<SigningKeyCache>(4);
  SigV4Signer signer({"AK", "SK", ""}, S3Options(), cache);
  auto t0 = ParseTime("2024-05-01T10:00:00Z");
  SigV4Request req;
  req.headers = {{"Host", "h"}};
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(signer.SignHeaders(&req, t0 + std::chrono::minutes(i)).ok());
  EXPECT_EQ(cache->derivations(), 1u);
  ASSERT_TRUE(signer.SignHeaders(&req, t0 + std::chrono::hours(24)).ok());
  EXPECT_EQ(cache->derivations(), 2u);
  // A different secret sharing the cache must not reuse the key.
  SigV4Signer other({"AK", "SK2", ""}, S3Options(), cache);
  auto a = signer.SignHeaders(&req, t0);
  auto b = other.SignHeaders(&req, t0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->signature, b->signature);
  EXPECT_EQ(cache->derivations(), 3u);
  EXPECT_EQ(cache->Get("SK", "20240501", "us-east-1", "s3"),
            DeriveSigV4SigningKey("SK", "20240501", "us-east-1", "s3"));
}

TEST(SigV4Test, KeyCacheEvictsWhenFull) {
  SigningKeyCache cache(2);
  cache.Get("S", "20240101", "r", "s");
  cache.Get("S", "20240102", "r", "s");
  cache.Get("S", "20240103", "r", "s");  // evicts 20240101
  EXPECT_EQ(cache.derivations(), 3u);
  cache.Get("S", "20240103", "r", "s");
  cache.Get("S", "20240102", "r", "s");
  EXPECT_EQ(cache.derivations(), 3u);
  cache.Get("S", "20240101", "r", "s");
  EXPECT_EQ(cache.derivations(), 4u);
}

TEST(SigV4Test, ConcurrentSigningIsConsistent) {
  SigV4Signer signer({"AK", "SK", ""}, S3Options());
  auto t0 = ParseTime("2024-05-01T10:00:00Z");
  SigV4Request base;
  base.headers = {{"Host", "h"}};
  SigV4Request r0 = base;
  const std::string expected = signer.SignHeaders(&r0, t0)->signature;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        SigV4Request r = base;
        auto s = signer.SignHeaders(&r, t0);
        if (!s.ok() || s->signature != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(signer.key_cache().derivations(), 1u);
}

}  // namespace
}  // namespace ck
