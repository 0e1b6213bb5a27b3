// Parsing B2 replies, including the v1/v3/v4 shapes the client accepts.
#include "b2/b2_json.h"

#include <gtest/gtest.h>

namespace ck {
namespace {

TEST(B2JsonTest, AuthorizeV2) {
  auto a = ParseB2Authorization(R"({
    "accountId":"acc","authorizationToken":"4_tok","apiUrl":"https://api002.backblazeb2.com",
    "downloadUrl":"https://f002.backblazeb2.com","recommendedPartSize":100000000,
    "absoluteMinimumPartSize":5000000,"s3ApiUrl":"https://s3.us-west-002.backblazeb2.com",
    "allowed":{"bucketId":"b1","bucketName":"photos","capabilities":["listFiles","writeFiles"],
               "namePrefix":null}})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->account_id, "acc");
  EXPECT_EQ(a->token, "4_tok");
  EXPECT_EQ(a->api_url, "https://api002.backblazeb2.com");
  EXPECT_EQ(a->download_url, "https://f002.backblazeb2.com");
  EXPECT_EQ(a->recommended_part_size, 100000000u);
  EXPECT_EQ(a->absolute_minimum_part_size, 5000000u);
  ASSERT_EQ(a->allowed_buckets.size(), 1u);
  EXPECT_EQ(a->allowed_buckets[0].first, "b1");
  EXPECT_EQ(a->allowed_buckets[0].second, "photos");
  EXPECT_EQ(a->capabilities.size(), 2u);
  EXPECT_EQ(a->name_prefix, "");
}

TEST(B2JsonTest, AuthorizeV2Unrestricted) {
  auto a = ParseB2Authorization(
      R"({"accountId":"acc","authorizationToken":"t","apiUrl":"http://127.0.0.1:1",
          "downloadUrl":"http://127.0.0.1:1","allowed":{"bucketId":null,"bucketName":null,
          "capabilities":["listBuckets"],"namePrefix":null}})");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->allowed_buckets.empty());
}

TEST(B2JsonTest, AuthorizeV3NestsUnderApiInfo) {
  auto a = ParseB2Authorization(R"({
    "accountId":"acc","authorizationToken":"t3",
    "apiInfo":{"storageApi":{"infoType":"storageApi","apiUrl":"https://api3","downloadUrl":"https://f3",
      "recommendedPartSize":100000000,"absoluteMinimumPartSize":5000000,
      "allowed":{"bucketId":"b3","bucketName":"n3","capabilities":["readFiles"],"namePrefix":"p/"}},
      "groupsApi":{"infoType":"groupsApi"}}})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->api_url, "https://api3");
  EXPECT_EQ(a->download_url, "https://f3");
  EXPECT_EQ(a->absolute_minimum_part_size, 5000000u);
  ASSERT_EQ(a->allowed_buckets.size(), 1u);
  EXPECT_EQ(a->allowed_buckets[0].second, "n3");
  EXPECT_EQ(a->name_prefix, "p/");
}

TEST(B2JsonTest, AuthorizeV4MultiBucket) {
  auto a = ParseB2Authorization(R"({
    "accountId":"acc","authorizationToken":"t4",
    "apiInfo":{"storageApi":{"apiUrl":"https://api4","downloadUrl":"https://f4",
      "absoluteMinimumPartSize":5000000,
      "allowed":{"buckets":[{"id":"x1","name":"one"},{"id":"x2","name":"two"}],
                 "capabilities":["listFiles"],"namePrefix":null}}}})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->allowed_buckets.size(), 2u);
  EXPECT_EQ(a->allowed_buckets[1].first, "x2");
  EXPECT_EQ(a->allowed_buckets[1].second, "two");
}

TEST(B2JsonTest, AuthorizeMissingFieldsIsMalformed) {
  EXPECT_EQ(ParseB2Authorization("nope").status().kind(), ErrorKind::kTransient);
  EXPECT_EQ(ParseB2Authorization(R"({"authorizationToken":"t","apiUrl":"a"})").status().kind(),
            ErrorKind::kTransient);
  auto no_token = ParseB2Authorization(R"({"apiUrl":"a","downloadUrl":"d"})");
  EXPECT_NE(no_token.status().message().find("authorizationToken"), std::string::npos);
}

TEST(B2JsonTest, FileObjectV2AndV1) {
  auto f = ParseB2File(R"({"fileId":"4_z1","fileName":"a/自由.txt","action":"upload",
    "contentLength":12,"contentSha1":"ABCDEF","contentType":"text/plain",
    "uploadTimestamp":1700000000123,"fileInfo":{"src_last_modified_millis":"1","sha256":"ff"}})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->file_id, "4_z1");
  EXPECT_EQ(f->file_name, "a/自由.txt");
  EXPECT_EQ(f->content_length, 12u);
  EXPECT_EQ(f->upload_timestamp, 1700000000123);
  EXPECT_EQ(f->file_info.at("sha256"), "ff");
  auto v1 = ParseB2File(R"({"fileId":"x","fileName":"n","size":77,"fileInfo":null})");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->content_length, 77u);
  EXPECT_TRUE(v1->file_info.empty());
}

TEST(B2JsonTest, FileListWithFoldersAndNext) {
  auto l = ParseB2FileList(R"({"files":[
      {"action":"folder","fileId":null,"fileName":"a/b/","contentLength":0},
      {"action":"upload","fileId":"i","fileName":"a/c","contentLength":3}],
    "nextFileName":"a/d","nextFileId":null})");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->files.size(), 2u);
  EXPECT_EQ(l->files[0].action, "folder");
  EXPECT_EQ(l->files[0].file_id, "");
  EXPECT_EQ(l->next_file_name, "a/d");
  EXPECT_FALSE(l->next_file_id.has_value());
  auto done = ParseB2FileList(R"({"files":[],"nextFileName":null})");
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->next_file_name.has_value());
  EXPECT_FALSE(ParseB2FileList(R"({"nextFileName":null})").ok());
}

TEST(B2JsonTest, PartsAndUploadUrls) {
  auto p = ParseB2PartList(R"({"parts":[{"fileId":"f","partNumber":1,"contentLength":5000000,
    "contentSha1":"aa","uploadTimestamp":5}],"nextPartNumber":2})");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->parts.size(), 1u);
  EXPECT_EQ(p->parts[0].content_length, 5000000u);
  EXPECT_EQ(p->next_part_number, 2);
  auto u =
      ParseB2UploadUrl(R"({"bucketId":"b","uploadUrl":"https://pod/u","authorizationToken":"t"})");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->url, "https://pod/u");
  EXPECT_FALSE(ParseB2UploadUrl(R"({"uploadUrl":"https://pod/u"})").ok());
  auto b = ParseB2Buckets(R"({"buckets":[{"bucketId":"i","bucketName":"n"}]})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0].bucket_id, "i");
}

}  // namespace
}  // namespace ck
