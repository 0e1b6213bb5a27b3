// The destination conformance suite against B2Destination on the local B2
// server (tools/b2server/b2server.py): SHA-1 verified by the server, large
// files with B2's part rules, names percent-encoded both ways.
//
// This binary already compiles the suite once (s3_conformance_test.cc), and the
// suite defines its tests in the header. Renaming the fixture for this
// translation unit gives the B2 copy its own classes and suite name
// (B2DestinationConformance) instead of defining the S3 copy's symbols twice.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#define DestinationConformance B2DestinationConformance
#include "conformance/destination_conformance.h"
#undef DestinationConformance

#include "dest/b2_destination.h"
#include "dest/decorators.h"
#include "support/local_b2.h"
#include "util/env.h"
#include "util/hash.h"

namespace ck::test {
namespace {

HttpClient* B2SharedHttp() {
  static std::unique_ptr<HttpClient> http = std::move(HttpClient::Make({})).value();
  return http.get();
}

// One bucket for the whole binary (tests use random prefixes).
std::unique_ptr<Destination> MakeB2() {
  std::string reason;
  const B2Server* s = LocalB2(&reason);
  if (s == nullptr) {
    ADD_FAILURE() << "no local B2 server: " << reason;
    return nullptr;
  }
  static std::once_flag once;
  static std::string bucket;
  std::call_once(once, [&] { bucket = CreateB2TestBucket(*s, "conformance"); });
  if (bucket.empty()) return nullptr;
  B2ClientOptions o;
  o.api_url = s->api_url;
  o.key_id = s->key_id;
  o.application_key = s->key;
  o.bucket = bucket;
  auto d = MakeB2Destination("b2", o, B2SharedHttp());
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  if (!d.ok()) return nullptr;
  // The suite reads capabilities() (min_part_size) before anything is sent:
  // authorize first, as the engine does with Check().
  Status check = (*d)->Check();
  EXPECT_TRUE(check.ok()) << check.ToString();
  return std::move(d).value();
}

INSTANTIATE_TEST_SUITE_P(B2, B2DestinationConformance,
                         ::testing::Values(ConformanceTarget{
                             .name = "b2",
                             .make = [] { return MakeB2(); },
                             .enforces_min_part_size = true,
                             .multipart_etag_is_md5_of_md5s = false,
                             // B2 verifies SHA-1, not MD5; the suite sends both wrong.
                             .verifies_content_md5 = true,
                             .lists_and_aborts_uploads = true}),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------- server behaviours

// A B2Destination on a bucket of its own (so the server's per-bucket counters
// and fault rules concern this test only), authorized.
struct OwnBucket {
  const B2Server* server = nullptr;
  std::string bucket;
  std::unique_ptr<B2Destination> dest;
};

OwnBucket MakeOwnBucket(const B2Server& s, std::string_view hint) {
  OwnBucket b;
  b.server = &s;
  b.bucket = CreateB2TestBucket(s, hint);
  if (b.bucket.empty()) return b;
  B2ClientOptions o;
  o.name = "b2";
  o.api_url = s.api_url;
  o.key_id = s.key_id;
  o.application_key = s.key;
  o.bucket = b.bucket;
  auto c = B2Client::Make(o, B2SharedHttp());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) return b;
  b.dest = std::make_unique<B2Destination>("b2", std::move(c).value());
  Status check = b.dest->Check();
  EXPECT_TRUE(check.ok()) << check.ToString();
  return b;
}

Status PutString(Destination* d, const std::string& key, const std::string& data) {
  MemoryBody body(data);
  PutRequest r{.key = key, .body = &body, .md5 = Md5(data), .sha1 = Sha1(data)};
  auto res = d->Put(r);
  return res.ok() ? Status::OK() : res.status();
}

int Calls(const nlohmann::json& stats, const std::string& op) {
  if (!stats.contains("calls") || !stats["calls"].contains(op)) return 0;
  return stats["calls"][op].get<int>();
}

TEST(B2ServerTest, Upload503IsRetriedOnFreshUploadUrls) {
  CK_REQUIRE_LOCAL_B2(server);
  OwnBucket b = MakeOwnBucket(*server, "retry503");
  ASSERT_NE(b.dest, nullptr);
  ASSERT_TRUE(B2TestConfigure(*server, R"({"fail_next": [{"op": "b2_upload_file", "status": 503,
      "count": 2, "bucket": ")" + b.bucket +
                                           R"("}]})"));
  B2Destination* raw = b.dest.get();
  RetryingDestination d(std::move(b.dest),
                        RetryPolicy{.max_retries = 5,
                                    .base_delay = std::chrono::milliseconds(10),
                                    .max_delay = std::chrono::milliseconds(50)},
                        Env::Default());
  ASSERT_TRUE(PutString(&d, "k", "bytes after two busy pods").ok());
  EXPECT_EQ(d.retries(), 2u);
  auto stats = B2TestStats(*server, b.bucket);
  EXPECT_EQ(Calls(stats, "b2_upload_file"), 3) << stats.dump();
  EXPECT_EQ(Calls(stats, "b2_get_upload_url"), 3)
      << "a fresh URL for every attempt: " << stats.dump();
  EXPECT_EQ(raw->client().idle_upload_urls(), 1u);
  auto h = d.Head("k");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->sha1_hex, HexEncode(Sha1("bytes after two busy pods")));
}

