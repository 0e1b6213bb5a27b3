// B2Client against a scripted fake transport: authorization and re-authorization,
// upload URL pooling and discarding, encoding of names and info, large files,
// listings, downloads and error mapping.
#include "b2/b2_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "b2/b2_fake_transport.h"
#include "util/hash.h"

namespace ck {
namespace {

using nlohmann::json;
using testing_b2::AuthReply;
using testing_b2::ErrorReply;
using testing_b2::FakeTransport;
using testing_b2::FileReply;
using testing_b2::SentRequest;
using testing_b2::TestOptions;
using testing_b2::UploadUrlReply;

std::unique_ptr<B2Client> MakeClient(FakeTransport* t, B2ClientOptions o = TestOptions()) {
  auto c = B2Client::MakeWithTransport(std::move(o), t->transport());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

constexpr const char* kEmptyList = R"({"files":[],"nextFileName":null})";

// ---------------------------------------------------------------- options

TEST(B2ClientTest, MakeValidatesOptions) {
  FakeTransport t;
  auto o = TestOptions();
  o.key_id = "";
  auto r = B2Client::MakeWithTransport(o, t.transport());
  EXPECT_EQ(r.status().kind(), ErrorKind::kAuth);
  EXPECT_NE(r.status().message().find("my-b2: missing credentials"), std::string::npos);
  o = TestOptions();
  o.application_key = "";
  EXPECT_EQ(B2Client::MakeWithTransport(o, t.transport()).status().kind(), ErrorKind::kAuth);
  o = TestOptions();
  o.bucket = "no_such chars";
  EXPECT_EQ(B2Client::MakeWithTransport(o, t.transport()).status().kind(), ErrorKind::kConfig);
  o = TestOptions();
  o.bucket = "";
  EXPECT_EQ(B2Client::MakeWithTransport(o, t.transport()).status().kind(), ErrorKind::kConfig);
  o = TestOptions();
  o.api_url = "ftp://x";
  EXPECT_EQ(B2Client::MakeWithTransport(o, t.transport()).status().kind(), ErrorKind::kConfig);
  o = TestOptions();
  o.api_url = "https://host/path";
  EXPECT_EQ(B2Client::MakeWithTransport(o, t.transport()).status().kind(), ErrorKind::kConfig);
  o = TestOptions();
  o.key_id = "a:b";
  EXPECT_EQ(B2Client::MakeWithTransport(o, t.transport()).status().kind(), ErrorKind::kConfig);
  o = TestOptions();
  o.api_url = "http://127.0.0.1:8180/";
  auto ok = B2Client::MakeWithTransport(o, t.transport());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->options().api_url, "http://127.0.0.1:8180");
  EXPECT_EQ(B2ClientOptions().api_url, "https://api.backblazeb2.com");
  EXPECT_EQ(t.count(), 0u) << "Make sends nothing";
}

// ---------------------------------------------------------------- authorization

TEST(B2ClientTest, AuthorizesOnceAndCachesToken) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("4_tokenA"));
  t.Reply(200, kEmptyList);
  t.Reply(200, kEmptyList);
  ASSERT_TRUE(c->ListFileNames({}).ok());
  ASSERT_TRUE(c->ListFileNames({}).ok());
  ASSERT_EQ(t.count(), 3u);
  SentRequest auth = t.request(0);
  EXPECT_EQ(auth.method, "GET");
  EXPECT_EQ(auth.url, "https://api.backblazeb2.com/b2api/v2/b2_authorize_account");
  EXPECT_EQ(auth.Header("Authorization"),
            "Basic " + Base64Encode("0012keyid:K001secretapplicationkey"));
  for (size_t i : {1u, 2u}) {
    SentRequest list = t.request(i);
    EXPECT_EQ(list.method, "POST");
    EXPECT_EQ(list.url, "https://api001.example.com/b2api/v2/b2_list_file_names");
    EXPECT_EQ(list.Header("Authorization"), "4_tokenA") << "raw token, no Bearer";
    json body = json::parse(list.body);
    EXPECT_EQ(body["bucketId"], "bid") << "bucket ID from the key's allowed bucket";
  }
  EXPECT_EQ(c->authorizations(), 1u);
  auto info = c->CachedAccountInfo();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->absolute_minimum_part_size, 5000000u);
  EXPECT_EQ(info->recommended_part_size, 100000000u);
  EXPECT_EQ(info->bucket_id, "bid");
}

TEST(B2ClientTest, NothingCachedBeforeAuthorization) {
  FakeTransport t;
  auto c = MakeClient(&t);
  EXPECT_FALSE(c->CachedAccountInfo().has_value());
}

TEST(B2ClientTest, ResolvesBucketWithListBucketsForUnrestrictedKey) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("tok", /*restricted=*/false));
  t.Reply(200, R"({"buckets":[{"bucketId":"zzz","bucketName":"bkt","bucketType":"allPrivate"}]})");
  ASSERT_TRUE(c->Authorize().ok());
  SentRequest lb = t.request(1);
  EXPECT_EQ(lb.Op(), "b2_list_buckets");
  json body = json::parse(lb.body);
  EXPECT_EQ(body["accountId"], "acc1");
  EXPECT_EQ(body["bucketName"], "bkt");
  EXPECT_EQ(c->CachedAccountInfo()->bucket_id, "zzz");
}

