#include "server/serve.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "inspect/inspect_test_util.h"

namespace ck {
namespace {

using inspect_testing::FakeClockEnv;
using inspect_testing::MemoryHandle;
using inspect_testing::ScratchDir;
using json = nlohmann::json;

constexpr const char* kToken = "serve-test-token-0123456789";

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = inspect_testing::OpenStore(dir_.File("state.db"), &env_);
    ASSERT_NE(store_, nullptr);
    src_ = dir_.path() + "/src";
    for (int i = 0; i < 20; ++i) dir_.Write("src/f" + std::to_string(i), std::string(100 + i, 'a'));
    dir_.Write("src/sub/deep.txt", "deep");
    config_.file = dir_.File("cloudkeep.toml");
    config_.database = dir_.File("state.db");
    SourceConfig sc;
    sc.path = src_;
    config_.sources.push_back(sc);
    DestinationConfig dc;
    dc.name = "m";
    dc.type = "s3";
    dc.bucket = "backups";
    dc.prefix = "host/";
    config_.destinations.push_back(dc);
    handles_.push_back(MemoryHandle("m", "host/", &mem_));
  }

  ServeRunner& Make(ServeOptions o) {
    o.api.listen = "127.0.0.1:0";
    o.api.token = kToken;
    o.inspector.max_wait = std::chrono::seconds(30);
    auto r = ServeRunner::Make(config_, store_.get(), handles_, &env_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    runner_ = std::move(r).value();
    return *runner_;
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client c("127.0.0.1", runner_->port());
    c.set_read_timeout(std::chrono::seconds(30));
    return c.Get(path, {{"Authorization", std::string("Bearer ") + kToken}});
  }
  httplib::Result Post(const std::string& path) {
    httplib::Client c("127.0.0.1", runner_->port());
    c.set_read_timeout(std::chrono::seconds(30));
    return c.Post(path, {{"Authorization", std::string("Bearer ") + kToken}}, "",
                  "application/json");
  }
  static json Body(const httplib::Result& r) {
    EXPECT_TRUE(r);
    return r ? json::parse(r->body, nullptr, false) : json();
  }

  ScratchDir dir_;
  FakeClockEnv env_;
  std::string src_;
  Config config_;
  std::unique_ptr<StateStore> store_;
  std::vector<DestinationHandle> handles_;
  MemoryDestination* mem_ = nullptr;
  std::unique_ptr<ServeRunner> runner_;
};

TEST_F(ServeTest, ARunTriggeredThroughTheApiUploadsAndUpdatesStatus) {
  ServeOptions o;
  o.sync_on_start = false;
  ServeRunner& r = Make(o);
  ASSERT_TRUE(r.Start().ok());
  json doc = Body(Get("/api/status"));
  ASSERT_EQ(doc["destinations"].size(), 1u);
  EXPECT_EQ(doc["destinations"][0]["bucket"], "backups");
  EXPECT_EQ(doc["destinations"][0]["synced"]["files"], 0);
  EXPECT_EQ(doc["destinations"][0]["synced"]["source"], "bucket");
  EXPECT_EQ(doc["sync"]["running"], false);
  EXPECT_EQ(doc["sync"]["passes"], 0);
  EXPECT_EQ(mem_->calls("List"), 1u);

  auto run = Post("/api/sync/run");
  ASSERT_TRUE(run);
  ASSERT_EQ(run->status, 202) << run->body;
  EXPECT_EQ(Body(run)["queued"], true);
  EXPECT_EQ(Body(run)["run_id"], 1);
  ASSERT_TRUE(r.WaitForPasses(1, std::chrono::seconds(60)));
  EXPECT_EQ(mem_->object_count(), 21u);
  EXPECT_EQ(mem_->ObjectData("host/sub/deep.txt"), "deep");

  doc = Body(Get("/api/status"));
  const json& d = doc["destinations"][0];
  uint64_t bytes = 4;
  for (int i = 0; i < 20; ++i) bytes += 100 + i;
  EXPECT_EQ(d["synced"]["source"], "bucket");
  EXPECT_EQ(d["synced"]["files"], 21);
  EXPECT_EQ(d["synced"]["bytes"], bytes);
  EXPECT_EQ(d["pending"]["files"], 0);
  EXPECT_EQ(d["database"]["synced"]["files"], 21);
  EXPECT_EQ(mem_->calls("List"), 1u) << "uploads updated the figures without a listing";
  EXPECT_EQ(doc["sync"]["passes"], 1);
  EXPECT_EQ(doc["sync"]["last_pass"]["ok"], true);
  EXPECT_TRUE(doc["sync"]["last_success_at"].is_string());

  json hist = Body(Get("/api/history"));
  // The state DB's history: the first listing (reconcile), then the pass.
  ASSERT_EQ(hist["samples"].size(), 2u) << hist.dump(2);
  const json& rec = hist["samples"][0];
  EXPECT_EQ(rec["kind"], "reconcile");
  EXPECT_EQ(rec["destination"], "m");
  EXPECT_EQ(rec["files"], 0);
  EXPECT_EQ(rec["source"], "bucket");
  EXPECT_TRUE(rec["throughput_bps"].is_null());
  const json& pass = hist["samples"][1];
  EXPECT_EQ(pass["kind"], "pass");
  EXPECT_EQ(pass["run_id"], 1);
  EXPECT_EQ(pass["files"], 21);
  EXPECT_EQ(pass["bytes"], bytes);
  EXPECT_EQ(pass["source"], "bucket");
  EXPECT_EQ(pass["uploaded_files"], 21);
  EXPECT_EQ(pass["uploaded_bytes"], bytes);
  EXPECT_EQ(pass["pending_files"], 0);
  EXPECT_TRUE(pass["at"].is_string());
  EXPECT_EQ(Body(Get("/api/history?destination=m&limit=1"))["samples"].size(), 1u);
  EXPECT_EQ(Get("/api/history?destination=nope")->status, 404);
  EXPECT_EQ(Get("/api/history?limit=0")->status, 400);
  EXPECT_EQ(Get("/api/history?since=yesterday")->status, 400);

  ASSERT_EQ(hist["passes"].size(), 1u);
  const json& s = hist["passes"][0];
  EXPECT_EQ(s["run_id"], 1);
  EXPECT_EQ(s["trigger"], "api");
  EXPECT_EQ(s["ok"], true);
  EXPECT_EQ(s["scan"]["files"], 21);
  ASSERT_EQ(s["destinations"].size(), 1u);
  EXPECT_EQ(s["destinations"][0]["uploaded_files"], 21);
  EXPECT_EQ(s["destinations"][0]["uploaded_bytes"], bytes);
  EXPECT_EQ(s["destinations"][0]["synced_files"], 21);
  EXPECT_TRUE(s["destinations"][0]["seconds"].is_number());

  auto metrics = Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("cloudkeep_sync_passes_total{outcome=\"ok\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("cloudkeep_sync_uploaded_files_total{destination=\"m\"} 21"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("cloudkeep_sync_last_success_timestamp_seconds "),
            std::string::npos);

  r.Stop();
  httplib::Client c("127.0.0.1", r.port());
  c.set_connection_timeout(std::chrono::seconds(2));
  EXPECT_FALSE(c.Get("/api/health"));
  r.Stop();  // idempotent
  r.Wait();  // returns at once after Stop

  // The history outlives the server: a new runner on the same DB serves it.
  runner_->Stop();
  runner_.reset();
  ServeRunner& again = Make(o);
  ASSERT_TRUE(again.Start().ok());
  EXPECT_GE(Body(Get("/api/history"))["samples"].size(), 2u);
}

TEST_F(ServeTest, TriggersDuringAPassQueueExactlyOneMore) {
  std::atomic<bool> release{false};
  std::atomic<int> in_put{0};
  mem_->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op == "Put") {
      in_put.fetch_add(1);
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return Status::OK();
  });
  ServeOptions o;
  o.sync_on_start = true;
  ServeRunner& r = Make(o);
  ASSERT_TRUE(r.Start().ok());
  while (in_put.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  json first = r.TriggerSync("api");
  json second = r.TriggerSync("api");
  auto third = Post("/api/sync/run");
  ASSERT_TRUE(third);
  EXPECT_EQ(first["running"], true);
  EXPECT_EQ(first["running_run_id"], 1);
  EXPECT_EQ(first["run_id"], 2);
  EXPECT_EQ(first["already_queued"], false);
  EXPECT_EQ(second["run_id"], 2);
  EXPECT_EQ(second["already_queued"], true);
  EXPECT_EQ(Body(third)["run_id"], 2);
  json state = Body(Get("/api/status"))["sync"];
  EXPECT_EQ(state["running"], true);
  EXPECT_EQ(state["queued"], true);
  EXPECT_TRUE(state["progress"].is_object());
  release.store(true);
  ASSERT_TRUE(r.WaitForPasses(2, std::chrono::seconds(60)));
  EXPECT_FALSE(r.WaitForPasses(3, std::chrono::milliseconds(1500)))
      << "three triggers during a pass queue one pass, not three";
  json hist = r.History();
  ASSERT_EQ(hist["samples"].size(), 2u);
  EXPECT_EQ(hist["samples"][0]["trigger"], "start");
  EXPECT_EQ(hist["samples"][0]["destinations"][0]["uploaded_files"], 21);
  EXPECT_EQ(hist["samples"][1]["run_id"], 2);
  EXPECT_EQ(hist["samples"][1]["destinations"][0]["uploaded_files"], 0);
}

TEST_F(ServeTest, RescansOnTheIntervalOfTheEnvClock) {
  ServeOptions o;
  o.sync_on_start = false;
  o.rescan_interval = std::chrono::minutes(15);
  ServeRunner& r = Make(o);
  ASSERT_TRUE(r.Start().ok());
  EXPECT_FALSE(r.WaitForPasses(1, std::chrono::milliseconds(1500)));
  env_.Advance(std::chrono::minutes(14));
  EXPECT_FALSE(r.WaitForPasses(1, std::chrono::milliseconds(1500)));
  env_.Advance(std::chrono::minutes(1));
  ASSERT_TRUE(r.WaitForPasses(1, std::chrono::seconds(30)));
  EXPECT_EQ(r.History()["samples"][0]["trigger"], "schedule");
  EXPECT_EQ(mem_->object_count(), 21u);
  json state = r.SyncState();
  EXPECT_NEAR(state["next_pass_in_seconds"].get<double>(), 900.0, 1.0);
  EXPECT_EQ(state["interval_seconds"], 900);
}

TEST_F(ServeTest, StopCancelsThePassInProgressCleanly) {
  for (int i = 0; i < 200; ++i) dir_.Write("src/many/f" + std::to_string(i), "x");
  std::atomic<int> puts{0};
  mem_->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op == "Put") {
      puts.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Status::OK();
  });
  ServeOptions o;
  ServeRunner& r = Make(o);
  ASSERT_TRUE(r.Start().ok());
  while (puts.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto t0 = std::chrono::steady_clock::now();
  r.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(r.passes_completed(), 1u);
  size_t uploaded = mem_->object_count();
  EXPECT_LT(uploaded, 221u) << "the pass stopped taking new work";
  // What was uploaded is recorded as synced; the rest is still pending.
  auto counts = store_->Counts();
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].synced_files, uploaded);
  EXPECT_EQ((*counts)[0].synced_files + (*counts)[0].pending_files, 221u);
  EXPECT_EQ(r.History()["samples"][0]["ok"], false);
  EXPECT_EQ(r.TriggerSync("api")["queued"], false);
}

