// S3Destination: mapping onto S3Client, with a scripted transport. Real servers:
// tests/integration/s3_conformance_test.cc runs the conformance suite on RGW and s3rver.
#include "dest/s3_destination.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <random>

#include "util/hash.h"

namespace ck {
namespace {

struct Script {
  std::vector<HttpRequest> requests;  // body pointers are not kept valid
  std::deque<HttpResponse> replies;

  void Reply(int status, std::string body = "", HttpHeaders headers = {}) {
    replies.push_back(HttpResponse{status, std::move(headers), std::move(body)});
  }
  Result<HttpResponse> Send(const HttpRequest& r) {
    requests.push_back(r);
    if (replies.empty()) return Status(ErrorKind::kInternal, "no scripted reply");
    HttpResponse resp = std::move(replies.front());
    replies.pop_front();
    if (r.body_sink) {
      if (!resp.body.empty() && !r.body_sink(resp.body))
        return Status(ErrorKind::kCancelled, "aborted");
      resp.body.clear();
    }
    return resp;
  }
};

std::unique_ptr<S3Destination> MakeDest(Script* s, bool sign_payload = false) {
  S3ClientOptions o;
  o.name = "aws-s3";
  o.endpoint = "http://127.0.0.1:9000";
  o.bucket = "bkt";
  o.credentials = {"AK", "SECRETKEY", ""};
  auto c = S3Client::MakeWithTransport(o, [s](const HttpRequest& r) { return s->Send(r); });
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::make_unique<S3Destination>("aws-s3", std::move(c).value(), sign_payload);
}

TEST(S3DestinationTest, Capabilities) {
  Script s;
  auto d = MakeDest(&s);
  Capabilities c = d->capabilities();
  EXPECT_TRUE(c.multipart);
  EXPECT_EQ(c.min_part_size, 5ull << 20);
  EXPECT_EQ(c.max_part_size, 5ull << 30);
  EXPECT_EQ(c.max_parts, 10000);
  EXPECT_EQ(c.max_single_put, 5ull << 30);
  EXPECT_EQ(c.max_key_bytes, 1024u);
  EXPECT_EQ(c.verified_digest, DigestAlgo::kMd5);
  EXPECT_TRUE(c.etag_is_md5);
  EXPECT_TRUE(c.multipart_etag_md5_of_md5s);
  EXPECT_EQ(d->name(), "aws-s3");
}

TEST(S3DestinationTest, CheckMapsHeadBucket) {
  Script s;
  auto d = MakeDest(&s);
  s.Reply(200);
  EXPECT_TRUE(d->Check().ok());
  EXPECT_EQ(s.requests[0].method, "HEAD");
  EXPECT_EQ(s.requests[0].url, "http://127.0.0.1:9000/bkt");
  s.Reply(404);
  Status st = d->Check();
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_NE(st.message().find("bucket bkt does not exist"), std::string::npos) << st.message();
  // HEAD says only "403": one follow-up GET learns why.
  s.Reply(403);
  s.Reply(403, "<Error><Code>SignatureDoesNotMatch</Code><Message></Message></Error>");
  size_t before = s.requests.size();
  Status auth = d->Check();
  EXPECT_EQ(auth.kind(), ErrorKind::kAuth);
  EXPECT_NE(auth.message().find("the secret access key is wrong"), std::string::npos)
      << auth.message();
  ASSERT_EQ(s.requests.size(), before + 2);
  EXPECT_EQ(s.requests[before + 1].method, "GET");
  s.Reply(500);
  EXPECT_EQ(d->Check().kind(), ErrorKind::kTransient);
}

TEST(S3DestinationTest, PutRequiresMd5AndPassesDigests) {
  Script s;
  auto d = MakeDest(&s);
  MemoryBody body("abc");
  PutRequest req;
  req.key = "k";
  req.body = &body;
  EXPECT_EQ(d->Put(req).status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_TRUE(s.requests.empty());
  req.md5 = Md5("abc");
  req.sha256 = Sha256("abc");
  req.metadata = {{"mtime", "5"}};
  s.Reply(200, "", {{"ETag", "\"900150983cd24fb0d6963f7d28e17f72\""}});
  auto r = d->Put(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->etag, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(FindHeader(s.requests[0].headers, "Content-MD5"), Base64Encode(req.md5));
  EXPECT_EQ(FindHeader(s.requests[0].headers, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(FindHeader(s.requests[0].headers, "x-amz-meta-mtime"), "5");
}

TEST(S3DestinationTest, ContentMd5IsAlwaysSignedAndThePayloadOnlyOnRequest) {
  for (bool sign : {false, true}) {
    SCOPED_TRACE(sign ? "sign_payload" : "unsigned payload");
    Script s;
    auto d = MakeDest(&s, sign);
    const std::string data = "0123456789";
    MemoryBody body(data);
    PutRequest req;
    req.key = "k";
    req.body = &body;
    req.md5 = Md5(data);
    req.sha256 = Sha256(data);
    s.Reply(200, "", {{"ETag", "\"" + HexEncode(req.md5) + "\""}});
    ASSERT_TRUE(d->Put(req).ok());
    PartUpload part;
    part.part_number = 1;
    part.body = &body;
    part.md5 = req.md5;
    part.sha256 = req.sha256;
    s.Reply(200, "", {{"ETag", "\"" + HexEncode(req.md5) + "\""}});
    ASSERT_TRUE(d->UploadPart("k", "U", part).ok());
    ASSERT_EQ(s.requests.size(), 2u);
    for (const HttpRequest& r : s.requests) {
      EXPECT_EQ(FindHeader(r.headers, "x-amz-content-sha256"),
                sign ? HexEncode(req.sha256) : std::string("UNSIGNED-PAYLOAD"));
      EXPECT_EQ(FindHeader(r.headers, "Content-MD5"), Base64Encode(req.md5));
      const std::string auth = FindHeader(r.headers, "Authorization");
      const size_t at = auth.find("SignedHeaders=");
      ASSERT_NE(at, std::string::npos) << auth;
      EXPECT_NE(auth.find("content-md5", at), std::string::npos) << auth;
      EXPECT_NE(auth.find("x-amz-content-sha256", at), std::string::npos) << auth;
    }
  }
}

TEST(S3DestinationTest, HeadListGetDelete) {
  Script s;
  auto d = MakeDest(&s);
  s.Reply(200, "",
          {{"Content-Length", "3"},
           {"ETag", "\"e\""},
           {"x-amz-meta-sha256", "ff"},
           {"Last-Modified", "Mon, 12 Oct 2009 17:50:00 GMT"}});
  auto h = d->Head("a");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->key, "a");
  EXPECT_EQ(h->size, 3u);
  EXPECT_EQ(h->etag, "e");
  EXPECT_EQ(h->metadata.at("sha256"), "ff");
  EXPECT_EQ(h->last_modified_ms, 1255369800000);

  s.Reply(200,
          "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t</"
          "NextContinuationToken><Contents><Key>a</Key><Size>3</Size><ETag>\"e\"</ETag>"
          "</Contents><CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>");
  ListOptions lo;
  lo.delimiter = "/";
  auto page = d->List(lo);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "a");
  EXPECT_EQ(page->objects[0].etag, "e");
  EXPECT_EQ(page->common_prefixes, std::vector<std::string>{"d/"});
  EXPECT_EQ(page->next_continuation_token, "t");

  s.Reply(206, "bc", {{"Content-Range", "bytes 1-2/3"}});
  std::string got;
  GetOptions go;
  go.range = std::make_pair(uint64_t{1}, uint64_t{2});
  ASSERT_TRUE(d->Get("a", go, [&](std::string_view v) {
                 got.append(v);
                 return true;
               }).ok());
  EXPECT_EQ(got, "bc");
  EXPECT_EQ(FindHeader(s.requests.back().headers, "Range"), "bytes=1-2");

  s.Reply(404, "<Error><Code>NoSuchKey</Code></Error>");
  EXPECT_TRUE(d->Delete("gone").ok());
  s.Reply(404, "<Error><Code>NoSuchKey</Code></Error>");
  EXPECT_EQ(d->Head("gone").status().kind(), ErrorKind::kNotFound);
}

TEST(S3DestinationTest, ListSendsStartAfterOnTheFirstRequestOnly) {
  Script s;
  auto d = MakeDest(&s);
  const std::string empty = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
  s.Reply(200, empty);
  ListOptions lo;
  lo.prefix = "p/";
  lo.start_after = "p/k 1";
  ASSERT_TRUE(d->List(lo).ok());
  EXPECT_NE(s.requests.back().url.find("start-after=p%2Fk%201"), std::string::npos)
      << s.requests.back().url;
  s.Reply(200, empty);
  lo.continuation_token = "tok";
  ASSERT_TRUE(d->List(lo).ok());
  EXPECT_EQ(s.requests.back().url.find("start-after"), std::string::npos) << s.requests.back().url;
  EXPECT_NE(s.requests.back().url.find("continuation-token=tok"), std::string::npos);
  s.Reply(200, empty);
  ASSERT_TRUE(d->List(ListOptions{}).ok());
  EXPECT_EQ(s.requests.back().url.find("start-after"), std::string::npos) << "none when empty";
}

TEST(S3DestinationTest, Multipart) {
  Script s;
  auto d = MakeDest(&s);
  s.Reply(200,
          "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>");
  auto id = d->StartMultipart("big", {{"sha256", "aa"}}, "application/octet-stream");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "U");

  std::string data = "part one";
  MemoryBody body(data);
  PartUpload part;
  part.part_number = 1;
  part.body = &body;
  EXPECT_EQ(d->UploadPart("big", "U", part).status().kind(), ErrorKind::kInvalidArgument);
  part.md5 = Md5(data);
  s.Reply(200, "", {{"ETag", "\"" + HexEncode(part.md5) + "\""}});
  auto info = d->UploadPart("big", "U", part);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->part_number, 1);
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->etag, HexEncode(part.md5));
  EXPECT_EQ(info->checksum, HexEncode(part.md5));