TEST(B2ClientTest, MissingBucketIsNotFound) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("tok", /*restricted=*/false));
  t.Reply(200, R"({"buckets":[]})");
  Status st = c->Authorize();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_NE(st.message().find("my-b2: "), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("bucket bkt does not exist"), std::string::npos) << st.message();
}

TEST(B2ClientTest, KeyRestrictedToAnotherBucketIsAuthError) {
  FakeTransport t;
  auto o = TestOptions();
  o.bucket = "other";
  auto c = MakeClient(&t, o);
  t.Reply(200, AuthReply("tok"));
  Status st = c->Authorize();
  EXPECT_EQ(st.kind(), ErrorKind::kAuth);
  EXPECT_NE(st.message().find("restricted to bucket bkt"), std::string::npos) << st.message();
  EXPECT_EQ(t.count(), 1u);
}

TEST(B2ClientTest, WrongKeyIsAuthWithoutSecrets) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(401, R"({"code":"unauthorized","message":"","status":401})");
  Status st = c->Authorize();
  EXPECT_EQ(st.kind(), ErrorKind::kAuth);
  EXPECT_NE(st.message().find("key ID or application key is wrong"), std::string::npos)
      << st.message();
  EXPECT_EQ(st.message().find("K001secretapplicationkey"), std::string::npos);
  EXPECT_EQ(st.message().find("0012keyid"), std::string::npos);
}

TEST(B2ClientTest, AuthorizeAlwaysSendsAndAcceptsV3Shape) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("t1"));
  ASSERT_TRUE(c->Authorize().ok());
  t.Reply(200, R"({"accountId":"acc1","authorizationToken":"t2","apiInfo":{"storageApi":{
      "apiUrl":"https://api9.example.com/","downloadUrl":"https://f9.example.com",
      "absoluteMinimumPartSize":6000000,
      "allowed":{"bucketId":"bid","bucketName":"bkt","capabilities":[],"namePrefix":null}}}})");
  ASSERT_TRUE(c->Authorize().ok());
  EXPECT_EQ(c->authorizations(), 2u);
  EXPECT_EQ(c->CachedAccountInfo()->api_url, "https://api9.example.com");
  EXPECT_EQ(c->CachedAccountInfo()->absolute_minimum_part_size, 6000000u);
}

TEST(B2ClientTest, ReauthorizesOnceOnExpiredToken) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("old"));
  t.Reply(401, ErrorReply(401, "expired_auth_token", "Authorization token has expired"));
  t.Reply(200, AuthReply("new"));
  t.Reply(200, kEmptyList);
  ASSERT_TRUE(c->ListFileNames({}).ok());
  ASSERT_EQ(t.count(), 4u);
  EXPECT_EQ(t.request(1).Header("Authorization"), "old");
  EXPECT_EQ(t.request(2).Op(), "b2_authorize_account");
  EXPECT_EQ(t.request(3).Header("Authorization"), "new");
  EXPECT_EQ(c->authorizations(), 2u);
  // The new token is used from now on.
  t.Reply(200, kEmptyList);
  ASSERT_TRUE(c->ListFileNames({}).ok());
  EXPECT_EQ(t.request(4).Header("Authorization"), "new");
}

TEST(B2ClientTest, SecondExpiryAfterReauthorizingIsAuthError) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("old"));
  t.Reply(401, ErrorReply(401, "bad_auth_token", "Invalid authorization token"));
  t.Reply(200, AuthReply("new"));
  t.Reply(401, ErrorReply(401, "bad_auth_token", "Invalid authorization token"));
  auto r = c->ListFileNames({});
  EXPECT_EQ(r.status().kind(), ErrorKind::kAuth);
  EXPECT_EQ(t.count(), 4u) << "one re-authorization, one repeat, no loop";
  EXPECT_EQ(c->authorizations(), 2u);
  EXPECT_EQ(t.pending_replies(), 0u);
}

