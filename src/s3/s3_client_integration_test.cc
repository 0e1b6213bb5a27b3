// S3Client against a real S3 server: the local Ceph RGW from tests/support
// (started on first use, or the one named by CK_RGW_ENV), or any server named by
//   CK_TEST_S3_ENDPOINT, CK_TEST_S3_ACCESS_KEY, CK_TEST_S3_SECRET_KEY
//   (CK_TEST_S3_REGION optional, default us-east-1).
// Each test works in a fresh bucket that it deletes afterwards.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>

#include "http/http_client.h"
#include "s3/s3_client.h"
#include "support/local_s3.h"
#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string RandomHex(size_t n) {
  static std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += kHex[rng() % 16];
  return s;
}

// Deterministic pseudo-random bytes.
std::string Bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

class S3ClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = Env("CK_TEST_S3_ENDPOINT");
    access_ = Env("CK_TEST_S3_ACCESS_KEY");
    secret_ = Env("CK_TEST_S3_SECRET_KEY");
    region_ = Env("CK_TEST_S3_REGION");
    if (endpoint_.empty() || access_.empty() || secret_.empty()) {
      CK_REQUIRE_LOCAL_S3(server, "rgw");
      endpoint_ = server->endpoint;
      access_ = server->access_key;
      secret_ = server->secret_key;
      region_ = server->region;
    }
    if (region_.empty()) region_ = "us-east-1";
    auto http = HttpClient::Make(HttpClientOptions{});
    ASSERT_TRUE(http.ok()) << http.status().ToString();
    http_ = std::move(http).value();
    bucket_ = "ck-s3it-" + RandomHex(12);
    client_ = MakeClient(bucket_, secret_);
    ASSERT_TRUE(client_);
    Status st = client_->CreateBucket();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  void TearDown() override {
    if (!client_) return;
    // Best effort: empty and delete the bucket.
    auto uploads = client_->ListMultipartUploads("");
    if (uploads.ok())
      for (const auto& u : *uploads) (void)client_->AbortMultipartUpload(u.key, u.upload_id);
    S3ListObjectsRequest req;
    while (true) {
      auto page = client_->ListObjectsV2(req);
      if (!page.ok()) break;
      for (const auto& o : page->objects) (void)client_->DeleteObject(o.key);
      if (!page->is_truncated) break;
      req.continuation_token = page->next_continuation_token;
    }
    Status st = client_->DeleteBucket();
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  std::unique_ptr<S3Client> MakeClient(const std::string& bucket, const std::string& secret,
                                       const std::string& access = "") {
    S3ClientOptions o;
    o.name = "rgw-test";
    o.endpoint = endpoint_;
    o.region = region_;
    o.bucket = bucket;
    o.credentials = {access.empty() ? access_ : access, secret, ""};
    auto c = S3Client::Make(std::move(o), http_.get());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  Result<S3PutObjectResult> Put(const std::string& key, const std::string& data,
                                std::map<std::string, std::string> metadata = {}) {
    MemoryBody body(data);
    S3PutObjectRequest req;
    req.key = key;
    req.body = &body;
    req.md5 = Md5(data);
    req.sha256 = Sha256(data);
    req.metadata = std::move(metadata);
    return client_->PutObject(req);
  }

  Result<std::string> Get(const std::string& key, std::optional<S3Range> range = std::nullopt) {
    std::string out;
    Status st = client_->GetObject(key, range, [&](std::string_view d) {
      out.append(d);
      return true;
    });
    if (!st.ok()) return st;
    return out;
  }

  // Every key under prefix, following continuation tokens with page size max_keys.
  Result<std::vector<std::string>> ListAll(const std::string& prefix, int max_keys,
                                           int* pages = nullptr) {
    std::vector<std::string> keys;
    S3ListObjectsRequest req;
    req.prefix = prefix;
    req.max_keys = max_keys;
    int n = 0;
    while (true) {
      CK_ASSIGN_OR_RETURN(S3ListObjectsResult page, client_->ListObjectsV2(req));
      ++n;
      EXPECT_LE(page.objects.size(), static_cast<size_t>(max_keys));
      for (const auto& o : page.objects) keys.push_back(o.key);
      if (!page.is_truncated) break;
      req.continuation_token = page.next_continuation_token;
      if (n > 10000) return Status(ErrorKind::kInternal, "listing does not end");
    }
    if (pages) *pages = n;
    return keys;
  }

  std::string endpoint_, access_, secret_, region_, bucket_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<S3Client> client_;
};

TEST_F(S3ClientIntegrationTest, AwkwardKeysRoundTrip) {
  const std::vector<std::string> keys = {
      "k/plain.txt",
      "k/with space",
      "k/caf\xC3\xA9 \xE2\x82\xAC \xE6\x97\xA5\xE6\x9C\xAC",
      "k/plus+sign",
      "k/percent%20literal%",
      "k/amp&query?hash#eq=semi;comma,",
      "k/quotes'\"",
      "k/brackets[]{}",
      "k/tilde~at@bang!",
      "k/ leading space",
      "k/trailing space ",
      "k/double//slash",
      "k/./dot",
      "k/../dotdot",
      "k/a/./b/../c",
      "k/ctl\x01"
      "char",
      "k/tab\there",
      "k/dollar$paren()star*",
      "k/trailing-slash/",
  };
  std::set<std::string> expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& key = keys[i];
    SCOPED_TRACE("key '" + PrintableName(key) + "'");
    const std::string data = "content of " + key;
    auto put = Put(key, data, {{"idx", std::to_string(i)}});
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_EQ(put->etag, HexEncode(Md5(data)));
    auto head = client_->HeadObject(key);
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_EQ(head->size, data.size());
    EXPECT_EQ(head->etag, HexEncode(Md5(data)));
    EXPECT_EQ(head->metadata["idx"], std::to_string(i));
    EXPECT_GT(head->last_modified_ms, 1600000000000);
    auto got = Get(key);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);
    expected.insert(key);
  }
  // A key starting with '/' (path-style: "/bucket//...").
  ASSERT_TRUE(Put("/rooted", "r").ok());
  auto rooted = Get("/rooted");
  ASSERT_TRUE(rooted.ok()) << rooted.status().ToString();
  EXPECT_EQ(*rooted, "r");
  ASSERT_TRUE(client_->DeleteObject("/rooted").ok());

  auto listed = ListAll("k/", 1000);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(std::set<std::string>(listed->begin(), listed->end()), expected);
  EXPECT_TRUE(std::is_sorted(listed->begin(), listed->end()));

  for (const auto& key : keys) {
    SCOPED_TRACE("key '" + PrintableName(key) + "'");
    ASSERT_TRUE(client_->DeleteObject(key).ok());
    Status st = client_->HeadObject(key).status();
    EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  }
  auto after = ListAll("k/", 1000);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
}

