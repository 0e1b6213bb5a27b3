#include "inspect/bucket_inspector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "inspect/inspect_test_util.h"
#include "inspect/time_format.h"

namespace ck {
namespace {

using inspect_testing::DisabledHandle;
using inspect_testing::FakeClockEnv;
using inspect_testing::MemoryHandle;
using inspect_testing::MissingCredentialsHandle;
using inspect_testing::PutObject;
using inspect_testing::ScratchDir;
using inspect_testing::SeedDatabase;
using inspect_testing::SeedSyncedKeys;
using inspect_testing::SplitPointStore;
using json = nlohmann::json;

class InspectorTest : public ::testing::Test {
 protected:
  // Puts an object and reports it as the engine would: a replacement when
  // the key exists already.
  void UploadAndReport(MemoryDestination* mem, const std::string& key, const std::string& data) {
    auto before = mem->ObjectData(key);
    const bool replace = before.has_value();
    const uint64_t old = replace ? before->size() : 0;
    PutObject(mem, key, data);
    inspector_->OnUploaded(UploadEvent{.destination = "a",
                                       .key = key,
                                       .size = data.size(),
                                       .replaced_key = replace ? key : "",
                                       .replaced_size = old});
  }

  void SetUp() override {
    store_ = inspect_testing::OpenStore(dir_.File("state.db"), &env_);
    ASSERT_NE(store_, nullptr);
  }

  MemoryDestination* AddMemory(const std::string& name, const std::string& prefix = "host/") {
    MemoryDestination* raw = nullptr;
    handles_.push_back(MemoryHandle(name, prefix, &raw));
    return raw;
  }

  BucketInspector& Make(InspectorOptions o = {}) {
    o.min_refresh_interval = std::chrono::milliseconds(0);
    o.max_wait = std::chrono::seconds(30);
    inspector_ = std::make_unique<BucketInspector>(handles_, store_.get(), &env_, o);
    return *inspector_;
  }

  // The D object of the named destination in a fresh status document.
  json Dest(const std::string& name) {
    auto doc = inspector_->StatusDocument();
    EXPECT_TRUE(doc.ok()) << doc.status().ToString();
    if (!doc.ok()) return json();
    EXPECT_NO_THROW((void)doc->dump()) << "document must serialise";
    for (const auto& d : (*doc)["destinations"])
      if (d["name"] == name) return d;
    ADD_FAILURE() << "no destination " << name << " in " << doc->dump();
    return json();
  }

  static void Fill(MemoryDestination* mem, const std::string& prefix, int n, size_t size) {
    for (int i = 0; i < n; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "k%03d", i);
      PutObject(mem, prefix + key, std::string(size, 'x'));
    }
  }

  ScratchDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<StateStore> store_;
  std::vector<DestinationHandle> handles_;
  std::unique_ptr<BucketInspector> inspector_;
};

TEST_F(InspectorTest, StatusCombinesBucketFiguresWithDatabaseQueues) {
  auto* mem = AddMemory("a");
  Fill(mem, "host/", 25, 7);
  PutObject(mem, "other/outside", "not counted");
  PutObject(mem, "hostx", "not under host/ either");
  SeedDatabase(store_.get(), {"a"}, 3, 2, 1);
  Make();
  auto doc = inspector_->StatusDocument();
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  ASSERT_EQ((*doc)["destinations"].size(), 1u);
  const json& d = (*doc)["destinations"][0];
  EXPECT_EQ(d["name"], "a");
  EXPECT_EQ(d["type"], "s3");
  EXPECT_EQ(d["enabled"], true);
  EXPECT_EQ(d["connection"]["state"], "connected");
  EXPECT_NE(d["connection"]["message"].get<std::string>().find("is reachable"), std::string::npos)
      << d.dump();
  EXPECT_EQ(d["connection"]["checked_at"], FormatIsoTime(env_.NowMicros()));
  EXPECT_TRUE(d["connection"]["latency_ms"].is_number());
  EXPECT_EQ(d["synced"]["files"], 25);
  EXPECT_EQ(d["synced"]["bytes"], 25 * 7);
  EXPECT_EQ(d["synced"]["source"], "bucket");
  EXPECT_EQ(d["synced"]["as_of"], FormatIsoTime(env_.NowMicros()));
  EXPECT_EQ(d["synced"]["stale"], false);
  EXPECT_EQ(d["pending"]["files"], 2);
  EXPECT_EQ(d["pending"]["bytes"], 200);
  EXPECT_EQ(d["failed"]["files"], 1);
  EXPECT_EQ(d["database"]["synced"]["files"], 3);
  EXPECT_EQ(d["list_calls"], 1);
  EXPECT_TRUE(d["last_synced_at"].is_string());
  EXPECT_EQ((*doc)["totals"]["files"], 25);
  EXPECT_EQ((*doc)["totals"]["bytes"], 25 * 7);
  EXPECT_EQ((*doc)["generated_at"], FormatIsoTime(env_.NowMicros()));
  EXPECT_EQ(mem->calls("List"), 1u);

  // Fresh cache: a second document sends nothing.
  ASSERT_TRUE(inspector_->StatusDocument().ok());
  EXPECT_EQ(mem->calls("List"), 1u);
  EXPECT_EQ(mem->calls("Check"), 0u) << "the listing is the health check";
}

TEST_F(InspectorTest, ListsEveryPageAndCountsThem) {
  auto* mem = AddMemory("a", "");
  Fill(mem, "", 25, 3);
  InspectorOptions o;
  o.s3_max_keys = 10;
  Make(o);
  json d = Dest("a");
  EXPECT_EQ(d["synced"]["files"], 25);
  EXPECT_EQ(d["synced"]["bytes"], 75);
  EXPECT_EQ(d["list_calls"], 3);
  EXPECT_EQ(mem->calls("List"), 3u);
  EXPECT_NE(d["connection"]["message"].get<std::string>().find("3 requests"), std::string::npos);
}

TEST_F(InspectorTest, ConcurrentRequestsShareOneListing) {
  auto* a = AddMemory("a");
  auto* b = AddMemory("b");
  Fill(a, "host/", 5, 1);
  Fill(b, "host/", 6, 1);
  for (auto* m : {a, b}) {
    m->set_fault_hook([](std::string_view op, const std::string&) {
      if (op == "List") std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return Status::OK();
    });
  }
  Make();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&] {
      auto doc = inspector_->StatusDocument();
      if (doc.ok() && (*doc)["destinations"][0]["synced"]["files"] == 5 &&
          (*doc)["destinations"][1]["synced"]["files"] == 6)
        ok.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(a->calls("List"), 1u);
  EXPECT_EQ(b->calls("List"), 1u);
}

TEST_F(InspectorTest, ConfirmedUploadsUpdateFiguresWithoutListing) {
  auto* mem = AddMemory("a");
  Fill(mem, "host/", 10, 4);
  Make();
  EXPECT_EQ(Dest("a")["synced"]["files"], 10);
  env_.Advance(std::chrono::seconds(30));
  for (int i = 0; i < 5; ++i) {
    inspector_->OnUploaded(
        UploadEvent{.destination = "a", .key = "host/new" + std::to_string(i), .size = 100});
  }
  json d = Dest("a");
  EXPECT_EQ(d["synced"]["files"], 15);
  EXPECT_EQ(d["synced"]["bytes"], 40 + 500);
  EXPECT_EQ(d["synced"]["as_of"], FormatIsoTime(env_.NowMicros()));
  EXPECT_EQ(d["synced"]["listed_at"], FormatIsoTime(env_.NowMicros() - 30'000'000));
  // A replaced object keeps the count; only the size difference counts.
  inspector_->OnUploaded(UploadEvent{.destination = "a",
                                     .key = "host/k003",
                                     .size = 10,
                                     .replaced_key = "host/k003",
                                     .replaced_size = 4});
  d = Dest("a");
  EXPECT_EQ(d["synced"]["files"], 15);
  EXPECT_EQ(d["synced"]["bytes"], 40 + 500 + 6);
  // An upload under another key (e.g. the prefix changed) adds an object.
  inspector_->OnUploaded(UploadEvent{.destination = "a",
                                     .key = "host/moved",
                                     .size = 1,
                                     .replaced_key = "host/old",
                                     .replaced_size = 9});
  EXPECT_EQ(Dest("a")["synced"]["files"], 16);
  inspector_->OnDeleted("a", "host/moved", 1);
  d = Dest("a");
  EXPECT_EQ(d["synced"]["files"], 15);
  EXPECT_EQ(d["synced"]["bytes"], 546);
  // Other destinations and keys outside the prefix are ignored.
  inspector_->OnUploaded(UploadEvent{.destination = "zzz", .key = "host/x", .size = 1});
  inspector_->OnUploaded(UploadEvent{.destination = "a", .key = "elsewhere/x", .size = 1});
  EXPECT_EQ(Dest("a")["synced"]["files"], 15);
  EXPECT_EQ(mem->calls("List"), 1u);
}

TEST_F(InspectorTest, ReconcilesAfterTheIntervalWithOneListing) {
  auto* mem = AddMemory("a");
  Fill(mem, "host/", 4, 2);
  InspectorOptions o;
  o.reconcile_interval = std::chrono::minutes(15);
  Make(o);
  EXPECT_EQ(Dest("a")["synced"]["files"], 4);
  PutObject(mem, "host/behind-our-back", "12345");  // not uploaded by cloudkeep
  env_.Advance(std::chrono::minutes(14));
  EXPECT_EQ(Dest("a")["synced"]["files"], 4);
  EXPECT_EQ(mem->calls("List"), 1u);
  env_.Advance(std::chrono::minutes(1));
  json d = Dest("a");
  EXPECT_EQ(mem->calls("List"), 2u);
  EXPECT_EQ(d["synced"]["files"], 5);
  EXPECT_EQ(d["synced"]["bytes"], 13);
  EXPECT_EQ(d["synced"]["listed_at"], FormatIsoTime(env_.NowMicros()));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(inspector_->StatusDocument().ok());
  EXPECT_EQ(mem->calls("List"), 2u);
}

TEST_F(InspectorTest, DiagnosesEachFailureAndFallsBackToTheDatabase) {
  auto* net = AddMemory("net");
  auto* auth = AddMemory("auth");
  auto* nobucket = AddMemory("nobucket");
  auto* other = AddMemory("other");
  auto* good = AddMemory("good");
  handles_.push_back(MissingCredentialsHandle("nocreds"));
  handles_.push_back(DisabledHandle("off"));
  Fill(good, "host/", 3, 1);
  net->set_fault_hook([](std::string_view op, const std::string&) {
    return op == "List" ? Status(ErrorKind::kTransient, "could not connect to 127.0.0.1:1")
                        : Status::OK();
  });
  auth->set_fault_hook([](std::string_view, const std::string&) {
    return Status(ErrorKind::kAuth, "InvalidAccessKeyId").set_http_status(403);
  });
  nobucket->set_fault_hook([](std::string_view, const std::string&) {
    return Status(ErrorKind::kNotFound, "NoSuchBucket").set_http_status(404);
  });
  other->set_fault_hook([](std::string_view, const std::string&) {
    return Status(ErrorKind::kPermanent, "weird \xff reply");
  });
  SeedDatabase(store_.get(), {"net", "auth", "nobucket", "other", "good", "nocreds", "off"}, 4, 1,
               2);
  InspectorOptions o;
  o.buckets = {{"nobucket", "missing-bucket"}};
  Make(o);
  auto doc = inspector_->StatusDocument();
  ASSERT_TRUE(doc.ok());
  ASSERT_NO_THROW((void)doc->dump());
  std::map<std::string, json> by;
  for (const auto& d : (*doc)["destinations"]) by[d["name"]] = d;
  auto expect = [&](const std::string& name, const std::string& state,
                    const std::string& message_part) {
    SCOPED_TRACE(name);
    const json& d = by[name];
    EXPECT_EQ(d["connection"]["state"], state);
    std::string msg = d["connection"]["message"];
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find(message_part), std::string::npos) << msg;
    EXPECT_EQ(d["synced"]["source"], "database");
    EXPECT_EQ(d["synced"]["files"], 4) << "never an empty card";
    EXPECT_EQ(d["synced"]["bytes"], 40);
    EXPECT_EQ(d["pending"]["files"], 1);
    EXPECT_EQ(d["failed"]["files"], 2);
  };
  expect("net", "network_error", "could not connect");
  expect("auth", "auth_failed", "InvalidAccessKeyId");
  expect("nobucket", "bucket_not_found", "missing-bucket");
  expect("other", "error", "weird");
  expect("nocreds", "missing_credentials", "missing credentials");
  expect("off", "disabled", "disabled");
  EXPECT_EQ(by["good"]["connection"]["state"], "connected");
  EXPECT_EQ(by["good"]["synced"]["source"], "bucket");
  EXPECT_EQ(by["good"]["synced"]["files"], 3);
  EXPECT_EQ(by["off"]["enabled"], false);
  EXPECT_EQ(by["nocreds"]["list_calls"], 0);
  EXPECT_EQ((*doc)["totals"]["files"], 6 * 4 + 3);
}

