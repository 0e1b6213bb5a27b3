// S3Client against a scripted fake transport: the requests it builds (URL,
// headers, signature, body) and how it reads responses and errors.
#include "s3/s3_client.h"

#include <gtest/gtest.h>

#include <ctime>
#include <deque>

#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

using Clock = std::chrono::system_clock;

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

// What the fake saw of one request.
struct Seen {
  std::string method, url;
  HttpHeaders headers;
  std::string body;
  std::string Header(std::string_view n) const { return FindHeader(headers, n); }
  // Path and query of the URL.
  std::string Path() const {
    std::string rest = url.substr(url.find("://") + 3);
    std::string pq = rest.substr(rest.find('/'));
    return pq.substr(0, pq.find('?'));
  }
  std::string Query() const {
    size_t q = url.find('?');
    return q == std::string::npos ? "" : url.substr(q + 1);
  }
};

// Scripted transport. Like HttpClient today, it streams any response body
// (errors included) to body_sink when one is set.
struct FakeS3 {
  std::vector<Seen> seen;
  std::deque<Result<HttpResponse>> replies;

  void Reply(int status, std::string body = "", HttpHeaders headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    replies.emplace_back(std::move(r));
  }

  Result<HttpResponse> Send(const HttpRequest& req) {
    Seen s{req.method, req.url, req.headers, ""};
    if (req.body != nullptr) {
      s.body.resize(req.body->size());
      auto n = req.body->ReadAt(0, s.body.data(), s.body.size());
      EXPECT_TRUE(n.ok());
    }
    seen.push_back(std::move(s));
    if (replies.empty()) {
      ADD_FAILURE() << "unexpected request " << req.method << " " << req.url;
      return Status(ErrorKind::kInternal, "no scripted reply");
    }
    Result<HttpResponse> r = std::move(replies.front());
    replies.pop_front();
    if (r.ok() && req.body_sink) {
      std::string body = std::move(r->body);
      r->body.clear();
      for (size_t off = 0; off < body.size(); off += 16384) {
        if (!req.body_sink(std::string_view(body).substr(off, 16384)))
          return Status(ErrorKind::kCancelled, "download aborted by the receiver");
      }
    }
    return r;
  }
};

Clock::time_point FixedTime() {
  return Clock::from_time_t(1369353600);
}  // 2013-05-24T00:00:00Z

S3ClientOptions Options(std::string endpoint = "http://127.0.0.1:9000") {
  S3ClientOptions o;
  o.name = "test-s3";
  o.endpoint = std::move(endpoint);
  o.bucket = "my-bucket";
  o.credentials = {"AKIAIOSFODNN7EXAMPLE", kSecret, ""};
  o.clock = FixedTime;
  return o;
}

std::unique_ptr<S3Client> MakeClient(FakeS3* fake, S3ClientOptions o = Options()) {
  auto c = S3Client::MakeWithTransport(std::move(o),
                                       [fake](const HttpRequest& r) { return fake->Send(r); });
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Recomputes the signature of what was sent, from the wire form alone.
void ExpectSigned(const Seen& s,
                  const AwsCredentials& creds = {"AKIAIOSFODNN7EXAMPLE", kSecret, ""},
                  const std::string& region = "us-east-1") {
  SigV4Request req;
  req.method = s.method;
  req.path = s.Path();
  req.query = s.Query();
  for (const auto& h : s.headers)
    if (strcasecmp(h.first.c_str(), "Authorization") != 0) req.headers.push_back(h);
  req.payload_hash = s.Header("x-amz-content-sha256");
  std::tm tm{};
  ASSERT_NE(strptime(s.Header("X-Amz-Date").c_str(), "%Y%m%dT%H%M%SZ", &tm), nullptr);
  SigV4Signer signer(creds, SigV4Options{.region = region});
  ASSERT_TRUE(signer.SignHeaders(&req, Clock::from_time_t(timegm(&tm))).ok());
  EXPECT_EQ(s.Header("Authorization"), FindHeader(req.headers, "Authorization"));
  EXPECT_EQ(s.Header("Host"),
            s.url.substr(s.url.find("://") + 3,
                         s.url.find('/', s.url.find("://") + 3) - s.url.find("://") - 3));
  std::string hash = s.Header("x-amz-content-sha256");
  if (hash != kUnsignedPayload) {
    EXPECT_EQ(hash, HexEncode(Sha256(s.body)));
  }
  std::string md5 = s.Header("Content-MD5");
  if (!md5.empty()) {
    EXPECT_EQ(md5, Base64Encode(Md5(s.body)));
  }
}

std::string ErrorXml(const std::string& code) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
         "</Code><Message></Message></Error>";
}