TEST_F(S3ClientIntegrationTest, ListPaginationAndDelimiter) {
  std::vector<std::string> keys = {"p/a", "p/b", "p/c", "p/d/1", "p/d/2", "p/e"};
  for (const auto& k : keys) ASSERT_TRUE(Put(k, k).ok());
  ASSERT_TRUE(Put("q/other", "x").ok());
  int pages = 0;
  auto all = ListAll("p/", 2, &pages);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, keys);
  EXPECT_EQ(pages, 3);

  S3ListObjectsRequest req;
  req.prefix = "p/";
  req.delimiter = "/";
  auto page = client_->ListObjectsV2(req);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::vector<std::string> flat;
  for (const auto& o : page->objects) flat.push_back(o.key);
  EXPECT_EQ(flat, (std::vector<std::string>{"p/a", "p/b", "p/c", "p/e"}));
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"p/d/"});
  EXPECT_FALSE(page->is_truncated);
  for (const auto& o : page->objects) {
    EXPECT_EQ(o.size, o.key.size());
    EXPECT_EQ(o.etag, HexEncode(Md5(o.key)));
  }
}

TEST_F(S3ClientIntegrationTest, RangeGetAndMissingObjects) {
  const std::string data = Bytes(1000, 7);
  ASSERT_TRUE(Put("r/obj", data).ok());
  auto part = Get("r/obj", S3Range{10, 19});
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(*part, data.substr(10, 10));
  auto tail = Get("r/obj", S3Range{990, 5000});  // clipped at the end
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ(*tail, data.substr(990));
  Status beyond = Get("r/obj", S3Range{5000, 6000}).status();
  EXPECT_EQ(beyond.kind(), ErrorKind::kPermanent) << beyond.ToString();

  Status st = client_->HeadObject("r/missing").status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  st = Get("r/missing").status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("NoSuchKey"), std::string::npos) << st.message();
  EXPECT_TRUE(client_->DeleteObject("r/missing").ok());
}