TEST(B2ClientTest, UnauthorizedIsNotRetried) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("tok"));
  t.Reply(401, ErrorReply(401, "unauthorized", "not entitled"));
  auto r = c->ListFileNames({});
  EXPECT_EQ(r.status().kind(), ErrorKind::kAuth);
  EXPECT_NE(r.status().message().find("lacks the capability"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(t.count(), 2u);
}

TEST(B2ClientTest, ConcurrentExpiryReauthorizesOnlyOnce) {
  FakeTransport t;
  std::atomic<int> auths{0};
  t.SetHandler([&](const SentRequest& r) -> Result<HttpResponse> {
    if (r.Op() == "b2_authorize_account") {
      int n = ++auths;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return HttpResponse{200, {}, AuthReply("tok" + std::to_string(n))};
    }
    if (r.Header("Authorization") == "tok1") {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return HttpResponse{401, {}, ErrorReply(401, "expired_auth_token", "expired")};
    }
    return HttpResponse{200, {}, kEmptyList};
  });
  auto c = MakeClient(&t);
  ASSERT_TRUE(c->Authorize().ok());  // everyone starts with tok1
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 5; ++k)
        if (!c->ListFileNames({}).ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(auths.load(), 2) << "the first authorization and exactly one renewal";
}

// ---------------------------------------------------------------- uploads

TEST(B2ClientTest, UploadFileSendsEncodedNameSha1AndInfo) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data = "hello b2";
  const std::string sha1_hex = HexEncode(Sha1(data));
  const std::string name = "dir/a b+c 自由.txt";
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod-1.example.com/b2api/v2/b2_upload_file/bid/c1", "up1"));
  t.Reply(200, FileReply("4_f1", name, sha1_hex, data.size()));
  MemoryBody body(data);
  B2UploadFileRequest r;
  r.file_name = name;
  r.body = &body;
  r.sha1 = Sha1(data);
  r.file_info = {
      {"src_last_modified_millis", "1700000000500"}, {"sha256", "abc"}, {"Note", "a+b c/自由%"}};
  auto f = c->UploadFile(r);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->file_id, "4_f1");
  SentRequest gu = t.request(1);
  EXPECT_EQ(gu.Op(), "b2_get_upload_url");
  EXPECT_EQ(json::parse(gu.body)["bucketId"], "bid");
  SentRequest up = t.request(2);
  EXPECT_EQ(up.method, "POST");
  EXPECT_EQ(up.url, "https://pod-1.example.com/b2api/v2/b2_upload_file/bid/c1");
  EXPECT_EQ(up.Header("Authorization"), "up1");
  EXPECT_EQ(up.Header("X-Bz-File-Name"), "dir/a%20b%2Bc%20%E8%87%AA%E7%94%B1.txt");
  EXPECT_EQ(up.Header("X-Bz-Content-Sha1"), sha1_hex);
  EXPECT_EQ(up.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(up.Header("X-Bz-Info-src_last_modified_millis"), "1700000000500");
  EXPECT_EQ(up.Header("X-Bz-Info-sha256"), "abc");
  EXPECT_EQ(up.Header("X-Bz-Info-note"), "a%2Bb%20c/%E8%87%AA%E7%94%B1%25") << "key lowercased";
  EXPECT_EQ(up.body, data);
  EXPECT_EQ(c->idle_upload_urls(), 1u) << "returned to the pool after success";

  // The next upload reuses the pooled URL: no second b2_get_upload_url.
  t.Reply(200, FileReply("4_f2", "x", sha1_hex, data.size()));
  r.file_name = "x";
  r.file_info.clear();
  ASSERT_TRUE(c->UploadFile(r).ok());
  EXPECT_EQ(t.count("b2_get_upload_url"), 1u);
  EXPECT_EQ(t.request(3).url, "https://pod-1.example.com/b2api/v2/b2_upload_file/bid/c1");
}

TEST(B2ClientTest, ProbeUsesTheCachedTokenAndAFreeUploadUrlRequest) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  for (int i = 0; i < 10; ++i)
    t.Reply(200, UploadUrlReply("https://pod-1.example.com/up/" + std::to_string(i), "u"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c->Probe().ok());
  EXPECT_EQ(c->authorizations(), 1u) << "the token is cached, not renewed per probe";
  EXPECT_EQ(t.count("b2_authorize_account"), 1u);
  EXPECT_EQ(t.count("b2_get_upload_url"), 10u) << "Class A: free";
  EXPECT_EQ(c->idle_upload_urls(), 8u) << "probed URLs feed the upload pool, up to a cap";

  // Network down: the probe reports it as transient; wrong key later: auth.
  t.Fail(Status(ErrorKind::kTransient, "connection refused"));
  EXPECT_EQ(c->Probe().kind(), ErrorKind::kTransient);
  t.Reply(401, ErrorReply(401, "expired_auth_token", "token expired"));
  t.Reply(401, ErrorReply(401, "bad_auth_token", "no"));
  EXPECT_EQ(c->Probe().kind(), ErrorKind::kAuth);
}

TEST(B2ClientTest, UploadComputesSha1WhenNotGiven) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data(3 << 20, 'q');
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod/u1", "up1"));
  t.Reply(200, FileReply("4_f", "big", HexEncode(Sha1(data)), data.size()));
  MemoryBody body(data);
  B2UploadFileRequest r;
  r.file_name = "big";
  r.body = &body;
  ASSERT_TRUE(c->UploadFile(r).ok());
  EXPECT_EQ(t.request(2).Header("X-Bz-Content-Sha1"), HexEncode(Sha1(data)));
}

