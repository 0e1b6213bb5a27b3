// B2Destination: mapping onto B2Client, with a scripted transport. A local B2
// server: tests/integration/b2_conformance_test.cc runs the conformance suite.
#include "dest/b2_destination.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "b2/b2_fake_transport.h"
#include "dest/decorators.h"
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

std::unique_ptr<B2Destination> MakeDest(FakeTransport* t, B2ClientOptions o = TestOptions()) {
  auto c = B2Client::MakeWithTransport(std::move(o), t->transport());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::make_unique<B2Destination>("my-b2", std::move(c).value());
}

std::string PartReply(const std::string& file_id, int n, const std::string& data) {
  return R"({"fileId":")" + file_id + R"(","partNumber":)" + std::to_string(n) +
         R"(,"contentLength":)" + std::to_string(data.size()) + R"(,"contentSha1":")" +
         HexEncode(Sha1(data)) + R"(","uploadTimestamp":1})";
}

TEST(B2DestinationTest, MtimeConversions) {
  EXPECT_EQ(MtimeToMillis("1700000000.5"), 1700000000500);
  EXPECT_EQ(MtimeToMillis("1700000000.123456789"), 1700000000123);
  EXPECT_EQ(MtimeToMillis("1700000000"), 1700000000000);
  EXPECT_EQ(MtimeToMillis("0.000999999"), 0);
  EXPECT_EQ(MtimeToMillis("-2.500000000"), -1500) << "the engine's pre-1970 form: -2 + 0.5";
  EXPECT_FALSE(MtimeToMillis("").has_value());
  EXPECT_FALSE(MtimeToMillis("12.").has_value());
  EXPECT_FALSE(MtimeToMillis("abc").has_value());
  EXPECT_FALSE(MtimeToMillis("1.2x").has_value());
  EXPECT_EQ(MillisToMtime(1700000000500), "1700000000.500000000");
  EXPECT_EQ(MillisToMtime(-1500), "-2.500000000");
  EXPECT_EQ(MtimeToMillis(MillisToMtime(-1500)), -1500);
}

TEST(B2DestinationTest, MetadataMapping) {
  auto info = B2FileInfoFromMetadata({{"mtime", "1700000000.5"}, {"sha256", "ab"}});
  EXPECT_EQ(info.at("src_last_modified_millis"), "1700000000500");
  EXPECT_EQ(info.at("mtime"), "1700000000.5");
  EXPECT_EQ(info.at("sha256"), "ab");
  auto meta = MetadataFromB2FileInfo(info);
  EXPECT_EQ(meta,
            (std::map<std::string, std::string>{{"mtime", "1700000000.5"}, {"sha256", "ab"}}));
  // Files written by other B2 tools: mtime from src_last_modified_millis.
  auto other = MetadataFromB2FileInfo(
      {{"src_last_modified_millis", "1700000000250"}, {"large_file_sha1", "x"}});
  EXPECT_EQ(other, (std::map<std::string, std::string>{{"mtime", "1700000000.250000000"}}));
  EXPECT_EQ(B2FileInfoFromMetadata({{"mtime", "garbage"}}).count("src_last_modified_millis"), 0u);
}

TEST(B2DestinationTest, CapabilitiesFollowTheAccount) {
  FakeTransport t;
  auto d = MakeDest(&t);
  Capabilities c = d->capabilities();
  EXPECT_EQ(t.count(), 0u) << "capabilities() sends nothing";
  EXPECT_TRUE(c.multipart);
  EXPECT_EQ(c.min_part_size, 5000000u);
  EXPECT_EQ(c.max_part_size, 5000000000u);
  EXPECT_EQ(c.max_parts, 10000);
  EXPECT_EQ(c.max_single_put, 5000000000u);
  EXPECT_EQ(c.max_key_bytes, 1024u);
  EXPECT_EQ(c.verified_digest, DigestAlgo::kSha1);
  EXPECT_FALSE(c.etag_is_md5);
  EXPECT_FALSE(c.multipart_etag_md5_of_md5s);
  EXPECT_EQ(d->name(), "my-b2");
  t.Reply(200, AuthReply("acct", true, 6000000));
  ASSERT_TRUE(d->Check().ok());
  EXPECT_EQ(d->capabilities().min_part_size, 6000000u);
  t.Reply(200, AuthReply("acct", true, 1000));
  ASSERT_TRUE(d->Check().ok());
  EXPECT_EQ(d->capabilities().min_part_size, 5000000u) << "never below 5,000,000";
}