TEST(B2ServerTest, ExpiredTokenIsRenewedOnce) {
  CK_REQUIRE_LOCAL_B2(server);
  OwnBucket b = MakeOwnBucket(*server, "expired");
  ASSERT_NE(b.dest, nullptr);
  ASSERT_EQ(b.dest->client().authorizations(), 1u);
  ASSERT_TRUE(B2TestConfigure(*server, R"({"fail_next": [{"op": "b2_list_file_names",
      "status": 401, "code": "expired_auth_token", "message": "Authorization token has expired",
      "count": 1, "bucket": ")" + b.bucket +
                                           R"("}]})"));
  auto page = b.dest->List({});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(b.dest->client().authorizations(), 2u);
  ASSERT_TRUE(b.dest->List({}).ok());
  EXPECT_EQ(b.dest->client().authorizations(), 2u) << "the renewed token is kept";
}

TEST(B2ServerTest, ConcurrentUploadsAndPartsShareNoUploadUrl) {
  CK_REQUIRE_LOCAL_B2(server);
  OwnBucket b = MakeOwnBucket(*server, "concurrent");
  ASSERT_NE(b.dest, nullptr);
  // The server refuses a second upload on a URL that is busy (auth_token_limit).
  constexpr int kThreads = 8, kEach = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < kEach; ++k) {
        std::string key = "t" + std::to_string(i) + "/f" + std::to_string(k);
        Status st =
            PutString(b.dest.get(), key, std::string(20000 + k, static_cast<char>('a' + i)));
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << st.ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto stats = B2TestStats(*server, b.bucket);
  EXPECT_EQ(Calls(stats, "b2_upload_file"), kThreads * kEach) << stats.dump();
  EXPECT_LE(Calls(stats, "b2_get_upload_url"), kThreads) << "URLs are pooled: " << stats.dump();

  // Parts of one large file from several threads.
  const size_t ps = b.dest->capabilities().min_part_size;
  auto id = b.dest->StartMultipart("large", {{"mtime", "1.5"}}, "application/octet-stream");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  constexpr int kParts = 6;
  std::vector<std::string> data(kParts);
  std::vector<PartInfo> parts(kParts);
  threads.clear();
  for (int n = 1; n <= kParts; ++n) {
    data[n - 1] = std::string(n == kParts ? 1000 : ps, static_cast<char>('0' + n));
    threads.emplace_back([&, n] {
      MemoryBody body(data[n - 1]);
      auto p = b.dest->UploadPart("large", *id,
                                  {.part_number = n, .body = &body, .sha1 = Sha1(data[n - 1])});
      if (p.ok()) {
        parts[n - 1] = *p;
      } else {
        ++failures;
        ADD_FAILURE() << p.status().ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  auto done = b.dest->CompleteMultipart("large", *id, parts);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  auto h = b.dest->Head("large");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->size, (kParts - 1) * ps + 1000);
  EXPECT_EQ(h->metadata["mtime"], "1.5");
}

}  // namespace
}  // namespace ck::test