// ---------------------------------------------------------------- options

TEST(S3ClientOptionsTest, DefaultsAndAddressingStyle) {
  FakeS3 fake;
  S3ClientOptions o = Options("");
  o.region = "eu-west-1";
  auto c = MakeClient(&fake, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->options().endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_FALSE(c->options().path_style);
  EXPECT_EQ(c->host(), "my-bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c->ObjectUrl("a b"), "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b");
  EXPECT_EQ(c->BucketUrl(), "https://my-bucket.s3.eu-west-1.amazonaws.com/");

  for (const char* ep : {"http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000",
                         "https://10.0.0.7", "HTTP://LOCALHOST:9000/"}) {
    auto p = MakeClient(&fake, Options(ep));
    ASSERT_TRUE(p) << ep;
    EXPECT_TRUE(p->options().path_style) << ep;
    EXPECT_EQ(p->ObjectUrl("k"), p->options().endpoint + "/my-bucket/k") << ep;
  }
  EXPECT_EQ(MakeClient(&fake, Options("http://[::1]:9000"))->host(), "[::1]:9000");

  // Dotted bucket over https cannot be virtual-hosted (certificate wildcard).
  S3ClientOptions dotted = Options("https://s3.example.com");
  dotted.bucket = "my.bucket";
  EXPECT_TRUE(MakeClient(&fake, dotted)->options().path_style);
  S3ClientOptions legacy = Options("https://s3.example.com");
  legacy.bucket = "My_Bucket";
  EXPECT_TRUE(MakeClient(&fake, legacy)->options().path_style);
  S3ClientOptions vhost = Options("https://s3.example.com");
  EXPECT_FALSE(MakeClient(&fake, vhost)->options().path_style);
}

TEST(S3ClientOptionsTest, Validation) {
  auto make = [](S3ClientOptions o) {
    return S3Client::MakeWithTransport(std::move(o),
                                       [](const HttpRequest&) -> Result<HttpResponse> {
                                         return Status(ErrorKind::kInternal, "unused");
                                       });
  };
  auto expect_kind = [&](S3ClientOptions o, ErrorKind kind, const char* what) {
    auto r = make(std::move(o));
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().kind(), kind) << what << ": " << r.status().ToString();
    EXPECT_EQ(r.status().message().find(kSecret), std::string::npos);
  };
  S3ClientOptions o = Options();
  o.bucket = "";
  expect_kind(o, ErrorKind::kConfig, "empty bucket");
  o = Options();
  o.bucket = "bad/bucket";
  expect_kind(o, ErrorKind::kConfig, "bucket with slash");
  o = Options();
  o.region = "";
  expect_kind(o, ErrorKind::kConfig, "empty region");
  o = Options();
  o.region = "EU West";
  expect_kind(o, ErrorKind::kConfig, "bad region");
  o = Options("ftp://host");
  expect_kind(o, ErrorKind::kConfig, "bad scheme");
  o = Options("http://host/path");
  expect_kind(o, ErrorKind::kConfig, "path in endpoint");
  o = Options("http://host:99999");
  expect_kind(o, ErrorKind::kConfig, "bad port");
  o = Options("http://host:");
  expect_kind(o, ErrorKind::kConfig, "empty port");
  o = Options("http://user@host");
  expect_kind(o, ErrorKind::kConfig, "userinfo");
  o = Options();
  o.credentials.secret_access_key = "";
  expect_kind(o, ErrorKind::kAuth, "no secret");
  o = Options();
  o.credentials.access_key_id = "";
  expect_kind(o, ErrorKind::kAuth, "no access key");
  o = Options();
  o.credentials.session_token = "tok\r\nX-Evil: 1";
  expect_kind(o, ErrorKind::kConfig, "header injection in token");
  EXPECT_EQ(S3Client::Make(Options(), nullptr).status().kind(), ErrorKind::kConfig);
}

// ---------------------------------------------------------------- keys

TEST(S3ClientKeysTest, AwkwardKeysAreEncodedOnce) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  const std::string base = "http://127.0.0.1:9000/my-bucket/";
  EXPECT_EQ(c->ObjectUrl("plain/key.txt"), base + "plain/key.txt");
  EXPECT_EQ(c->ObjectUrl("a b+c%d&e?f#g=h'i\"j;k,l[m]n{o}p~q@r!s"),
            base + "a%20b%2Bc%25d%26e%3Ff%23g%3Dh%27i%22j%3Bk%2Cl%5Bm%5Dn%7Bo%7Dp~q%40r%21s");
  EXPECT_EQ(c->ObjectUrl(" lead and trail "), base + "%20lead%20and%20trail%20");
  EXPECT_EQ(c->ObjectUrl("a//b/./c/../d"), base + "a//b/./c/../d");
  EXPECT_EQ(c->ObjectUrl("/rooted"), base + "/rooted");
  EXPECT_EQ(c->ObjectUrl("caf\xC3\xA9/\xE2\x82\xAC"), base + "caf%C3%A9/%E2%82%AC");
  EXPECT_EQ(c->ObjectUrl("tab\tnl\n"), base + "tab%09nl%0A");
  EXPECT_EQ(c->ObjectUrl("%20"), base + "%2520");
}