  s.Reply(200,
          "<ListPartsResult><IsTruncated>false</IsTruncated>"
          "<Part><PartNumber>1</PartNumber><Size>8</Size><ETag>\"ABCDEF0123456789ABCDEF0123456789\""
          "</ETag></Part><Part><PartNumber>2</PartNumber><Size>1</Size><ETag>\"opaque\"</ETag>"
          "</Part></ListPartsResult>");
  auto parts = d->ListParts("big", "U");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].checksum, "abcdef0123456789abcdef0123456789");
  EXPECT_EQ((*parts)[1].checksum, "");
  EXPECT_EQ((*parts)[1].etag, "opaque");

  s.Reply(200,
          "<CompleteMultipartUploadResult><ETag>\"x-1\"</ETag></CompleteMultipartUploadResult>");
  auto done = d->CompleteMultipart("big", "U", {*info});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->etag, "x-1");

  s.Reply(404, "<Error><Code>NoSuchUpload</Code></Error>");
  EXPECT_TRUE(d->AbortMultipart("big", "U").ok());

  s.Reply(200,
          "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>big</Key>"
          "<UploadId>U</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
          "</ListMultipartUploadsResult>");
  auto ups = d->ListMultipartUploads("b");
  ASSERT_TRUE(ups.ok()) << ups.status().ToString();
  ASSERT_EQ(ups->size(), 1u);
  EXPECT_EQ((*ups)[0].key, "big");
  EXPECT_EQ((*ups)[0].upload_id, "U");
  EXPECT_GT((*ups)[0].initiated_ms, 0);
}

TEST(S3DestinationTest, FactoryValidatesAndNamesMessages) {
  S3ClientOptions o;
  o.bucket = "b";
  o.credentials = {"AK", "", ""};
  auto http = HttpClient::Make(HttpClientOptions{});
  ASSERT_TRUE(http.ok());
  auto bad = MakeS3Destination("my-dest", o, http->get());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kAuth);
  EXPECT_EQ(bad.status().message().rfind("my-dest: ", 0), 0u) << bad.status().message();
  o.credentials.secret_access_key = "S";
  auto good = MakeS3Destination("my-dest", o, http->get());
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ((*good)->name(), "my-dest");
  EXPECT_EQ(MakeS3Destination("my-dest", o, nullptr).status().kind(), ErrorKind::kConfig);
}

}  // namespace
}  // namespace ck