TEST_F(InspectorTest, FailedListingKeepsLastGoodFiguresAndRetriesLater) {
  auto* mem = AddMemory("a");
  Fill(mem, "host/", 6, 10);
  SeedDatabase(store_.get(), {"a"}, 2, 0, 0);
  InspectorOptions o;
  o.failure_retry_interval = std::chrono::minutes(1);
  Make(o);
  EXPECT_EQ(Dest("a")["synced"]["source"], "bucket");
  std::atomic<bool> down{true};
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    return (op == "List" || op == "Check") && down.load()
               ? Status(ErrorKind::kTransient, "connection refused")
               : Status::OK();
  });
  Status st = inspector_->Refresh("a");
  EXPECT_EQ(st.kind(), ErrorKind::kTransient);
  auto snap = inspector_->Snapshot("a", false);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->connection.state, ConnectionState::kNetworkError);
  EXPECT_TRUE(snap->figures.known) << "good figures are kept";
  EXPECT_TRUE(snap->figures.stale);
  EXPECT_EQ(snap->figures.files, 6u);
  json d = Dest("a");
  EXPECT_EQ(d["synced"]["source"], "database");
  EXPECT_EQ(d["synced"]["files"], 2);
  EXPECT_EQ(d["last_bucket"]["files"], 6);
  EXPECT_EQ(d["last_bucket"]["stale"], true);
  // Uploads keep even the stale figures current.
  inspector_->OnUploaded(UploadEvent{.destination = "a", .key = "host/zz", .size = 5});
  EXPECT_EQ(Dest("a")["last_bucket"]["files"], 7);

  uint64_t lists = mem->calls("List");
  env_.Advance(std::chrono::seconds(59));
  EXPECT_EQ(Dest("a")["connection"]["state"], "network_error");
  EXPECT_EQ(mem->calls("List"), lists) << "a failure is not retried on every request";
  down.store(false);
  PutObject(mem, "host/zz", "12345");
  env_.Advance(std::chrono::seconds(1));
  d = Dest("a");
  EXPECT_EQ(mem->calls("List"), lists + 1);
  EXPECT_EQ(d["connection"]["state"], "connected");
  EXPECT_EQ(d["synced"]["source"], "bucket");
  EXPECT_EQ(d["synced"]["files"], 7);
  EXPECT_EQ(d["synced"]["bytes"], 65);
}

TEST_F(InspectorTest, AnOutageShowsOnTheFirstRequestAfterTheHealthInterval) {
  auto* mem = AddMemory("a");
  auto* other = AddMemory("b");
  Fill(mem, "host/", 4, 10);
  Fill(other, "host/", 2, 10);
  SeedDatabase(store_.get(), {"a", "b"}, 3, 0, 0);
  InspectorOptions o;
  o.health_check_interval = std::chrono::seconds(1);
  Make(o);
  EXPECT_EQ(Dest("a")["connection"]["state"], "connected");
  EXPECT_EQ(mem->calls("List"), 1u);
  EXPECT_EQ(mem->calls("Check"), 0u) << "a fresh listing is the check";
  // Within the interval nothing is sent at all.
  EXPECT_EQ(Dest("a")["connection"]["state"], "connected");
  EXPECT_EQ(mem->calls("Check"), 0u);

  std::atomic<bool> down{true};
  mem->set_fault_hook([&](std::string_view, const std::string&) {
    return down.load() ? Status(ErrorKind::kTransient, "connection refused") : Status::OK();
  });
  env_.Advance(std::chrono::seconds(1));
  json d = Dest("a");
  EXPECT_EQ(d["connection"]["state"], "network_error") << d.dump();
  EXPECT_NE(d["connection"]["message"].get<std::string>().find("connection refused"),
            std::string::npos);
  EXPECT_EQ(d["synced"]["source"], "database");
  EXPECT_EQ(d["synced"]["files"], 3);
  EXPECT_EQ(mem->calls("Check"), 1u) << "one probe, no listing";
  EXPECT_EQ(mem->calls("List"), 1u);
  EXPECT_EQ(Dest("b")["connection"]["state"], "connected") << "the other destination is unaffected";

  // While down, one probe per interval, however many requests come.
  for (int i = 0; i < 5; ++i) Dest("a");
  EXPECT_EQ(mem->calls("Check"), 1u);
  env_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Dest("a")["connection"]["state"], "network_error");
  EXPECT_EQ(mem->calls("Check"), 2u);

  // Back: the next probe succeeds and the bucket is listed again at once.
  down.store(false);
  PutObject(mem, "host/new", "12345");
  env_.Advance(std::chrono::seconds(1));
  d = Dest("a");
  EXPECT_EQ(d["connection"]["state"], "connected") << d.dump();
  EXPECT_EQ(mem->calls("List"), 2u);
  EXPECT_EQ(d["synced"]["source"], "bucket");
  EXPECT_EQ(d["synced"]["files"], 5);
  EXPECT_EQ(d["health_probes"], 3);
}