TEST(S3ClientKeysTest, InvalidKeysAreRejectedWithoutARequest) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  EXPECT_EQ(c->HeadObject("").status().kind(), ErrorKind::kInvalidName);
  EXPECT_EQ(c->HeadObject(std::string(1025, 'k')).status().kind(), ErrorKind::kInvalidName);
  EXPECT_EQ(c->HeadObject("bad\xFFutf8").status().kind(), ErrorKind::kInvalidName);
  EXPECT_TRUE(fake.seen.empty());
  fake.Reply(404);  // 1024 bytes is still allowed: it goes out
  EXPECT_EQ(c->HeadObject(std::string(1024, 'k')).status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(fake.seen.size(), 1u);
}

// ---------------------------------------------------------------- objects

TEST(S3ClientTest, PutObjectSendsDigestsMetadataAndSignature) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  const std::string data = "hello";
  MemoryBody body(data);
  fake.Reply(200, "",
             {{"ETag", "\"5d41402abc4b2a76b9719d911017c592\""}, {"x-amz-version-id", "v1"}});
  S3PutObjectRequest req;
  req.key = "dir/my file+1.txt";
  req.body = &body;
  req.md5 = Md5(data);
  req.sha256 = Sha256(data);
  req.metadata = {{"Sha256", "abc"}, {"mtime", "1700000000"}};
  auto r = c->PutObject(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->etag, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(r->version_id, "v1");
  ASSERT_EQ(fake.seen.size(), 1u);
  const Seen& s = fake.seen[0];
  EXPECT_EQ(s.method, "PUT");
  EXPECT_EQ(s.url, "http://127.0.0.1:9000/my-bucket/dir/my%20file%2B1.txt");
  EXPECT_EQ(s.body, data);
  EXPECT_EQ(s.Header("Content-MD5"), "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(s.Header("x-amz-content-sha256"), HexEncode(Sha256(data)));
  EXPECT_EQ(s.Header("x-amz-meta-sha256"), "abc");
  EXPECT_EQ(s.Header("x-amz-meta-mtime"), "1700000000");
  EXPECT_EQ(s.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(s.Header("X-Amz-Date"), "20130524T000000Z");
  EXPECT_NE(s.Header("Authorization").find("SignedHeaders=content-md5;content-type;host;"),
            std::string::npos);
  ExpectSigned(s);
}

TEST(S3ClientTest, PutObjectWithoutDigestsComputesMd5AndSendsUnsignedPayload) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  std::string data(3 << 20, 'x');
  MemoryBody body(data);
  fake.Reply(200, "", {{"ETag", "\"e\""}});
  S3PutObjectRequest req;
  req.key = "k";
  req.body = &body;
  ASSERT_TRUE(c->PutObject(req).ok());
  EXPECT_EQ(fake.seen[0].Header("Content-MD5"), Base64Encode(Md5(data)));
  EXPECT_EQ(fake.seen[0].Header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  ExpectSigned(fake.seen[0]);

  // Empty object: no body at all.
  fake.Reply(200, "", {{"ETag", "\"d41d8cd98f00b204e9800998ecf8427e\""}});
  S3PutObjectRequest empty;
  empty.key = "empty";
  auto r = c->PutObject(empty);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(fake.seen[1].Header("Content-MD5"), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

TEST(S3ClientTest, PutObjectRejectsBadInput) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  MemoryBody body("x");
  S3PutObjectRequest req;
  req.key = "k";
  req.body = &body;
  req.md5 = "short";
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kInvalidArgument);
  req.md5 = "";
  req.metadata = {{"bad name", "v"}};
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kInvalidArgument);
  req.metadata = {{"name", "caf\xC3\xA9"}};
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kInvalidArgument);
  req.metadata = {{"name", "line\r\nbreak"}};
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kInvalidArgument);
  req.metadata = {{"a", "1"}, {"A", "2"}};
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kInvalidArgument);
  req.metadata = {{"big", std::string(2100, 'v')}};
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(fake.seen.empty());
}

