#include "engine/sync_engine.h"
#include "state/state_test_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "dest/decorators.h"
#include "dest/memory_destination.h"
#include "util/hash.h"

namespace ck {
namespace {

namespace fs = std::filesystem;

// Real files, but no sleeping, and scripted open failures.
class TestEnv : public EnvWrapper {
 public:
  TestEnv() : EnvWrapper(Env::Default()) {}
  void SleepFor(std::chrono::milliseconds d) override { slept_ms += d.count(); }
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& p, bool follow) override {
    auto it = open_faults.find(p);
    if (it != open_faults.end()) return it->second;
    return EnvWrapper::OpenForRead(p, follow);
  }
  std::map<std::string, Status> open_faults;
  std::atomic<int64_t> slept_ms{0};
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ck-engine-XXXXXX";
    root_ = mkdtemp(tmpl);
    src_ = root_ + "/src";
    fs::create_directories(src_);
    auto store = OpenSqliteStore({.path = root_ + "/state.db"}, &env_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& rel, const std::string& data) {
    fs::path p = fs::path(src_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }
  static std::string Random(size_t n, uint32_t seed) {
    std::mt19937 g(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(g());
    return s;
  }

  // A memory destination with small parts so multipart is cheap to test.
  std::unique_ptr<MemoryDestination> MakeMemory(const std::string& name) {
    MemoryDestination::Options o;
    o.name = name;
    o.caps.min_part_size = 1024;
    return std::make_unique<MemoryDestination>(o);
  }

  EngineDestination Dest(const std::string& name, Destination* d) {
    return EngineDestination{.name = name,
                             .prefix = "host/",
                             .dest = d,
                             .metrics = nullptr,
                             .transfers = 3,
                             .multipart_threshold = 10000,
                             .part_size = 4096,
                             .unavailable = {}};
  }

  Result<SyncReport> RunSync(std::vector<EngineDestination> dests, EngineOptions o = {}) {
    SourceConfig sc;
    sc.path = src_;
    sc.prefix = "";
    SyncEngine engine(store_.get(), &env_, {sc}, std::move(dests), o);
    return engine.Run(nullptr);
  }

  SyncStatus StatusOf(const std::string& rel, const std::string& dest) {
    auto s = store_->GetStatus(src_, rel, dest);
    EXPECT_TRUE(s.ok()) << rel << ": " << s.status().ToString();
    return s.ok() ? *s : SyncStatus::kPending;
  }

  TestEnv env_;
  std::string root_, src_;
  std::unique_ptr<StateStore> store_;
};

const std::vector<std::string> kAwkward = {
    "with space.txt",     "ünïcödé/日本語.txt",  "plus+sign.txt",   "percent%20.txt",
    "amp&q?h#e=.txt",     "quote'dq\".txt",      "semi;comma,.txt", "br[ack]{et}.txt",
    "tilde~at@bang!.txt", "deep/a/b/c/d/e/f.txt"};

TEST_F(EngineTest, SyncsEverythingAndVerifiesBytes) {
  for (int i = 0; i < 50; ++i) Write("small/f" + std::to_string(i), Random(100 + i, i));
  Write("empty", "");
  for (const auto& n : kAwkward) Write(n, "awkward " + n);
  std::string big = Random(50000, 99);  // 13 parts of 4096
  Write("big.bin", big);

  auto mem = MakeMemory("m");
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->all_synced());
  ASSERT_EQ(r->destinations.size(), 1u);
  EXPECT_EQ(r->destinations[0].uploaded_files, 50u + 1 + kAwkward.size() + 1);
  EXPECT_EQ(mem->object_count(), 50u + 1 + kAwkward.size() + 1);
  EXPECT_EQ(mem->ObjectData("host/big.bin"), big);
  EXPECT_EQ(mem->ObjectData("host/empty"), "");
  for (const auto& n : kAwkward) EXPECT_EQ(mem->ObjectData("host/" + n), "awkward " + n) << n;
  EXPECT_EQ(StatusOf("big.bin", "m"), SyncStatus::kSynced);
  EXPECT_GE(mem->calls("UploadPart"), 13u);
  EXPECT_EQ(mem->open_multipart_uploads(), 0u);
}

TEST_F(EngineTest, UploadEventsTellNewAndReplacedObjects) {
  Write("a", "12345");
  Write("b", "xy");
  auto mem = MakeMemory("m");
  std::mutex mu;
  std::vector<UploadEvent> events;
  EngineOptions o;
  o.on_uploaded = [&](const UploadEvent& e) {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(e);
  };
  ASSERT_TRUE(RunSync({Dest("m", mem.get())}, o).ok());
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    EXPECT_EQ(e.destination, "m");
    EXPECT_EQ(e.replaced_key, "");
  }
  events.clear();
  Write("a", "1234567890");
  ASSERT_TRUE(RunSync({Dest("m", mem.get())}, o).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key, "host/a");
  EXPECT_EQ(events[0].size, 10u);
  EXPECT_EQ(events[0].replaced_key, "host/a");
  EXPECT_EQ(events[0].replaced_size, 5u);
}

// Confirmed uploads are recorded in groups; each event is reported only after
// its file is recorded synced, and every file ends synced (groups of
// kGroupRows, partial groups by the timer, the rest when the run ends).
TEST_F(EngineTest, ConfirmedUploadsAreRecordedInGroupsBeforeTheirEvents) {
  const int n = 700;
  for (int i = 0; i < n; ++i) Write("g/" + std::to_string(i), Random(10, static_cast<uint32_t>(i)));
  auto mem = MakeMemory("m");
  std::mutex mu;
  int events = 0, not_yet_synced = 0;
  EngineOptions o;
  o.on_uploaded = [&](const UploadEvent& e) {
    auto st = store_->GetStatus(src_, e.key.substr(5), "m");  // "host/" + rel
    std::lock_guard<std::mutex> l(mu);
    ++events;
    if (!st.ok() || *st != SyncStatus::kSynced) ++not_yet_synced;
  };
  ck::testing::RawDb raw(root_ + "/state.db");
  const int64_t before = raw.Int("SELECT count(*) FROM file_dest");
  auto r = RunSync({Dest("m", mem.get())}, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(before, 0);
  EXPECT_EQ(events, n);
  EXPECT_EQ(not_yet_synced, 0);
  EXPECT_EQ(r->destinations[0].uploaded_files, static_cast<uint64_t>(n));
  EXPECT_EQ(r->destinations[0].synced_files, static_cast<uint64_t>(n));
  EXPECT_EQ(raw.Int("SELECT count(*) FROM file_dest WHERE status = 'synced'"), n);
  // No single-request upload went through `uploading`.
  EXPECT_EQ(raw.Int("SELECT count(*) FROM file_dest WHERE last_attempt_us <> 0"), 0);
}

TEST_F(EngineTest, SecondRunSendsNothingAndChangesUploadExactlyThose) {
  for (int i = 0; i < 20; ++i) Write("f" + std::to_string(i), Random(200, i));
  auto mem = MakeMemory("m");
  ASSERT_TRUE(RunSync({Dest("m", mem.get())}).ok());
  uint64_t puts = mem->calls("Put"), checks = mem->calls("Check"), lists = mem->calls("List");
  EXPECT_EQ(mem->calls("ListMultipartUploads"), 0u) << "no large file, no need to list uploads";

  auto again = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->all_synced());
  EXPECT_EQ(mem->calls("Put"), puts) << "a no-op run sent a PUT";
  EXPECT_EQ(mem->calls("Check"), checks) << "a no-op run contacted the server";
  EXPECT_EQ(mem->calls("List"), lists);
  EXPECT_EQ(mem->calls("ListMultipartUploads"), 0u);

  Write("f3", "changed three");
  Write("f7", "changed seven, longer");
  Write("f11", Random(200, 1234));  // same size, new mtime and content
  auto third = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(mem->calls("Put"), puts + 3);
  EXPECT_EQ(third->destinations[0].uploaded_files, 3u);
  EXPECT_EQ(mem->ObjectData("host/f7"), "changed seven, longer");
}

TEST_F(EngineTest, TransientFailuresAreRetriedUntilSynced) {
  for (int i = 0; i < 40; ++i) Write("f" + std::to_string(i), Random(300, i));
  Write("big.bin", Random(30000, 5));
  auto mem = MakeMemory("m");
  std::atomic<int> n{0};
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    if ((op == "Put" || op == "UploadPart") && n.fetch_add(1) % 3 == 0)
      return Status(ErrorKind::kTransient, "503 ServiceUnavailable").set_http_status(503);
    return Status::OK();
  });
  auto retrying = std::make_unique<RetryingDestination>(std::unique_ptr<Destination>(mem.release()),
                                                        RetryPolicy{}, &env_);
  auto* mem_raw = static_cast<MemoryDestination*>(retrying->inner());
  auto r = RunSync({Dest("m", retrying.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->all_synced());
  EXPECT_EQ(mem_raw->object_count(), 41u);
  EXPECT_GT(retrying->retries(), 0u);
  EXPECT_GT(env_.slept_ms.load(), 0) << "retries must back off";
}

TEST_F(EngineTest, AuthFailureStopsThatDestinationOnlyAndKeepsFilesPending) {
  for (int i = 0; i < 10; ++i) Write("f" + std::to_string(i), "x" + std::to_string(i));
  auto good = MakeMemory("good");
  auto bad = MakeMemory("bad");
  bad->set_fault_hook([](std::string_view, const std::string&) {
    return Status(ErrorKind::kAuth, "403 SignatureDoesNotMatch (the secret access key is wrong)");
  });
  auto r = RunSync({Dest("good", good.get()), Dest("bad", bad.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->all_synced());
  EXPECT_TRUE(r->destinations[0].fatal.ok());
  EXPECT_EQ(r->destinations[0].uploaded_files, 10u);
  EXPECT_EQ(r->destinations[1].fatal.kind(), ErrorKind::kAuth);
  EXPECT_EQ(bad->calls("Put"), 0u) << "the credential check should stop before any upload";
  EXPECT_EQ(StatusOf("f1", "bad"), SyncStatus::kPending);
  EXPECT_EQ(StatusOf("f1", "good"), SyncStatus::kSynced);
}

TEST_F(EngineTest, UnreadableAndInvalidNamesFailWithReasonsAndTheRestGoesOn) {
  Write("ok.txt", "fine");
  Write("locked.txt", "secret");
  Write(std::string("bad\xff\xfe.txt"), "latin1 name");
  env_.open_faults[src_ + "/locked.txt"] =
      Status(ErrorKind::kPermissionDenied, src_ + "/locked.txt: permission denied");
  auto mem = MakeMemory("m");
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->all_synced());
  EXPECT_EQ(r->destinations[0].failed_files, 2u);
  EXPECT_EQ(StatusOf("ok.txt", "m"), SyncStatus::kSynced);
  auto failed = store_->ListFailed("m", 10, "");
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->files.size(), 2u);
  std::set<std::string> kinds;
  for (const auto& f : failed->files) {
    kinds.insert(f.error_kind);
    if (f.error_kind == "invalid_name") {
      EXPECT_NE(f.error.find("not valid UTF-8"), std::string::npos) << f.error;
      EXPECT_NE(f.error.find("bad\\xFF\\xFE.txt"), std::string::npos) << f.error;
    }
    if (f.error_kind == "permission_denied") {
      EXPECT_NE(f.error.find("permission denied"), std::string::npos);
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"invalid_name", "permission_denied"}));
  EXPECT_FALSE(mem->ObjectData("host/locked.txt").has_value());
}

