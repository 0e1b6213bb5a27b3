// The destination conformance suite against S3Destination on both local S3
// servers (Ceph RGW: a production server that enforces SigV4, Content-MD5 and
// multipart rules; s3rver: a second implementation with other quirks).
#include <gtest/gtest.h>

#include <mutex>

#include "conformance/destination_conformance.h"
#include "dest/s3_destination.h"
#include "support/local_s3.h"

namespace ck::test {
namespace {

HttpClient* SharedHttp() {
  static std::unique_ptr<HttpClient> http = std::move(HttpClient::Make({})).value();
  return http.get();
}

// One bucket per server kind for the whole binary (tests use random prefixes).
std::unique_ptr<Destination> MakeFor(const std::string& kind) {
  std::string reason;
  const S3Server* s = LocalS3(kind, &reason);
  if (s == nullptr) {
    ADD_FAILURE() << "no local " << kind << ": " << reason;
    return nullptr;
  }
  static std::mutex mu;
  static std::map<std::string, std::string> buckets;
  std::string bucket;
  {
    std::lock_guard<std::mutex> l(mu);
    if (!buckets.count(kind)) buckets[kind] = CreateTestBucket(*s, "conformance");
    bucket = buckets[kind];
  }
  if (bucket.empty()) return nullptr;
  S3ClientOptions o;
  o.endpoint = s->endpoint;
  o.region = s->region;
  o.bucket = bucket;
  o.path_style = true;
  o.credentials = AwsCredentials{s->access_key, s->secret_key, ""};
  auto d = MakeS3Destination(kind, o, SharedHttp());
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? std::move(d).value() : nullptr;
}

INSTANTIATE_TEST_SUITE_P(
    S3, DestinationConformance,
    ::testing::Values(ConformanceTarget{.name = "rgw", .make = [] { return MakeFor("rgw"); }},
                      ConformanceTarget{.name = "s3rver",
                                        .make = [] { return MakeFor("s3rver"); },
                                        .enforces_min_part_size = false,
                                        .multipart_etag_is_md5_of_md5s = false,
                                        .verifies_content_md5 = false,
                                        .lists_and_aborts_uploads = false}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ck::test