TEST_F(InspectorTest, ConcurrentRequestsShareOneProbe) {
  auto* mem = AddMemory("a");
  Fill(mem, "host/", 2, 1);
  InspectorOptions o;
  o.health_check_interval = std::chrono::milliseconds(0);
  Make(o);
  EXPECT_EQ(Dest("a")["connection"]["state"], "connected");
  std::atomic<int> in_flight{0}, peak{0};
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op == "Check") {
      int n = ++in_flight;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      --in_flight;
    }
    return Status::OK();
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i)
    threads.emplace_back([&] { ASSERT_TRUE(inspector_->Snapshot("a", true).ok()); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(peak.load(), 1) << "probes of one destination never overlap";
  EXPECT_LT(mem->calls("Check"), 50u) << "waiting requests share the probe in flight";
  EXPECT_EQ(mem->calls("List"), 1u);
}

TEST_F(InspectorTest, ConfirmedUploadsCountAsContact) {
  auto* mem = AddMemory("a");
  InspectorOptions o;
  o.health_check_interval = std::chrono::seconds(5);
  Make(o);
  EXPECT_EQ(Dest("a")["connection"]["state"], "connected");
  for (int i = 0; i < 10; ++i) {
    env_.Advance(std::chrono::seconds(2));
    inspector_->OnUploaded(
        UploadEvent{.destination = "a", .key = "host/f" + std::to_string(i), .size = 1});
    EXPECT_EQ(Dest("a")["synced"]["files"], i + 1);
  }
  EXPECT_EQ(mem->calls("Check"), 0u) << "uploads prove the connection: no probe needed";
}

TEST_F(InspectorTest, ErrorsSeenBySyncUpdateTheDiagnosisWithoutAListing) {
  auto* mem = AddMemory("a");
  handles_.push_back(MissingCredentialsHandle("nocreds"));
  Fill(mem, "host/", 3, 1);
  InspectorOptions o;
  o.failure_retry_interval = std::chrono::minutes(1);
  Make(o);
  EXPECT_EQ(Dest("a")["connection"]["state"], "connected");
  inspector_->OnConnectionError("a", Status(ErrorKind::kIo, "disk full"));
  inspector_->OnConnectionError("a", Status(ErrorKind::kThrottled, "SlowDown"));
  EXPECT_EQ(Dest("a")["connection"]["state"], "connected") << "not about the connection";
  inspector_->OnConnectionError("a", Status(ErrorKind::kAuth, "SignatureDoesNotMatch"));
  inspector_->OnConnectionError("nocreds", Status(ErrorKind::kTransient, "x"));
  inspector_->OnConnectionError("zzz", Status(ErrorKind::kTransient, "x"));
  json d = Dest("a");
  EXPECT_EQ(d["connection"]["state"], "auth_failed");
  EXPECT_NE(d["connection"]["message"].get<std::string>().find("SignatureDoesNotMatch"),
            std::string::npos);
  EXPECT_EQ(d["synced"]["source"], "database");
  EXPECT_EQ(d["last_bucket"]["files"], 3);
  EXPECT_EQ(Dest("nocreds")["connection"]["state"], "missing_credentials");
  EXPECT_EQ(mem->calls("List"), 1u);
  env_.Advance(std::chrono::minutes(1));
  d = Dest("a");
  EXPECT_EQ(mem->calls("List"), 2u) << "re-checked after the failure retry interval";
  EXPECT_EQ(d["connection"]["state"], "connected");
}

// Changes confirmed while a listing runs must be counted exactly once, whether
// the listing has passed their key already or not.
TEST_F(InspectorTest, ChangesDuringAListingAreCountedExactlyOnce) {
  auto* mem = AddMemory("a", "");
  Fill(mem, "", 30, 10);  // k000..k029, pages of 10
  InspectorOptions o;
  o.s3_max_keys = 10;
  Make(o);
  std::atomic<int> list_call{0};
  std::atomic<bool> armed{false};
  auto upload = [&](const std::string& key, const std::string& data) {
    UploadAndReport(mem, key, data);
  };
  auto remove = [&](const std::string& key) {
    uint64_t old = mem->ObjectData(key).value_or("").size();
    ASSERT_TRUE(mem->Delete(key).ok());
    inspector_->OnDeleted("a", key, old);
  };
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op != "List" || !armed.load()) return Status::OK();
    int n = list_call.fetch_add(1);
    if (n == 1) {                         // the first page (k000..k009) is done; this is page two
      upload("k005x", "aaaaa");           // behind the listing: it will not see it
      upload("k015", "bbbbbbbbbbbbbbb");  // in this page: it sees the new size
      upload("k025x", "c");               // ahead: it will see it
      upload("k026", "dd");               // ahead, replaced twice
      upload("k026", "ddd");
      remove("k027");                          // ahead: it will not count it
      remove("k001");                          // behind: it counted it
    } else if (n == 2) {                       // page two is done
      upload("k012", "eeeeeeeeeeeeeeeeeeee");  // behind now
      upload("k029", "f");                     // in the last page
    }
    return Status::OK();
  });
  auto expected = [&] {
    uint64_t files = 0, bytes = 0;
    ListOptions lo;
    while (true) {
      auto p = mem->List(lo);
      EXPECT_TRUE(p.ok());
      for (const auto& obj : p->objects) {
        ++files;
        bytes += obj.size;
      }
      if (p->next_continuation_token.empty()) break;
      lo.continuation_token = p->next_continuation_token;
    }
    return std::make_pair(files, bytes);
  };

  // First listing (no figures yet), then a re-listing over known figures.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    list_call.store(0);
    armed.store(true);
    ASSERT_TRUE(inspector_->Refresh("a").ok());
    armed.store(false);
    auto [files, bytes] = expected();
    auto snap = inspector_->Snapshot("a", false);
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->figures.files, files);
    EXPECT_EQ(snap->figures.bytes, bytes);
    // Put the deleted objects back for the next round.
    PutObject(mem, "k001", std::string(10, 'x'));
    PutObject(mem, "k027", std::string(10, 'x'));
    inspector_->OnUploaded(UploadEvent{.destination = "a", .key = "k001", .size = 10});
    inspector_->OnUploaded(UploadEvent{.destination = "a", .key = "k027", .size = 10});
  }
}