TEST_F(EngineTest, KeyLongerThanLimitFails) {
  std::string longname(250, 'a');
  Write(longname + "/" + longname + "/" + longname + "/" + longname + "/" + longname, "deep");
  auto mem = MakeMemory("m");
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  auto failed = store_->ListFailed("m", 10, "");
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->files.size(), 1u);
  EXPECT_EQ(failed->files[0].error_kind, "invalid_name");
  EXPECT_NE(failed->files[0].error.find("limit is 1024"), std::string::npos);
}

TEST_F(EngineTest, InterruptedMultipartResumesFromServerParts) {
  std::string big = Random(40000, 7);  // 10 parts
  Write("big.bin", big);
  auto mem = MakeMemory("m");
  std::atomic<int> parts{0};
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op == "UploadPart" && parts.fetch_add(1) >= 4)
      return Status(ErrorKind::kTransient, "connection lost");
    return Status::OK();
  });
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(StatusOf("big.bin", "m"), SyncStatus::kFailed);
  EXPECT_EQ(mem->open_multipart_uploads(), 1u) << "kept for resume";
  uint64_t uploaded_before = mem->calls("UploadPart");

  mem->set_fault_hook(nullptr);
  auto again = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->all_synced());
  EXPECT_EQ(again->destinations[0].resumed_uploads, 1u);
  EXPECT_EQ(mem->calls("ListParts"), 1u);
  // only the parts the server lacked were sent again
  EXPECT_LE(mem->calls("UploadPart") - uploaded_before, 10u - 4u + 0u);
  EXPECT_EQ(mem->ObjectData("host/big.bin"), big);
  EXPECT_EQ(mem->open_multipart_uploads(), 0u);
}