TEST(B2ClientTest, Upload503DiscardsUrlAndNextAttemptGetsAFreshOne) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data = "abc";
  const std::string sha1_hex = HexEncode(Sha1(data));
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod-1/u", "up1"));
  t.Reply(503, ErrorReply(503, "service_unavailable", "c001_v0001 too busy"),
          {{"Retry-After", "2"}});
  MemoryBody body(data);
  B2UploadFileRequest r{.file_name = "f", .body = &body, .sha1 = Sha1(data)};
  auto first = c->UploadFile(r);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().kind(), ErrorKind::kTransient);
  ASSERT_TRUE(first.status().retry_after().has_value());
  EXPECT_EQ(first.status().retry_after()->count(), 2000);
  EXPECT_EQ(first.status().http_status(), 503);
  EXPECT_NE(first.status().message().find("my-b2: b2_upload_file f: 503"), std::string::npos)
      << first.status().message();
  EXPECT_EQ(c->idle_upload_urls(), 0u) << "the busy URL is not kept";

  t.Reply(200, UploadUrlReply("https://pod-2/u", "up2"));
  t.Reply(200, FileReply("4_f", "f", sha1_hex, data.size()));
  ASSERT_TRUE(c->UploadFile(r).ok());
  ASSERT_EQ(t.count(), 5u);
  EXPECT_EQ(t.request(3).Op(), "b2_get_upload_url");
  EXPECT_EQ(t.request(4).url, "https://pod-2/u");
  EXPECT_EQ(t.request(4).Header("Authorization"), "up2");
}

TEST(B2ClientTest, UploadTransportErrorsAndTimeoutsDiscardTheUrl) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data = "abc";
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod-1/u", "up1"));
  t.Fail(Status(ErrorKind::kTransient, "connection reset by peer"));
  MemoryBody body(data);
  B2UploadFileRequest r{.file_name = "f", .body = &body, .sha1 = Sha1(data)};
  auto res = c->UploadFile(r);
  EXPECT_EQ(res.status().kind(), ErrorKind::kTransient);
  EXPECT_NE(res.status().message().find("discarded"), std::string::npos);
  EXPECT_EQ(c->idle_upload_urls(), 0u);
  t.Reply(200, UploadUrlReply("https://pod-2/u", "up2"));
  t.Reply(408, ErrorReply(408, "request_timeout", "timed out"));
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kTransient);
  EXPECT_EQ(c->idle_upload_urls(), 0u);
  EXPECT_EQ(t.count("b2_get_upload_url"), 2u);
}

TEST(B2ClientTest, UploadTokenRefusedGetsOneFreshUrlAtOnce) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data = "abc";
  const std::string sha1_hex = HexEncode(Sha1(data));
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod-1/u", "up1"));
  t.Reply(401, ErrorReply(401, "expired_auth_token", "Authorization token has expired"));
  t.Reply(200, UploadUrlReply("https://pod-2/u", "up2"));
  t.Reply(200, FileReply("4_f", "f", sha1_hex, data.size()));
  MemoryBody body(data);
  B2UploadFileRequest r{.file_name = "f", .body = &body, .sha1 = Sha1(data)};
  ASSERT_TRUE(c->UploadFile(r).ok());
  EXPECT_EQ(t.request(4).url, "https://pod-2/u");
  EXPECT_EQ(c->authorizations(), 1u) << "an upload token, not the account token, expired";
  // Refused twice in one call: a transient error (the retry layer decides), not kAuth.
  t.Reply(401, ErrorReply(401, "expired_auth_token", ""));
  t.Reply(200, UploadUrlReply("https://pod-3/u", "uptoken3"));
  t.Reply(400, ErrorReply(400, "bad_request", "more than one upload using auth token uptoken3"));
  auto res = c->UploadFile(r);
  EXPECT_EQ(res.status().kind(), ErrorKind::kTransient);
  EXPECT_EQ(res.status().message().find("uptoken3"), std::string::npos) << res.status().message();
  EXPECT_EQ(c->idle_upload_urls(), 0u);
}

TEST(B2ClientTest, ChecksumMismatchIsDetected) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data = "abc";
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod-1/u", "up1"));
  t.Reply(400, ErrorReply(400, "bad_request", "Sha1 did not match data received"));
  MemoryBody body(data);
  B2UploadFileRequest r{.file_name = "f", .body = &body, .sha1 = Sha1("other")};
  auto res = c->UploadFile(r);
  EXPECT_EQ(res.status().kind(), ErrorKind::kChecksumMismatch) << res.status().ToString();
  // A server that reports another SHA-1 or length than we sent is caught too.
  t.Reply(200, UploadUrlReply("https://pod-2/u", "up2"));
  t.Reply(200, FileReply("4_f", "f", HexEncode(Sha1("xyz")), data.size()));
  r.sha1 = Sha1(data);
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kChecksumMismatch);
  t.Reply(200, FileReply("4_f", "f", HexEncode(Sha1(data)), 99));
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kChecksumMismatch);
}

TEST(B2ClientTest, UploadValidatesNameInfoAndDigest) {
  FakeTransport t;
  auto c = MakeClient(&t);
  MemoryBody body("x");
  B2UploadFileRequest r{.file_name = "", .body = &body, .sha1 = Sha1("x")};
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidName);
  r.file_name = "bad\x01name";
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidName);
  r.file_name = std::string(1025, 'a');
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidName);
  r.file_name = "\xff\xfe";
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidName);
  r.file_name = "ok";
  r.sha1 = "short";
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidArgument);
  r.sha1 = Sha1("x");
  r.file_info = {{"b2-secret", "v"}};
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidArgument);
  r.file_info = {{"bad key", "v"}};
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidArgument);
  r.file_info = {{"a", "1"}, {"A", "2"}};
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidArgument);
  r.file_info.clear();
  for (int i = 0; i < 11; ++i) r.file_info["k" + std::to_string(i)] = "v";
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidArgument);
  r.file_info = {{"big", std::string(7000, 'v')}};
  EXPECT_EQ(c->UploadFile(r).status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(t.count(), 0u) << "nothing sent for invalid requests";
}