TEST_F(InspectorTest, RefreshListsOnDemandButNotTooOften) {
  auto* mem = AddMemory("a");
  handles_.push_back(MissingCredentialsHandle("nocreds"));
  handles_.push_back(DisabledHandle("off"));
  InspectorOptions o;
  Make(o);
  EXPECT_TRUE(inspector_->Refresh("a").ok());
  EXPECT_TRUE(inspector_->Refresh("a").ok());
  EXPECT_EQ(mem->calls("List"), 2u) << "min_refresh_interval 0: each refresh lists";
  EXPECT_EQ(inspector_->Refresh("nope").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(inspector_->Refresh("nocreds").kind(), ErrorKind::kAuth);
  EXPECT_EQ(inspector_->Refresh("off").kind(), ErrorKind::kConfig);

  o.min_refresh_interval = std::chrono::seconds(10);
  o.max_wait = std::chrono::seconds(30);
  BucketInspector limited(handles_, store_.get(), &env_, o);
  EXPECT_TRUE(limited.Refresh("a").ok());
  EXPECT_TRUE(limited.Refresh("a").ok());
  EXPECT_EQ(mem->calls("List"), 3u) << "a refresh right after a listing reuses it";
  env_.Advance(std::chrono::seconds(10));
  EXPECT_TRUE(limited.Refresh("a").ok());
  EXPECT_EQ(mem->calls("List"), 4u);
}

TEST_F(InspectorTest, SlowFirstListingAnswersWithDatabaseFiguresAfterMaxWait) {
  auto* mem = AddMemory("a");
  Fill(mem, "host/", 2, 1);
  SeedDatabase(store_.get(), {"a"}, 9, 0, 0);
  std::atomic<bool> release{false};
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    while (op == "List" && !release.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Status::OK();
  });
  InspectorOptions o;
  o.max_wait = std::chrono::milliseconds(50);
  BucketInspector quick(handles_, store_.get(), &env_, o);
  auto doc = quick.StatusDocument();
  ASSERT_TRUE(doc.ok());
  const json& d = (*doc)["destinations"][0];
  EXPECT_EQ(d["connection"]["state"], "checking");
  EXPECT_EQ(d["synced"]["source"], "database");
  EXPECT_EQ(d["synced"]["files"], 9);
  EXPECT_EQ(d["refreshing"], true);
  release.store(true);
  quick.WaitIdle();
  auto again = quick.DestinationStatus("a");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["connection"]["state"], "connected");
  EXPECT_EQ((*again)["synced"]["files"], 2);
  EXPECT_EQ(mem->calls("List"), 1u) << "the listing started by the first request was reused";
  EXPECT_EQ(quick.DestinationStatus("zzz").status().kind(), ErrorKind::kNotFound);
}

TEST_F(InspectorTest, ReportsTheDestinationsOwnListCallsFromItsMetrics) {
  MemoryDestination* raw = nullptr;
  DestinationHandle h = MemoryHandle("a", "host/", &raw);
  h.metrics = std::make_shared<DestinationMetrics>();
  h.dest = Decorate(std::move(h.dest), h.metrics, RetryPolicy{}, 4, &env_, &h.retry_layer);
  Fill(raw, "host/", 3, 1);
  handles_.push_back(std::move(h));
  Make();
  ListOptions lo;
  ASSERT_TRUE(handles_[0].dest->List(lo).ok());  // someone else lists too
  json d = Dest("a");
  EXPECT_EQ(d["list_calls"], 1);
  EXPECT_EQ(d["destination_list_calls"], 2);
  EXPECT_EQ(d["synced"]["files"], 3);
}

// ---------------------------------------------------------------- parallel key ranges

// Sees every List call with its options before the destination does: counts
// calls in flight and lets a test delay, fail or act at a given call.
class ListSpy : public ForwardingDestination {
 public:
  using Hook = std::function<Status(const ListOptions&)>;
  explicit ListSpy(std::unique_ptr<Destination> inner) : ForwardingDestination(std::move(inner)) {}

  void set_hook(Hook h) {
    std::lock_guard<std::mutex> l(mu_);
    hook_ = std::move(h);
  }
  // Called with each answer before the caller gets it.
  using AfterHook = std::function<void(const ListOptions&, const Result<ListPage>&)>;
  void set_after(AfterHook h) {
    std::lock_guard<std::mutex> l(mu_);
    after_ = std::move(h);
  }
  int peak() const { return peak_.load(); }
  uint64_t calls() const { return calls_.load(); }
  // Options of every call so far, in call order.
  std::vector<ListOptions> seen() const {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

  Result<ListPage> List(const ListOptions& o) override {
    calls_.fetch_add(1);
    int n = in_flight_.fetch_add(1) + 1;
    int p = peak_.load();
    while (n > p && !peak_.compare_exchange_weak(p, n)) {
    }
    Hook h;
    AfterHook after;
    {
      std::lock_guard<std::mutex> l(mu_);
      seen_.push_back(o);
      h = hook_;
      after = after_;
    }
    Status st = h ? h(o) : Status::OK();
    Result<ListPage> r = st.ok() ? inner()->List(o) : Result<ListPage>(st);
    if (after) after(o, r);
    in_flight_.fetch_sub(1);
    return r;
  }

 private:
  mutable std::mutex mu_;
  Hook hook_;
  AfterHook after_;
  std::vector<ListOptions> seen_;
  std::atomic<int> in_flight_{0}, peak_{0};
  std::atomic<uint64_t> calls_{0};
};

class ParallelListingTest : public InspectorTest {
 protected:
  void SetUp() override {
    InspectorTest::SetUp();
    split_store_ = std::make_unique<SplitPointStore>(store_.get());
  }

  // Destination "a" (prefix host/) as a memory bucket behind a ListSpy.
  void AddSpied(const std::string& prefix = "host/") {
    DestinationHandle h = MemoryHandle("a", prefix, &mem_);
    auto spy = std::make_unique<ListSpy>(std::move(h.dest));
    spy_ = spy.get();
    h.dest = std::move(spy);
    handles_.push_back(std::move(h));
  }