TEST(B2DestinationTest, CheckOutcomes) {
  FakeTransport t;
  auto d = MakeDest(&t);
  t.Reply(200, AuthReply("acct"));
  EXPECT_TRUE(d->Check().ok());
  EXPECT_EQ(t.count(), 1u) << "one request when the key names the bucket";
  t.Reply(200, AuthReply("acct", false));
  t.Reply(200, R"({"buckets":[]})");
  Status nf = d->Check();
  EXPECT_EQ(nf.kind(), ErrorKind::kNotFound);
  EXPECT_NE(nf.message().find("bucket bkt does not exist"), std::string::npos) << nf.message();
  t.Reply(401, ErrorReply(401, "unauthorized", ""));
  EXPECT_EQ(d->Check().kind(), ErrorKind::kAuth);
  t.Reply(503, ErrorReply(503, "service_unavailable", "try later"));
  EXPECT_EQ(d->Check().kind(), ErrorKind::kTransient);
  t.Fail(Status(ErrorKind::kTransient, "Could not resolve host"));
  EXPECT_EQ(d->Check().kind(), ErrorKind::kTransient);
}

TEST(B2DestinationTest, PutMapsToUploadFile) {
  FakeTransport t;
  auto d = MakeDest(&t);
  const std::string data = "content";
  MemoryBody body(data);
  PutRequest req{.key = "dir/file 1.txt",
                 .body = &body,
                 .md5 = Md5(data),
                 .sha1 = "",
                 .sha256 = Sha256(data),
                 .metadata = {{"sha256", HexEncode(Sha256(data))}, {"mtime", "1700000000.5"}}};
  EXPECT_EQ(d->Put(req).status().kind(), ErrorKind::kInvalidArgument) << "SHA-1 is required";
  EXPECT_EQ(t.count(), 0u);
  req.sha1 = Sha1(data);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod/u1", "up1"));
  t.Reply(200, FileReply("4_fileid", "dir/file 1.txt", HexEncode(Sha1(data)), data.size()));
  auto r = d->Put(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->etag, "");
  EXPECT_EQ(r->version_id, "4_fileid");
  SentRequest up = t.request(2);
  EXPECT_EQ(up.Header("X-Bz-File-Name"), "dir/file%201.txt");
  EXPECT_EQ(up.Header("X-Bz-Content-Sha1"), HexEncode(Sha1(data)));
  EXPECT_EQ(up.Header("X-Bz-Info-src_last_modified_millis"), "1700000000500");
  EXPECT_EQ(up.Header("X-Bz-Info-mtime"), "1700000000.5");
  EXPECT_EQ(up.Header("X-Bz-Info-sha256"), HexEncode(Sha256(data)));
}

TEST(B2DestinationTest, HeadMapsFileInfo) {
  FakeTransport t;
  auto d = MakeDest(&t);
  const std::string sha1 = HexEncode(Sha1("x"));
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, "",
          {{"Content-Length", "42"},
           {"X-Bz-File-Id", "4_v1"},
           {"X-Bz-Content-Sha1", "none"},
           {"X-Bz-Upload-Timestamp", "1700000000999"},
           {"X-Bz-Info-large_file_sha1", sha1},
           {"X-Bz-Info-src_last_modified_millis", "1700000000500"},
           {"X-Bz-Info-sha256", "ff"}});
  auto h = d->Head("k");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->key, "k");
  EXPECT_EQ(h->size, 42u);
  EXPECT_EQ(h->etag, "");
  EXPECT_EQ(h->sha1_hex, sha1) << "a large file's SHA-1 comes from large_file_sha1";
  EXPECT_EQ(h->version_id, "4_v1");
  EXPECT_EQ(h->last_modified_ms, 1700000000999);
  EXPECT_EQ(h->metadata, (std::map<std::string, std::string>{{"mtime", "1700000000.500000000"},
                                                             {"sha256", "ff"}}));
  t.Reply(
      200, "",
      {{"Content-Length", "1"}, {"X-Bz-Content-Sha1", "ABCDEF0123456789ABCDEF0123456789ABCDEF01"}});
  EXPECT_EQ(d->Head("k")->sha1_hex, "abcdef0123456789abcdef0123456789abcdef01");
  t.Reply(404);
  EXPECT_EQ(d->Head("gone").status().kind(), ErrorKind::kNotFound);
}