TEST(S3ClientTest, PutObjectErrorsAreClassified) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  MemoryBody body("x");
  S3PutObjectRequest req;
  req.key = "photos/a.jpg";
  req.body = &body;
  fake.Reply(403, ErrorXml("SignatureDoesNotMatch"));
  Status st = c->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kAuth);
  EXPECT_EQ(st.message(),
            "test-s3: PutObject photos/a.jpg: 403 SignatureDoesNotMatch (the secret access key is "
            "wrong)");
  EXPECT_EQ(st.message().find(kSecret), std::string::npos);
  fake.Reply(400, ErrorXml("BadDigest"));
  EXPECT_EQ(c->PutObject(req).status().kind(), ErrorKind::kChecksumMismatch);
  fake.Reply(503, ErrorXml("SlowDown"), {{"Retry-After", "3"}});
  st = c->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kThrottled);
  EXPECT_EQ(st.retry_after(), std::chrono::milliseconds(3000));
  // Transport failures keep their kind and gain context.
  fake.replies.emplace_back(Status(ErrorKind::kTransient, "127.0.0.1:9000: connection lost"));
  st = c->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_EQ(st.message(), "test-s3: PutObject photos/a.jpg: 127.0.0.1:9000: connection lost");
}

TEST(S3ClientTest, HeadObjectReadsHeaders) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200, "",
             {{"Content-Length", "434234"},
              {"ETag", "\"fba9dede5f27731c9771645a39863328\""},
              {"Last-Modified", "Mon, 12 Oct 2009 17:50:00 GMT"},
              {"Content-Type", "text/plain"},
              {"X-Amz-Meta-Sha256", "abc"},
              {"x-amz-meta-mtime", "17"},
              {"x-amz-version-id", "v9"}});
  auto h = c->HeadObject("k");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->size, 434234u);
  EXPECT_EQ(h->etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(h->last_modified_ms, 1255369800000);
  EXPECT_EQ(h->content_type, "text/plain");
  EXPECT_EQ(h->version_id, "v9");
  EXPECT_EQ(h->metadata, (std::map<std::string, std::string>{{"sha256", "abc"}, {"mtime", "17"}}));
  EXPECT_EQ(fake.seen[0].method, "HEAD");
  ExpectSigned(fake.seen[0]);

  fake.Reply(404);
  Status st = c->HeadObject("missing").status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_EQ(st.message(), "test-s3: HeadObject missing: 404 Not Found (the object does not exist)");
}

