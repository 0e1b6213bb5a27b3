// Classification of B2 error replies and the messages built from them.
#include "b2/b2_errors.h"

#include <gtest/gtest.h>

namespace ck {
namespace {

HttpResponse Reply(int status, const std::string& code, const std::string& message,
                   HttpHeaders headers = {}) {
  std::string body = code.empty() ? ""
                                  : R"({"status":)" + std::to_string(status) + R"(,"code":")" +
                                        code + R"(","message":")" + message + R"("})";
  return HttpResponse{status, std::move(headers), body};
}

TEST(B2ErrorsTest, ClassificationTable) {
  struct Case {
    int status;
    std::string code, message;
    B2Resource resource;
    ErrorKind want;
  };
  using R = B2Resource;
  using K = ErrorKind;
  const Case cases[] = {
      {401, "unauthorized", "", R::kAccount, K::kAuth},
      {401, "unauthorized", "", R::kBucket, K::kAuth},
      {401, "bad_auth_token", "", R::kBucket, K::kAuth},
      {401, "expired_auth_token", "Authorization token has expired", R::kFile, K::kAuth},
      {401, "unsupported", "", R::kAccount, K::kAuth},
      {401, "missing_auth_token", "", R::kBucket, K::kAuth},
      {401, "expired_auth_token", "", R::kUploadUrl, K::kTransient},
      {403, "cap_exceeded", "", R::kUploadUrl, K::kCapExceeded},
      {403, "storage_cap_exceeded", "", R::kUploadUrl, K::kCapExceeded},
      {403, "transaction_cap_exceeded", "", R::kBucket, K::kCapExceeded},
      {403, "download_cap_exceeded", "", R::kFile, K::kCapExceeded},
      {403, "access_denied", "", R::kBucket, K::kAuth},
      {404, "not_found", "", R::kFile, K::kNotFound},
      {404, "", "", R::kFile, K::kNotFound},
      {408, "request_timeout", "", R::kUploadUrl, K::kTransient},
      {429, "too_many_requests", "", R::kBucket, K::kThrottled},
      {500, "internal_error", "", R::kBucket, K::kTransient},
      {503, "service_unavailable", "", R::kUploadUrl, K::kTransient},
      {502, "", "", R::kFile, K::kTransient},
      {400, "bad_request", "Sha1 did not match data received", R::kUploadUrl, K::kChecksumMismatch},
      {400, "bad_request", "Checksum did not match data received", R::kUploadUrl,
       K::kChecksumMismatch},
      {400, "part_sha1_mismatch", "", R::kLargeFile, K::kChecksumMismatch},
      {400, "bad_bucket_id", "", R::kBucket, K::kNotFound},
      {400, "invalid_bucket_id", "", R::kBucket, K::kNotFound},
      {400, "no_such_file", "", R::kFile, K::kNotFound},
      {400, "file_not_present", "File not present: a 4_z", R::kFile, K::kNotFound},
      {400, "invalid_file_id", "", R::kFile, K::kNotFound},
      {400, "bad_request", "No active upload for: 4_z", R::kLargeFile, K::kNotFound},
      {400, "bad_request", "Invalid fileId: xyz", R::kLargeFile, K::kNotFound},
      {400, "bad_request", "", R::kLargeFile, K::kNotFound},
      {400, "bad_request",
       "Part number 1 is 1000 bytes; every part but the last must be at least "
       "5000000 bytes",
       R::kLargeFile, K::kPermanent},
      {400, "bad_request", "", R::kBucket, K::kPermanent},
      {400, "out_of_range", "maxFileCount out of range", R::kBucket, K::kPermanent},
      {400, "already_hidden", "", R::kFile, K::kPermanent},
      {400, "auth_token_limit", "", R::kUploadUrl, K::kTransient},
      {400, "bad_request", "more than one upload using auth token 4_z", R::kUploadUrl,
       K::kTransient},
      {409, "conflict", "", R::kFile, K::kPermanent},
      {416, "range_not_satisfiable", "", R::kFile, K::kPermanent},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ClassifyB2Error(c.status, c.code, c.message, c.resource), c.want)
        << c.status << " " << c.code << " " << c.message;
  }
}

TEST(B2ErrorsTest, ReauthorizeOnlyForTokenExpiry) {
  EXPECT_TRUE(IsExpiredAuthToken(401, "expired_auth_token"));
  EXPECT_TRUE(IsExpiredAuthToken(401, "bad_auth_token"));
  EXPECT_TRUE(IsExpiredAuthToken(401, ""));  // HEAD: no document to tell
  EXPECT_FALSE(IsExpiredAuthToken(401, "unauthorized"));
  EXPECT_FALSE(IsExpiredAuthToken(401, "unsupported"));
  EXPECT_FALSE(IsExpiredAuthToken(400, "expired_auth_token"));
}