TEST(B2DestinationTest, ListMapsFoldersAndContinuation) {
  FakeTransport t;
  auto d = MakeDest(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"files":[
      {"action":"upload","fileId":"i1","fileName":"p/a","contentLength":3,"contentSha1":")" +
                   HexEncode(Sha1("abc")) + R"(","uploadTimestamp":9,"fileInfo":{"mtime":"1.5"}},
      {"action":"folder","fileId":null,"fileName":"p/sub/","contentLength":0},
      {"action":"upload","fileId":"i2","fileName":"p/b","contentLength":1}],
    "nextFileName":"p/c"})");
  auto page = d->List({.prefix = "p/", .delimiter = "/", .max_keys = 3});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/a");
  EXPECT_EQ(page->objects[0].size, 3u);
  EXPECT_EQ(page->objects[0].sha1_hex, HexEncode(Sha1("abc")));
  EXPECT_EQ(page->objects[0].version_id, "i1");
  EXPECT_EQ(page->objects[0].last_modified_ms, 9);
  EXPECT_EQ(page->objects[0].metadata.at("mtime"), "1.5");
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"p/sub/"});
  EXPECT_EQ(page->next_continuation_token, "p/c");
  json b = json::parse(t.request(1).body);
  EXPECT_EQ(b["maxFileCount"], 3);
  EXPECT_EQ(b["prefix"], "p/");
  EXPECT_EQ(b["delimiter"], "/");
  t.Reply(200, R"({"files":[],"nextFileName":null})");
  auto last = d->List({.prefix = "p/", .continuation_token = "p/c", .max_keys = 20000});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->next_continuation_token, "");
  json b2 = json::parse(t.request(2).body);
  EXPECT_EQ(b2["startFileName"], "p/c");
  EXPECT_EQ(b2["maxFileCount"], 10000);
}

// start_after is exclusive, B2's startFileName inclusive: the destination
// starts at that name and drops it; the following pages use nextFileName.
TEST(B2DestinationTest, ListStartAfterIsExclusiveAndOnlyOnTheFirstRequest) {
  FakeTransport t;
  auto d = MakeDest(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"files":[
      {"action":"upload","fileId":"i1","fileName":"p/b","contentLength":1},
      {"action":"upload","fileId":"i2","fileName":"p/c","contentLength":2}],
    "nextFileName":"p/d"})");
  auto page = d->List({.prefix = "p/", .max_keys = 2, .start_after = "p/b"});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u) << "the name equal to start_after is dropped";
  EXPECT_EQ(page->objects[0].key, "p/c");
  EXPECT_EQ(page->next_continuation_token, "p/d");
  json b = json::parse(t.request(1).body);
  EXPECT_EQ(b["startFileName"], "p/b");
  EXPECT_EQ(b["prefix"], "p/");

  // A start_after that is not a stored name: nothing to drop.
  t.Reply(200, R"({"files":[
      {"action":"upload","fileId":"i3","fileName":"p/bb","contentLength":1}],
    "nextFileName":null})");
  auto other = d->List({.prefix = "p/", .max_keys = 2, .start_after = "p/ba"});
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->objects.size(), 1u);
  EXPECT_EQ(other->objects[0].key, "p/bb");
  EXPECT_EQ(json::parse(t.request(2).body)["startFileName"], "p/ba");

  // With a continuation token the token decides where the page starts, and a
  // name equal to start_after is an ordinary name again.
  t.Reply(200, R"({"files":[
      {"action":"upload","fileId":"i4","fileName":"p/d","contentLength":4}],
    "nextFileName":null})");
  auto next =
      d->List({.prefix = "p/", .continuation_token = "p/d", .max_keys = 2, .start_after = "p/d"});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->objects.size(), 1u);
  EXPECT_EQ(next->objects[0].key, "p/d");
  EXPECT_EQ(next->next_continuation_token, "");
  EXPECT_EQ(json::parse(t.request(3).body)["startFileName"], "p/d");
}