TEST_F(EngineTest, UnrecordedMultipartUploadsAreAborted) {
  Write("big.bin", Random(20000, 3));
  auto mem = MakeMemory("m");
  ASSERT_TRUE(mem->StartMultipart("host/orphan", {}, "").ok());
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->destinations[0].aborted_stale_uploads, 1u);
  EXPECT_EQ(mem->open_multipart_uploads(), 0u);
}

TEST_F(EngineTest, FileChangedDuringUploadIsReuploadedNotRecordedStale) {
  Write("live.log", "version one");
  auto mem = MakeMemory("m");
  std::atomic<int> puts{0};
  std::string path = src_ + "/live.log";
  mem->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op == "Put" && puts.fetch_add(1) == 0) {
      // the file is rewritten while the first upload is in flight
      std::ofstream(path, std::ios::binary | std::ios::trunc) << "version two, longer";
    }
    return Status::OK();
  });
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->all_synced());
  EXPECT_EQ(mem->ObjectData("host/live.log"), "version two, longer");
  EXPECT_EQ(puts.load(), 2);
}

TEST_F(EngineTest, VanishedFileIsNotAFailure) {
  Write("a.txt", "a");
  Write("gone.txt", "b");
  env_.open_faults[src_ + "/gone.txt"] = Status(ErrorKind::kVanished, "gone");
  auto mem = MakeMemory("m");
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->destinations[0].vanished, 1u);
  EXPECT_EQ(r->destinations[0].failed_files, 0u);
  EXPECT_TRUE(r->all_synced());
}

