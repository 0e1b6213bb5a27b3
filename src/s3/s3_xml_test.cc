#include "s3/s3_xml.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

namespace ck {
namespace {

TEST(S3XmlTest, ListObjectsV2UrlEncodedKeysAreDecoded) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>dir%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>
  <EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>dir/a+b</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>dir/a%2Bb%01%E2%82%AC%25</Key><LastModified>2009-10-12T17:50:30.5Z</LastModified>
    <ETag>"9b2cf535f27731c974343645a3985328-3"</ETag><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>dir/sub+dir/</Prefix></CommonPrefixes>
</ListBucketResult>)";
  auto r = ParseListObjectsV2(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_EQ(r->objects[0].key, "dir/a b");
  EXPECT_EQ(r->objects[0].size, 434234u);
  EXPECT_EQ(r->objects[0].etag, "fba9dede5f27731c9771645a39863328");
  EXPECT_EQ(r->objects[0].last_modified_ms, 1255369830000);
  EXPECT_EQ(r->objects[0].storage_class, "STANDARD");
  EXPECT_EQ(r->objects[1].key, "dir/a+b\x01\xE2\x82\xAC%");
  EXPECT_EQ(r->objects[1].etag, "9b2cf535f27731c974343645a3985328-3");
  EXPECT_EQ(r->objects[1].last_modified_ms, 1255369830500);
  ASSERT_EQ(r->common_prefixes.size(), 1u);
  EXPECT_EQ(r->common_prefixes[0], "dir/sub dir/");
  EXPECT_TRUE(r->is_truncated);
  EXPECT_EQ(r->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3XmlTest, ListObjectsV2PlainKeysKeepWhitespaceAndPlus) {
  const std::string xml =
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key> </Key><Size>1</Size></Contents>"
      "<Contents><Key>a+b\r\n</Key><Size>2</Size></Contents>"
      "</ListBucketResult>";
  auto r = ParseListObjectsV2(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->objects.size(), 2u);
  EXPECT_EQ(r->objects[0].key, " ");
  EXPECT_EQ(r->objects[1].key, "a+b\r\n");
  EXPECT_FALSE(r->is_truncated);
  EXPECT_EQ(r->next_continuation_token, "");
}

TEST(S3XmlTest, ListObjectsV2Malformed) {
  EXPECT_EQ(ParseListObjectsV2("").status().kind(), ErrorKind::kTransient);
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents>").ok());
  EXPECT_FALSE(ParseListObjectsV2("<Other/>").ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>x</Size>"
                                  "</Contents></ListBucketResult>")
                   .ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                  "</ListBucketResult>")
                   .ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><EncodingType>url</EncodingType><Contents>"
                                  "<Key>bad%zz</Key><Size>1</Size></Contents></ListBucketResult>")
                   .ok());
}

TEST(S3XmlTest, ListParts) {
  const std::string xml = R"(<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>
  <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>
  <Part><PartNumber>1</PartNumber><LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag><Size>5242880</Size></Part>
  <Part><PartNumber>2</PartNumber><ETag>"aaaaaef83f66abc1fa1e8477f296d394"</ETag><Size>10</Size></Part>
</ListPartsResult>)";
  auto r = ParseListParts(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->parts.size(), 2u);
  EXPECT_EQ(r->parts[0].part_number, 1);
  EXPECT_EQ(r->parts[0].size, 5242880u);
  EXPECT_EQ(r->parts[0].etag, "7778aef83f66abc1fa1e8477f296d394");
  EXPECT_EQ(r->parts[1].part_number, 2);
  EXPECT_TRUE(r->is_truncated);
  EXPECT_EQ(r->next_part_number_marker, 2);
  EXPECT_FALSE(
      ParseListParts("<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>").ok());
  EXPECT_FALSE(ParseListParts("<ListPartsResult><Part><PartNumber>one</PartNumber><Size>1</Size>"
                              "</Part></ListPartsResult>")
                   .ok());
}

TEST(S3XmlTest, ListMultipartUploads) {
  const std::string xml = R"(<ListMultipartUploadsResult>
  <Bucket>b</Bucket><EncodingType>url</EncodingType>
  <NextKeyMarker>my+key%2B</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
  <IsTruncated>true</IsTruncated>
  <Upload><Key>my+key%2B</Key><UploadId>id1</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>
  <Upload><Key>%E2%82%AC</Key><UploadId>id2</UploadId></Upload>
</ListMultipartUploadsResult>)";
  auto r = ParseListMultipartUploads(xml, false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->uploads.size(), 2u);
  EXPECT_EQ(r->uploads[0].key, "my key+");
  EXPECT_EQ(r->uploads[0].upload_id, "id1");
  EXPECT_GT(r->uploads[0].initiated_ms, 0);
  EXPECT_EQ(r->uploads[1].key, "\xE2\x82\xAC");
  EXPECT_TRUE(r->is_truncated);
  EXPECT_EQ(r->next_key_marker, "my key+");
  EXPECT_EQ(r->next_upload_id_marker, "id2");
}

