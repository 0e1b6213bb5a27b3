#include "s3/s3_errors.h"

#include <gtest/gtest.h>

namespace ck {
namespace {

using Clock = std::chrono::system_clock;

HttpResponse Resp(int status, const std::string& code, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  if (!code.empty())
    r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
             "</Code><Message></Message><RequestId>tx1</RequestId></Error>";
  return r;
}

S3ErrorContext Ctx(S3Resource res = S3Resource::kObject) {
  return S3ErrorContext{"aws-s3", "PutObject", "photos/a.jpg", "my-bucket", res};
}

TEST(S3ErrorsTest, Classification) {
  struct Case {
    int status;
    const char* code;
    ErrorKind kind;
  };
  const Case cases[] = {
      {403, "SignatureDoesNotMatch", ErrorKind::kAuth},
      {403, "InvalidAccessKeyId", ErrorKind::kAuth},
      {403, "AccessDenied", ErrorKind::kAuth},
      {400, "ExpiredToken", ErrorKind::kAuth},
      {403, "RequestTimeTooSkewed", ErrorKind::kAuth},
      {403, "", ErrorKind::kAuth},
      {401, "", ErrorKind::kAuth},
      {404, "NoSuchKey", ErrorKind::kNotFound},
      {404, "NoSuchBucket", ErrorKind::kNotFound},
      {404, "NoSuchUpload", ErrorKind::kNotFound},
      {404, "", ErrorKind::kNotFound},
      {503, "SlowDown", ErrorKind::kThrottled},
      {429, "", ErrorKind::kThrottled},
      {429, "TooManyRequests", ErrorKind::kThrottled},
      {500, "InternalError", ErrorKind::kTransient},
      {500, "", ErrorKind::kTransient},
      {502, "", ErrorKind::kTransient},
      {503, "ServiceUnavailable", ErrorKind::kTransient},
      {504, "", ErrorKind::kTransient},
      {400, "RequestTimeout", ErrorKind::kTransient},
      {408, "", ErrorKind::kTransient},
      {400, "BadDigest", ErrorKind::kChecksumMismatch},
      {400, "InvalidDigest", ErrorKind::kChecksumMismatch},
      {400, "XAmzContentSHA256Mismatch", ErrorKind::kChecksumMismatch},
      {403, "QuotaExceeded", ErrorKind::kCapExceeded},
      {400, "EntityTooSmall", ErrorKind::kPermanent},
      {400, "InvalidPart", ErrorKind::kPermanent},
      {409, "BucketNotEmpty", ErrorKind::kPermanent},
      {416, "InvalidRange", ErrorKind::kPermanent},
      {400, "", ErrorKind::kPermanent},
      {301, "PermanentRedirect", ErrorKind::kPermanent},
      {0, "InternalError", ErrorKind::kTransient},  // 200 + <Error>
      {0, "SomethingNew", ErrorKind::kPermanent},
  };
  for (const auto& c : cases)
    EXPECT_EQ(ClassifyS3Error(c.status, c.code), c.kind) << c.status << " " << c.code;
}

TEST(S3ErrorsTest, HumanMessage) {
  Status st = S3ResponseError(Ctx(), Resp(403, "SignatureDoesNotMatch"), Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kAuth);
  EXPECT_EQ(st.http_status(), 403);
  EXPECT_EQ(st.message(),
            "aws-s3: PutObject photos/a.jpg: 403 SignatureDoesNotMatch (the secret access key is "
            "wrong)");
  EXPECT_FALSE(st.retry_after().has_value());
}

TEST(S3ErrorsTest, NotFoundSaysWhich) {
  Status bucket = S3ResponseError(Ctx(), Resp(404, "NoSuchBucket"), Clock::now());
  EXPECT_EQ(bucket.kind(), ErrorKind::kNotFound);
  EXPECT_NE(bucket.message().find("bucket my-bucket does not exist"), std::string::npos);
  Status key = S3ResponseError(Ctx(), Resp(404, "NoSuchKey"), Clock::now());
  EXPECT_NE(key.message().find("404 NoSuchKey (the object does not exist)"), std::string::npos);
  Status upload =
      S3ResponseError(Ctx(S3Resource::kUpload), Resp(404, "NoSuchUpload"), Clock::now());
  EXPECT_NE(upload.message().find("multipart upload does not exist"), std::string::npos);
  // Ceph RGW 16 says NoSuchKey for a vanished upload.
  Status rgw_upload =
      S3ResponseError(Ctx(S3Resource::kUpload), Resp(404, "NoSuchKey"), Clock::now());
  EXPECT_EQ(rgw_upload.kind(), ErrorKind::kNotFound);
  EXPECT_NE(rgw_upload.message().find("404 NoSuchKey (the multipart upload does not exist"),
            std::string::npos);
  // HEAD: no body; the resource decides the wording.
  Status head_bucket = S3ResponseError(
      S3ErrorContext{"n", "HeadBucket", "my-bucket", "my-bucket", S3Resource::kBucket},
      Resp(404, ""), Clock::now());
  EXPECT_EQ(head_bucket.kind(), ErrorKind::kNotFound);
  EXPECT_EQ(head_bucket.message(),
            "n: HeadBucket my-bucket: 404 Not Found (bucket my-bucket does not exist)");
  Status head_key = S3ResponseError(Ctx(), Resp(404, ""), Clock::now());
  EXPECT_EQ(head_key.message(),
            "aws-s3: PutObject photos/a.jpg: 404 Not Found (the object does not exist)");
  Status head_403 = S3ResponseError(Ctx(), Resp(403, ""), Clock::now());
  EXPECT_EQ(head_403.kind(), ErrorKind::kAuth);
  EXPECT_NE(head_403.message().find("403 Forbidden"), std::string::npos);
}

TEST(S3ErrorsTest, ErrorCodeHeaderOnBodilessResponse) {
  Status st = S3ResponseError(Ctx(), Resp(403, "", {{"x-amz-error-code", "InvalidAccessKeyId"}}),
                              Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kAuth);
  EXPECT_NE(st.message().find("403 InvalidAccessKeyId"), std::string::npos);
}

TEST(S3ErrorsTest, ThrottlingAndRetryAfter) {
  Status slow = S3ResponseError(Ctx(), Resp(503, "SlowDown", {{"Retry-After", "7"}}), Clock::now());
  EXPECT_EQ(slow.kind(), ErrorKind::kThrottled);
  ASSERT_TRUE(slow.retry_after().has_value());
  EXPECT_EQ(*slow.retry_after(), std::chrono::seconds(7));

  Status too_many = S3ResponseError(Ctx(), Resp(429, ""), Clock::now());
  EXPECT_EQ(too_many.kind(), ErrorKind::kThrottled);
  EXPECT_FALSE(too_many.retry_after().has_value());

  Status plain_503 = S3ResponseError(Ctx(), Resp(503, ""), Clock::now());
  EXPECT_EQ(plain_503.kind(), ErrorKind::kTransient);
  Status paced_503 = S3ResponseError(Ctx(), Resp(503, "", {{"retry-after", "2"}}), Clock::now());
  EXPECT_EQ(paced_503.kind(), ErrorKind::kThrottled);

  auto now = Clock::from_time_t(1255369800);  // Mon, 12 Oct 2009 17:50:00 GMT
  Status dated = S3ResponseError(
      Ctx(), Resp(503, "SlowDown", {{"Retry-After", "Mon, 12 Oct 2009 17:50:30 GMT"}}), now);
  ASSERT_TRUE(dated.retry_after().has_value());
  EXPECT_EQ(*dated.retry_after(), std::chrono::seconds(30));
  Status past = S3ResponseError(
      Ctx(), Resp(503, "SlowDown", {{"Retry-After", "Mon, 12 Oct 2009 17:49:00 GMT"}}), now);
  EXPECT_EQ(*past.retry_after(), std::chrono::milliseconds(0));
  Status junk = S3ResponseError(Ctx(), Resp(503, "SlowDown", {{"Retry-After", "soon"}}), now);
  EXPECT_FALSE(junk.retry_after().has_value());
}

TEST(S3ErrorsTest, ErrorInsideA200) {
  Status st = S3ResponseError(Ctx(), Resp(200, "InternalError"), Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_EQ(st.http_status(), 200);
  EXPECT_NE(st.message().find("200 InternalError"), std::string::npos);
}

TEST(S3ErrorsTest, ChecksumErrors) {
  Status st = S3ResponseError(Ctx(), Resp(400, "BadDigest"), Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kChecksumMismatch);
  EXPECT_NE(st.message().find("Content-MD5"), std::string::npos);
  EXPECT_EQ(S3ResponseError(Ctx(), Resp(400, "XAmzContentSHA256Mismatch"), Clock::now()).kind(),
            ErrorKind::kChecksumMismatch);
}

TEST(S3ErrorsTest, ServerMessageUsedWhenNoHint) {
  HttpResponse r;
  r.status = 400;
  r.body = "<Error><Code>InvalidArgument</Code><Message>Bad header x</Message></Error>";
  Status st = S3ResponseError(Ctx(), r, Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kPermanent);
  EXPECT_EQ(st.message(), "aws-s3: PutObject photos/a.jpg: 400 InvalidArgument (Bad header x)");
}

TEST(S3ErrorsTest, RedirectNamesRegion) {
  Status st = S3ResponseError(
      Ctx(), Resp(301, "PermanentRedirect", {{"x-amz-bucket-region", "eu-west-1"}}), Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kPermanent);
  EXPECT_NE(st.message().find("eu-west-1"), std::string::npos);
}

TEST(S3ErrorsTest, TargetIsEscapedForDisplay) {
  S3ErrorContext ctx{"s3", "GetObject", "bad\x01key\n", "b", S3Resource::kObject};
  Status st = S3ResponseError(ctx, Resp(404, "NoSuchKey"), Clock::now());
  EXPECT_NE(st.message().find("bad\\x01key\\x0A"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ck