TEST_F(EngineTest, FailedFilesAreRetriedByLaterRunsUntilMaxAttempts) {
  Write("flaky.txt", "data");
  auto mem = MakeMemory("m");
  mem->set_fault_hook([](std::string_view op, const std::string&) {
    if (op == "Put") return Status(ErrorKind::kPermanent, "400 InvalidRequest");
    return Status::OK();
  });
  EngineOptions o;
  o.max_attempts = 2;
  ASSERT_TRUE(RunSync({Dest("m", mem.get())}, o).ok());
  ASSERT_TRUE(RunSync({Dest("m", mem.get())}, o).ok());
  ASSERT_TRUE(RunSync({Dest("m", mem.get())}, o).ok());
  EXPECT_EQ(mem->calls("Put"), 2u) << "not retried forever";
  ASSERT_TRUE(store_->Retry("m", {}).ok());
  mem->set_fault_hook(nullptr);
  auto r = RunSync({Dest("m", mem.get())}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->all_synced());
}

TEST_F(EngineTest, UnavailableDestinationLeavesFilesPending) {
  Write("a.txt", "a");
  auto mem = MakeMemory("m");
  auto d = Dest("m", mem.get());
  d.unavailable = Status(ErrorKind::kAuth, "missing credentials for destination m");
  auto r = RunSync({d});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->all_synced());
  EXPECT_EQ(r->destinations[0].fatal.kind(), ErrorKind::kAuth);
  EXPECT_EQ(r->destinations[0].pending_files, 1u);
  EXPECT_EQ(mem->calls("Check"), 0u);
}