TEST(S3ClientTest, GetObjectRangeStreams) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(206, "bcd", {{"Content-Range", "bytes 1-3/10"}});
  std::string got;
  Status st = c->GetObject("k", S3Range{1, 3}, [&](std::string_view d) {
    got.append(d);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, "bcd");
  EXPECT_EQ(fake.seen[0].Header("Range"), "bytes=1-3");
  ExpectSigned(fake.seen[0]);
}

TEST(S3ClientTest, GetObjectLargeBodyArrivesInOrder) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  std::string data;
  for (int i = 0; i < 100000; ++i) data += std::to_string(i);
  fake.Reply(200, data);
  std::string got;
  ASSERT_TRUE(c->GetObject("k", std::nullopt, [&](std::string_view d) {
                 got.append(d);
                 return true;
               }).ok());
  EXPECT_EQ(got, data);
  EXPECT_EQ(fake.seen[0].Header("Range"), "");
}

TEST(S3ClientTest, GetObjectErrorBodyNeverReachesTheSink) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(404, ErrorXml("NoSuchKey"));
  bool called = false;
  Status st = c->GetObject("gone", std::nullopt, [&](std::string_view) { return called = true; });
  EXPECT_FALSE(called);
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_EQ(st.message(), "test-s3: GetObject gone: 404 NoSuchKey (the object does not exist)");
  fake.Reply(404, ErrorXml("NoSuchBucket"));
  st = c->GetObject("k", std::nullopt, [&](std::string_view) { return true; });
  EXPECT_NE(st.message().find("bucket my-bucket does not exist"), std::string::npos);
}

TEST(S3ClientTest, GetObjectRangeIgnoredIsAnError) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200, "whole object");
  bool called = false;
  Status st = c->GetObject("k", S3Range{0, 3}, [&](std::string_view) { return called = true; });
  EXPECT_EQ(st.kind(), ErrorKind::kPermanent);
  EXPECT_FALSE(called);
  EXPECT_EQ(c->GetObject("k", S3Range{5, 4}, [](std::string_view) { return true; }).kind(),
            ErrorKind::kInvalidArgument);
}

TEST(S3ClientTest, GetObjectSinkCanStop) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200, std::string(200000, 'z'));
  int calls = 0;
  Status st = c->GetObject("k", std::nullopt, [&](std::string_view) {
    ++calls;
    return false;
  });
  EXPECT_EQ(st.kind(), ErrorKind::kCancelled);
  EXPECT_EQ(calls, 1);
  // Small body: the stop comes after the response.
  fake.Reply(200, "tiny");
  st = c->GetObject("k", std::nullopt, [&](std::string_view) { return false; });
  EXPECT_EQ(st.kind(), ErrorKind::kCancelled);
}

TEST(S3ClientTest, DeleteObject) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(204);
  EXPECT_TRUE(c->DeleteObject("a b").ok());
  EXPECT_EQ(fake.seen[0].method, "DELETE");
  EXPECT_EQ(fake.seen[0].url, "http://127.0.0.1:9000/my-bucket/a%20b");
  ExpectSigned(fake.seen[0]);
  fake.Reply(404, ErrorXml("NoSuchKey"));
  EXPECT_TRUE(c->DeleteObject("k").ok());
  fake.Reply(404, ErrorXml("NoSuchBucket"));
  Status st = c->DeleteObject("k");
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_NE(st.message().find("bucket my-bucket does not exist"), std::string::npos);
  fake.Reply(403, ErrorXml("AccessDenied"));
  EXPECT_EQ(c->DeleteObject("k").kind(), ErrorKind::kAuth);
}

