// `cloudkeep serve` against real servers: live bucket figures, single-flight
// listings, upload-driven updates, a stopped S3 server, and auth on every route.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "integration/cli_harness.h"
#include "support/local_b2.h"

namespace ck::test {
namespace {

nlohmann::json DestByName(const nlohmann::json& doc, const std::string& name) {
  for (const auto& d : doc["destinations"])
    if (d["name"] == name) return d;
  return nullptr;
}

class ServeProcess {
 public:
  ServeProcess(const std::string& cfg, const std::map<std::string, std::string>& env,
               const std::string& out) {
    pid_ = SpawnCloudkeep(cfg, {"serve"}, env, out);
    std::regex re("\\(port (\\d+)\\)");
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::smatch m;
      std::string text = ReadFile(out);
      if (std::regex_search(text, m, re)) port_ = std::stoi(m[1].str());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() { Stop(); }
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

TEST(CliServeTest, LiveStatusFromBucketsSingleFlightUpdatesAndOutage) {
  CK_REQUIRE_LOCAL_B2(b2);
  TempDir tmp;
  // An s3rver of our own, so that it can be stopped mid-test.
  std::string s3dir = tmp.Join("s3rver");
  auto up = RunCommand({"bash", std::string(CK_SOURCE_DIR) + "/scripts/s3rver-up.sh", s3dir}, {},
                       std::chrono::minutes(2));
  ASSERT_TRUE(up.ok()) << up.err;
  std::map<std::string, std::string> s3env;
  for (const auto& line : [&] {
         std::vector<std::string> v;
         std::istringstream is(ReadFile(s3dir + "/env"));
         for (std::string l; std::getline(is, l);) v.push_back(l);
         return v;
       }()) {
    auto eq = line.find('=');
    if (eq != std::string::npos && line[0] != '#') s3env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  S3Server s3{.kind = "s3rver",
              .endpoint = s3env["S3_ENDPOINT"],
              .access_key = s3env["AWS_ACCESS_KEY_ID"],
              .secret_key = s3env["AWS_SECRET_ACCESS_KEY"],
              .region = "us-east-1"};
  ASSERT_FALSE(s3.endpoint.empty()) << ReadFile(s3dir + "/env");
  std::string s3_bucket = CreateTestBucket(s3, "serve");
  std::string b2_bucket = CreateB2TestBucket(*b2, "serve");
  std::string src = tmp.Join("data");
  uint64_t bytes = 0;
  const int n = 120;
  for (int i = 0; i < n; ++i) {
    std::string data = PseudoRandom(static_cast<size_t>(100 + i * 13), static_cast<uint64_t>(i));
    bytes += data.size();
    WriteFile(src + "/f" + std::to_string(i), data);
  }
  std::string b2_lines = "\n[destinations.backblaze-b2]\ntype = \"b2\"\nbucket = \"" + b2_bucket +
                         "\"\nprefix = \"host1/\"\napi_url = \"" + b2->api_url + "\"\n";
  std::string cfg = WriteS3Config(tmp.path(), src, s3, s3_bucket, "aws-s3", b2_lines);
  {
    std::string text = ReadFile(cfg);
    text += "\n[server]\nlisten = \"127.0.0.1:0\"\nscan_interval = 0\n";
    WriteFile(cfg, text);
  }
  auto env = AwsEnv(s3);
  env["B2_APPLICATION_KEY_ID"] = b2->key_id;
  env["B2_APPLICATION_KEY"] = b2->key;
  const std::string token = "test-token-0123456789abcdef0123456789";
  env["CLOUDKEEP_API_TOKEN"] = token;
  auto sync = Cloudkeep(cfg, {"sync"}, env);
  ASSERT_EQ(sync.r.exit_code, 0) << sync.all();

  std::string log = tmp.Join("serve.log");
  ServeProcess serve(cfg, env, log);
  ASSERT_GT(serve.port(), 0) << ReadFile(log);
  httplib::Client c("127.0.0.1", serve.port());
  c.set_read_timeout(60, 0);
  httplib::Headers auth = {{"Authorization", "Bearer " + token}};

  auto get_status = [&] {
    auto r = c.Get("/api/status", auth);
    EXPECT_TRUE(r && r->status == 200);
    return r ? nlohmann::json::parse(r->body) : nlohmann::json();
  };
  auto doc = get_status();
  for (const char* name : {"aws-s3", "backblaze-b2"}) {
    auto d = DestByName(doc, name);
    ASSERT_FALSE(d.is_null()) << doc.dump();
    EXPECT_EQ(d["connection"]["state"], "connected") << d.dump();
    EXPECT_EQ(d["synced"]["source"], "bucket") << d.dump();
    EXPECT_EQ(d["synced"]["files"].get<int>(), n) << d.dump();
    EXPECT_EQ(d["synced"]["bytes"].get<uint64_t>(), bytes) << d.dump();
  }

  // 100 concurrent requests: no new listing.
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i)
    ts.emplace_back([&] {
      httplib::Client cc("127.0.0.1", serve.port());
      cc.set_read_timeout(60, 0);
      auto r = cc.Get("/api/status", auth);
      if (r && r->status == 200) ok++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 100);
  doc = get_status();
  for (const char* name : {"aws-s3", "backblaze-b2"})
    EXPECT_EQ(DestByName(doc, name)["list_calls"].get<int>(), 1) << name;

  // Five more files through a triggered pass: N+5 at once, no new listing.
  for (int i = 0; i < 5; ++i) {
    std::string data = "more " + std::to_string(i);
    bytes += data.size();
    WriteFile(src + "/more" + std::to_string(i), data);
  }
  auto run = c.Post("/api/sync/run", auth, "", "application/json");
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, 202) << run->body;
  bool updated = false;
  for (int i = 0; i < 200 && !updated; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    doc = get_status();
    updated = DestByName(doc, "aws-s3")["synced"]["files"] == n + 5 &&
              DestByName(doc, "backblaze-b2")["synced"]["files"] == n + 5;
  }
  EXPECT_TRUE(updated) << doc.dump(2);
  for (const char* name : {"aws-s3", "backblaze-b2"}) {
    EXPECT_EQ(DestByName(doc, name)["synced"]["bytes"].get<uint64_t>(), bytes) << name;
    EXPECT_EQ(DestByName(doc, name)["list_calls"].get<int>(), 1) << name;
  }

  // Every route but health needs the token.
  for (const char* path : {"/api/status", "/api/buckets/status", "/api/buckets/aws-s3/status",
                           "/api/sync/failed-files", "/metrics"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
    auto w = c.Get(path, {{"Authorization", "Bearer wrong-token-0000000000000000"}});
    EXPECT_EQ(w->status, 401) << path;
  }
  EXPECT_EQ(c.Get("/api/health")->status, 200);
  auto unknown = c.Get("/api/buckets/nope/status", auth);
  EXPECT_EQ(unknown->status, 404);
  auto metrics = c.Get("/metrics", auth);
  ASSERT_EQ(metrics->status, 200);

  // The S3 server goes away: network_error, database figures, B2 unaffected.
  auto down = RunCommand({"bash", std::string(CK_SOURCE_DIR) + "/scripts/s3rver-down.sh", s3dir});
  ASSERT_TRUE(down.ok()) << down.err;
  // The first status request once health_check_interval (1 s) has passed
  // probes the bucket and shows the outage: no refresh, no retry loop.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  doc = get_status();
  nlohmann::json s3d = DestByName(doc, "aws-s3");
  EXPECT_EQ(s3d["connection"]["state"], "network_error") << s3d.dump(2);
  EXPECT_FALSE(s3d["connection"]["message"].get<std::string>().empty());
  EXPECT_EQ(s3d["synced"]["source"], "database");
  EXPECT_EQ(s3d["synced"]["files"].get<int>(), n + 5);
  auto b2d = DestByName(doc, "backblaze-b2");
  EXPECT_EQ(b2d["connection"]["state"], "connected");
  EXPECT_EQ(b2d["synced"]["source"], "bucket");

  EXPECT_EQ(serve.Stop(), 0);
  // No secret in anything the server said.
  std::string said = ReadFile(log) + doc.dump() + metrics->body;
  for (const std::string& secret : {token, b2->key, s3.secret_key})
    EXPECT_EQ(said.find(secret), std::string::npos) << "leaked";
}

// Each diagnosis against a real server with real signature checks (RGW), in
// the document `status --json` prints (the same as GET /api/status).
TEST(CliServeTest, DiagnosesWrongSecretMissingCredentialsMissingBucketAndDisabled) {
  CK_REQUIRE_LOCAL_S3(s3, "rgw");
  TempDir tmp;
  std::string bucket = CreateTestBucket(*s3, "diag");
  std::string src = tmp.Join("data");
  WriteFile(src + "/a.txt", "alpha");
  const std::string wrong_secret = "WrongSecretKeyWrongSecretKey0123456789xyz";
  auto dest = [&](const std::string& name, const std::string& b, const std::string& extra) {
    return "\n[destinations." + name + "]\ntype = \"s3\"\nbucket = \"" + b +
           "\"\nprefix = \"host1/\"\nregion = \"" + s3->region + "\"\nendpoint = \"" +
           s3->endpoint + "\"\npath_style = true\n" + extra;
  };
  std::string extra = dest("wrong-secret", bucket,
                           "access_key_id = \"" + s3->access_key + "\"\nsecret_access_key = \"" +
                               wrong_secret + "\"\n") +
                      dest("no-creds", bucket,
                           "access_key_id_env = \"CK_TEST_NOT_SET_ID\"\n"
                           "secret_access_key_env = \"CK_TEST_NOT_SET_SECRET\"\n") +
                      dest("no-bucket", bucket + "-missing", "") +
                      dest("off", bucket, "enabled = false\n");
  std::string cfg = WriteS3Config(tmp.path(), src, *s3, bucket, "aws-s3", extra);
  auto sync = Cloudkeep(cfg, {"sync", "-q"}, AwsEnv(*s3));
  EXPECT_EQ(sync.r.exit_code, 1) << sync.all();
  // The CLI's pass is in the dashboard's history too.
  EXPECT_EQ(QueryInt(tmp.Join("state.db"),
                     "SELECT count(*) FROM history WHERE kind = 'pass' AND destination = 'aws-s3' "
                     "AND uploaded_files = 1 AND files = 1 AND source = 'database'"),
            1);
  auto st = Cloudkeep(cfg, {"status", "--json"}, AwsEnv(*s3));
  EXPECT_EQ(st.r.exit_code, 1) << st.all();
  nlohmann::json doc = nlohmann::json::parse(st.r.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << st.all();
  auto state = [&](const std::string& name) {
    return DestByName(doc, name)["connection"]["state"].get<std::string>();
  };
  EXPECT_EQ(state("aws-s3"), "connected");
  EXPECT_EQ(DestByName(doc, "aws-s3")["synced"]["files"], 1);
  EXPECT_EQ(DestByName(doc, "aws-s3")["synced"]["source"], "bucket");
  EXPECT_EQ(state("wrong-secret"), "auth_failed") << doc.dump(2);
  EXPECT_EQ(state("no-creds"), "missing_credentials") << doc.dump(2);
  EXPECT_EQ(state("no-bucket"), "bucket_not_found") << doc.dump(2);
  EXPECT_EQ(state("off"), "disabled") << doc.dump(2);
  EXPECT_EQ(DestByName(doc, "aws-s3")["bucket"], bucket);
  for (const char* name : {"wrong-secret", "no-creds", "no-bucket", "off"}) {
    auto d = DestByName(doc, name);
    EXPECT_FALSE(d["connection"]["message"].get<std::string>().empty()) << name;
    EXPECT_EQ(d["synced"]["source"], "database") << name;
  }
  EXPECT_NE(DestByName(doc, "wrong-secret")["connection"]["message"].get<std::string>().find(
                "wrong-secret"),
            std::string::npos)
      << "the message names the destination";
  std::string said = st.all() + sync.all();
  EXPECT_EQ(said.find(wrong_secret), std::string::npos) << "leaked";
  EXPECT_EQ(said.find(s3->secret_key), std::string::npos) << "leaked";
}

}  // namespace
}  // namespace ck::test