TEST(S3XmlTest, ListMultipartUploadsRgwEncodesKeysSilently) {
  // Ceph RGW 16 with encoding-type=url: keys encoded, no <EncodingType>, raw marker.
  const std::string xml =
      "<ListMultipartUploadsResult><NextKeyMarker>a b+c%2B</NextKeyMarker>"
      "<IsTruncated>false</IsTruncated>"
      "<Upload><Key>a%20b%2Bc%252B</Key><UploadId>u</UploadId></Upload>"
      "</ListMultipartUploadsResult>";
  auto requested = ParseListMultipartUploads(xml, true);
  ASSERT_TRUE(requested.ok()) << requested.status().ToString();
  EXPECT_EQ(requested->uploads[0].key, "a b+c%2B");
  EXPECT_EQ(requested->next_key_marker, "a b+c%2B");
  auto plain = ParseListMultipartUploads(xml, false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->uploads[0].key, "a%20b%2Bc%252B");
}

TEST(S3XmlTest, InitiateAndComplete) {
  auto id = ParseInitiateMultipartUpload(
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
      "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "VXBsb2FkIElE");
  EXPECT_FALSE(ParseInitiateMultipartUpload(
                   "<InitiateMultipartUploadResult></InitiateMultipartUploadResult>")
                   .ok());

  auto done = ParseCompleteMultipartUpload(
      "<CompleteMultipartUploadResult><Location>x</Location><Bucket>b</Bucket><Key>k</Key>"
      "<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag></CompleteMultipartUploadResult>");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->etag, "3858f62230ac3c915f300c664312c11f-9");
  EXPECT_EQ(done->key, "k");
  // Ceph RGW 16: empty ETag.
  auto rgw = ParseCompleteMultipartUpload(
      "<CompleteMultipartUploadResult><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>");
  ASSERT_TRUE(rgw.ok());
  EXPECT_EQ(rgw->etag, "");
}

TEST(S3XmlTest, ErrorDocument) {
  auto e = ParseS3Error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
      "<Message>The resource you requested does not exist</Message>"
      "<Resource>/b/k</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "NoSuchKey");
  EXPECT_EQ(e->message, "The resource you requested does not exist");
  EXPECT_EQ(e->resource, "/b/k");
  EXPECT_EQ(e->request_id, "4442587FB7D0A2F9");
  // RGW: empty message; AWS Complete: whitespace before the document.
  auto rgw = ParseS3Error("\n  <Error><Code>NoSuchBucket</Code><Message></Message></Error>");
  ASSERT_TRUE(rgw.has_value());
  EXPECT_EQ(rgw->code, "NoSuchBucket");
  EXPECT_EQ(rgw->message, "");
  EXPECT_FALSE(ParseS3Error("").has_value());
  EXPECT_FALSE(ParseS3Error("<html>oops</html>").has_value());
  EXPECT_FALSE(ParseS3Error("not xml").has_value());
  EXPECT_FALSE(ParseS3Error("<CompleteMultipartUploadResult/>").has_value());
}

TEST(S3XmlTest, BuildCompleteMultipartUpload) {
  std::string xml = BuildCompleteMultipartUploadXml({{1, "\"abc\""}, {2, "def"}});
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  pugi::xml_node root = doc.document_element();
  EXPECT_STREQ(root.name(), "CompleteMultipartUpload");
  std::vector<std::pair<std::string, std::string>> parts;
  for (auto p : root.children("Part"))
    parts.emplace_back(p.child("PartNumber").child_value(), p.child("ETag").child_value());
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], std::make_pair(std::string("1"), std::string("\"abc\"")));
  EXPECT_EQ(parts[1], std::make_pair(std::string("2"), std::string("\"def\"")));
}

TEST(S3XmlTest, BuildCreateBucket) {
  EXPECT_EQ(BuildCreateBucketXml("us-east-1"), "");
  EXPECT_EQ(BuildCreateBucketXml(""), "");
  std::string xml = BuildCreateBucketXml("eu-west-1");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  EXPECT_STREQ(doc.document_element().child("LocationConstraint").child_value(), "eu-west-1");
}

TEST(S3XmlTest, EscapeAndEtag) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(UnquoteEtag("\"abc\""), "abc");
  EXPECT_EQ(UnquoteEtag("W/\"abc\""), "abc");
  EXPECT_EQ(UnquoteEtag("abc"), "abc");
  EXPECT_EQ(UnquoteEtag("\""), "\"");
  EXPECT_EQ(UnquoteEtag(""), "");
}

TEST(S3XmlTest, Dates) {
  EXPECT_EQ(ParseIso8601Ms("2009-10-12T17:50:30.000Z"), 1255369830000);
  EXPECT_EQ(ParseIso8601Ms("2009-10-12T17:50:30Z"), 1255369830000);
  EXPECT_EQ(ParseIso8601Ms("2009-10-12T17:50:30.123456Z"), 1255369830123);
  EXPECT_EQ(ParseIso8601Ms("2000-02-29T23:59:59Z"), 951868799000);
  EXPECT_EQ(ParseIso8601Ms("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(ParseIso8601Ms("2009-13-12T17:50:30Z"), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms("2009-10-12 17:50:30Z"), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms("2009-10-12T17:50:30.Z"), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms(""), std::nullopt);
  EXPECT_EQ(ParseHttpDateMs("Mon, 12 Oct 2009 17:50:00 GMT"), 1255369800000);
  EXPECT_EQ(ParseHttpDateMs("Mon, 01 Mar 2100 00:00:00 GMT"), 4107542400000);
  EXPECT_EQ(ParseHttpDateMs("Mon, 12 Foo 2009 17:50:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseHttpDateMs("12 Oct 2009 17:50:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseHttpDateMs("Mon, 12 Oct 2009 17:50:00 UTC"), std::nullopt);
}

}  // namespace
}  // namespace ck