TEST(B2DestinationTest, DeleteRemovesEveryVersionAcrossPages) {
  FakeTransport t;
  auto d = MakeDest(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"files":[
      {"action":"hide","fileId":"v3","fileName":"k"},
      {"action":"upload","fileId":"v2","fileName":"k"}],
    "nextFileName":"k","nextFileId":"v1"})");
  t.Reply(200, R"({"fileId":"v3","fileName":"k"})");
  t.Reply(200, R"({"fileId":"v2","fileName":"k"})");
  t.Reply(200, R"({"files":[
      {"action":"upload","fileId":"v1","fileName":"k"},
      {"action":"start","fileId":"s1","fileName":"k"},
      {"action":"upload","fileId":"o1","fileName":"k2"}],
    "nextFileName":"k3","nextFileId":"o2"})");
  t.Reply(400, ErrorReply(400, "file_not_present", "File not present: k v1"));  // raced
  ASSERT_TRUE(d->Delete("k").ok());
  std::vector<std::string> deleted;
  for (const auto& r : t.requests()) {
    if (r.Op() == "b2_delete_file_version") {
      json b = json::parse(r.body);
      EXPECT_EQ(b["fileName"], "k");
      deleted.push_back(b["fileId"]);
    }
  }
  EXPECT_EQ(deleted, (std::vector<std::string>{"v3", "v2", "v1"}))
      << "hide markers and old versions go; unfinished large files and other names stay";
  json first = json::parse(t.request(1).body), second = json::parse(t.request(4).body);
  EXPECT_EQ(first["prefix"], "k");
  EXPECT_EQ(first["startFileName"], "k");
  EXPECT_FALSE(first.contains("startFileId"));
  EXPECT_EQ(second["startFileId"], "v1");
  EXPECT_EQ(t.pending_replies(), 0u);

  t.Reply(200, R"({"files":[],"nextFileName":null,"nextFileId":null})");
  EXPECT_TRUE(d->Delete("absent").ok());
  t.Reply(200,
          R"({"files":[{"action":"upload","fileId":"x","fileName":"k"}],"nextFileName":null})");
  t.Reply(401, ErrorReply(401, "unauthorized", "no deleteFiles"));
  EXPECT_EQ(d->Delete("k").kind(), ErrorKind::kAuth);
}