TEST(B2ClientTest, ConcurrentUploadsNeverShareAnUploadUrl) {
  FakeTransport t;
  std::mutex mu;
  std::map<std::string, int> in_flight;
  std::atomic<int> overlaps{0};
  std::atomic<int> urls{0};
  const std::string data = "payload";
  const std::string sha1_hex = HexEncode(Sha1(data));
  t.SetHandler([&](const SentRequest& r) -> Result<HttpResponse> {
    if (r.Op() == "b2_authorize_account") return HttpResponse{200, {}, AuthReply("acct")};
    if (r.Op() == "b2_get_upload_url") {
      int n = ++urls;
      return HttpResponse{
          200, {}, UploadUrlReply("https://pod/u" + std::to_string(n), "tok" + std::to_string(n))};
    }
    {
      std::lock_guard<std::mutex> l(mu);
      if (++in_flight[r.url] > 1) ++overlaps;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    bool fail = r.url == "https://pod/u3";  // one pod keeps failing: its URL must be dropped
    {
      std::lock_guard<std::mutex> l(mu);
      --in_flight[r.url];
    }
    if (fail) return HttpResponse{503, {}, ErrorReply(503, "service_unavailable", "busy")};
    return HttpResponse{200, {}, FileReply("4_x", "f", sha1_hex, data.size())};
  });
  auto c = MakeClient(&t);
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> ok{0}, transient{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      MemoryBody body(data);
      for (int k = 0; k < kEach; ++k) {
        B2UploadFileRequest r{
            .file_name = "f" + std::to_string(i), .body = &body, .sha1 = Sha1(data)};
        auto res = c->UploadFile(r);
        if (res.ok()) {
          ++ok;
        } else if (res.status().kind() == ErrorKind::kTransient) {
          ++transient;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0) << "an upload URL served two uploads at once";
  EXPECT_EQ(ok.load() + transient.load(), kThreads * kEach);
  EXPECT_EQ(transient.load(), 1) << "the failing URL was used exactly once";
  EXPECT_LE(urls.load(), kThreads + 1) << "URLs are pooled, not fetched per upload";
  EXPECT_EQ(c->authorizations(), 1u);
}

// ---------------------------------------------------------------- large files

TEST(B2ClientTest, LargeFileFlow) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string p1(5000000, 'a'), p2 = "tail";
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, FileReply("4_L", "big 自由.bin", "none", 0, "start",
                         R"({"large_file_sha1":"00","src_last_modified_millis":"5"})"));
  auto start = c->StartLargeFile("big 自由.bin", "",
                                 {{"large_file_sha1", "00"}, {"src_last_modified_millis", "5"}});
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_EQ(start->file_id, "4_L");
  json sb = json::parse(t.request(1).body);
  EXPECT_EQ(sb["bucketId"], "bid");
  EXPECT_EQ(sb["fileName"], "big 自由.bin") << "JSON carries plain UTF-8";
  EXPECT_EQ(sb["contentType"], "application/octet-stream");
  EXPECT_EQ(sb["fileInfo"]["large_file_sha1"], "00");

  auto part_reply = [](int n, const std::string& data) {
    return R"({"fileId":"4_L","partNumber":)" + std::to_string(n) + R"(,"contentLength":)" +
           std::to_string(data.size()) + R"(,"contentSha1":")" + HexEncode(Sha1(data)) +
           R"(","uploadTimestamp":1})";
  };
  t.Reply(200, R"({"fileId":"4_L","uploadUrl":"https://pod/p1","authorizationToken":"pt1"})");
  t.Reply(200, part_reply(1, p1));
  MemoryBody b1(p1), b2(p2);
  auto r1 = c->UploadPart({.file_id = "4_L", .part_number = 1, .body = &b1, .sha1 = Sha1(p1)});
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->content_sha1, HexEncode(Sha1(p1)));
  EXPECT_EQ(t.request(2).Op(), "b2_get_upload_part_url");
  EXPECT_EQ(json::parse(t.request(2).body)["fileId"], "4_L");
  SentRequest up = t.request(3);
  EXPECT_EQ(up.url, "https://pod/p1");
  EXPECT_EQ(up.Header("Authorization"), "pt1");
  EXPECT_EQ(up.Header("X-Bz-Part-Number"), "1");
  EXPECT_EQ(up.Header("X-Bz-Content-Sha1"), HexEncode(Sha1(p1)));
  EXPECT_EQ(c->idle_part_urls("4_L"), 1u);
  t.Reply(200, part_reply(2, p2));
  ASSERT_TRUE(
      c->UploadPart({.file_id = "4_L", .part_number = 2, .body = &b2, .sha1 = Sha1(p2)}).ok());
  EXPECT_EQ(t.count("b2_get_upload_part_url"), 1u) << "part URL pooled per large file";

  // list_parts follows nextPartNumber
  t.Reply(200,
          R"({"parts":[{"fileId":"4_L","partNumber":1,"contentLength":5000000,"contentSha1":")" +
              HexEncode(Sha1(p1)) + R"("}],"nextPartNumber":2})");
  t.Reply(200, R"({"parts":[{"fileId":"4_L","partNumber":2,"contentLength":4,"contentSha1":")" +
                   HexEncode(Sha1(p2)) + R"("}],"nextPartNumber":null})");
  auto parts = c->ListParts("4_L");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[1].content_length, 4u);
  size_t n = t.count();
  EXPECT_FALSE(json::parse(t.request(n - 2).body).contains("startPartNumber"));
  EXPECT_EQ(json::parse(t.request(n - 1).body)["startPartNumber"], 2);

  t.Reply(200, FileReply("4_L", "big 自由.bin", "none", p1.size() + p2.size()));
  auto fin = c->FinishLargeFile("4_L", {HexEncode(Sha1(p1)), HexEncode(Sha1(p2))});
  ASSERT_TRUE(fin.ok()) << fin.status().ToString();
  json fb = json::parse(t.request(t.count() - 1).body);
  EXPECT_EQ(fb["fileId"], "4_L");
  ASSERT_EQ(fb["partSha1Array"].size(), 2u);
  EXPECT_EQ(fb["partSha1Array"][0], HexEncode(Sha1(p1)));
  EXPECT_EQ(fb["partSha1Array"][1], HexEncode(Sha1(p2)));
  EXPECT_EQ(c->idle_part_urls("4_L"), 0u) << "part URLs dropped with the finished file";
}