  // n objects host/k00000.. (sizes 1..17) all recorded as synced in the
  // database, plus objects the database does not know (before the first key,
  // in the middle, after the last) and objects outside the prefix.
  void FillBig(int n) {
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "host/k%05d", i);
      keys.push_back(name);
      PutObject(mem_, name, std::string(static_cast<size_t>(i % 17 + 1), 'x'));
    }
    SeedSyncedKeys(store_.get(), "a", keys);
    for (const char* k : {"host/!first", "host/k00999x", "host/k02500 between", "host/zz-last",
                          "host/\xc3\xbc-non-ascii"})
      PutObject(mem_, k, "not in the database");
    for (const char* k : {"hos", "host", "host0/a", "hostx", "a", "other/k00100", "zzz"})
      PutObject(mem_, k, "outside the prefix");
  }

  // What a listing must find: the bucket's objects under the prefix.
  std::pair<uint64_t, uint64_t> Truth(const std::string& prefix = "host/") {
    uint64_t files = 0, bytes = 0;
    ListOptions lo;
    lo.prefix = prefix;
    while (true) {
      auto p = mem_->List(lo);
      EXPECT_TRUE(p.ok());
      if (!p.ok()) break;
      for (const auto& o : p->objects) {
        ++files;
        bytes += o.size;
      }
      if (p->next_continuation_token.empty()) break;
      lo.continuation_token = p->next_continuation_token;
    }
    return {files, bytes};
  }

  BucketInspector& MakeParallel(int parallelism, int page = 100) {
    InspectorOptions o;
    o.list_parallelism = parallelism;
    o.s3_max_keys = page;
    o.min_refresh_interval = std::chrono::milliseconds(0);
    o.max_wait = std::chrono::seconds(30);
    inspector_.reset();
    inspector_ = std::make_unique<BucketInspector>(handles_, split_store_.get(), &env_, o);
    return *inspector_;
  }

  // One listing; returns the list requests it sent.
  uint64_t ListOnce() {
    uint64_t before = spy_->calls();
    Status st = inspector_->Refresh("a");
    EXPECT_TRUE(st.ok()) << st.ToString();
    return spy_->calls() - before;
  }

  BucketFigures Figures() {
    auto snap = inspector_->Snapshot("a", false);
    EXPECT_TRUE(snap.ok());
    return snap.ok() ? snap->figures : BucketFigures{};
  }

  std::unique_ptr<SplitPointStore> split_store_;
  MemoryDestination* mem_ = nullptr;
  ListSpy* spy_ = nullptr;
};

TEST_F(ParallelListingTest, SameFiguresWithAnyParallelismAndAtMostOneExtraRequestPerRange) {
  AddSpied();
  FillBig(5000);
  auto [files, bytes] = Truth();
  ASSERT_EQ(files, 5005u);
  MakeParallel(1);
  const uint64_t sequential = ListOnce();
  EXPECT_EQ(sequential, 51u) << "5005 keys, 100 per page";
  EXPECT_EQ(split_store_->sample_calls(), 0) << "parallelism 1 asks the database nothing";
  EXPECT_EQ(Figures().files, files);
  EXPECT_EQ(Figures().bytes, bytes);
  for (int r : {4, 7}) {
    SCOPED_TRACE(r);
    MakeParallel(r);
    int asked = split_store_->sample_calls();
    uint64_t requests = ListOnce();
    EXPECT_EQ(split_store_->sample_calls(), asked + 1);
    EXPECT_EQ(split_store_->last_n(), static_cast<size_t>(r - 1));
    EXPECT_EQ(Figures().files, files);
    EXPECT_EQ(Figures().bytes, bytes);
    EXPECT_LE(requests, sequential + static_cast<uint64_t>(r));
    json d = Dest("a");
    EXPECT_EQ(d["list_calls"], requests) << "every range's requests are counted";
    EXPECT_EQ(d["synced"]["files"], files);
    std::string msg = d["connection"]["message"];
    EXPECT_NE(msg.find(std::to_string(requests) + " requests in " + std::to_string(r) +
                       " parallel key ranges"),
              std::string::npos)
        << msg;
    // Each range but the first starts after a split point, on its first request only.
    int starts = 0;
    for (const auto& o : spy_->seen()) {
      if (!o.start_after.empty()) {
        ++starts;
        EXPECT_TRUE(o.continuation_token.empty());
        EXPECT_EQ(o.start_after.compare(0, 5, "host/"), 0) << o.start_after;
      }
    }
    EXPECT_GE(starts, r - 1);
  }
}

TEST_F(ParallelListingTest, BadSplitPointsStillGiveExactFigures) {
  AddSpied();
  FillBig(2000);
  auto [files, bytes] = Truth();
  MakeParallel(1);
  const uint64_t sequential = ListOnce();
  using Keys = std::vector<std::string>;
  const std::vector<std::pair<std::string, Keys>> cases = {
      {"unsorted", {"host/k01500", "host/k00500", "host/k01000", "host/k00100"}},
      {"duplicates", {"host/k00500", "host/k00500", "host/k00500", "host/k01500"}},
      {"outside the prefix", {"hos", "host", "hostx/k1", "zzz", "a"}},
      {"mixed outside and inside", {"a", "host/k00700", "host0", "host/k01400", "hostz"}},
      {"empty", {}},
      {"empty key and the bare prefix", {"", "host/", "host/k01000"}},
      {"keys not in the bucket", {"host/!", "host/k00999y", "host/k01999zz", "host/zzz"}},
      {"all before the keys", {"host/!", "host/!!", "host/!!!"}},
      {"all after the keys", {"host/\xff", "host/\xff\xff", "host/\xff\xff\xff"}},
      {"split points on the unknown objects",
       {"host/!first", "host/k00999x", "host/k02500 between", "host/zz-last"}},
      {"more than asked for",
       {"host/k00100", "host/k00200", "host/k00300", "host/k00400", "host/k00500", "host/k00600",
        "host/k00700", "host/k00800", "host/k00900", "host/k01000"}},
  };
  for (const auto& [what, keys] : cases) {
    SCOPED_TRACE(what);
    split_store_->set_answer(Result<Keys>(keys));
    MakeParallel(5);
    uint64_t requests = ListOnce();
    EXPECT_EQ(Figures().files, files);
    EXPECT_EQ(Figures().bytes, bytes);
    EXPECT_LE(requests, sequential + 5);
  }
  // A database that cannot answer: one sequential listing.
  split_store_->set_answer(Result<Keys>(Status(ErrorKind::kIo, "disk I/O error")));
  MakeParallel(5);
  EXPECT_EQ(ListOnce(), sequential);
  EXPECT_EQ(Figures().files, files);
  EXPECT_EQ(Figures().bytes, bytes);
  EXPECT_EQ(Dest("a")["connection"]["message"].get<std::string>().find("parallel"),
            std::string::npos);
}