TEST_F(S3ClientIntegrationTest, MultipartUpload) {
  const std::string key = "mp/big file+\xC3\xA9";
  std::vector<std::string> parts = {Bytes(5 * kMiB, 1), Bytes(5 * kMiB, 2), Bytes(5 * kMiB, 3),
                                    Bytes(1234, 4)};
  auto id = client_->CreateMultipartUpload(key, {{"sha256", "cafe"}}, "application/x-test");
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  auto uploads = client_->ListMultipartUploads("mp/");
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].key, key);
  EXPECT_EQ((*uploads)[0].upload_id, *id);

  std::vector<S3CompletedPart> done;
  std::string md5s;
  for (size_t i = 0; i < parts.size(); ++i) {
    MemoryBody body(parts[i]);
    S3UploadPartRequest up;
    up.key = key;
    up.upload_id = *id;
    up.part_number = static_cast<int>(i + 1);
    up.body = &body;
    up.md5 = Md5(parts[i]);
    if (i % 2 == 0) up.sha256 = Sha256(parts[i]);  // others go as UNSIGNED-PAYLOAD
    auto etag = client_->UploadPart(up);
    ASSERT_TRUE(etag.ok()) << etag.status().ToString();
    EXPECT_EQ(*etag, HexEncode(up.md5));
    done.push_back({up.part_number, *etag});
    md5s += up.md5;
  }

  auto listed = client_->ListParts(key, *id);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ((*listed)[i].part_number, static_cast<int>(i + 1));
    EXPECT_EQ((*listed)[i].size, parts[i].size());
    EXPECT_EQ((*listed)[i].etag, done[i].etag);
  }
  // Paged by 2: the marker is followed.
  auto page1 = client_->ListPartsPage(key, *id, 0, 2);
  ASSERT_TRUE(page1.ok()) << page1.status().ToString();
  EXPECT_EQ(page1->parts.size(), 2u);
  EXPECT_TRUE(page1->is_truncated);
  EXPECT_EQ(page1->next_part_number_marker, 2);
  auto page2 = client_->ListPartsPage(key, *id, page1->next_part_number_marker, 2);
  ASSERT_TRUE(page2.ok()) << page2.status().ToString();
  ASSERT_EQ(page2->parts.size(), 2u);
  EXPECT_EQ(page2->parts[0].part_number, 3);
  EXPECT_FALSE(page2->is_truncated);

  auto result = client_->CompleteMultipartUpload(key, *id, done);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->etag, HexEncode(Md5(md5s)) + "-4");

  auto head = client_->HeadObject(key);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 15 * kMiB + 1234);
  EXPECT_EQ(head->etag, result->etag);
  EXPECT_EQ(head->metadata["sha256"], "cafe");
  EXPECT_EQ(head->content_type, "application/x-test");

  // A range across the boundary of parts 1 and 2.
  auto across = Get(key, S3Range{5 * kMiB - 3, 5 * kMiB + 2});
  ASSERT_TRUE(across.ok()) << across.status().ToString();
  EXPECT_EQ(*across, parts[0].substr(5 * kMiB - 3) + parts[1].substr(0, 3));
  // The whole object, streamed.
  Hasher h(DigestAlgo::kMd5);
  uint64_t total = 0;
  ASSERT_TRUE(client_
                  ->GetObject(key, std::nullopt,
                              [&](std::string_view d) {
                                h.Update(d);
                                total += d.size();
                                return true;
                              })
                  .ok());
  EXPECT_EQ(total, head->size);
  Hasher expect(DigestAlgo::kMd5);
  for (const auto& p : parts) expect.Update(p);
  EXPECT_EQ(h.Finish(), expect.Finish());

  auto remaining = client_->ListMultipartUploads("mp/");
  ASSERT_TRUE(remaining.ok());
  EXPECT_TRUE(remaining->empty());
}