TEST(B2ErrorsTest, UploadTokenRejection) {
  EXPECT_TRUE(IsUploadTokenRejected(401, "expired_auth_token", ""));
  EXPECT_TRUE(IsUploadTokenRejected(401, "", ""));
  EXPECT_TRUE(IsUploadTokenRejected(400, "auth_token_limit", ""));
  EXPECT_TRUE(
      IsUploadTokenRejected(400, "bad_request", "More than one upload using auth token 4_x"));
  EXPECT_FALSE(IsUploadTokenRejected(503, "service_unavailable", ""));
  EXPECT_FALSE(IsUploadTokenRejected(400, "bad_request", "Sha1 did not match"));
}

TEST(B2ErrorsTest, MessageNamesDestinationOperationAndTarget) {
  B2ErrorContext ctx{"my-b2", "b2_upload_file", "photos/a b.jpg", "bkt", B2Resource::kUploadUrl};
  Status st = B2ResponseError(
      ctx, Reply(503, "service_unavailable", "c001_v0001007 is too busy", {{"Retry-After", "7"}}),
      {});
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_EQ(st.http_status(), 503);
  ASSERT_TRUE(st.retry_after().has_value());
  EXPECT_EQ(st.retry_after()->count(), 7000);
  EXPECT_EQ(st.message().rfind("my-b2: b2_upload_file photos/a b.jpg: 503 service_unavailable: "
                               "c001_v0001007 is too busy",
                               0),
            0u)
      << st.message();
  EXPECT_NE(st.message().find("upload URL was discarded"), std::string::npos) << st.message();
}

TEST(B2ErrorsTest, BadBucketSaysBucketDoesNotExist) {
  B2ErrorContext ctx{"my-b2", "b2_list_file_names", "bkt", "bkt", B2Resource::kBucket};
  Status st = B2ResponseError(ctx, Reply(400, "bad_bucket_id", "Invalid bucketId: bid"), {});
  EXPECT_EQ(st.kind(), ErrorKind::kNotFound);
  EXPECT_NE(st.message().find("bucket bkt does not exist"), std::string::npos) << st.message();
}

TEST(B2ErrorsTest, AuthorizeFailureExplainsWrongKey) {
  B2ErrorContext ctx{"my-b2", "b2_authorize_account", "", "bkt", B2Resource::kAccount};
  Status st = B2ResponseError(ctx, Reply(401, "unauthorized", ""), {});
  EXPECT_EQ(st.kind(), ErrorKind::kAuth);
  EXPECT_NE(st.message().find("key ID or application key is wrong"), std::string::npos)
      << st.message();
  Status cap = B2ResponseError(ctx, Reply(403, "transaction_cap_exceeded", "Cap exceeded."), {});
  EXPECT_EQ(cap.kind(), ErrorKind::kCapExceeded);
  EXPECT_NE(cap.message().find("Caps & Alerts"), std::string::npos) << cap.message();
}

TEST(B2ErrorsTest, SecretsAreRedactedFromServerMessages) {
  B2ErrorContext ctx{"my-b2", "b2_upload_file", "x", "bkt", B2Resource::kUploadUrl};
  Status st = B2ResponseError(
      ctx, Reply(400, "bad_request", "more than one upload using auth token 4_TOKENVALUE"),
      {"4_TOKENVALUE", "SECRETKEY"});
  EXPECT_EQ(st.message().find("4_TOKENVALUE"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("<redacted>"), std::string::npos) << st.message();
  EXPECT_EQ(RedactSecrets("a SECRET b SECRET", {"SECRET", "ab"}), "a <redacted> b <redacted>");
}

TEST(B2ErrorsTest, NonJsonBodiesAreTolerated) {
  EXPECT_FALSE(ParseB2Error("").has_value());
  EXPECT_FALSE(ParseB2Error("<html>bad gateway</html>").has_value());
  EXPECT_FALSE(ParseB2Error("{not json").has_value());
  auto doc = ParseB2Error(R"({"status":400,"code":"bad_request","message":"m"})");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->status, 400);
  EXPECT_EQ(doc->code, "bad_request");
  EXPECT_EQ(doc->message, "m");
  B2ErrorContext ctx{"my-b2", "b2_list_file_names", "bkt", "bkt", B2Resource::kBucket};
  HttpResponse html{502, {}, "<html>Bad Gateway</html>"};
  Status st = B2ResponseError(ctx, html, {});
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  EXPECT_EQ(st.message(), "my-b2: b2_list_file_names bkt: 502");
}

}  // namespace
}  // namespace ck