TEST(B2ClientTest, GoneLargeFileIsNotFound) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: 4_L"));
  EXPECT_EQ(c->ListParts("4_L").status().kind(), ErrorKind::kNotFound);
  t.Reply(400, ErrorReply(400, "file_not_present", "File not present: 4_L"));
  EXPECT_EQ(c->CancelLargeFile("4_L").kind(), ErrorKind::kNotFound);
  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: 4_L"));
  MemoryBody body("x");
  auto up = c->UploadPart({.file_id = "4_L", .part_number = 1, .body = &body, .sha1 = Sha1("x")});
  EXPECT_EQ(up.status().kind(), ErrorKind::kNotFound) << up.status().ToString();
  EXPECT_EQ(t.request(t.count() - 1).Op(), "b2_get_upload_part_url");
}

TEST(B2ClientTest, PartUpload503DiscardsOnlyThatPartUrl) {
  FakeTransport t;
  auto c = MakeClient(&t);
  const std::string data = "part";
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"fileId":"4_L","uploadUrl":"https://pod/p1","authorizationToken":"pt1"})");
  t.Reply(503, ErrorReply(503, "service_unavailable", "busy"));
  MemoryBody body(data);
  B2UploadPartRequest r{.file_id = "4_L", .part_number = 3, .body = &body, .sha1 = Sha1(data)};
  EXPECT_EQ(c->UploadPart(r).status().kind(), ErrorKind::kTransient);
  EXPECT_EQ(c->idle_part_urls("4_L"), 0u);
  t.Reply(200, R"({"fileId":"4_L","uploadUrl":"https://pod/p2","authorizationToken":"pt2"})");
  t.Reply(200, R"({"fileId":"4_L","partNumber":3,"contentLength":4,"contentSha1":")" +
                   HexEncode(Sha1(data)) + R"("})");
  ASSERT_TRUE(c->UploadPart(r).ok());
  EXPECT_EQ(t.request(t.count() - 1).url, "https://pod/p2");
}

TEST(B2ClientTest, ListUnfinishedLargeFilesPagesAndFilters) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"files":[{"fileId":"i1","fileName":"p/a","action":"start","uploadTimestamp":7}],
                 "nextFileId":"i2"})");
  t.Reply(200, R"({"files":[{"fileId":"i2","fileName":"p/b","action":"start"},
                            {"fileId":"i3","fileName":"q/c","action":"start"}],"nextFileId":null})");
  auto files = c->ListUnfinishedLargeFiles("p/");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->size(), 2u) << "a server that ignores namePrefix is filtered client-side";
  EXPECT_EQ((*files)[0].upload_timestamp, 7);
  json b1 = json::parse(t.request(1).body), b2 = json::parse(t.request(2).body);
  EXPECT_EQ(b1["namePrefix"], "p/");
  EXPECT_EQ(b1["maxFileCount"], 100);
  EXPECT_FALSE(b1.contains("startFileId"));
  EXPECT_EQ(b2["startFileId"], "i2");
}

// ---------------------------------------------------------------- listing, hide, delete