TEST(S3ClientTest, ListObjectsV2Request) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200,
             "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
             "<NextContinuationToken>tok/2=</NextContinuationToken>"
             "<Contents><Key>p/a+b%01</Key><Size>3</Size><ETag>\"e\"</ETag></Contents>"
             "<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes></ListBucketResult>");
  S3ListObjectsRequest req;
  req.prefix = "p/ x+";
  req.delimiter = "/";
  req.continuation_token = "tok/1=";
  req.max_keys = 5000;
  auto r = c->ListObjectsV2(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->objects.size(), 1u);
  EXPECT_EQ(r->objects[0].key, "p/a b\x01");
  EXPECT_EQ(r->common_prefixes, std::vector<std::string>{"p/d/"});
  EXPECT_EQ(r->next_continuation_token, "tok/2=");
  const Seen& s = fake.seen[0];
  EXPECT_EQ(s.Path(), "/my-bucket");
  EXPECT_EQ(s.Query(),
            "list-type=2&continuation-token=tok%2F1%3D&delimiter=%2F&encoding-type=url&"
            "max-keys=1000&prefix=p%2F%20x%2B");
  ExpectSigned(s);

  fake.Reply(200, "<html>proxy page</html>");
  Status st = c->ListObjectsV2({}).status();
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_NE(st.message().find("test-s3: ListObjectsV2 my-bucket: malformed"), std::string::npos);
}

// ---------------------------------------------------------------- multipart

TEST(S3ClientTest, MultipartFlow) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200,
             "<InitiateMultipartUploadResult><UploadId>up/1+x</UploadId>"
             "</InitiateMultipartUploadResult>");
  auto id = c->CreateMultipartUpload("big file", {{"sha256", "f00"}}, "");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "up/1+x");
  EXPECT_EQ(fake.seen[0].method, "POST");
  EXPECT_EQ(fake.seen[0].Query(), "uploads");
  EXPECT_EQ(fake.seen[0].Header("x-amz-meta-sha256"), "f00");
  ExpectSigned(fake.seen[0]);

  std::string part = "part-data";
  MemoryBody body(part);
  fake.Reply(200, "", {{"ETag", "\"p1etag\""}});
  S3UploadPartRequest up;
  up.key = "big file";
  up.upload_id = *id;
  up.part_number = 1;
  up.body = &body;
  up.sha256 = Sha256(part);
  auto etag = c->UploadPart(up);
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(*etag, "p1etag");
  EXPECT_EQ(fake.seen[1].method, "PUT");
  EXPECT_EQ(fake.seen[1].Query(), "partNumber=1&uploadId=up%2F1%2Bx");
  EXPECT_EQ(fake.seen[1].Header("Content-MD5"), Base64Encode(Md5(part)));
  ExpectSigned(fake.seen[1]);

  // RGW: empty ETag in the Complete response -> HEAD.
  fake.Reply(200,
             "<CompleteMultipartUploadResult><Key>big file</Key><ETag></ETag>"
             "</CompleteMultipartUploadResult>");
  fake.Reply(200, "", {{"Content-Length", "9"}, {"ETag", "\"final-1\""}});
  auto done = c->CompleteMultipartUpload("big file", *id, {{1, *etag}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->etag, "final-1");
  EXPECT_EQ(fake.seen[2].method, "POST");
  EXPECT_EQ(fake.seen[2].Query(), "uploadId=up%2F1%2Bx");
  EXPECT_NE(fake.seen[2].body.find("<PartNumber>1</PartNumber><ETag>&quot;p1etag&quot;</ETag>"),
            std::string::npos);
  ExpectSigned(fake.seen[2]);
  EXPECT_EQ(fake.seen[3].method, "HEAD");
}

TEST(S3ClientTest, CompleteWithEtagNeedsNoHead) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200,
             "<CompleteMultipartUploadResult><ETag>\"abc-2\"</ETag>"
             "</CompleteMultipartUploadResult>",
             {{"x-amz-version-id", "v3"}});
  auto done = c->CompleteMultipartUpload("k", "u", {{1, "a"}, {2, "b"}});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->etag, "abc-2");
  EXPECT_EQ(done->version_id, "v3");
  EXPECT_EQ(fake.seen.size(), 1u);
}