TEST_F(ParallelListingTest, SmallBucketsAreListedSequentially) {
  AddSpied();
  // 199 synced keys with 100 per page: less than two pages' worth.
  FillBig(199);
  MakeParallel(4);
  EXPECT_EQ(ListOnce(), 3u);
  EXPECT_EQ(split_store_->sample_calls(), 0) << "not worth a query";
  EXPECT_EQ(Figures().files, Truth().first);
  // 250 synced keys: two ranges at most, whatever list_parallelism says.
  SeedSyncedKeys(store_.get(), "a", {"host/k00001x", "host/k00002x"}, "/more");
  for (int i = 0; i < 49; ++i)
    SeedSyncedKeys(store_.get(), "a", {"host/m" + std::to_string(i)}, "/m" + std::to_string(i));
  MakeParallel(4);
  ListOnce();
  EXPECT_EQ(split_store_->sample_calls(), 1);
  EXPECT_EQ(split_store_->last_n(), 1u) << "two ranges of at least a page each";
  EXPECT_EQ(Figures().files, Truth().first);
}

TEST_F(ParallelListingTest, RangesAreListedConcurrently) {
  AddSpied();
  FillBig(2000);
  spy_->set_hook([](const ListOptions&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Status::OK();
  });
  MakeParallel(4);
  ListOnce();
  EXPECT_GT(spy_->peak(), 1) << "ranges overlap in time";
  EXPECT_LE(spy_->peak(), 4);
  EXPECT_EQ(Figures().files, Truth().first);
}

TEST_F(ParallelListingTest, AFailingRangeFailsTheListingAndKeepsTheFigures) {
  AddSpied();
  FillBig(2000);
  using Keys = std::vector<std::string>;
  split_store_->set_answer(Result<Keys>(Keys{"host/k00500", "host/k01000", "host/k01500"}));
  MakeParallel(4);
  ListOnce();
  const BucketFigures good = Figures();
  ASSERT_TRUE(good.known);
  PutObject(mem_, "host/k00001y", "changed behind our back");

  // Range 2 (after host/k01000) fails at once; the others wait until it has
  // failed and then see that they must stop.
  std::atomic<bool> failed{false};
  spy_->set_hook([&](const ListOptions& o) {
    if (o.start_after == "host/k01000") {
      failed.store(true);
      return Status(ErrorKind::kTransient, "connection reset by peer");
    }
    for (int i = 0; i < 2000 && !failed.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return Status::OK();
  });
  uint64_t before = spy_->calls();
  Status st = inspector_->Refresh("a");
  EXPECT_EQ(st.kind(), ErrorKind::kTransient) << st.ToString();
  EXPECT_NE(st.message().find("connection reset"), std::string::npos);
  EXPECT_LE(spy_->calls() - before, 8u) << "the other ranges stop after their page in flight";
  BucketFigures f = Figures();
  EXPECT_TRUE(f.known);
  EXPECT_TRUE(f.stale);
  EXPECT_EQ(f.files, good.files) << "never partially updated";
  EXPECT_EQ(f.bytes, good.bytes);
  json d = Dest("a");
  EXPECT_EQ(d["connection"]["state"], "network_error");
  EXPECT_EQ(d["last_bucket"]["files"], good.files);

  // Two failures: the first one decides.
  failed.store(false);
  spy_->set_hook([&](const ListOptions& o) {
    if (o.start_after == "host/k01500") {
      failed.store(true);
      return Status(ErrorKind::kAuth, "InvalidAccessKeyId").set_http_status(403);
    }
    while (!failed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (o.start_after == "host/k00500") return Status(ErrorKind::kPermanent, "later failure");
    return Status::OK();
  });
  st = inspector_->Refresh("a");
  EXPECT_EQ(st.kind(), ErrorKind::kAuth) << st.ToString();
  EXPECT_EQ(Dest("a")["connection"]["state"], "auth_failed");
  EXPECT_EQ(Figures().files, good.files);

  // Back to normal: exact again.
  spy_->set_hook(nullptr);
  ListOnce();
  EXPECT_EQ(Figures().files, Truth().first);
  EXPECT_FALSE(Figures().stale);
}

TEST_F(ParallelListingTest, ShutdownStopsEveryRange) {
  AddSpied();
  FillBig(2000);
  using Keys = std::vector<std::string>;
  split_store_->set_answer(Result<Keys>(Keys{"host/k00500", "host/k01000", "host/k01500"}));
  std::atomic<int> entered{0};
  std::atomic<bool> release{false};
  spy_->set_hook([&](const ListOptions&) {
    entered.fetch_add(1);
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::OK();
  });
  InspectorOptions o;
  o.list_parallelism = 4;
  o.s3_max_keys = 100;
  o.max_wait = std::chrono::milliseconds(0);  // start the listing, do not wait for it
  inspector_ = std::make_unique<BucketInspector>(handles_, split_store_.get(), &env_, o);
  auto snap = inspector_->Snapshot("a", true);
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->refreshing);
  for (int i = 0; i < 5000 && entered.load() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(entered.load(), 4) << "all four ranges are in flight";
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    release.store(true);
  });
  inspector_.reset();  // stops and joins the listing and its ranges
  releaser.join();
  EXPECT_EQ(spy_->calls(), 4u) << "no range sent another request after shutdown";
}