TEST(B2DestinationTest, MultipartFlow) {
  FakeTransport t;
  auto d = MakeDest(&t);
  const std::string p1(5000000, 'a'), p2 = "end";
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, FileReply("4_L", "big", "none", 0, "start"));
  auto id = d->StartMultipart(
      "big", {{"mtime", "1700000000.5"}, {"large_file_sha1", HexEncode(Sha1(p1 + p2))}}, "");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "4_L");
  json sb = json::parse(t.request(1).body);
  EXPECT_EQ(sb["fileName"], "big");
  EXPECT_EQ(sb["fileInfo"]["large_file_sha1"], HexEncode(Sha1(p1 + p2)));
  EXPECT_EQ(sb["fileInfo"]["src_last_modified_millis"], "1700000000500");
  EXPECT_EQ(sb["fileInfo"]["mtime"], "1700000000.5");

  MemoryBody b1(p1), b2(p2);
  EXPECT_EQ(
      d->UploadPart("big", "4_L", {.part_number = 1, .body = &b1, .md5 = Md5(p1)}).status().kind(),
      ErrorKind::kInvalidArgument)
      << "SHA-1 required";
  // Parts uploaded out of order (as worker threads do).
  t.Reply(200, R"({"fileId":"4_L","uploadUrl":"https://pod/p","authorizationToken":"pt"})");
  t.Reply(200, PartReply("4_L", 2, p2));
  auto r2 = d->UploadPart("big", "4_L", {.part_number = 2, .body = &b2, .sha1 = Sha1(p2)});
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->part_number, 2);
  EXPECT_EQ(r2->size, 3u);
  EXPECT_EQ(r2->checksum, HexEncode(Sha1(p2)));
  EXPECT_EQ(r2->etag, "");
  t.Reply(200, PartReply("4_L", 1, p1));
  auto r1 = d->UploadPart("big", "4_L", {.part_number = 1, .body = &b1, .sha1 = Sha1(p1)});
  ASSERT_TRUE(r1.ok());

  t.Reply(200, R"({"parts":[)" + PartReply("4_L", 1, p1) + "," + PartReply("4_L", 2, p2) +
                   R"(],"nextPartNumber":null})");
  auto listed = d->ListParts("big", "4_L");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].size, p1.size());
  EXPECT_EQ((*listed)[1].checksum, HexEncode(Sha1(p2)));

  EXPECT_EQ(d->CompleteMultipart("big", "4_L", {*r2, *r1}).status().kind(),
            ErrorKind::kInvalidArgument)
      << "parts must come in order";
  t.Reply(200, FileReply("4_L", "big", "none", p1.size() + p2.size()));
  auto done = d->CompleteMultipart("big", "4_L", {*r1, *r2});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->version_id, "4_L");
  EXPECT_EQ(done->etag, "");
  json fb = json::parse(t.request(t.count() - 1).body);
  EXPECT_EQ(fb["partSha1Array"],
            (std::vector<std::string>{HexEncode(Sha1(p1)), HexEncode(Sha1(p2))}));
}

TEST(B2DestinationTest, CompleteAfterLostReplyChecksTheFile) {
  FakeTransport t;
  auto d = MakeDest(&t);
  const std::string p1(5000000, 'a'), p2 = "end";
  std::vector<PartInfo> parts = {{1, p1.size(), "", HexEncode(Sha1(p1))},
                                 {2, p2.size(), "", HexEncode(Sha1(p2))}};
  t.Reply(200, AuthReply("acct"));
  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: 4_L"));
  t.Reply(200, FileReply("4_L", "big", "none", p1.size() + p2.size()));
  auto done = d->CompleteMultipart("big", "4_L", parts);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->version_id, "4_L");
  EXPECT_EQ(t.request(2).Op(), "b2_get_file_info");
  // Gone for good: kPermanent, never kNotFound (which the engine reads as "done").
  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: 4_L"));
  t.Reply(400, ErrorReply(400, "bad_request", "fileId not found"));
  auto gone = d->CompleteMultipart("big", "4_L", parts);
  EXPECT_EQ(gone.status().kind(), ErrorKind::kPermanent) << gone.status().ToString();
  // The file exists but is something else (wrong size): not a success either.
  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: 4_L"));
  t.Reply(200, FileReply("4_L", "big", "none", 7));
  EXPECT_FALSE(d->CompleteMultipart("big", "4_L", parts).ok());
  // Too-small parts: B2 refuses the finish; that stays a permanent error.
  t.Reply(400, ErrorReply(400, "bad_request", "Part number 1 is smaller than 5000000 bytes"));
  t.Reply(200, FileReply("4_L", "big", "none", 0, "start"));
  EXPECT_EQ(d->CompleteMultipart("big", "4_L", parts).status().kind(), ErrorKind::kPermanent);
}