TEST_F(S3ClientIntegrationTest, AbortAndUploadPaging) {
  auto a = client_->CreateMultipartUpload("ab/one", {}, "");
  auto b = client_->CreateMultipartUpload("ab/two", {}, "");
  auto c = client_->CreateMultipartUpload("ab/two", {}, "");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::string small = "tiny part";
  MemoryBody body(small);
  S3UploadPartRequest up{"ab/one", *a, 1, &body, "", ""};
  ASSERT_TRUE(client_->UploadPart(up).ok());

  // One upload per page: the key and upload-id markers are followed.
  std::set<std::string> ids;
  S3ListUploadsRequest req;
  req.prefix = "ab/";
  req.max_uploads = 1;
  int pages = 0;
  while (true) {
    auto page = client_->ListMultipartUploadsPage(req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    ASSERT_LE(page->uploads.size(), 1u);
    for (const auto& u : page->uploads) ids.insert(u.upload_id);
    if (!page->is_truncated) break;
    req.key_marker = page->next_key_marker;
    req.upload_id_marker = page->next_upload_id_marker;
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(ids, (std::set<std::string>{*a, *b, *c}));
  EXPECT_GE(pages, 3);

  ASSERT_TRUE(client_->AbortMultipartUpload("ab/one", *a).ok());
  Status st = client_->ListParts("ab/one", *a).status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  // AWS says NoSuchUpload, Ceph RGW 16 NoSuchKey; the message names the upload either way.
  EXPECT_NE(st.message().find("multipart upload does not exist"), std::string::npos)
      << st.message();
  EXPECT_TRUE(client_->AbortMultipartUpload("ab/one", *a).ok());  // again: still OK
  st = client_->UploadPart(up).status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();

  // A part below 5 MiB that is not the last is refused at Complete.
  auto d = client_->CreateMultipartUpload("ab/small", {}, "");
  ASSERT_TRUE(d.ok());
  std::vector<S3CompletedPart> done;
  for (int n = 1; n <= 2; ++n) {
    S3UploadPartRequest p{"ab/small", *d, n, &body, "", ""};
    auto e = client_->UploadPart(p);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    done.push_back({n, *e});
  }
  st = client_->CompleteMultipartUpload("ab/small", *d, done).status();
  EXPECT_EQ(st.kind(), ErrorKind::kPermanent) << st.ToString();
  EXPECT_NE(st.message().find("EntityTooSmall"), std::string::npos) << st.message();
}

TEST_F(S3ClientIntegrationTest, DigestsAreVerified) {
  const std::string data = "the real bytes";
  MemoryBody body(data);
  S3PutObjectRequest req;
  req.key = "d/obj";
  req.body = &body;
  req.md5 = Md5("other bytes");
  Status st = client_->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kChecksumMismatch) << st.ToString();
  EXPECT_NE(st.message().find("BadDigest"), std::string::npos) << st.message();

  req.md5 = Md5(data);
  req.sha256 = Sha256("other bytes");
  st = client_->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kChecksumMismatch) << st.ToString();
  EXPECT_NE(st.message().find("XAmzContentSHA256Mismatch"), std::string::npos) << st.message();
  EXPECT_EQ(client_->HeadObject("d/obj").status().kind(), ErrorKind::kNotFound);
}

TEST_F(S3ClientIntegrationTest, WrongCredentialsAreAuthErrors) {
  const std::string wrong_secret = "not-the-secret-" + RandomHex(16);
  auto bad = MakeClient(bucket_, wrong_secret);
  ASSERT_TRUE(bad);
  Status st = bad->HeadBucket();
  EXPECT_EQ(st.kind(), ErrorKind::kAuth) << st.ToString();
  MemoryBody body("x");
  S3PutObjectRequest req;
  req.key = "photos/a.jpg";
  req.body = &body;
  st = bad->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kAuth) << st.ToString();
  EXPECT_EQ(st.message(),
            "rgw-test: PutObject photos/a.jpg: 403 SignatureDoesNotMatch (the secret access key "
            "is wrong)");
  EXPECT_EQ(st.message().find(wrong_secret), std::string::npos);
  EXPECT_EQ(st.message().find(secret_), std::string::npos);

  auto unknown = MakeClient(bucket_, secret_, "NOSUCHACCESSKEY" + RandomHex(5));
  ASSERT_TRUE(unknown);
  st = unknown->ListObjectsV2({}).status();
  EXPECT_EQ(st.kind(), ErrorKind::kAuth) << st.ToString();
  EXPECT_NE(st.message().find("InvalidAccessKeyId"), std::string::npos) << st.message();
}

TEST_F(S3ClientIntegrationTest, MissingBucketIsNotFound) {
  const std::string missing = "ck-s3it-missing-" + RandomHex(10);
  auto c = MakeClient(missing, secret_);
  ASSERT_TRUE(c);
  Status st = c->HeadBucket();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("bucket " + missing + " does not exist"), std::string::npos)
      << st.message();
  MemoryBody body("x");
  S3PutObjectRequest req;
  req.key = "k";
  req.body = &body;
  st = c->PutObject(req).status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("NoSuchBucket"), std::string::npos) << st.message();
  st = c->ListObjectsV2({}).status();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound) << st.ToString();
  EXPECT_EQ(c->DeleteObject("k").kind(), ErrorKind::kNotFound);
}

}  // namespace
}  // namespace ck