TEST(B2ClientTest, ListFileNamesRequestAndPaging) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"files":[{"action":"upload","fileId":"i","fileName":"a/1","contentLength":3},
                            {"action":"folder","fileId":null,"fileName":"a/b/"}],
                   "nextFileName":"a/c"})");
  B2ListFileNamesRequest r{.prefix = "a/", .delimiter = "/", .max_file_count = 50000};
  auto page = c->ListFileNames(r);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->files.size(), 2u);
  EXPECT_EQ(page->next_file_name, "a/c");
  json b = json::parse(t.request(1).body);
  EXPECT_EQ(b["maxFileCount"], 10000) << "clamped to B2's maximum";
  EXPECT_EQ(b["prefix"], "a/");
  EXPECT_EQ(b["delimiter"], "/");
  EXPECT_FALSE(b.contains("startFileName"));
  t.Reply(200, kEmptyList);
  r.start_file_name = *page->next_file_name;
  r.max_file_count = 0;
  ASSERT_TRUE(c->ListFileNames(r).ok());
  json b2 = json::parse(t.request(2).body);
  EXPECT_EQ(b2["startFileName"], "a/c");
  EXPECT_EQ(b2["maxFileCount"], 1);
}

TEST(B2ClientTest, ListFileVersionsHideAndDelete) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"files":[],"nextFileName":"k","nextFileId":"i9"})");
  auto v = c->ListFileVersions({.prefix = "k", .start_file_name = "k", .start_file_id = "i8"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->next_file_id, "i9");
  json lb = json::parse(t.request(1).body);
  EXPECT_EQ(lb["startFileId"], "i8");
  t.Reply(200, FileReply("4_h", "k", "", 0, "hide"));
  auto h = c->HideFile("k");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->action, "hide");
  json hb = json::parse(t.request(2).body);
  EXPECT_EQ(hb["bucketId"], "bid");
  EXPECT_EQ(hb["fileName"], "k");
  t.Reply(200, R"({"fileId":"4_x","fileName":"k"})");
  ASSERT_TRUE(c->DeleteFileVersion("k", "4_x").ok());
  json db = json::parse(t.request(3).body);
  EXPECT_EQ(db["fileName"], "k");
  EXPECT_EQ(db["fileId"], "4_x");
  t.Reply(400, ErrorReply(400, "file_not_present", "File not present: k 4_x"));
  EXPECT_EQ(c->DeleteFileVersion("k", "4_x").kind(), ErrorKind::kNotFound);
  t.Reply(400, ErrorReply(400, "no_such_file", "nope"));
  EXPECT_EQ(c->HideFile("zz").status().kind(), ErrorKind::kNotFound);
}

// ---------------------------------------------------------------- downloads

TEST(B2ClientTest, HeadParsesHeadersAndDecodesInfo) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, "",
          {{"Content-Length", "1234"},
           {"Content-Type", "application/octet-stream"},
           {"x-bz-file-id", "4_id"},
           {"X-Bz-File-Name", "a%20b+c/%E8%87%AA%E7%94%B1"},
           {"X-Bz-Content-Sha1", "none"},
           {"X-Bz-Upload-Timestamp", "1700000000999"},
           {"X-Bz-Info-large_file_sha1", "ab"},
           {"x-bz-info-Note", "x%2By+z"}});
  auto h = c->HeadFileByName("a b c/自由");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  SentRequest r = t.request(1);
  EXPECT_EQ(r.method, "HEAD");
  EXPECT_EQ(r.url, "https://f001.example.com/file/bkt/a%20b%20c/%E8%87%AA%E7%94%B1");
  EXPECT_EQ(r.Header("Authorization"), "acct");
  EXPECT_EQ(h->content_length, 1234u);
  EXPECT_EQ(h->file_id, "4_id");
  EXPECT_EQ(h->file_name, "a b c/自由");
  EXPECT_EQ(h->content_sha1, "none");
  EXPECT_EQ(h->upload_timestamp, 1700000000999);
  EXPECT_EQ(h->file_info.at("large_file_sha1"), "ab");
  EXPECT_EQ(h->file_info.at("note"), "x+y z");
  t.Reply(404);
  EXPECT_EQ(c->HeadFileByName("nope").status().kind(), ErrorKind::kNotFound);
}

TEST(B2ClientTest, HeadReauthorizesOnBodiless401) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("old"));
  t.Reply(401);
  t.Reply(200, AuthReply("new"));
  t.Reply(200, "", {{"Content-Length", "1"}});
  ASSERT_TRUE(c->HeadFileByName("k").ok());
  EXPECT_EQ(t.request(3).Header("Authorization"), "new");
  t.Reply(401);
  t.Reply(200, AuthReply("newer"));
  t.Reply(401);
  EXPECT_EQ(c->HeadFileByName("k").status().kind(), ErrorKind::kAuth);
}

