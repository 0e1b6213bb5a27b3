// Helpers shared by the src/inspect and src/server tests (header-only; not
// part of any library): a controllable clock, scratch directories, memory
// destinations wrapped in handles, and a state database seeded with rows.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dest/factory.h"
#include "dest/memory_destination.h"
#include "state/state_store.h"
#include "util/env.h"
#include "util/hash.h"

namespace ck::inspect_testing {

// The real Env (files, randomness) with a wall clock and a monotonic clock
// that move only when the test says so.
class FakeClockEnv : public EnvWrapper {
 public:
  FakeClockEnv() : EnvWrapper(Env::Default()) {}
  int64_t NowMicros() override { return now_us_.load(); }
  std::chrono::steady_clock::time_point SteadyNow() override {
    return std::chrono::steady_clock::time_point(std::chrono::microseconds(steady_us_.load()));
  }
  void Advance(std::chrono::microseconds d) {
    now_us_.fetch_add(d.count());
    steady_us_.fetch_add(d.count());
  }

 private:
  std::atomic<int64_t> now_us_{1'790'000'000'000'000};  // 2026-09-21
  std::atomic<int64_t> steady_us_{1'000'000'000};
};

// A fresh directory under /tmp, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = "/tmp/ck_inspect_test.XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr) << "mkdtemp failed";
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes a file (creating parent directories); returns its path.
  std::string Write(const std::string& rel, const std::string& data) const {
    std::filesystem::path p = std::filesystem::path(path_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
    return p.string();
  }

 private:
  std::string path_;
};

// Stores an object directly in a memory destination (as another client would).
inline void PutObject(MemoryDestination* mem, const std::string& key, const std::string& data) {
  MemoryBody body(data);
  PutRequest req;
  req.key = key;
  req.body = &body;
  req.md5 = Md5(data);
  auto r = mem->Put(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

// A usable handle around a memory destination. *raw receives the destination
// (owned by the handle) so tests can script faults and count calls.
inline DestinationHandle MemoryHandle(const std::string& name, const std::string& prefix,
                                      MemoryDestination** raw) {
  MemoryDestination::Options o;
  o.name = name;
  o.caps.min_part_size = 1024;
  auto mem = std::make_unique<MemoryDestination>(o);
  if (raw != nullptr) *raw = mem.get();
  DestinationHandle h;
  h.name = name;
  h.type = "s3";
  h.prefix = prefix;
  h.transfers = 2;
  h.multipart_threshold = 1 << 20;
  h.part_size = 1024;
  h.dest = std::move(mem);
  return h;
}

// A handle that cannot be used, as the factory builds for missing credentials.
inline DestinationHandle MissingCredentialsHandle(const std::string& name) {
  DestinationHandle h;
  h.name = name;
  h.type = "s3";
  h.unavailable = Status(ErrorKind::kAuth, "missing credentials for destination " + name +
                                               ": no access_key_id (AWS_ACCESS_KEY_ID is not set)");
  return h;
}

// A disabled destination, as the factory builds it.
inline DestinationHandle DisabledHandle(const std::string& name) {
  DestinationHandle h;
  h.name = name;
  h.type = "s3";
  h.enabled = false;
  h.unavailable = Status(ErrorKind::kConfig, "destination " + name + " is disabled");
  return h;
}

inline std::unique_ptr<StateStore> OpenStore(const std::string& path, Env* env) {
  auto st = OpenSqliteStore({.path = path}, env);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  return st.ok() ? std::move(st).value() : nullptr;
}

// A SyncedInfo for a work item, recorded under object key `key` (fake digests).
inline SyncedInfo SyncedInfoFor(const WorkItem& w, const std::string& key) {
  SyncedInfo info;
  info.key = key;
  info.size = w.size;
  info.mtime_ns = w.mtime_ns;
  info.inode = w.inode;
  info.md5_hex = std::string(32, '0');
  info.sha256_hex = std::string(64, '0');
  return info;
}

// Seeds the database with synced + pending + failed files of one source
// ("/seed"): for every destination in `dests`, the first `synced` files (10
// bytes each) are synced, the next `pending` (100 bytes each) pending and the
// last `failed` (1000 bytes each) failed with error kind transient.
inline void SeedDatabase(StateStore* store, const std::vector<std::string>& dests, int synced,
                         int pending, int failed) {
  auto batch = store->BeginScan("/seed");
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  int n = synced + pending + failed;
  for (int i = 0; i < n; ++i) {
    ScanEntry e;
    e.rel_path = "f" + std::to_string(1000 + i);
    e.size = i < synced ? 10 : i < synced + pending ? 100 : 1000;
    e.mtime_ns = 1000 + i;
    e.inode = 10000 + static_cast<uint64_t>(i);
    ASSERT_TRUE((*batch)->Add(e).ok());
  }
  ASSERT_TRUE((*batch)->Commit().ok());
  for (const auto& dest : dests) {
    ASSERT_TRUE(store->EnsureDestination(dest).ok());
    auto work = store->ListWork(dest, 100, 0, 100000);
    ASSERT_TRUE(work.ok()) << work.status().ToString();
    for (const auto& w : *work) {
      int i = std::stoi(w.rel_path.substr(1)) - 1000;
      if (i < synced) {
        ASSERT_TRUE(store->MarkSynced(w.file_id, dest, SyncedInfoFor(w, w.rel_path)).ok());
      } else if (i >= synced + pending) {
        ASSERT_TRUE(
            store->MarkFailed(w.file_id, dest, ErrorKind::kTransient, "connection reset").ok());
      }
    }
  }
}

// Records `keys` (full object keys) as synced to `dest` in the database, one
// file per key under source `source`, each `size` bytes (10 by default).
inline void SeedSyncedKeys(StateStore* store, const std::string& dest,
                           const std::vector<std::string>& keys,
                           const std::string& source = "/keys", uint64_t size = 10) {
  auto batch = store->BeginScan(source);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  for (size_t i = 0; i < keys.size(); ++i) {
    ScanEntry e;
    e.rel_path = "f" + std::to_string(i);
    e.size = size;
    e.mtime_ns = 1000 + static_cast<int64_t>(i);
    e.inode = 20000 + i;
    ASSERT_TRUE((*batch)->Add(e).ok());
  }
  ASSERT_TRUE((*batch)->Commit().ok());
  ASSERT_TRUE(store->EnsureDestination(dest).ok());
  auto work = store->ListWork(dest, 100, 0, keys.size() + 100000);
  ASSERT_TRUE(work.ok()) << work.status().ToString();
  for (const auto& w : *work) {
    if (w.source != source) continue;
    size_t i = std::stoul(w.rel_path.substr(1));
    ASSERT_TRUE(store->MarkSynced(w.file_id, dest, SyncedInfoFor(w, keys[i])).ok());
  }
}

// A StateStore that forwards to another one, except that SampleSyncedKeys
// answers what the test scripts (split points for the bucket inspector).
// Every StateStore method must be forwarded here.
class SplitPointStore : public StateStore {
 public:
  explicit SplitPointStore(StateStore* inner) : inner_(inner) {}

  // Every SampleSyncedKeys call answers this (nullopt: the inner store's answer).
  void set_answer(std::optional<Result<std::vector<std::string>>> answer) {
    std::lock_guard<std::mutex> l(mu_);
    answer_ = std::move(answer);
  }
  int sample_calls() const { return sample_calls_.load(); }
  size_t last_n() const { return last_n_.load(); }

  Result<std::vector<std::string>> SampleSyncedKeys(const std::string& destination,
                                                    size_t n) override {
    sample_calls_.fetch_add(1);
    last_n_.store(n);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (answer_) return *answer_;
    }
    return inner_->SampleSyncedKeys(destination, n);
  }

  Result<std::unique_ptr<ScanBatch>> BeginScan(const std::string& s) override {
    return inner_->BeginScan(s);
  }
  Result<uint64_t> EnsureDestination(const std::string& d) override {
    return inner_->EnsureDestination(d);
  }
  Result<uint64_t> ResetInterrupted() override { return inner_->ResetInterrupted(); }
  Result<std::vector<WorkItem>> ListWork(const std::string& d, int max_attempts, int64_t after_id,
                                         size_t limit) override {
    return inner_->ListWork(d, max_attempts, after_id, limit);
  }
  Status MarkUploading(int64_t id, const std::string& d) override {
    return inner_->MarkUploading(id, d);
  }
  Status MarkSynced(int64_t id, const std::string& d, const SyncedInfo& info) override {
    return inner_->MarkSynced(id, d, info);
  }
  Result<size_t> MarkSyncedMany(const std::string& d,
                                const std::vector<SyncedRecord>& records) override {
    return inner_->MarkSyncedMany(d, records);
  }
  Status MarkFailed(int64_t id, const std::string& d, ErrorKind kind,
                    const std::string& message) override {
    return inner_->MarkFailed(id, d, kind, message);
  }
  Status MarkChanged(int64_t id, uint64_t size, int64_t mtime_ns, uint64_t inode) override {
    return inner_->MarkChanged(id, size, mtime_ns, inode);
  }
  Status MarkVanished(int64_t id) override { return inner_->MarkVanished(id); }
  Result<std::optional<MultipartState>> GetMultipart(int64_t id, const std::string& d) override {
    return inner_->GetMultipart(id, d);
  }
  Status SaveMultipart(int64_t id, const std::string& d, const MultipartState& st) override {
    return inner_->SaveMultipart(id, d, st);
  }
  Status SavePart(int64_t id, const std::string& d, const PartRecord& part) override {
    return inner_->SavePart(id, d, part);
  }
  Result<std::vector<PartRecord>> GetParts(int64_t id, const std::string& d) override {
    return inner_->GetParts(id, d);
  }
  Status DeleteMultipart(int64_t id, const std::string& d) override {
    return inner_->DeleteMultipart(id, d);
  }
  Result<std::vector<std::pair<int64_t, MultipartState>>> ListMultipart(
      const std::string& d) override {
    return inner_->ListMultipart(d);
  }
  Result<std::vector<DestinationCounts>> Counts() override { return inner_->Counts(); }
  Result<StoreTotals> Totals() override { return inner_->Totals(); }
  Result<FailedPage> ListFailed(const std::string& d, size_t limit,
                                const std::string& cursor) override {
    return inner_->ListFailed(d, limit, cursor);
  }
  Result<uint64_t> Retry(const std::string& d, const std::vector<std::string>& paths) override {
    return inner_->Retry(d, paths);
  }
  Result<uint64_t> RetryFiles(const std::string& d, const std::vector<int64_t>& ids) override {
    return inner_->RetryFiles(d, ids);
  }
  Status AppendHistory(const std::vector<HistorySample>& samples,
                       int64_t prune_before_us) override {
    return inner_->AppendHistory(samples, prune_before_us);
  }
  Result<std::vector<HistorySample>> ListHistory(const HistoryQuery& q) override {
    return inner_->ListHistory(q);
  }
  Result<SyncStatus> GetStatus(const std::string& source, const std::string& rel_path,
                               const std::string& d) override {
    return inner_->GetStatus(source, rel_path, d);
  }

 private:
  StateStore* inner_;
  std::mutex mu_;
  std::optional<Result<std::vector<std::string>>> answer_;
  std::atomic<int> sample_calls_{0};
  std::atomic<size_t> last_n_{0};
};

}  // namespace ck::inspect_testing