TEST(S3ClientTest, CompleteErrorInside200) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200, "\n\n" + ErrorXml("InternalError"));
  Status st = c->CompleteMultipartUpload("k", "u", {{1, "a"}}).status();
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_NE(st.message().find("CompleteMultipartUpload k: 200 InternalError"), std::string::npos);
  fake.Reply(400, ErrorXml("InvalidPart"));
  EXPECT_EQ(c->CompleteMultipartUpload("k", "u", {{1, "a"}}).status().kind(),
            ErrorKind::kPermanent);
  fake.Reply(404, ErrorXml("NoSuchUpload"));
  st = c->CompleteMultipartUpload("k", "u", {{1, "a"}}).status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_NE(st.message().find("multipart upload does not exist"), std::string::npos);
  // Local checks.
  EXPECT_EQ(c->CompleteMultipartUpload("k", "u", {}).status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(c->CompleteMultipartUpload("k", "u", {{2, "a"}, {1, "b"}}).status().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(fake.seen.size(), 3u);
}

TEST(S3ClientTest, ListPartsFollowsMarker) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200,
             "<ListPartsResult><IsTruncated>true</IsTruncated>"
             "<NextPartNumberMarker>2</NextPartNumberMarker>"
             "<Part><PartNumber>1</PartNumber><Size>5</Size><ETag>\"a\"</ETag></Part>"
             "<Part><PartNumber>2</PartNumber><Size>5</Size><ETag>\"b\"</ETag></Part>"
             "</ListPartsResult>");
  fake.Reply(200,
             "<ListPartsResult><IsTruncated>false</IsTruncated>"
             "<Part><PartNumber>3</PartNumber><Size>1</Size><ETag>\"c\"</ETag></Part>"
             "</ListPartsResult>");
  auto parts = c->ListParts("k", "u");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[2].part_number, 3);
  EXPECT_EQ((*parts)[2].etag, "c");
  EXPECT_EQ(fake.seen[0].Query(), "max-parts=1000&uploadId=u");
  EXPECT_EQ(fake.seen[1].Query(), "max-parts=1000&part-number-marker=2&uploadId=u");
  // A marker that does not advance must not loop forever.
  fake.Reply(200,
             "<ListPartsResult><IsTruncated>true</IsTruncated>"
             "<NextPartNumberMarker>2</NextPartNumberMarker></ListPartsResult>");
  fake.Reply(200,
             "<ListPartsResult><IsTruncated>true</IsTruncated>"
             "<NextPartNumberMarker>2</NextPartNumberMarker></ListPartsResult>");
  EXPECT_FALSE(c->ListParts("k", "u").ok());
}

TEST(S3ClientTest, AbortIsIdempotent) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(204);
  EXPECT_TRUE(c->AbortMultipartUpload("k", "u").ok());
  EXPECT_EQ(fake.seen[0].method, "DELETE");
  EXPECT_EQ(fake.seen[0].Query(), "uploadId=u");
  fake.Reply(404, ErrorXml("NoSuchUpload"));
  EXPECT_TRUE(c->AbortMultipartUpload("k", "u").ok());
  fake.Reply(404, ErrorXml("NoSuchBucket"));
  EXPECT_EQ(c->AbortMultipartUpload("k", "u").kind(), ErrorKind::kNotFound);
}

TEST(S3ClientTest, ListMultipartUploadsPages) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200,
             "<ListMultipartUploadsResult><EncodingType>url</EncodingType>"
             "<IsTruncated>true</IsTruncated><NextKeyMarker>a+1</NextKeyMarker>"
             "<NextUploadIdMarker>u1</NextUploadIdMarker>"
             "<Upload><Key>a+1</Key><UploadId>u1</UploadId></Upload>"
             "</ListMultipartUploadsResult>");
  fake.Reply(200,
             "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
             "<Upload><Key>b</Key><UploadId>u2</UploadId></Upload>"
             "</ListMultipartUploadsResult>");
  auto ups = c->ListMultipartUploads("");
  ASSERT_TRUE(ups.ok()) << ups.status().ToString();
  ASSERT_EQ(ups->size(), 2u);
  EXPECT_EQ((*ups)[0].key, "a 1");
  EXPECT_EQ((*ups)[1].upload_id, "u2");
  EXPECT_EQ(fake.seen[0].Query(), "encoding-type=url&max-uploads=1000&uploads");
  EXPECT_EQ(fake.seen[1].Query(),
            "encoding-type=url&key-marker=a%201&max-uploads=1000&upload-id-marker=u1&uploads");
  ExpectSigned(fake.seen[1]);
}