TEST(B2DestinationTest, AbortAndListUploads) {
  FakeTransport t;
  auto d = MakeDest(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, R"({"fileId":"4_L","accountId":"acc1","bucketId":"bid","fileName":"big"})");
  EXPECT_TRUE(d->AbortMultipart("big", "4_L").ok());
  EXPECT_EQ(t.request(1).Op(), "b2_cancel_large_file");
  EXPECT_EQ(json::parse(t.request(1).body)["fileId"], "4_L");
  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: 4_L"));
  EXPECT_TRUE(d->AbortMultipart("big", "4_L").ok()) << "OK when already gone";
  t.Reply(503, ErrorReply(503, "service_unavailable", ""));
  EXPECT_EQ(d->AbortMultipart("big", "4_L").kind(), ErrorKind::kTransient);

  t.Reply(200,
          R"({"files":[{"fileId":"u1","fileName":"pre/a","action":"start","uploadTimestamp":5}],
                  "nextFileId":null})");
  auto ups = d->ListMultipartUploads("pre/");
  ASSERT_TRUE(ups.ok()) << ups.status().ToString();
  ASSERT_EQ(ups->size(), 1u);
  EXPECT_EQ((*ups)[0].key, "pre/a");
  EXPECT_EQ((*ups)[0].upload_id, "u1");
  EXPECT_EQ((*ups)[0].initiated_ms, 5);
  EXPECT_EQ(json::parse(t.request(t.count() - 1).body)["namePrefix"], "pre/");

  t.Reply(400, ErrorReply(400, "bad_request", "No active upload for: gone"));
  EXPECT_EQ(d->ListParts("k", "gone").status().kind(), ErrorKind::kNotFound);
}

TEST(B2DestinationTest, GetPassesRange) {
  FakeTransport t;
  auto d = MakeDest(&t);
  t.Reply(200, AuthReply("acct"));
  t.Reply(206, "0123", {{"Content-Range", "bytes 10-13/100"}});
  std::string got;
  GetOptions o;
  o.range = std::make_pair(uint64_t{10}, uint64_t{13});
  ASSERT_TRUE(d->Get("f", o, [&](std::string_view s) {
                 got.append(s);
                 return true;
               }).ok());
  EXPECT_EQ(got, "0123");
  EXPECT_EQ(t.request(1).Header("Range"), "bytes=10-13");
}

// The retry decorator and the client's URL pool together: a 503 from an
// upload is retried on a fresh URL, never re-sent to the busy one.
class NoSleepEnv : public EnvWrapper {
 public:
  NoSleepEnv() : EnvWrapper(Env::Default()) {}
  void SleepFor(std::chrono::milliseconds d) override { sleeps.push_back(d.count()); }
  std::vector<int64_t> sleeps;
};

TEST(B2DestinationTest, RetryLayerRetries503OnAFreshUploadUrl) {
  FakeTransport t;
  NoSleepEnv env;
  auto o = TestOptions();
  o.env = &env;
  RetryingDestination d(MakeDest(&t, o), RetryPolicy{}, &env);
  const std::string data = "bytes";
  MemoryBody body(data);
  PutRequest req{.key = "k", .body = &body, .md5 = Md5(data), .sha1 = Sha1(data)};
  t.Reply(200, AuthReply("acct"));
  t.Reply(200, UploadUrlReply("https://pod-1/u", "up1"));
  t.Reply(503, ErrorReply(503, "service_unavailable", "c001 too busy"), {{"Retry-After", "1"}});
  t.Reply(200, UploadUrlReply("https://pod-2/u", "up2"));
  t.Reply(500, ErrorReply(500, "internal_error", "oops"));
  t.Reply(200, UploadUrlReply("https://pod-3/u", "up3"));
  t.Reply(200, FileReply("4_ok", "k", HexEncode(Sha1(data)), data.size()));
  auto r = d.Put(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version_id, "4_ok");
  std::vector<std::string> upload_urls;
  for (const auto& s : t.requests())
    if (s.url.find("pod-") != std::string::npos) upload_urls.push_back(s.url);
  EXPECT_EQ(upload_urls,
            (std::vector<std::string>{"https://pod-1/u", "https://pod-2/u", "https://pod-3/u"}));
  ASSERT_EQ(env.sleeps.size(), 2u);
  EXPECT_GE(env.sleeps[0], 1000) << "Retry-After honoured";
  EXPECT_EQ(d.retries(), 2u);
  EXPECT_EQ(t.pending_replies(), 0u);
}

}  // namespace
}  // namespace ck