TEST_F(ServeTest, AnUnavailableDestinationIsReportedNotFatal) {
  handles_.push_back(inspect_testing::MissingCredentialsHandle("nocreds"));
  ServeOptions o;
  ServeRunner& r = Make(o);
  ASSERT_TRUE(r.Start().ok());
  ASSERT_TRUE(r.WaitForPasses(1, std::chrono::seconds(60)));
  EXPECT_EQ(mem_->object_count(), 21u);
  json s = r.History()["samples"][0];
  EXPECT_EQ(s["ok"], false);
  EXPECT_NE(s["error"].get<std::string>().find("nocreds"), std::string::npos);
  json doc = Body(Get("/api/status"));
  EXPECT_EQ(doc["destinations"][1]["connection"]["state"], "missing_credentials");
  EXPECT_EQ(doc["destinations"][1]["pending"]["files"], 21);
}

TEST_F(ServeTest, ASyncPassThatCannotReachTheBucketUpdatesTheDiagnosis) {
  ServeOptions o;
  o.sync_on_start = false;
  ServeRunner& r = Make(o);
  ASSERT_TRUE(r.Start().ok());
  EXPECT_EQ(Body(Get("/api/status"))["destinations"][0]["connection"]["state"], "connected");
  mem_->set_fault_hook([](std::string_view op, const std::string&) {
    return op == "Check" ? Status(ErrorKind::kTransient, "could not connect: timed out")
                         : Status::OK();
  });
  ASSERT_EQ(Post("/api/sync/run")->status, 202);
  ASSERT_TRUE(r.WaitForPasses(1, std::chrono::seconds(60)));
  json d = Body(Get("/api/status"))["destinations"][0];
  EXPECT_EQ(d["connection"]["state"], "network_error");
  EXPECT_NE(d["connection"]["message"].get<std::string>().find("timed out"), std::string::npos);
  EXPECT_EQ(d["synced"]["source"], "database");
  EXPECT_EQ(d["pending"]["files"], 21);
  EXPECT_EQ(mem_->calls("List"), 1u);
  EXPECT_EQ(mem_->object_count(), 0u);
}

TEST_F(ServeTest, MakeRejectsBadApiOptions) {
  ServeOptions o;
  o.api.token = "short";
  o.api.listen = "127.0.0.1:0";
  auto r = ServeRunner::Make(config_, store_.get(), handles_, &env_, o);
  EXPECT_EQ(r.status().kind(), ErrorKind::kConfig);
}

}  // namespace
}  // namespace ck