// Changes confirmed while a parallel listing runs are counted exactly once,
// whether their range has finished, is being listed (behind the range's
// cursor, in its page in flight, ahead of it) or has not started.
TEST_F(ParallelListingTest, ChangesDuringAParallelListingAreCountedExactlyOnce) {
  AddSpied("");
  // Four ranges: ..k009, (k009, k019], (k019, k029], k029.. ; pages of 5 keys.
  const std::vector<std::string> splits = {"k009", "k019", "k029"};
  split_store_->set_answer(Result<std::vector<std::string>>(splits));
  std::vector<std::string> synced;  // only their number matters (40 keys: 8 pages)
  for (int i = 0; i < 40; ++i) synced.push_back("s" + std::to_string(i));
  SeedSyncedKeys(store_.get(), "a", synced);

  auto upload = [&](const std::string& key, const std::string& data) {
    UploadAndReport(mem_, key, data);
  };
  auto remove = [&](const std::string& key) {
    auto before = mem_->ObjectData(key);
    ASSERT_TRUE(before.has_value()) << key;
    ASSERT_TRUE(mem_->Delete(key).ok());
    inspector_->OnDeleted("a", key, before->size());
  };
  // The range a request belongs to (the memory destination's continuation
  // token is the last key of the previous page).
  auto range_of = [&](const ListOptions& o) -> int {
    if (!o.continuation_token.empty())
      return static_cast<int>(std::lower_bound(splits.begin(), splits.end(), o.continuation_token) -
                              splits.begin());
    if (o.start_after.empty()) return 0;
    return static_cast<int>(std::find(splits.begin(), splits.end(), o.start_after) -
                            splits.begin()) +
           1;
  };

  // The ranges run one after the other in `order`: a range starts once the
  // ones before it have received their last page (plus a moment for the
  // inspector to take that page in). On the second request of the second
  // range in the order, every kind of change happens at once.
  for (const std::vector<int>& order :
       {std::vector<int>{3, 2, 1, 0}, std::vector<int>{0, 1, 2, 3}, std::vector<int>{1, 3, 0, 2}}) {
    SCOPED_TRACE(::testing::PrintToString(order));
    // The bucket before each round: k000..k039, 10 bytes each.
    auto all = mem_->List({.prefix = "", .max_keys = 1000});
    ASSERT_TRUE(all.ok());
    for (const auto& o : all->objects) ASSERT_TRUE(mem_->Delete(o.key).ok());
    for (int i = 0; i < 40; ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "k%03d", i);
      PutObject(mem_, key, std::string(10, 'x'));
    }
    std::mutex mu;
    std::condition_variable cv;
    std::vector<bool> done(4, false);
    std::vector<int> calls(4, 0);
    bool changed = false;
    auto position = [&](int r) {
      return static_cast<size_t>(std::find(order.begin(), order.end(), r) - order.begin());
    };
    spy_->set_hook([&](const ListOptions& o) {
      int r = range_of(o);
      int n;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] {
          for (size_t j = 0; j < position(r); ++j)
            if (!done[order[j]]) return false;
          return true;
        });
        n = ++calls[r];
      }
      if (n == 1 && position(r) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
      if (r == order[1] && n == 2 && !changed) {
        changed = true;
        upload("k005x", "aaaaa");                 // range 0
        upload("k009", "split key, range 0");     // the upper bound of range 0
        upload("k009x", "b");                     // just after it: range 1
        upload("k012", "cccccccccccc");           // range 1
        upload("k016", "dd");                     // range 1, replaced twice
        upload("k016", "ddd");                    //
        remove("k018");                           // range 1
        upload("k021", "eeeeeeeeeeeeeeeeeeeee");  // range 2
        remove("k022");                           // range 2
        upload("k024x", "f");                     // range 2
        remove("k027");                           // range 2
        upload("k029x", "gg");                    // range 3 (after the last split point)
        upload("k033", "hhh");                    // range 3
        remove("k038");                           // range 3
        upload("k050", "iiii");                   // range 3, after every key
        remove("k050");                           // and gone again
        upload("k051", "jjjjj");                  // range 3, the new last key
      }
      return Status::OK();
    });
    spy_->set_after([&](const ListOptions& o, const Result<ListPage>& page) {
      int r = range_of(o);
      if (!page.ok()) return;
      bool end = page->next_continuation_token.empty() ||
                 (r < 3 && !page->objects.empty() && page->objects.back().key > splits[r]);
      if (end) {
        std::lock_guard<std::mutex> l(mu);
        done[r] = true;
        cv.notify_all();
      }
    });
    MakeParallel(4, 5);
    Status st = inspector_->Refresh("a");
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(changed);
    EXPECT_EQ(calls[0] + calls[1] + calls[2] + calls[3], static_cast<int>(Dest("a")["list_calls"]));
    auto [files, bytes] = Truth("");
    EXPECT_EQ(Figures().files, files);
    EXPECT_EQ(Figures().bytes, bytes);
    spy_->set_hook(nullptr);
    spy_->set_after(nullptr);
  }
}

TEST(InspectorOptionsTest, ListParallelismIsValidated) {
  InspectorOptions o;
  EXPECT_EQ(o.list_parallelism, 4);
  EXPECT_TRUE(ValidateInspectorOptions(o).ok());
  for (int ok : {1, 2, 32}) {
    o.list_parallelism = ok;
    EXPECT_TRUE(ValidateInspectorOptions(o).ok()) << ok;
  }
  for (int bad : {0, -1, 33, 1000}) {
    o.list_parallelism = bad;
    Status st = ValidateInspectorOptions(o);
    EXPECT_EQ(st.kind(), ErrorKind::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("list_parallelism"), std::string::npos) << st.message();
  }
  o.list_parallelism = 4;
  o.s3_max_keys = 0;
  EXPECT_EQ(ValidateInspectorOptions(o).kind(), ErrorKind::kInvalidArgument);
}

TEST_F(ParallelListingTest, OutOfRangeParallelismIsClamped) {
  AddSpied();
  FillBig(2000);
  MakeParallel(0, 50);
  ListOnce();
  EXPECT_EQ(split_store_->sample_calls(), 0) << "0 means 1: sequential";
  EXPECT_EQ(Figures().files, Truth().first);
  MakeParallel(1000, 50);  // 2000 synced keys, 50 per page: room for 40 ranges
  ListOnce();
  EXPECT_EQ(split_store_->last_n(), 31u) << "at most 32 ranges";
  EXPECT_EQ(Figures().files, Truth().first);
}

TEST(TimeFormatTest, FormatsUtc) {
  EXPECT_EQ(FormatIsoTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoTime(1'790'000'000'999'999), "2026-09-21T14:13:20Z");
  EXPECT_EQ(IsoTimeJson(0), json(nullptr));
  EXPECT_EQ(JsonSafeString("ok \xc3\xa9"), "ok \xc3\xa9");
  EXPECT_EQ(JsonSafeString("bad \xff"), "bad \\xFF");
}

}  // namespace
}  // namespace ck