TEST_F(EngineTest, ObjectKeyJoinsPrefixes) {
  EXPECT_EQ(SyncEngine::ObjectKey("host1/", "data/", "a/b.txt"), "host1/data/a/b.txt");
  EXPECT_EQ(SyncEngine::ObjectKey("", "", "a"), "a");
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {

TEST_F(EngineTest, FollowedSymlinkToFileIsUploadedWithTargetBytes) {
  Write("real/target.txt", "target bytes");
  fs::create_directories(root_ + "/elsewhere");
  std::ofstream(root_ + "/elsewhere/outside.txt") << "outside bytes";
  fs::create_symlink(root_ + "/elsewhere/outside.txt", src_ + "/link.txt");
  auto mem = MakeMemory("m");
  SourceConfig sc;
  sc.path = src_;
  sc.follow_symlinks = true;
  SyncEngine engine(store_.get(), &env_, {sc}, {Dest("m", mem.get())}, {});
  auto r = engine.Run(nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->all_synced());
  EXPECT_EQ(mem->ObjectData("host/link.txt"), "outside bytes");
  EXPECT_EQ(mem->ObjectData("host/real/target.txt"), "target bytes");
}

TEST_F(EngineTest, SymlinksAreNotFollowedByDefault) {
  Write("a.txt", "a");
  fs::create_symlink(src_ + "/a.txt", src_ + "/link.txt");
  auto mem = MakeMemory("m");
  auto r = RunSync({Dest("m", mem.get())});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->all_synced());
  EXPECT_EQ(mem->object_count(), 1u);
  EXPECT_FALSE(mem->ObjectData("host/link.txt").has_value());
  auto totals = store_->Totals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->skipped, 1u);
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {

// A destination that verifies SHA-1 (like B2): parts carry SHA-1s, and the
// whole file's SHA-1 is announced when a large upload starts.
TEST_F(EngineTest, Sha1DestinationGetsPartSha1sAndLargeFileSha1) {
  std::string big = Random(30000, 11);
  Write("big.bin", big);
  Write("small.txt", "small");
  MemoryDestination::Options o;
  o.name = "b2like";
  o.caps.min_part_size = 1024;
  o.caps.verified_digest = DigestAlgo::kSha1;
  o.caps.etag_is_md5 = false;
  o.caps.multipart_etag_md5_of_md5s = false;
  MemoryDestination mem(o);
  auto r = RunSync({Dest("b2like", &mem)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->all_synced());
  EXPECT_EQ(mem.ObjectData("host/big.bin"), big);
  auto h = mem.Head("host/big.bin");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->metadata["large_file_sha1"], HexEncode(Sha1(big)));
  EXPECT_EQ(mem.ObjectData("host/small.txt"), "small");
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {

// Complete succeeded on the server but its reply was lost: the retry answers
// "not found". The engine must check the object itself before calling it synced.
TEST_F(EngineTest, LostCompleteReplyIsVerifiedAgainstTheObject) {
  std::string big = Random(30000, 21);
  Write("big.bin", big);
  for (DigestAlgo algo : {DigestAlgo::kMd5, DigestAlgo::kSha1}) {
    MemoryDestination::Options o;
    o.name = algo == DigestAlgo::kMd5 ? "md5" : "sha1";
    o.caps.min_part_size = 1024;
    o.caps.verified_digest = algo;
    std::atomic<int> completes{0};
    // The first Complete really completes; the wrapper's second call (the
    // "retry") then gets the server's "not found".
    class LostReply : public ForwardingDestination {
     public:
      using ForwardingDestination::ForwardingDestination;
      Result<PutResult> CompleteMultipart(const std::string& k, const std::string& id,
                                          const std::vector<PartInfo>& p) override {
        auto r = ForwardingDestination::CompleteMultipart(k, id, p);
        if (!r.ok()) return r;
        return ForwardingDestination::CompleteMultipart(k, id, p);
      }
    };
    LostReply d(std::unique_ptr<Destination>(new MemoryDestination(o)));
    auto* inner = static_cast<MemoryDestination*>(d.inner());
    inner->set_fault_hook([&](std::string_view op, const std::string&) {
      if (op == "CompleteMultipart" && completes.fetch_add(1) % 2 == 1)
        return Status(ErrorKind::kNotFound, "NoSuchUpload");
      return Status::OK();
    });
    auto r = RunSync({Dest(o.name, &d)});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->all_synced()) << o.name;
    EXPECT_EQ(inner->ObjectData("host/big.bin"), big);
    EXPECT_GE(inner->calls("Head"), 1u) << o.name << ": the object was not checked";
  }
}

}  // namespace
}  // namespace ck