TEST(B2ClientTest, DownloadStreamsRangeAndChecksIt) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(206, "bcd", {{"Content-Range", "bytes 1-3/10"}, {"Content-Length", "3"}});
  std::string got;
  Status st = c->DownloadFileByName("d/f+1", B2Range{1, 3}, [&](std::string_view d) {
    got.append(d);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, "bcd");
  EXPECT_EQ(t.request(1).url, "https://f001.example.com/file/bkt/d/f%2B1");
  EXPECT_EQ(t.request(1).Header("Range"), "bytes=1-3");
  // A server that ignores Range: never more bytes than asked for, and an error.
  t.Reply(200, "abcdefghij");
  got.clear();
  st = c->DownloadFileByName("d/f", B2Range{1, 3}, [&](std::string_view d) {
    got.append(d);
    return true;
  });
  EXPECT_EQ(st.kind(), ErrorKind::kPermanent);
  EXPECT_EQ(got, "");
  t.Reply(404, ErrorReply(404, "not_found", "File with such name does not exist."));
  EXPECT_EQ(c->DownloadFileByName("x", std::nullopt, [](std::string_view) { return true; }).kind(),
            ErrorKind::kNotFound);
  t.Reply(200, "abc");
  EXPECT_EQ(c->DownloadFileByName("x", std::nullopt, [](std::string_view) { return false; }).kind(),
            ErrorKind::kCancelled);
  t.Reply(416, ErrorReply(416, "range_not_satisfiable", "bad range"));
  EXPECT_EQ(
      c->DownloadFileByName("x", B2Range{100, 200}, [](std::string_view) { return true; }).kind(),
      ErrorKind::kPermanent);
}

TEST(B2ClientTest, ErrorMappingThroughTheClient) {
  struct Case {
    int status;
    std::string code;
    ErrorKind want;
  };
  const Case cases[] = {
      {403, "transaction_cap_exceeded", ErrorKind::kCapExceeded},
      {403, "storage_cap_exceeded", ErrorKind::kCapExceeded},
      {403, "cap_exceeded", ErrorKind::kCapExceeded},
      {429, "too_many_requests", ErrorKind::kThrottled},
      {500, "internal_error", ErrorKind::kTransient},
      {503, "service_unavailable", ErrorKind::kTransient},
      {408, "request_timeout", ErrorKind::kTransient},
      {400, "bad_bucket_id", ErrorKind::kNotFound},
      {400, "out_of_range", ErrorKind::kPermanent},
      {401, "unauthorized", ErrorKind::kAuth},
  };
  for (const auto& k : cases) {
    FakeTransport t;
    auto c = MakeClient(&t);
    t.Reply(200, AuthReply("acct"));
    t.Reply(k.status, ErrorReply(k.status, k.code, "m"), {{"Retry-After", "3"}});
    auto r = c->ListFileNames({});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), k.want) << k.status << " " << k.code;
    EXPECT_EQ(r.status().http_status(), k.status);
    EXPECT_EQ(r.status().message().rfind("my-b2: b2_list_file_names bkt: ", 0), 0u)
        << r.status().message();
    EXPECT_EQ(r.status().retry_after().value_or(std::chrono::milliseconds(0)).count(), 3000);
    if (k.code == "bad_bucket_id") {
      EXPECT_NE(r.status().message().find("bucket bkt does not exist"), std::string::npos);
    }
  }
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Fail(Status(ErrorKind::kTransient, "Couldn't connect to server"));
  Status st = c->Authorize();
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_EQ(st.message().rfind("my-b2: b2_authorize_account: ", 0), 0u) << st.message();
}

TEST(B2ClientTest, TokensNeverAppearInErrors) {
  FakeTransport t;
  auto c = MakeClient(&t);
  t.Reply(200, AuthReply("4_ACCOUNTTOKEN"));
  t.Reply(400, ErrorReply(400, "bad_request",
                          "bad token 4_ACCOUNTTOKEN for key 0012keyid K001secretapplicationkey"));
  auto r = c->ListFileNames({});
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_EQ(m.find("4_ACCOUNTTOKEN"), std::string::npos) << m;
  EXPECT_EQ(m.find("K001secretapplicationkey"), std::string::npos) << m;
  EXPECT_EQ(m.find("0012keyid"), std::string::npos) << m;
}

TEST(B2ClientTest, StaleIdleUrlsAreNotReused) {
  class ClockEnv : public EnvWrapper {
   public:
    ClockEnv() : EnvWrapper(Env::Default()) {}
    std::chrono::steady_clock::time_point SteadyNow() override { return now; }
    std::chrono::steady_clock::time_point now{};
  } env;
  FakeTransport t;
  auto o = TestOptions();
  o.env = &env;
  auto c = MakeClient(&t, o);
  const std::string data = "d";
  const std::string reply = FileReply("4_f", "f", HexEncode(Sha1(data)), 1);
  MemoryBody body(data);
  B2UploadFileRequest r{.file_name = "f", .body = &body, .sha1 = Sha1(data)};
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod/1", "u1"));
  t.Reply(200, reply);
  ASSERT_TRUE(c->UploadFile(r).ok());
  env.now += std::chrono::hours(22);
  t.Reply(200, reply);
  ASSERT_TRUE(c->UploadFile(r).ok());
  EXPECT_EQ(t.count("b2_get_upload_url"), 1u);
  env.now += std::chrono::hours(2);  // fetched 24 h ago: too old
  t.Reply(200, UploadUrlReply("https://pod/2", "u2"));
  t.Reply(200, reply);
  ASSERT_TRUE(c->UploadFile(r).ok());
  EXPECT_EQ(t.count("b2_get_upload_url"), 2u);
  EXPECT_EQ(t.request(t.count() - 1).url, "https://pod/2");
}

}  // namespace
}  // namespace ck