// ---------------------------------------------------------------- buckets

TEST(S3ClientTest, HeadBucket) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200);
  EXPECT_TRUE(c->HeadBucket().ok());
  EXPECT_EQ(fake.seen[0].method, "HEAD");
  EXPECT_EQ(fake.seen[0].url, "http://127.0.0.1:9000/my-bucket");
  ExpectSigned(fake.seen[0]);
  fake.Reply(404);
  Status st = c->HeadBucket();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_EQ(st.message(),
            "test-s3: HeadBucket my-bucket: 404 Not Found (bucket my-bucket does not exist)");
  fake.Reply(403);
  EXPECT_EQ(c->HeadBucket().kind(), ErrorKind::kAuth);
}

TEST(S3ClientTest, CreateBucketLocationConstraint) {
  FakeS3 fake;
  auto c = MakeClient(&fake);
  fake.Reply(200);
  EXPECT_TRUE(c->CreateBucket().ok());
  EXPECT_EQ(fake.seen[0].method, "PUT");
  EXPECT_EQ(fake.seen[0].body, "");
  ExpectSigned(fake.seen[0]);
  fake.Reply(409, ErrorXml("BucketAlreadyOwnedByYou"));
  EXPECT_TRUE(c->CreateBucket().ok());
  fake.Reply(409, ErrorXml("BucketAlreadyExists"));
  EXPECT_EQ(c->CreateBucket().kind(), ErrorKind::kPermanent);

  S3ClientOptions o = Options();
  o.region = "eu-west-1";
  auto eu = MakeClient(&fake, o);
  fake.Reply(200);
  EXPECT_TRUE(eu->CreateBucket().ok());
  EXPECT_NE(fake.seen.back().body.find("<LocationConstraint>eu-west-1</LocationConstraint>"),
            std::string::npos);
  ExpectSigned(fake.seen.back(), {"AKIAIOSFODNN7EXAMPLE", kSecret, ""}, "eu-west-1");
}

TEST(S3ClientTest, SessionTokenIsSentAndSigned) {
  FakeS3 fake;
  S3ClientOptions o = Options();
  o.credentials.session_token = "FwoGZXIvYXdzEXAMPLE==";
  auto c = MakeClient(&fake, o);
  fake.Reply(200);
  ASSERT_TRUE(c->HeadBucket().ok());
  EXPECT_EQ(fake.seen[0].Header("X-Amz-Security-Token"), "FwoGZXIvYXdzEXAMPLE==");
  EXPECT_NE(fake.seen[0].Header("Authorization").find("x-amz-security-token"), std::string::npos);
  ExpectSigned(fake.seen[0], o.credentials);
}

TEST(S3ClientTest, VirtualHostedRequests) {
  FakeS3 fake;
  auto c = MakeClient(&fake, Options("https://s3.example.com"));
  fake.Reply(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(c->ListObjectsV2({}).ok());
  EXPECT_EQ(fake.seen[0].url,
            "https://my-bucket.s3.example.com/?list-type=2&encoding-type=url&max-keys=1000");
  EXPECT_EQ(fake.seen[0].Header("Host"), "my-bucket.s3.example.com");
  ExpectSigned(fake.seen[0]);
  fake.Reply(204);
  ASSERT_TRUE(c->DeleteObject("/x").ok());
  EXPECT_EQ(fake.seen[1].url, "https://my-bucket.s3.example.com//x");
  ExpectSigned(fake.seen[1]);
}

}  // namespace
}  // namespace ck
