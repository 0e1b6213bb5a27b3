// End-to-end with Backblaze B2 (the project's local B2 server) next to S3
// (Ceph RGW): one run to both, injected 503s, expired tokens, kill -9 during a
// large-file upload, a wrong key.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "integration/cli_harness.h"
#include "support/local_b2.h"
#include "util/encoding.h"
#include "util/hash.h"

namespace ck::test {
namespace {

struct B2Object {
  uint64_t size = 0;
  std::string sha1;  // contentSha1, or large_file_sha1 for large files
};

// Lists a B2 bucket with raw API calls (not our client): name -> size, SHA-1.
std::map<std::string, B2Object> B2ListAll(const B2Server& s, const std::string& bucket,
                                          const std::string& prefix) {
  std::map<std::string, B2Object> out;
  std::string basic = Base64Encode(s.key_id + ":" + s.key);
  auto auth = B2TestRequest(s, "GET", "/b2api/v2/b2_authorize_account", {},
                            {{"Authorization", "Basic " + basic}});
  EXPECT_EQ(auth.http_status, 200) << auth.body << auth.error;
  if (auth.http_status != 200) return out;
  auto a = nlohmann::json::parse(auth.body);
  std::string token = a["authorizationToken"];
  auto lb =
      B2TestRequest(s, "POST", "/b2api/v2/b2_list_buckets",
                    nlohmann::json{{"accountId", a["accountId"]}, {"bucketName", bucket}}.dump(),
                    {{"Authorization", token}});
  auto buckets = nlohmann::json::parse(lb.body);
  EXPECT_EQ(buckets["buckets"].size(), 1u) << lb.body;
  if (buckets["buckets"].size() != 1) return out;
  std::string bucket_id = buckets["buckets"][0]["bucketId"];
  nlohmann::json start = nullptr;
  for (int guard = 0; guard < 1000; ++guard) {
    nlohmann::json req = {{"bucketId", bucket_id}, {"maxFileCount", 10000}, {"prefix", prefix}};
    if (!start.is_null()) req["startFileName"] = start;
    auto r = B2TestRequest(s, "POST", "/b2api/v2/b2_list_file_names", req.dump(),
                           {{"Authorization", token}});
    EXPECT_EQ(r.http_status, 200) << r.body;
    if (r.http_status != 200) break;
    auto page = nlohmann::json::parse(r.body);
    for (const auto& f : page["files"]) {
      B2Object o;
      o.size = f["contentLength"].get<uint64_t>();
      std::string sha1 = f.value("contentSha1", "");
      if ((sha1.empty() || sha1 == "none") && f.contains("fileInfo") &&
          f["fileInfo"].contains("large_file_sha1"))
        sha1 = f["fileInfo"]["large_file_sha1"];
      o.sha1 = sha1;
      out[f["fileName"].get<std::string>()] = o;
    }
    start = page["nextFileName"];
    if (start.is_null()) break;
  }
  return out;
}

int B2UnfinishedLargeFiles(const B2Server& s, const std::string& bucket) {
  std::string basic = Base64Encode(s.key_id + ":" + s.key);
  auto auth = B2TestRequest(s, "GET", "/b2api/v2/b2_authorize_account", {},
                            {{"Authorization", "Basic " + basic}});
  auto a = nlohmann::json::parse(auth.body);
  std::string token = a["authorizationToken"];
  auto lb =
      B2TestRequest(s, "POST", "/b2api/v2/b2_list_buckets",
                    nlohmann::json{{"accountId", a["accountId"]}, {"bucketName", bucket}}.dump(),
                    {{"Authorization", token}});
  auto buckets = nlohmann::json::parse(lb.body);
  std::string bucket_id = buckets["buckets"][0]["bucketId"];
  auto r =
      B2TestRequest(s, "POST", "/b2api/v2/b2_list_unfinished_large_files",
                    nlohmann::json{{"bucketId", bucket_id}}.dump(), {{"Authorization", token}});
  EXPECT_EQ(r.http_status, 200) << r.body;
  return static_cast<int>(nlohmann::json::parse(r.body)["files"].size());
}

// Config with an S3 destination (aws-s3 on RGW) and a B2 one (backblaze-b2).
std::string WriteBothConfig(const std::string& dir, const std::string& src, const S3Server& s3,
                            const std::string& s3_bucket, const B2Server& b2,
                            const std::string& b2_bucket, const std::string& b2_extra = "") {
  std::string b2_lines = "\n[destinations.backblaze-b2]\ntype = \"b2\"\nbucket = \"" + b2_bucket +
                         "\"\nprefix = \"host1/\"\napi_url = \"" + b2.api_url + "\"\n" + b2_extra;
  std::string path = WriteS3Config(dir, src, s3, s3_bucket, "aws-s3", b2_lines);
  return path;
}

std::map<std::string, std::string> BothEnv(const S3Server& s3, const B2Server& b2) {
  auto env = AwsEnv(s3);
  env["B2_APPLICATION_KEY_ID"] = b2.key_id;
  env["B2_APPLICATION_KEY"] = b2.key;
  return env;
}

void ExpectAllOnB2(const std::string& src, const std::map<std::string, B2Object>& listed,
                   const std::string& prefix) {
  auto local = ListTree(src);
  EXPECT_EQ(listed.size(), local.size());
  for (const auto& [rel, size] : local) {
    auto it = listed.find(prefix + rel);
    if (it == listed.end()) {
      ADD_FAILURE() << "missing on B2: " << rel;
      continue;
    }
    EXPECT_EQ(it->second.size, size) << rel;
    EXPECT_EQ(it->second.sha1, HexEncode(Sha1(ReadFile(src + "/" + rel)))) << rel;
  }
}

TEST(CliB2Test, MixedTreeToS3AndB2InOneRun) {
  CK_REQUIRE_LOCAL_S3(s3, "rgw");
  CK_REQUIRE_LOCAL_B2(b2);
  std::string s3_bucket = CreateTestBucket(*s3, "both");
  std::string b2_bucket = CreateB2TestBucket(*b2, "both");
  ASSERT_FALSE(s3_bucket.empty());
  ASSERT_FALSE(b2_bucket.empty());
  TempDir tmp;
  std::string src = tmp.Join("data");
  for (int i = 0; i < 2000; ++i)
    WriteFile(src + "/small/d" + std::to_string(i % 20) + "/f" + std::to_string(i) + ".dat",
              PseudoRandom(static_cast<size_t>(i * 37 % 8192), static_cast<uint64_t>(i)));
  for (const auto& n : AwkwardNames(200)) WriteFile(src + "/" + n, "awkward: " + n);
  for (int i = 0; i < 5; ++i) WriteFile(src + "/empty/e" + std::to_string(i), "");
  const size_t mib = 1 << 20;
  WriteFile(src + "/large/a.bin", PseudoRandom(100 * mib, 2001));
  WriteFile(src + "/large/b c.bin", PseudoRandom(101 * mib + 7, 2002));
  WriteFile(src + "/large/ü.bin", PseudoRandom(105 * mib + 12345, 2003));
  const size_t total = 2000 + 200 + 5 + 3;
  std::string cfg = WriteBothConfig(tmp.path(), src, *s3, s3_bucket, *b2, b2_bucket);
  auto r = Cloudkeep(cfg, {"sync"}, BothEnv(*s3, *b2));
  ASSERT_EQ(r.r.exit_code, 0) << r.all();
  EXPECT_NE(r.r.out.find("aws-s3: uploaded " + std::to_string(total) + " files"), std::string::npos)
      << r.r.out;
  EXPECT_NE(r.r.out.find("backblaze-b2: uploaded " + std::to_string(total) + " files"),
            std::string::npos)
      << r.r.out;
  ExpectAllOnB2(src, B2ListAll(*b2, b2_bucket, "host1/"), "host1/");
  EXPECT_EQ(B2UnfinishedLargeFiles(*b2, b2_bucket), 0);
  // and S3: names and sizes of everything (bytes are compared in the S3 acceptance test)
  auto ls = RunCommand({"aws", "--endpoint-url", s3->endpoint, "s3api", "list-objects-v2",
                        "--bucket", s3_bucket, "--output", "json"},
                       AwsEnv(*s3), std::chrono::minutes(5));
  ASSERT_TRUE(ls.ok()) << ls.err;
  auto objs = nlohmann::json::parse(ls.out)["Contents"];
  EXPECT_EQ(objs.size(), total);
  auto local = ListTree(src);
  for (const auto& o : objs) {
    std::string rel = o["Key"].get<std::string>().substr(6);
    ASSERT_TRUE(local.count(rel)) << rel;
    EXPECT_EQ(o["Size"].get<uint64_t>(), local[rel]) << rel;
  }
  // a second run sends nothing to either
  auto again = Cloudkeep(cfg, {"sync"}, BothEnv(*s3, *b2));
  ASSERT_EQ(again.r.exit_code, 0) << again.all();
  size_t nones = 0;
  for (size_t p = again.r.out.find("requests: none"); p != std::string::npos;
       p = again.r.out.find("requests: none", p + 1))
    ++nones;
  EXPECT_EQ(nones, 2u) << again.r.out;
}

TEST(CliB2Test, InjectedUpload503sAndExpiredTokensStillSyncEverything) {
  CK_REQUIRE_LOCAL_S3(s3, "rgw");
  CK_REQUIRE_LOCAL_B2(b2);
  std::string s3_bucket = CreateTestBucket(*s3, "faults");
  std::string b2_bucket = CreateB2TestBucket(*b2, "faults");
  TempDir tmp;
  std::string src = tmp.Join("data");
  for (int i = 0; i < 400; ++i)
    WriteFile(src + "/f" + std::to_string(i), PseudoRandom(1000 + i, 300 + i));
  WriteFile(src + "/large.bin", PseudoRandom(23u << 20, 9));
  std::string cfg = WriteBothConfig(tmp.path(), src, *s3, s3_bucket, *b2, b2_bucket,
                                    "multipart_threshold = \"8MiB\"\npart_size = \"5MiB\"\n");
  ASSERT_TRUE(B2TestConfigure(*b2, R"({"reset_stats": true, "upload_fail_rate": 0.1,
                                        "token_lifetime_s": 0.3, "latency_ms": 10})"));
  // Tokens live 0.3 s: the run (~500 requests at 10 ms each over 16 workers,
  // plus the large file) outlives several of them.
  auto r = Cloudkeep(cfg, {"sync"}, BothEnv(*s3, *b2));
  auto stats = B2TestStats(*b2);
  ASSERT_TRUE(B2TestConfigure(*b2, R"({"upload_fail_rate": 0, "token_lifetime_s": 86400,
                                        "latency_ms": 0, "clear_faults": true})"));
  ASSERT_EQ(r.r.exit_code, 0) << r.all();
  EXPECT_GT(stats["faults_injected"].get<int>(), 10) << stats.dump();
  std::string s = stats.dump();
  EXPECT_NE(s.find("expired_auth_token"), std::string::npos)
      << "no token expired during the run, the test proves nothing: " << s;
  ExpectAllOnB2(src, B2ListAll(*b2, b2_bucket, "host1/"), "host1/");
}

TEST(CliB2Test, KillDuringLargeFileThenResume) {
  CK_REQUIRE_LOCAL_B2(b2);
  CK_REQUIRE_LOCAL_S3(s3, "rgw");
  std::string b2_bucket = CreateB2TestBucket(*b2, "resume");
  std::string s3_bucket = CreateTestBucket(*s3, "b2resume");
  TempDir tmp;
  std::string src = tmp.Join("data");
  std::string data = PseudoRandom(200u << 20, 88);
  WriteFile(src + "/huge.bin", data);
  // Only B2 matters here: disable the S3 destination.
  std::string cfg = WriteBothConfig(tmp.path(), src, *s3, s3_bucket, *b2, b2_bucket,
                                    "multipart_threshold = \"8MiB\"\npart_size = \"5MiB\"\n"
                                    "transfers = 1\n");
  {
    std::string text = ReadFile(cfg);
    auto pos = text.find("type = \"s3\"");
    text.insert(pos, "enabled = false\n");
    WriteFile(cfg, text);
  }
  auto env = BothEnv(*s3, *b2);
  ASSERT_TRUE(B2TestConfigure(*b2, R"({"latency_ms": 20})"));
  pid_t pid = SpawnCloudkeep(cfg, {"--quiet", "sync"}, env);
  ASSERT_GT(pid, 0);
  int64_t parts = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    parts = QueryInt(tmp.Join("state.db"), "SELECT count(*) FROM multipart_parts");
    if (parts >= 4) break;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      pid = 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(B2TestConfigure(*b2, R"({"latency_ms": 0})"));
  ASSERT_NE(pid, 0) << "sync finished before it could be killed (parts=" << parts << ")";
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  ASSERT_GE(parts, 4);
  const int64_t total_parts = (200 << 20) / (5 << 20);
  ASSERT_LT(parts, total_parts);
  EXPECT_EQ(B2UnfinishedLargeFiles(*b2, b2_bucket), 1);

  auto again = Cloudkeep(cfg, {"sync"}, env);
  ASSERT_EQ(again.r.exit_code, 0) << again.all();
  EXPECT_NE(again.r.out.find("resumed 1 interrupted uploads"), std::string::npos) << again.r.out;
  EXPECT_LE(RequestCount(again.r.out, "upload_part"), static_cast<uint64_t>(total_parts - parts))
      << again.r.out;
  EXPECT_EQ(B2UnfinishedLargeFiles(*b2, b2_bucket), 0);
  auto listed = B2ListAll(*b2, b2_bucket, "host1/");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed["host1/huge.bin"].size, data.size());
  EXPECT_EQ(listed["host1/huge.bin"].sha1, HexEncode(Sha1(data)));
}

TEST(CliB2Test, WrongB2KeyFailsThatDestinationOnly) {
  CK_REQUIRE_LOCAL_S3(s3, "rgw");
  CK_REQUIRE_LOCAL_B2(b2);
  std::string s3_bucket = CreateTestBucket(*s3, "wrongb2");
  std::string b2_bucket = CreateB2TestBucket(*b2, "wrongb2");
  TempDir tmp;
  std::string src = tmp.Join("data");
  for (int i = 0; i < 20; ++i) WriteFile(src + "/f" + std::to_string(i), "x" + std::to_string(i));
  std::string cfg = WriteBothConfig(tmp.path(), src, *s3, s3_bucket, *b2, b2_bucket);
  auto env = BothEnv(*s3, *b2);
  std::string wrong = "K005wrongWrongWrongWrongWrong0000000";
  env["B2_APPLICATION_KEY"] = wrong;
  auto r = Cloudkeep(cfg, {"sync"}, env);
  EXPECT_EQ(r.r.exit_code, 1) << r.all();
  EXPECT_NE(r.r.out.find("authentication failed for destination backblaze-b2"), std::string::npos)
      << r.all();
  EXPECT_NE(r.r.out.find("aws-s3: uploaded 20 files"), std::string::npos) << r.all();
  EXPECT_EQ(r.all().find(wrong), std::string::npos) << "secret leaked";
  EXPECT_EQ(r.all().find(b2->key), std::string::npos) << "secret leaked";
}

}  // namespace
}  // namespace ck::test
