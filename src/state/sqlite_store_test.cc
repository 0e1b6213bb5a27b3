#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "state/sqlite_schema.h"
#include "state/state_store.h"
#include "state/state_test_util.h"
#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

using testing::FakeClockEnv;
using testing::RawDb;
using testing::TempDir;

constexpr char kSrc[] = "/data/src";

ScanEntry File(const std::string& path, uint64_t size, int64_t mtime_ns = 1000,
               uint64_t inode = 1) {
  ScanEntry e;
  e.rel_path = path;
  e.type = EntryType::kFile;
  e.size = size;
  e.mtime_ns = mtime_ns;
  e.inode = inode;
  return e;
}

ScanEntry Other(const std::string& path, EntryType type, const std::string& skip_reason = "") {
  ScanEntry e;
  e.rel_path = path;
  e.type = type;
  e.size = 0;
  e.mtime_ns = 5;
  e.inode = 77;
  e.skip_reason = skip_reason;
  return e;
}

SyncedInfo InfoFor(uint64_t size, int64_t mtime_ns, uint64_t inode) {
  SyncedInfo i;
  i.key = "prefix/key";
  i.etag = "etag-1";
  i.remote_id = "v1";
  i.size = size;
  i.mtime_ns = mtime_ns;
  i.inode = inode;
  i.md5_hex = "0123456789abcdef0123456789abcdef";
  i.sha256_hex = std::string(kEmptySha256Hex);
  i.sha1_hex = "";
  return i;
}

SyncedInfo InfoFor(const ScanEntry& e) {
  return InfoFor(e.size, e.mtime_ns, e.inode);
}

bool SameStats(const ScanStats& a, const ScanStats& b) {
  return a.files == b.files && a.bytes == b.bytes && a.new_files == b.new_files &&
         a.changed == b.changed && a.unchanged == b.unchanged && a.removed == b.removed &&
         a.skipped == b.skipped;
}

std::string Describe(const ScanStats& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "files=%llu bytes=%llu new=%llu changed=%llu unchanged=%llu removed=%llu "
                "skipped=%llu",
                (unsigned long long)s.files, (unsigned long long)s.bytes,
                (unsigned long long)s.new_files, (unsigned long long)s.changed,
                (unsigned long long)s.unchanged, (unsigned long long)s.removed,
                (unsigned long long)s.skipped);
  return buf;
}

ScanStats Stats(uint64_t files, uint64_t bytes, uint64_t new_files, uint64_t changed,
                uint64_t unchanged, uint64_t removed, uint64_t skipped) {
  ScanStats s;
  s.files = files;
  s.bytes = bytes;
  s.new_files = new_files;
  s.changed = changed;
  s.unchanged = unchanged;
  s.removed = removed;
  s.skipped = skipped;
  return s;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("nested/dir/state.db");
    Reopen();
  }

  void Reopen() {
    store_.reset();
    SqliteOptions o;
    o.path = path_;
    auto s = OpenSqliteStore(o, &env_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  ScanStats Scan(const std::vector<ScanEntry>& entries, const std::string& source = kSrc) {
    auto batch = store_->BeginScan(source);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) return {};
    for (const auto& e : entries) {
      Status st = (*batch)->Add(e);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    auto stats = (*batch)->Commit();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    env_.Advance(1000);
    return stats.ok() ? *stats : ScanStats{};
  }

  // files.id of (source, rel_path), 0 if unknown. Read from the outside.
  int64_t Id(const std::string& rel_path, const std::string& source = kSrc) {
    RawDb raw(path_);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(
        sqlite3_prepare_v2(raw.raw(), "SELECT id FROM files WHERE source = ?1 AND rel_path = ?2",
                           -1, &st, nullptr),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, source.data(), static_cast<int>(source.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, rel_path.data(), static_cast<int>(rel_path.size()), SQLITE_TRANSIENT);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return id;
  }

  // One column of the file_dest row, as text.
  std::string Col(int64_t id, const std::string& dest, const std::string& column) {
    RawDb raw(path_);
    return raw.Text("SELECT " + column + " FROM file_dest WHERE file_id = " + std::to_string(id) +
                    " AND destination = '" + dest + "'");
  }

  // Status name, or "none" when the row does not exist.
  std::string StatusOf(const std::string& rel_path, const std::string& dest = "d1",
                       const std::string& source = kSrc) {
    auto s = store_->GetStatus(source, rel_path, dest);
    if (!s.ok()) {
      EXPECT_EQ(s.status().kind(), ErrorKind::kNotFound) << s.status().ToString();
      return "none";
    }
    return std::string(SyncStatusName(*s));
  }

  std::vector<WorkItem> Work(const std::string& dest = "d1", int max_attempts = 3,
                             int64_t after = 0, size_t limit = 1000) {
    auto w = store_->ListWork(dest, max_attempts, after, limit);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? *w : std::vector<WorkItem>{};
  }

  std::vector<std::string> WorkPaths(const std::string& dest = "d1", int max_attempts = 3) {
    std::vector<std::string> out;
    for (const auto& w : Work(dest, max_attempts)) out.push_back(w.rel_path);
    std::sort(out.begin(), out.end());
    return out;
  }

  uint64_t Ensure(const std::string& dest) {
    auto n = store_->EnsureDestination(dest);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : 0;
  }

  DestinationCounts CountsFor(const std::string& dest) {
    auto c = store_->Counts();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) {
      for (const auto& d : *c) {
        if (d.destination == dest) return d;
      }
    }
    return DestinationCounts{};
  }

  TempDir dir_;
  FakeClockEnv env_;
  std::string path_;
  std::unique_ptr<StateStore> store_;
};

#define EXPECT_STATS(got, want) \
  EXPECT_TRUE(SameStats(got, want)) << "got " << Describe(got) << "\nwant " << Describe(want)

// ---------------------------------------------------------------------------
// Opening

TEST_F(SqliteStoreTest, CreatesPrivateWalDatabaseAndKeepsDataAcrossReopen) {
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Scan({File("a", 1)});
  ASSERT_EQ(Ensure("d1"), 1u);
  Reopen();
  EXPECT_EQ(StatusOf("a"), "pending");
  RawDb raw(path_);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.Int("SELECT version FROM schema_info"), LatestSchemaVersion());
  EXPECT_EQ(raw.Text("PRAGMA integrity_check"), "ok");
}

TEST_F(SqliteStoreTest, RefusesDatabaseFromNewerVersion) {
  store_.reset();
  {
    RawDb raw(path_);
    raw.Exec("UPDATE schema_info SET version = " + std::to_string(LatestSchemaVersion() + 1));
  }
  SqliteOptions o;
  o.path = path_;
  auto s = OpenSqliteStore(o, &env_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.status().message().find(path_), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
}

TEST_F(SqliteStoreTest, RefusesNonSqliteFile) {
  const std::string path = dir_.File("config.toml");
  {
    std::ofstream out(path);
    for (int i = 0; i < 100; ++i) out << "[section]\nkey = \"value\"\n";
  }
  SqliteOptions o;
  o.path = path;
  auto s = OpenSqliteStore(o, &env_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(s.status().message().find(path), std::string::npos) << s.status().message();
}

TEST_F(SqliteStoreTest, RejectsBadOptions) {
  SqliteOptions o;
  auto s = OpenSqliteStore(o, &env_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kConfig);
  o.path = dir_.File("x.db");
  o.busy_timeout_ms = -1;
  s = OpenSqliteStore(o, &env_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kConfig);
  o.busy_timeout_ms = 0;
  o.cache_kib = 100;
  s = OpenSqliteStore(o, &env_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kConfig);
  EXPECT_NE(s.status().message().find("cache"), std::string::npos);
}

TEST_F(SqliteStoreTest, UncreatableDirectoryIsAnIoError) {
  const std::string file = dir_.File("plain");
  { std::ofstream(file) << "x"; }
  SqliteOptions o;
  o.path = file + "/sub/state.db";  // a path through a regular file
  auto s = OpenSqliteStore(o, &env_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kIo) << s.status().ToString();
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().message();
}

// ---------------------------------------------------------------------------
// Scanning

TEST_F(SqliteStoreTest, ScanLifecycle) {
  // 1: first scan.
  EXPECT_STATS(
      Scan({File("a", 10, 100, 1), File("b", 20, 200, 2), Other("link", EntryType::kSymlink),
            [] {
              auto e = File("skipme", 5, 50, 9);
              e.skip_reason = "excluded";
              return e;
            }(),
            Other("dir", EntryType::kDirectory)}),
      Stats(2, 30, 2, 0, 0, 0, 2));
  auto totals = store_->Totals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->files, 2u);
  EXPECT_EQ(totals->bytes, 30u);
  EXPECT_EQ(totals->skipped, 2u);
  ASSERT_EQ(Ensure("d1"), 2u);  // skipped entries and directories get no rows
  EXPECT_EQ(StatusOf("link"), "none");
  EXPECT_EQ(StatusOf("skipme"), "none");
  ASSERT_TRUE(store_->MarkSynced(Id("a"), "d1", InfoFor(10, 100, 1)).ok());
  ASSERT_TRUE(store_->MarkSynced(Id("b"), "d1", InfoFor(20, 200, 2)).ok());

  // 2: b changed, c new, the rest unchanged.
  const std::vector<ScanEntry> others = {Other("link", EntryType::kSymlink),
                                         [] {
                                           auto e = File("skipme", 5, 50, 9);
                                           e.skip_reason = "excluded";
                                           return e;
                                         }(),
                                         Other("dir", EntryType::kDirectory)};
  auto with = [&](std::vector<ScanEntry> v) {
    v.insert(v.end(), others.begin(), others.end());
    return v;
  };
  EXPECT_STATS(Scan(with({File("a", 10, 100, 1), File("b", 21, 200, 2), File("c", 1, 1, 3)})),
               Stats(3, 32, 1, 1, 1, 0, 2));
  EXPECT_EQ(StatusOf("a"), "synced");
  EXPECT_EQ(StatusOf("b"), "pending");  // content changed: synced -> pending
  EXPECT_EQ(Col(Id("b"), "d1", "attempts"), "0");
  EXPECT_EQ(StatusOf("c"), "none");  // rows come from EnsureDestination
  ASSERT_EQ(Ensure("d1"), 1u);
  EXPECT_EQ(StatusOf("c"), "pending");

  // 3: a and c gone.
  EXPECT_STATS(Scan(with({File("b", 21, 200, 2)})), Stats(1, 21, 0, 0, 1, 2, 2));
  EXPECT_EQ(StatusOf("a"), "synced");  // the record of what the destination holds stays
  EXPECT_EQ(StatusOf("c"), "none");    // unsynced rows of removed files are dropped
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Int("SELECT present FROM files WHERE id = " + std::to_string(Id("a"))), 0);
  }
  EXPECT_EQ(WorkPaths(), std::vector<std::string>{"b"});
  EXPECT_EQ(Ensure("d1"), 0u);
  EXPECT_EQ(store_->Totals()->files, 1u);

  // 4: a back unchanged (its synced row is still right), c back changed.
  EXPECT_STATS(Scan(with({File("a", 10, 100, 1), File("b", 21, 200, 2), File("c", 2, 1, 3)})),
               Stats(3, 33, 2, 0, 1, 0, 2));
  EXPECT_EQ(StatusOf("a"), "synced");
  EXPECT_EQ(Ensure("d1"), 1u);  // c
  EXPECT_EQ(StatusOf("c"), "pending");
  ASSERT_TRUE(store_->MarkSynced(Id("c"), "d1", InfoFor(2, 1, 3)).ok());

  // 5/6: c removed, then back with different content: its synced row resets.
  Scan(with({File("a", 10, 100, 1), File("b", 21, 200, 2)}));
  EXPECT_EQ(StatusOf("c"), "synced");
  EXPECT_STATS(Scan(with({File("a", 10, 100, 1), File("b", 21, 200, 2), File("c", 3, 1, 3)})),
               Stats(3, 34, 1, 0, 2, 0, 2));
  EXPECT_EQ(StatusOf("c"), "pending");

  // 7: a (synced) becomes a symlink, b (pending) a FIFO.
  EXPECT_STATS(Scan(with({Other("a", EntryType::kSymlink), Other("b", EntryType::kFifo),
                          File("c", 3, 1, 3)})),
               Stats(1, 3, 0, 0, 1, 0, 4));
  EXPECT_EQ(StatusOf("a"), "synced");  // kept as the record of the remote copy
  EXPECT_EQ(StatusOf("b"), "none");    // nothing to upload any more
  EXPECT_EQ(WorkPaths(), std::vector<std::string>{"c"});
  EXPECT_EQ(CountsFor("d1").synced_files, 0u);  // a is not a live file
  EXPECT_EQ(Ensure("d1"), 0u);

  // 8: a is a regular file again, with new content.
  EXPECT_STATS(
      Scan(with({File("a", 11, 300, 1), Other("b", EntryType::kFifo), File("c", 3, 1, 3)})),
      Stats(2, 14, 0, 1, 1, 0, 3));
  EXPECT_EQ(StatusOf("a"), "pending");
  EXPECT_EQ(WorkPaths(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(SqliteStoreTest, ChangeResetsEveryDestinationRow) {
  Scan({File("f", 10, 1, 1)});
  Ensure("d1");
  Ensure("d2");
  const int64_t id = Id("f");
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 1, 1)).ok());
  ASSERT_TRUE(store_->MarkFailed(id, "d2", ErrorKind::kTransient, "timeout").ok());
  ASSERT_TRUE(store_->MarkFailed(id, "d2", ErrorKind::kTransient, "timeout").ok());
  EXPECT_STATS(Scan({File("f", 10, 2, 1)}), Stats(1, 10, 0, 1, 0, 0, 0));  // mtime only
  for (const char* d : {"d1", "d2"}) {
    EXPECT_EQ(StatusOf("f", d), "pending") << d;
    EXPECT_EQ(Col(id, d, "attempts"), "0") << d;
    EXPECT_EQ(Col(id, d, "error_kind"), "") << d;
    EXPECT_EQ(Col(id, d, "error_message"), "") << d;
  }
  // An inode change alone is a change too (file replaced by another).
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 2, 1)).ok());
  EXPECT_STATS(Scan({File("f", 10, 2, 5)}), Stats(1, 10, 0, 1, 0, 0, 0));
  EXPECT_EQ(StatusOf("f", "d1"), "pending");
}

TEST_F(SqliteStoreTest, ScanRejectsMisuse) {
  auto batch = store_->BeginScan(kSrc);
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE((*batch)->Add(File("x", 1)).ok());
  EXPECT_EQ((*batch)->Add(File("x", 1)).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ((*batch)->Add(File("", 1)).kind(), ErrorKind::kInvalidArgument);
  // One scan per source at a time; other sources are fine.
  auto second = store_->BeginScan(kSrc);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().kind(), ErrorKind::kInvalidArgument);
  auto other = store_->BeginScan("/elsewhere");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(store_->BeginScan("").status().kind(), ErrorKind::kInvalidArgument);

  auto stats = (*batch)->Commit();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->new_files, 1u);
  EXPECT_EQ(stats->files, 1u);  // rejected entries are not counted
  EXPECT_EQ((*batch)->Commit().status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ((*batch)->Add(File("y", 1)).kind(), ErrorKind::kInvalidArgument);
  batch->reset();
  EXPECT_TRUE(store_->BeginScan(kSrc).ok());  // released with the batch
}

TEST_F(SqliteStoreTest, ScanBatchMayOutliveStore) {
  auto batch = store_->BeginScan(kSrc);
  ASSERT_TRUE(batch.ok());
  store_.reset();
  ASSERT_TRUE((*batch)->Add(File("x", 1)).ok());
  auto stats = (*batch)->Commit();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  batch->reset();
  Reopen();
  EXPECT_EQ(store_->Totals()->files, 1u);
}

// Another process (here: a second store on the same file) records an entry
// after this scan loaded its snapshot. The scan must not leave that entry's
// synced row claiming content the scan did not see.
TEST_F(SqliteStoreTest, EntryRecordedByAnotherWriterDuringScan) {
  auto batch = store_->BeginScan(kSrc);  // snapshot: empty
  ASSERT_TRUE(batch.ok());
  {
    SqliteOptions o;
    o.path = path_;
    auto other = OpenSqliteStore(o, &env_);
    ASSERT_TRUE(other.ok());
    auto b2 = (*other)->BeginScan(kSrc);
    ASSERT_TRUE(b2.ok());
    ASSERT_TRUE((*b2)->Add(File("x", 10, 1, 1)).ok());
    ASSERT_TRUE((*b2)->Commit().ok());
    ASSERT_EQ((*other)->EnsureDestination("d1").value_or(0), 1u);
    ASSERT_TRUE((*other)->MarkSynced(Id("x"), "d1", InfoFor(10, 1, 1)).ok());
  }
  ASSERT_TRUE((*batch)->Add(File("x", 20, 2, 1)).ok());
  auto stats = (*batch)->Commit();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(StatusOf("x"), "pending");
  auto w = Work();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].size, 20u);
  EXPECT_EQ(store_->Totals()->files, 1u);
}

TEST_F(SqliteStoreTest, DroppedScanRemovesNothing) {
  Scan({File("old", 1)});
  Ensure("d1");
  const int kEntries = 12000;  // more than one flush
  {
    auto batch = store_->BeginScan(kSrc);
    ASSERT_TRUE(batch.ok());
    for (int i = 0; i < kEntries; ++i) {
      ASSERT_TRUE((*batch)->Add(File("n/" + std::to_string(i), 1)).ok());
    }
    // No Commit.
  }
  EXPECT_EQ(StatusOf("old"), "pending");
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT present FROM files WHERE rel_path = CAST('old' AS BLOB)"), 1);
  int64_t flushed = raw.Int("SELECT count(*) FROM files WHERE rel_path <> CAST('old' AS BLOB)");
  EXPECT_LE(flushed, kEntries);
  // A complete scan afterwards sees the flushed entries as known.
  std::vector<ScanEntry> all = {File("old", 1)};
  for (int i = 0; i < kEntries; ++i) all.push_back(File("n/" + std::to_string(i), 1));
  ScanStats s = Scan(all);
  EXPECT_EQ(s.new_files, static_cast<uint64_t>(kEntries - flushed));
  EXPECT_EQ(s.unchanged, static_cast<uint64_t>(flushed + 1));
  EXPECT_EQ(store_->Totals()->files, static_cast<uint64_t>(kEntries + 1));
}

TEST_F(SqliteStoreTest, RawPathBytesRoundTrip) {
  const std::vector<std::string> names = {
      "\xff\xfe.bin", "dir\x80/x", "caf\xc3\xa9", "cafe\xcc\x81",  // NFC and NFD differ
      "back\\slash",  "new\nline", "quote'\"",    "emoji \xf0\x9f\x98\x80"};
  std::vector<ScanEntry> entries;
  for (size_t i = 0; i < names.size(); ++i) entries.push_back(File(names[i], i + 1));
  EXPECT_EQ(Scan(entries).new_files, names.size());
  ASSERT_EQ(Ensure("d1"), names.size());
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(WorkPaths(), sorted);
  for (const auto& n : names) EXPECT_EQ(StatusOf(n), "pending") << PrintableName(n);
  // A rescan recognises every name (nothing new, nothing removed).
  ScanStats s = Scan(entries);
  EXPECT_EQ(s.unchanged, names.size());
  EXPECT_EQ(s.new_files + s.removed + s.changed, 0u);
  // Retry matches raw bytes exactly.
  const int64_t id = Id(names[0]);
  ASSERT_NE(id, 0);
  ASSERT_TRUE(store_->MarkFailed(id, "d1", ErrorKind::kInvalidName, "not UTF-8").ok());
  ASSERT_TRUE(store_->MarkFailed(Id(names[3]), "d1", ErrorKind::kIo, "x").ok());
  auto n = store_->Retry("d1", {names[0]});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(StatusOf(names[0]), "pending");
  EXPECT_EQ(StatusOf(names[3]), "failed");
}

TEST_F(SqliteStoreTest, SourcesAreIndependent) {
  Scan({File("same", 1)}, "/s1");
  Scan({File("same", 2)}, "/s2");
  ASSERT_EQ(Ensure("d1"), 2u);
  // Scanning /s1 without the file does not touch /s2's.
  EXPECT_EQ(Scan({}, "/s1").removed, 1u);
  EXPECT_EQ(StatusOf("same", "d1", "/s1"), "none");
  EXPECT_EQ(StatusOf("same", "d1", "/s2"), "pending");
  Scan({File("same", 1)}, "/s1");
  ASSERT_EQ(Ensure("d1"), 1u);
  // Retry by path matches every source.
  ASSERT_TRUE(store_->MarkFailed(Id("same", "/s1"), "d1", ErrorKind::kIo, "x").ok());
  ASSERT_TRUE(store_->MarkFailed(Id("same", "/s2"), "d1", ErrorKind::kIo, "x").ok());
  auto n = store_->Retry("", {"same"});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
}

// ---------------------------------------------------------------------------
// Destinations and the per-row state machine

TEST_F(SqliteStoreTest, EnsureDestinationAddedLater) {
  Scan({File("a", 1), File("b", 2), Other("l", EntryType::kSymlink)});
  ASSERT_EQ(Ensure("d1"), 2u);
  ASSERT_TRUE(store_->MarkSynced(Id("a"), "d1", InfoFor(File("a", 1))).ok());
  Scan({File("a", 1)});  // b removed
  EXPECT_EQ(Ensure("d2"), 1u);
  EXPECT_EQ(StatusOf("a", "d2"), "pending");
  EXPECT_EQ(StatusOf("a", "d1"), "synced");  // untouched
  EXPECT_EQ(StatusOf("b", "d2"), "none");
  EXPECT_EQ(Ensure("d2"), 0u);  // idempotent
  EXPECT_EQ(store_->EnsureDestination("").status().kind(), ErrorKind::kInvalidArgument);
}

// EnsureDestination passes over every file only when a scan may have made a
// file eligible since its last pass for that destination.
TEST_F(SqliteStoreTest, EnsureDestinationSkipsItsPassWhenNoFileBecameEligible) {
  Scan({File("a", 1), File("b", 2), Other("link", EntryType::kSymlink, "symlink (not followed)")});
  EXPECT_EQ(Ensure("d1"), 2u);
  RawDb raw(path_);
  // A row removed behind the store's back is not noticed while nothing changes
  // (proof that the pass is skipped) ...
  raw.Exec("DELETE FROM file_dest WHERE file_id = " + std::to_string(Id("b")));
  EXPECT_EQ(Ensure("d1"), 0u);
  Scan({File("a", 1), File("b", 2), Other("link", EntryType::kSymlink, "symlink (not followed)")});
  EXPECT_EQ(Ensure("d1"), 0u);  // an unchanged rescan writes nothing
  // ... and is restored by the next pass, which any new file triggers.
  Scan({File("a", 1), File("b", 2), File("c", 3),
        Other("link", EntryType::kSymlink, "symlink (not followed)")});
  EXPECT_EQ(Ensure("d1"), 2u);
  EXPECT_EQ(Ensure("d1"), 0u);
  EXPECT_EQ(Ensure("d2"), 3u);  // another destination has its own mark
  // A removed file that re-appears needs its row again (removal dropped it).
  Scan({File("a", 1), File("c", 3)});
  EXPECT_EQ(StatusOf("b"), "none");
  EXPECT_EQ(Ensure("d1"), 0u);
  Scan({File("a", 1), File("b", 2), File("c", 3)});
  EXPECT_EQ(Ensure("d1"), 1u);
  EXPECT_EQ(StatusOf("b"), "pending");
  // So does an entry that becomes uploadable (a symlink replaced by a file).
  Scan({File("a", 1), File("b", 2), File("c", 3), File("link", 4)});
  EXPECT_EQ(Ensure("d1"), 1u);
  // And a changed file keeps its row (reset to pending), nothing to add.
  Scan({File("a", 5), File("b", 2), File("c", 3), File("link", 4)});
  EXPECT_EQ(Ensure("d1"), 0u);
}

TEST_F(SqliteStoreTest, StateMachine) {
  Scan({File("ok", 10, 100, 7), File("bad", 20, 200, 8)});
  Ensure("d1");
  const int64_t ok = Id("ok"), bad = Id("bad");

  env_.Set(2'000'000);
  ASSERT_TRUE(store_->MarkUploading(ok, "d1").ok());
  EXPECT_EQ(StatusOf("ok"), "uploading");
  EXPECT_EQ(Col(ok, "d1", "last_attempt_us"), "2000000");
  EXPECT_TRUE(Work().size() == 1 && Work()[0].file_id == bad);  // uploading is not work

  env_.Set(3'000'000);
  SyncedInfo info = InfoFor(10, 100, 7);
  info.sha1_hex = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
  ASSERT_TRUE(store_->MarkSynced(ok, "d1", info).ok());
  EXPECT_EQ(StatusOf("ok"), "synced");
  EXPECT_EQ(Col(ok, "d1", "remote_key"), info.key);
  EXPECT_EQ(Col(ok, "d1", "remote_etag"), info.etag);
  EXPECT_EQ(Col(ok, "d1", "remote_id"), info.remote_id);
  EXPECT_EQ(Col(ok, "d1", "md5"), info.md5_hex);
  EXPECT_EQ(Col(ok, "d1", "sha256"), info.sha256_hex);
  EXPECT_EQ(Col(ok, "d1", "sha1"), info.sha1_hex);
  EXPECT_EQ(Col(ok, "d1", "synced_size"), "10");
  EXPECT_EQ(Col(ok, "d1", "synced_us"), "3000000");

  ASSERT_TRUE(store_->MarkUploading(bad, "d1").ok());
  ASSERT_TRUE(store_->MarkFailed(bad, "d1", ErrorKind::kThrottled, "slow down").ok());
  EXPECT_EQ(StatusOf("bad"), "failed");
  EXPECT_EQ(Col(bad, "d1", "attempts"), "1");
  EXPECT_EQ(Col(bad, "d1", "error_kind"), "throttled");
  EXPECT_EQ(Col(bad, "d1", "error_message"), "slow down");
  auto w = Work("d1", 3);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].status, SyncStatus::kFailed);
  EXPECT_EQ(w[0].attempts, 1);
  ASSERT_TRUE(store_->MarkFailed(bad, "d1", ErrorKind::kTransient, "reset").ok());
  ASSERT_TRUE(store_->MarkFailed(bad, "d1", ErrorKind::kTransient, "reset").ok());
  EXPECT_EQ(Col(bad, "d1", "attempts"), "3");
  EXPECT_TRUE(Work("d1", 3).empty());
  EXPECT_EQ(Work("d1", 4).size(), 1u);

  auto n = store_->Retry("d1", {});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(StatusOf("bad"), "pending");
  EXPECT_EQ(Col(bad, "d1", "attempts"), "0");
  EXPECT_EQ(Col(bad, "d1", "error_kind"), "");
  EXPECT_EQ(StatusOf("ok"), "synced");  // Retry touches failed rows only

  // Unknown rows.
  EXPECT_EQ(store_->MarkUploading(999, "d1").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->MarkFailed(ok, "nope", ErrorKind::kIo, "").kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->MarkSynced(999, "d1", info).kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->GetStatus(kSrc, "ok", "nope").status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->GetStatus("/other", "ok", "d1").status().kind(), ErrorKind::kNotFound);
}

TEST_F(SqliteStoreTest, MarkSyncedManyRecordsAGroupInOneTransaction) {
  Scan({File("a", 10, 100, 1), File("b", 20, 200, 2), File("c", 30, 300, 3)});
  Ensure("d1");
  Ensure("d2");
  ASSERT_TRUE(store_->MarkSynced(Id("c"), "d2", InfoFor(30, 300, 3)).ok());
  RawDb raw(path_);
  const int64_t version = raw.Int("PRAGMA data_version");
  std::vector<SyncedRecord> group = {
      {Id("a"), InfoFor(10, 100, 1)},
      {Id("b"), InfoFor(21, 200, 2)},  // not the recorded version: stays pending
      {999, InfoFor(1, 1, 1)},         // unknown: skipped
      {Id("c"), InfoFor(30, 300, 3)},
  };
  group[0].info.key = "k/a";
  auto missing = store_->MarkSyncedMany("d1", group);
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_EQ(*missing, 1u);
  EXPECT_EQ(raw.Int("PRAGMA data_version"), version + 1);  // one commit
  EXPECT_EQ(StatusOf("a"), "synced");
  EXPECT_EQ(Col(Id("a"), "d1", "remote_key"), "k/a");
  EXPECT_EQ(StatusOf("b"), "pending");
  EXPECT_EQ(StatusOf("c"), "synced");
  EXPECT_EQ(StatusOf("a", "d2"), "pending");  // other destinations untouched
  EXPECT_EQ(*store_->MarkSyncedMany("d1", {}), 0u);
  EXPECT_EQ(CountsFor("d1").synced_files, 2u);
}

TEST_F(SqliteStoreTest, MarkSyncedWithStaleStatStaysPending) {
  Scan({File("f", 10, 100, 7)});
  Ensure("d1");
  const int64_t id = Id("f");
  ASSERT_TRUE(store_->MarkUploading(id, "d1").ok());
  for (const SyncedInfo& stale : {InfoFor(9, 100, 7), InfoFor(10, 101, 7), InfoFor(10, 100, 8)}) {
    ASSERT_TRUE(store_->MarkSynced(id, "d1", stale).ok());
    EXPECT_EQ(StatusOf("f"), "pending");
    EXPECT_EQ(Col(id, "d1", "md5"), "");
  }
  // The scan saw a newer version while the upload ran.
  ASSERT_TRUE(store_->MarkUploading(id, "d1").ok());
  Scan({File("f", 11, 100, 7)});
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 100, 7)).ok());
  EXPECT_EQ(StatusOf("f"), "pending");
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(11, 100, 7)).ok());
  EXPECT_EQ(StatusOf("f"), "synced");
  // A late stale confirmation does not undo a good one.
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 100, 7)).ok());
  EXPECT_EQ(StatusOf("f"), "synced");
}

TEST_F(SqliteStoreTest, MarkChangedMakesEveryRowPending) {
  Scan({File("f", 10, 100, 7)});
  Ensure("d1");
  Ensure("d2");
  const int64_t id = Id("f");
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 100, 7)).ok());
  ASSERT_TRUE(store_->MarkFailed(id, "d2", ErrorKind::kChanged, "changed while read").ok());
  ASSERT_TRUE(store_->MarkChanged(id, 12, 150, 7).ok());
  EXPECT_EQ(StatusOf("f", "d1"), "pending");
  EXPECT_EQ(StatusOf("f", "d2"), "pending");
  EXPECT_EQ(Col(id, "d2", "attempts"), "1");  // unchanged, per contract
  auto w = Work("d1");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].size, 12u);
  EXPECT_EQ(w[0].mtime_ns, 150);
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 100, 7)).ok());
  EXPECT_EQ(StatusOf("f", "d1"), "pending");
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(12, 150, 7)).ok());
  EXPECT_EQ(StatusOf("f", "d1"), "synced");
  // The next scan agrees with the recorded stat: nothing changes.
  EXPECT_EQ(Scan({File("f", 12, 150, 7)}).unchanged, 1u);
  EXPECT_EQ(StatusOf("f", "d1"), "synced");
  EXPECT_EQ(store_->MarkChanged(999, 1, 1, 1).kind(), ErrorKind::kNotFound);
}

// The engine leaves an interrupted upload for later with MarkChanged and the
// unchanged stat: other destinations' synced rows must stay synced.
TEST_F(SqliteStoreTest, MarkChangedWithSameStatOnlyRequeuesUploadingRows) {
  Scan({File("f", 10, 100, 7)});
  Ensure("d1");
  Ensure("d2");
  Ensure("d3");
  const int64_t id = Id("f");
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(10, 100, 7)).ok());
  ASSERT_TRUE(store_->MarkFailed(id, "d3", ErrorKind::kTransient, "x").ok());
  ASSERT_TRUE(store_->MarkUploading(id, "d2").ok());
  ASSERT_TRUE(store_->MarkChanged(id, 10, 100, 7).ok());
  EXPECT_EQ(StatusOf("f", "d1"), "synced");
  EXPECT_EQ(StatusOf("f", "d2"), "pending");
  EXPECT_EQ(StatusOf("f", "d3"), "failed");
}

TEST_F(SqliteStoreTest, MarkVanished) {
  Scan({File("f", 10), File("g", 20)});
  Ensure("d1");
  Ensure("d2");
  const int64_t id = Id("f");
  ASSERT_TRUE(store_->MarkSynced(id, "d1", InfoFor(File("f", 10))).ok());
  ASSERT_TRUE(store_->MarkVanished(id).ok());
  EXPECT_EQ(StatusOf("f", "d1"), "synced");
  EXPECT_EQ(StatusOf("f", "d2"), "none");
  EXPECT_EQ(WorkPaths("d1"), std::vector<std::string>{"g"});
  EXPECT_EQ(store_->Totals()->files, 1u);
  EXPECT_EQ(Ensure("d2"), 0u);  // not present: no new row
  // It re-appears unchanged on the next scan: the synced row is still good.
  ScanStats s = Scan({File("f", 10), File("g", 20)});
  EXPECT_EQ(s.new_files, 1u);
  EXPECT_EQ(StatusOf("f", "d1"), "synced");
  EXPECT_EQ(store_->MarkVanished(999).kind(), ErrorKind::kNotFound);
}

TEST_F(SqliteStoreTest, ResetInterrupted) {
  Scan({File("a", 1), File("b", 2), File("c", 3)});
  Ensure("d1");
  Ensure("d2");
  ASSERT_TRUE(store_->MarkUploading(Id("a"), "d1").ok());
  ASSERT_TRUE(store_->MarkUploading(Id("b"), "d2").ok());
  ASSERT_TRUE(store_->MarkSynced(Id("c"), "d1", InfoFor(File("c", 3))).ok());
  Reopen();  // as after a crash
  auto n = store_->ResetInterrupted();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(StatusOf("a", "d1"), "pending");
  EXPECT_EQ(StatusOf("b", "d2"), "pending");
  EXPECT_EQ(StatusOf("c", "d1"), "synced");
  EXPECT_EQ(store_->ResetInterrupted().value_or(99), 0u);
}

TEST_F(SqliteStoreTest, ListWorkPagingAndFilters) {
  std::vector<ScanEntry> entries;
  for (int i = 0; i < 25; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%02d", i);
    entries.push_back(File(name, static_cast<uint64_t>(i)));
  }
  Scan(entries);
  Ensure("d1");
  Ensure("d2");
  // Paging covers everything once, in id order.
  std::vector<int64_t> ids;
  int64_t after = 0;
  while (true) {
    auto page = Work("d1", 3, after, 10);
    if (page.empty()) break;
    EXPECT_LE(page.size(), 10u);
    for (const auto& w : page) ids.push_back(w.file_id);
    after = page.back().file_id;
  }
  ASSERT_EQ(ids.size(), 25u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 25u);
  EXPECT_TRUE(Work("d1", 3, 0, 0).empty());

  auto id = [&](int i) { return ids[static_cast<size_t>(i)]; };
  ASSERT_TRUE(store_->MarkSynced(id(0), "d1", InfoFor(entries[0])).ok());
  ASSERT_TRUE(store_->MarkUploading(id(1), "d1").ok());
  ASSERT_TRUE(store_->MarkFailed(id(2), "d1", ErrorKind::kTransient, "x").ok());  // 1 attempt
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(store_->MarkFailed(id(3), "d1", ErrorKind::kTransient, "x").ok());  // 3
  }
  ASSERT_TRUE(store_->MarkFailed(id(4), "d1", ErrorKind::kInvalidName, "bad").ok());
  ASSERT_TRUE(store_->MarkVanished(id(5)).ok());
  std::vector<ScanEntry> rescan = entries;
  rescan[6].type = EntryType::kSymlink;  // no longer a file
  rescan.erase(rescan.begin() + 5);      // still gone
  Scan(rescan);

  std::set<int64_t> got;
  for (const auto& w : Work("d1", 3)) got.insert(w.file_id);
  EXPECT_EQ(got.size(), 25u - 6u);  // 0 synced, 1 uploading, 3 exhausted, 4 invalid, 5, 6
  for (int i : {0, 1, 3, 4, 5, 6}) EXPECT_EQ(got.count(id(i)), 0u) << i;
  EXPECT_EQ(got.count(id(2)), 1u);
  // More attempts allowed: 3 comes back; invalid_name never does.
  got.clear();
  for (const auto& w : Work("d1", 10)) got.insert(w.file_id);
  EXPECT_EQ(got.count(id(3)), 1u);
  EXPECT_EQ(got.count(id(4)), 0u);
  // Other destination unaffected (minus the two non-present/non-file entries).
  EXPECT_EQ(Work("d2").size(), 23u);
  EXPECT_TRUE(Work("unknown").empty());
}

// ---------------------------------------------------------------------------
// Multipart

TEST_F(SqliteStoreTest, MultipartCrud) {
  Scan({File("big", 100 << 20), File("big2", 200 << 20)});
  const int64_t id = Id("big"), id2 = Id("big2");
  auto none = store_->GetMultipart(id, "d1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  MultipartState m{"upload-1", "prefix/big", 8 << 20, 100 << 20, 12345, 777};
  ASSERT_TRUE(store_->SaveMultipart(id, "d1", m).ok());
  auto got = store_->GetMultipart(id, "d1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->upload_id, "upload-1");
  EXPECT_EQ((*got)->key, "prefix/big");
  EXPECT_EQ((*got)->part_size, 8u << 20);
  EXPECT_EQ((*got)->size, 100u << 20);
  EXPECT_EQ((*got)->mtime_ns, 12345);
  EXPECT_EQ((*got)->created_us, 777);
  EXPECT_FALSE(store_->GetMultipart(id, "d2")->has_value());

  ASSERT_TRUE(store_->SavePart(id, "d1", {2, 8 << 20, "etag2", "md5-2"}).ok());
  ASSERT_TRUE(store_->SavePart(id, "d1", {1, 8 << 20, "etag1", "md5-1"}).ok());
  ASSERT_TRUE(store_->SavePart(id, "d1", {1, 8 << 20, "etag1b", "md5-1b"}).ok());  // re-upload
  auto parts = store_->GetParts(id, "d1");
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].number, 1);
  EXPECT_EQ((*parts)[0].etag, "etag1b");
  EXPECT_EQ((*parts)[0].checksum, "md5-1b");
  EXPECT_EQ((*parts)[1].number, 2);
  EXPECT_EQ((*parts)[1].size, 8u << 20);

  // Same upload id: parts kept. New upload id: old parts dropped.
  m.created_us = 778;
  ASSERT_TRUE(store_->SaveMultipart(id, "d1", m).ok());
  EXPECT_EQ(store_->GetParts(id, "d1")->size(), 2u);
  m.upload_id = "upload-2";
  ASSERT_TRUE(store_->SaveMultipart(id, "d1", m).ok());
  EXPECT_TRUE(store_->GetParts(id, "d1")->empty());
  EXPECT_EQ((*store_->GetMultipart(id, "d1"))->upload_id, "upload-2");
  ASSERT_TRUE(store_->SavePart(id, "d1", {1, 1, "e", "c"}).ok());

  ASSERT_TRUE(store_->SaveMultipart(id2, "d1", {"u3", "k3", 5, 6, 7, 8}).ok());
  ASSERT_TRUE(store_->SaveMultipart(id2, "d2", {"u4", "k4", 5, 6, 7, 8}).ok());
  auto list = store_->ListMultipart("d1");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].first, id);
  EXPECT_EQ((*list)[0].second.upload_id, "upload-2");
  EXPECT_EQ((*list)[1].first, id2);
  EXPECT_EQ((*list)[1].second.upload_id, "u3");
  EXPECT_EQ(store_->ListMultipart("d2")->size(), 1u);

  ASSERT_TRUE(store_->DeleteMultipart(id, "d1").ok());
  EXPECT_FALSE(store_->GetMultipart(id, "d1")->has_value());
  EXPECT_TRUE(store_->GetParts(id, "d1")->empty());
  EXPECT_TRUE(store_->DeleteMultipart(id, "d1").ok());  // idempotent
  {
    RawDb raw(path_);
    EXPECT_EQ(raw.Int("SELECT count(*) FROM multipart_parts WHERE file_id = " + std::to_string(id)),
              0);
  }
  EXPECT_EQ(store_->ListMultipart("d1")->size(), 1u);

  // Errors.
  EXPECT_EQ(store_->SavePart(id, "d1", {1, 1, "e", "c"}).kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->SavePart(id2, "d1", {0, 1, "e", "c"}).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(store_->SaveMultipart(999, "d1", m).kind(), ErrorKind::kNotFound);
  EXPECT_EQ(store_->SaveMultipart(id, "d1", {}).kind(), ErrorKind::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Reporting

TEST_F(SqliteStoreTest, CountsAndTotals) {
  Scan({File("s", 100, 1, 1), File("p", 200, 1, 2), File("u", 300, 1, 3), File("f", 400, 1, 4),
        File("gone", 500, 1, 5), Other("l", EntryType::kSymlink), Other("d", EntryType::kDirectory),
        [] {
          auto e = File("big", 1 << 30, 1, 6);
          e.skip_reason = "too large";
          return e;
        }()});
  Ensure("d1");
  Ensure("d2");
  env_.Set(5'000'000);
  ASSERT_TRUE(store_->MarkSynced(Id("s"), "d1", InfoFor(100, 1, 1)).ok());
  env_.Set(6'000'000);
  ASSERT_TRUE(store_->MarkSynced(Id("gone"), "d1", InfoFor(500, 1, 5)).ok());
  ASSERT_TRUE(store_->MarkVanished(Id("gone")).ok());
  ASSERT_TRUE(store_->MarkUploading(Id("u"), "d1").ok());
  ASSERT_TRUE(store_->MarkFailed(Id("f"), "d1", ErrorKind::kAuth, "denied").ok());
  // s grows after being synced elsewhere: d2's synced bytes are the uploaded size.
  ASSERT_TRUE(store_->MarkSynced(Id("p"), "d2", InfoFor(200, 1, 2)).ok());

  auto counts = store_->Counts();
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 2u);
  const DestinationCounts& d1 = (*counts)[0];
  EXPECT_EQ(d1.destination, "d1");
  EXPECT_EQ(d1.synced_files, 1u);  // "gone" is no longer present
  EXPECT_EQ(d1.synced_bytes, 100u);
  EXPECT_EQ(d1.pending_files, 2u);  // p pending, u uploading
  EXPECT_EQ(d1.pending_bytes, 500u);
  EXPECT_EQ(d1.failed_files, 1u);
  EXPECT_EQ(d1.failed_bytes, 400u);
  EXPECT_EQ(d1.last_synced_us, 6'000'000);  // the newest confirmation, even of a gone file
  const DestinationCounts& d2 = (*counts)[1];
  EXPECT_EQ(d2.destination, "d2");
  EXPECT_EQ(d2.synced_files, 1u);
  EXPECT_EQ(d2.synced_bytes, 200u);
  EXPECT_EQ(d2.pending_files, 3u);
  EXPECT_EQ(d2.pending_bytes, 100u + 300u + 400u);
  EXPECT_EQ(d2.failed_files, 0u);
  EXPECT_EQ(d2.last_synced_us, 6'000'000);

  auto totals = store_->Totals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->files, 4u);
  EXPECT_EQ(totals->bytes, 1000u);
  EXPECT_EQ(totals->skipped, 2u);  // the symlink and the too-large file; not the directory
}

TEST_F(SqliteStoreTest, CountsOnEmptyStore) {
  auto counts = store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_TRUE(counts->empty());
  auto totals = store_->Totals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->files + totals->bytes + totals->skipped, 0u);
}

TEST_F(SqliteStoreTest, ListFailedPaging) {
  std::vector<ScanEntry> entries;
  for (int i = 0; i < 8; ++i) entries.push_back(File("f" + std::to_string(i), 10 + i));
  Scan(entries);
  Ensure("d1");
  Ensure("d2");
  std::vector<int64_t> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(Id("f" + std::to_string(i)));
  env_.Set(9'000'000);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        store_->MarkFailed(ids[i], "d1", ErrorKind::kPermanent, "no " + std::to_string(i)).ok());
  }
  ASSERT_TRUE(store_->MarkFailed(ids[6], "d2", ErrorKind::kIo, "eio").ok());
  ASSERT_TRUE(store_->MarkFailed(ids[7], "d2", ErrorKind::kIo, "eio").ok());

  // All destinations, two per page: d1's five then d2's two, in id order.
  std::vector<std::pair<std::string, int64_t>> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = store_->ListFailed("", 2, cursor);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->files.size(), 2u);
    for (const auto& f : page->files) seen.emplace_back(f.destination, f.file_id);
    cursor = page->next_cursor;
    ASSERT_LT(++pages, 10);
  } while (!cursor.empty());
  EXPECT_EQ(pages, 4);
  std::vector<std::pair<std::string, int64_t>> want;
  for (int i = 0; i < 5; ++i) want.emplace_back("d1", ids[i]);
  want.emplace_back("d2", ids[6]);
  want.emplace_back("d2", ids[7]);
  EXPECT_EQ(seen, want);

  // One destination; an exactly full last page has no next cursor.
  auto p1 = store_->ListFailed("d2", 2, "");
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->files.size(), 2u);
  EXPECT_EQ(p1->next_cursor, "");
  const FailedFile& f = p1->files[0];
  EXPECT_EQ(f.source, kSrc);
  EXPECT_EQ(f.rel_path, "f6");
  EXPECT_EQ(f.size, 16u);
  EXPECT_EQ(f.error_kind, "io");
  EXPECT_EQ(f.error, "eio");
  EXPECT_EQ(f.attempts, 1);
  EXPECT_EQ(f.last_attempt_us, 9'000'000);
  auto q1 = store_->ListFailed("d1", 3, "");
  ASSERT_TRUE(q1.ok());
  ASSERT_EQ(q1->files.size(), 3u);
  ASSERT_NE(q1->next_cursor, "");
  auto q2 = store_->ListFailed("d1", 3, q1->next_cursor);
  ASSERT_TRUE(q2.ok());
  ASSERT_EQ(q2->files.size(), 2u);
  EXPECT_EQ(q2->files[0].file_id, ids[3]);
  EXPECT_EQ(q2->next_cursor, "");

  // Malformed cursors.
  for (const std::string bad : {"garbage", "f1.", "f1.zz.1", "f1.6431.", "f1.6431.-1", "f1.6431.1x",
                                "f1..5", "f1.6431.99999999999999999999", "f2.6431.1"}) {
    auto r = store_->ListFailed("", 2, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidArgument) << bad;
  }
  // A cursor from another destination's listing.
  EXPECT_EQ(store_->ListFailed("d2", 3, q1->next_cursor).status().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(store_->ListFailed("", 0, "").status().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(SqliteStoreTest, RetryFilters) {
  Scan({File("a", 1), File("b", 2), File("c", 3)});
  Ensure("d1");
  Ensure("d2");
  for (const char* p : {"a", "b", "c"}) {
    for (const char* d : {"d1", "d2"}) {
      ASSERT_TRUE(store_->MarkFailed(Id(p), d, ErrorKind::kTransient, "x").ok());
    }
  }
  EXPECT_EQ(store_->Retry("d1", {"a", "missing"}).value_or(99), 1u);
  EXPECT_EQ(StatusOf("a", "d1"), "pending");
  EXPECT_EQ(StatusOf("a", "d2"), "failed");
  EXPECT_EQ(store_->Retry("", {"b"}).value_or(99), 2u);
  EXPECT_EQ(store_->Retry("d2", {}).value_or(99), 2u);  // a and c
  EXPECT_EQ(StatusOf("c", "d1"), "failed");
  EXPECT_EQ(store_->Retry("", {}).value_or(99), 1u);
  EXPECT_EQ(store_->Retry("", {}).value_or(99), 0u);
}

// ---------------------------------------------------------------------------
// Concurrency

TEST_F(SqliteStoreTest, ConcurrentMarkingFromManyThreads) {
  const int kFiles = 2000, kThreads = 8;
  std::vector<ScanEntry> entries;
  for (int i = 0; i < kFiles; ++i) entries.push_back(File("f" + std::to_string(i), 7, 9, 11));
  Scan(entries);
  ASSERT_EQ(Ensure("d1"), static_cast<uint64_t>(kFiles));
  auto work = Work("d1", 3, 0, kFiles);
  ASSERT_EQ(work.size(), static_cast<size_t>(kFiles));

  std::atomic<bool> failed{false};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < work.size(); i += kThreads) {
        const WorkItem& w = work[i];
        bool ok = store_->MarkUploading(w.file_id, "d1").ok();
        if (w.file_id % 4 == 0) {
          ok = ok && store_->MarkFailed(w.file_id, "d1", ErrorKind::kTransient, "t").ok();
        } else {
          ok = ok && store_->MarkSynced(w.file_id, "d1", InfoFor(w.size, w.mtime_ns, w.inode)).ok();
        }
        if (!ok) failed = true;
      }
    });
  }
  // Readers and an unrelated scan run alongside.
  std::thread reader([&] {
    while (!done) {
      if (!store_->Counts().ok() || !store_->ListWork("d1", 3, 0, 50).ok()) failed = true;
    }
  });
  std::thread scanner([&] {
    std::vector<ScanEntry> other;
    for (int i = 0; i < 3000; ++i) other.push_back(File("o" + std::to_string(i), 1));
    auto batch = store_->BeginScan("/other");
    if (!batch.ok()) {
      failed = true;
      return;
    }
    for (const auto& e : other) {
      if (!(*batch)->Add(e).ok()) failed = true;
    }
    if (!(*batch)->Commit().ok()) failed = true;
  });
  for (auto& t : threads) t.join();
  scanner.join();
  done = true;
  reader.join();
  ASSERT_FALSE(failed);

  int64_t expect_failed = 0;
  for (const auto& w : work) expect_failed += (w.file_id % 4 == 0);
  DestinationCounts c = CountsFor("d1");
  EXPECT_EQ(c.failed_files, static_cast<uint64_t>(expect_failed));
  EXPECT_EQ(c.synced_files, static_cast<uint64_t>(kFiles - expect_failed));
  EXPECT_EQ(c.pending_files, 0u);
  EXPECT_EQ(store_->Totals()->files, static_cast<uint64_t>(kFiles + 3000));
}

// ---------------------------------------------------------------------------
// Crash safety

// Runs in a forked child until killed: scans with changing files, marks rows,
// reports on `ready_fd` after the first complete round. Never returns.
[[noreturn]] void CrashChild(const std::string& path, int ready_fd, int round) {
  SqliteOptions o;
  o.path = path;
  auto opened = OpenSqliteStore(o, Env::Default());
  if (!opened.ok()) _exit(2);
  StateStore& store = **opened;
  if (!store.ResetInterrupted().ok()) _exit(3);
  constexpr int kFiles = 300;
  // Invariant kept by every write: a file's size equals its mtime_ns.
  std::vector<int64_t> value(kFiles, round * 1'000'000 + 1);
  for (int64_t gen = 1;; ++gen) {
    auto batch = store.BeginScan("/crash");
    if (!batch.ok()) _exit(4);
    for (int k = 0; k < kFiles; ++k) {
      if ((k + gen) % 7 == 0) continue;  // temporarily gone
      if ((k + gen) % 3 == 0) ++value[k];
      ScanEntry e;
      e.rel_path = "dir" + std::to_string(k % 10) + "/file" + std::to_string(k);
      e.size = static_cast<uint64_t>(value[k]);
      e.mtime_ns = value[k];
      e.inode = static_cast<uint64_t>(k + 1);
      if (!(*batch)->Add(e).ok()) _exit(5);
    }
    if (!(*batch)->Commit().ok()) _exit(6);
    batch->reset();
    for (const char* d : {"d1", "d2"}) {
      if (!store.EnsureDestination(d).ok()) _exit(7);
      auto work = store.ListWork(d, 1000, 0, 100000);
      if (!work.ok()) _exit(8);
      for (const WorkItem& w : *work) {
        if (!store.MarkUploading(w.file_id, d).ok()) _exit(9);
        SyncedInfo info;
        info.size = w.size;
        info.mtime_ns = w.mtime_ns;
        info.inode = w.inode;
        info.md5_hex = "00";
        Status st;
        switch ((w.file_id + gen) % 11) {
          case 0:
            st = store.MarkFailed(w.file_id, d, ErrorKind::kTransient, "flaky");
            break;
          case 1:  // a stale confirmation must not mark it synced
            info.size += 1;
            st = store.MarkSynced(w.file_id, d, info);
            break;
          case 2: {  // changed during upload; keeps size == mtime
            int64_t v = static_cast<int64_t>(w.size) + 1000;
            st = store.MarkChanged(w.file_id, static_cast<uint64_t>(v), v, w.inode);
            break;
          }
          case 3:
            st = store.SaveMultipart(w.file_id, d, {"up", "key", 5, w.size, w.mtime_ns, gen});
            if (st.ok()) st = store.SavePart(w.file_id, d, {1, 5, "e", "c"});
            if (st.ok()) st = store.DeleteMultipart(w.file_id, d);
            if (st.ok()) st = store.MarkSynced(w.file_id, d, info);
            break;
          default:
            st = store.MarkSynced(w.file_id, d, info);
        }
        if (!st.ok()) _exit(10);
      }
    }
    if (gen == 1) {
      char c = 'x';
      if (::write(ready_fd, &c, 1) != 1) _exit(11);
    }
  }
}

TEST(SqliteStoreCrashTest, SigkillAtRandomMomentsLeavesConsistentState) {
  TempDir dir;
  const std::string path = dir.File("crash.db");
  std::mt19937 rng(12345);
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      CrashChild(path, fds[1], round);
    }
    ::close(fds[1]);
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, 60000);
    char c;
    bool got_ready = ready == 1 && ::read(fds[0], &c, 1) == 1;
    // Let it run into the middle of something.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ::close(fds[0]);
    ASSERT_TRUE(got_ready) << "child did not finish a round; exit status "
                           << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child exited by itself with " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);

    RawDb raw(path);
    EXPECT_EQ(raw.Text("PRAGMA integrity_check"), "ok") << "round " << round;
    EXPECT_EQ(raw.Text("PRAGMA foreign_key_check"), "") << "round " << round;
    EXPECT_GT(raw.Int("SELECT count(*) FROM files"), 0);
    EXPECT_GT(raw.Int("SELECT count(*) FROM file_dest WHERE status = 'synced'"), 0);
    // Never torn: size and mtime are always written together.
    EXPECT_EQ(raw.Int("SELECT count(*) FROM files WHERE size <> mtime_ns"), 0) << round;
    // Nothing falsely synced: every synced row of a present file describes
    // exactly the version recorded for it.
    EXPECT_EQ(raw.Int("SELECT count(*) FROM file_dest d JOIN files f ON f.id = d.file_id "
                      "WHERE d.status = 'synced' AND f.present = 1 AND "
                      "(d.synced_size <> f.size OR d.synced_mtime_ns <> f.mtime_ns OR "
                      "d.synced_inode <> f.inode)"),
              0)
        << round;
    // Files that are not present keep synced rows only.
    EXPECT_EQ(raw.Int("SELECT count(*) FROM file_dest d JOIN files f ON f.id = d.file_id "
                      "WHERE f.present = 0 AND d.status <> 'synced'"),
              0)
        << round;
    // No multipart parts without their upload.
    EXPECT_EQ(raw.Int("SELECT count(*) FROM multipart_parts p WHERE NOT EXISTS (SELECT 1 FROM "
                      "multipart m WHERE m.file_id = p.file_id AND "
                      "m.destination = p.destination)"),
              0);
    // And the store opens and works.
    SqliteOptions o;
    o.path = path;
    auto store = OpenSqliteStore(o, Env::Default());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_TRUE((*store)->ResetInterrupted().ok());
    EXPECT_EQ(raw.Int("SELECT count(*) FROM file_dest WHERE status = 'uploading'"), 0);
    EXPECT_TRUE((*store)->Counts().ok());
  }
}

// ---------------------------------------------------------------------------
// Performance sanity: a rescan of unchanged files writes nothing.

TEST_F(SqliteStoreTest, RescanOfUnchangedFilesWritesNothing) {
  int files = 100000;
  if (const char* n = std::getenv("CK_STATE_PERF_FILES")) files = std::atoi(n);
  std::vector<ScanEntry> entries;
  entries.reserve(static_cast<size_t>(files));
  for (int i = 0; i < files; ++i) {
    char name[64];
    // Walk order, as the scanner reports it: ascending paths.
    std::snprintf(name, sizeof name, "photos/%04d/%02d/IMG_%07d.jpg", i / 10000, (i / 100) % 100,
                  i);
    entries.push_back(File(name, 1000 + static_cast<uint64_t>(i), 1'600'000'000'000'000'000 + i,
                           static_cast<uint64_t>(i) + 10));
  }
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };

  auto t0 = Clock::now();
  ScanStats first = Scan(entries);
  auto t1 = Clock::now();
  ASSERT_EQ(first.new_files, static_cast<uint64_t>(files));
  ASSERT_EQ(Ensure("d1"), static_cast<uint64_t>(files));
  auto t2 = Clock::now();

  RawDb raw(path_);
  const int64_t version_before = raw.Int("PRAGMA data_version");
  const int64_t rescan_time = env_.NowMicros() + 1;
  env_.Set(rescan_time);
  auto t3 = Clock::now();
  ScanStats again = Scan(entries);
  auto t4 = Clock::now();
  EXPECT_EQ(again.unchanged, static_cast<uint64_t>(files));
  EXPECT_EQ(again.new_files + again.changed + again.removed, 0u);
  // data_version changes when another connection commits anything.
  EXPECT_EQ(raw.Int("PRAGMA data_version"), version_before);
  EXPECT_EQ(
      raw.Int("SELECT count(*) FROM files WHERE updated_us >= " + std::to_string(rescan_time)), 0);
  auto t5 = Clock::now();
  auto counts = store_->Counts();
  auto t6 = Clock::now();
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].pending_files, static_cast<uint64_t>(files));
  auto t7 = Clock::now();
  size_t listed = 0;
  for (int64_t after = 0;;) {
    auto page = store_->ListWork("d1", 3, after, 1000);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    listed += page->size();
    after = page->back().file_id;
  }
  auto t8 = Clock::now();
  EXPECT_EQ(listed, static_cast<size_t>(files));
  EXPECT_EQ(Ensure("d1"), 0u);  // what every later run pays
  auto t9 = Clock::now();

  // A sanity check that the rescan path really is the cheap one: at least one
  // changed file does get written.
  entries[files / 2].size += 1;
  ScanStats third = Scan(entries);
  EXPECT_EQ(third.changed, 1u);
  EXPECT_NE(raw.Int("PRAGMA data_version"), version_before);

  std::printf(
      "[ perf ] %d files: first scan %.0f ms, EnsureDestination %.0f ms, unchanged rescan %.0f "
      "ms, Counts %.0f ms, ListWork (all pages of 1000) %.0f ms, EnsureDestination with nothing "
      "to add %.0f ms\n",
      files, ms(t1 - t0), ms(t2 - t1), ms(t4 - t3), ms(t6 - t5), ms(t8 - t7), ms(t9 - t8));
}

// The scan is a merge join in path order; entries out of order (an
// unreadable directory is recorded after the entries that sort between
// "name" and "name/") must give exactly the same result, across pages of rows.
TEST_F(SqliteStoreTest, EntriesOutOfOrderGiveTheSameResultAsSorted) {
  auto open = [&](const std::string& file) {
    SqliteOptions o;
    o.path = dir_.File(file);
    auto s = OpenSqliteStore(o, &env_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  };
  auto run = [](StateStore* store, const std::vector<ScanEntry>& entries) {
    auto batch = store->BeginScan(kSrc);
    EXPECT_TRUE(batch.ok());
    for (const auto& e : entries) EXPECT_TRUE((*batch)->Add(e).ok()) << e.rel_path;
    auto stats = (*batch)->Commit();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : ScanStats{};
  };
  // 6,000 entries: more than two pages of rows.
  std::vector<ScanEntry> gen1;
  for (int i = 0; i < 6000; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "d%02d/f%05d", i % 37, i);
    gen1.push_back(File(name, static_cast<uint64_t>(i), 1000 + i, static_cast<uint64_t>(i)));
  }
  gen1.push_back(Other("d05", EntryType::kDirectory, "permission denied: cannot list directory"));
  std::sort(gen1.begin(), gen1.end(),
            [](const ScanEntry& a, const ScanEntry& b) { return a.rel_path < b.rel_path; });
  // Generation 2: every 7th removed, every 11th changed, 500 new ones, and
  // files that were removed in generation 1 -> 2 come back in 3.
  std::vector<ScanEntry> gen2, gen3;
  for (size_t i = 0; i < gen1.size(); ++i) {
    ScanEntry e = gen1[i];
    if (i % 7 == 0) {
      gen3.push_back(e);
      continue;
    }
    if (i % 11 == 0) e.size += 1;
    gen2.push_back(e);
    gen3.push_back(e);
  }
  for (int i = 0; i < 500; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "d%02d/new%04d", i % 40, i);
    gen2.push_back(File(name, 7, 7, 7));
  }
  std::sort(gen2.begin(), gen2.end(),
            [](const ScanEntry& a, const ScanEntry& b) { return a.rel_path < b.rel_path; });
  std::sort(gen3.begin(), gen3.end(),
            [](const ScanEntry& a, const ScanEntry& b) { return a.rel_path < b.rel_path; });

  auto sorted = open("sorted.db");
  auto shuffled = open("shuffled.db");
  std::mt19937 rng(42);
  for (const auto* gen : {&gen1, &gen2, &gen3}) {
    std::vector<ScanEntry> mixed = *gen;
    // Mostly in order, with runs moved around, as well as fully shuffled.
    for (size_t i = 0; i + 40 < mixed.size(); i += 97) {
      std::rotate(mixed.begin() + static_cast<long>(i), mixed.begin() + static_cast<long>(i) + 25,
                  mixed.begin() + static_cast<long>(i) + 40);
    }
    std::shuffle(mixed.end() - 300, mixed.end(), rng);
    ScanStats a = run(sorted.get(), *gen);
    ScanStats b = run(shuffled.get(), mixed);
    EXPECT_STATS(b, a);
    ASSERT_EQ(sorted->EnsureDestination("d1").value(), shuffled->EnsureDestination("d1").value());
  }
  RawDb ra(dir_.File("sorted.db")), rb(dir_.File("shuffled.db"));
  const std::string q =
      "SELECT group_concat(hex(rel_path) || ':' || size || ':' || present || ':' || type, ',') "
      "FROM (SELECT * FROM files ORDER BY rel_path)";
  EXPECT_EQ(ra.Text(q), rb.Text(q));
  const std::string qd = "SELECT count(*) || '/' || sum(status = 'pending') FROM file_dest";
  EXPECT_EQ(ra.Text(qd), rb.Text(qd));
  EXPECT_EQ(ra.Int("SELECT count(*) FROM files WHERE present = 1"),
            static_cast<int64_t>(gen3.size()));
}

TEST_F(SqliteStoreTest, DuplicateEntriesAreRejectedInAndOutOfOrder) {
  // "b" twice in a row; "a" after "b" twice; "b" again after "c"; a
  // recorded row matched in order, then again out of order.
  Scan({File("k", 1)});
  auto batch = store_->BeginScan(kSrc);
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE((*batch)->Add(File("b", 1)).ok());
  EXPECT_EQ((*batch)->Add(File("b", 1)).kind(), ErrorKind::kInvalidArgument);
  ASSERT_TRUE((*batch)->Add(File("c", 1)).ok());
  ASSERT_TRUE((*batch)->Add(File("a", 1)).ok());
  EXPECT_EQ((*batch)->Add(File("a", 1)).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ((*batch)->Add(File("b", 1)).kind(), ErrorKind::kInvalidArgument);
  ASSERT_TRUE((*batch)->Add(File("k", 1)).ok());
  ASSERT_TRUE((*batch)->Add(File("z", 1)).ok());
  EXPECT_EQ((*batch)->Add(File("k", 1)).kind(), ErrorKind::kInvalidArgument);
  auto stats = (*batch)->Commit();
  ASSERT_TRUE(stats.ok());
  EXPECT_STATS(*stats, Stats(5, 5, 4, 0, 1, 0, 0));
}

// ---------------------------------------------------------------------------
// Split points for parallel bucket listings

TEST_F(SqliteStoreTest, SampleSyncedKeysAreSortedSpreadAndOnlySynced) {
  std::vector<ScanEntry> entries;
  for (int i = 0; i < 1000; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "f%04d", (i * 7919) % 1000);  // ids not in key order
    entries.push_back(File(name, 1, 1, 5));
  }
  Scan(entries);
  ASSERT_EQ(Ensure("d1"), 1000u);
  EXPECT_TRUE(store_->SampleSyncedKeys("d1", 4)->empty());  // nothing synced yet
  for (int i = 0; i < 1000; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "f%04d", i);
    if (i % 10 == 9) continue;  // 100 stay pending
    SyncedInfo info = InfoFor(1, 1, 5);
    auto id = Id(name);
    info.key = std::string("pre/") + name;
    ASSERT_TRUE(store_->MarkSynced(id, "d1", info).ok());
  }
  auto keys = store_->SampleSyncedKeys("d1", 3);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_TRUE(std::is_sorted(keys->begin(), keys->end()));
  // Quartiles of f0000..f0999: near f0250, f0500, f0750.
  const int want[] = {250, 500, 750};
  for (size_t i = 0; i < 3; ++i) {
    int got = std::atoi((*keys)[i].c_str() + 5);
    EXPECT_NEAR(got, want[i], 60) << (*keys)[i];
    EXPECT_NE(got % 10, 9) << "pending row sampled: " << (*keys)[i];
  }
  EXPECT_TRUE(store_->SampleSyncedKeys("d1", 0)->empty());
  EXPECT_TRUE(store_->SampleSyncedKeys("other", 5)->empty());
  auto many = store_->SampleSyncedKeys("d1", 5000);  // more than there are: every key once
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->size(), 900u);
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {

HistorySample Sample(int64_t at_us, const std::string& dest, uint64_t files,
                     const std::string& kind = "pass") {
  HistorySample s;
  s.at_us = at_us;
  s.kind = kind;
  s.destination = dest;
  s.files = files;
  s.bytes = files * 100;
  s.source = "bucket";
  s.uploaded_files = files / 2;
  s.uploaded_bytes = files * 50;
  s.duration_ms = 1500;
  s.run_id = static_cast<uint64_t>(at_us);
  return s;
}

TEST_F(SqliteStoreTest, HistoryIsKeptAcrossReopenAndQueriedOldestFirst) {
  ASSERT_TRUE(store_->AppendHistory({Sample(10, "a", 1), Sample(10, "b", 2)}, 0).ok());
  ASSERT_TRUE(store_->AppendHistory({Sample(20, "a", 3, "reconcile")}, 0).ok());
  ASSERT_TRUE(store_->AppendHistory({Sample(30, "a", 4), Sample(30, "b", 5)}, 0).ok());
  Reopen();
  auto all = store_->ListHistory({});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].at_us, 10);
  EXPECT_EQ((*all)[0].destination, "a");
  EXPECT_EQ((*all)[1].destination, "b");
  EXPECT_EQ((*all)[2].kind, "reconcile");
  EXPECT_EQ((*all)[4].files, 5u);
  EXPECT_EQ((*all)[4].bytes, 500u);
  EXPECT_EQ((*all)[4].uploaded_bytes, 250u);
  EXPECT_EQ((*all)[4].duration_ms, 1500);
  EXPECT_EQ((*all)[4].source, "bucket");

  auto a = store_->ListHistory({.since_us = 15, .destination = "a"});
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].files, 3u);
  EXPECT_EQ((*a)[1].files, 4u);
  auto newest = store_->ListHistory({.limit = 2});
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 2u) << "the newest two, oldest first";
  EXPECT_EQ((*newest)[0].destination, "a");
  EXPECT_EQ((*newest)[1].destination, "b");
  EXPECT_EQ((*newest)[1].at_us, 30);
}

TEST_F(SqliteStoreTest, HistoryPrunesOldSamplesAndRejectsBadInput) {
  ASSERT_TRUE(store_->AppendHistory({Sample(10, "a", 1), Sample(20, "a", 2)}, 0).ok());
  ASSERT_TRUE(store_->AppendHistory({Sample(30, "a", 3)}, 15).ok());
  auto all = store_->ListHistory({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].at_us, 20);

  HistorySample bad = Sample(40, "a", 1, "weekly");
  EXPECT_EQ(store_->AppendHistory({Sample(40, "a", 9), bad}, 0).kind(),
            ErrorKind::kInvalidArgument);
  bad = Sample(40, "a", 1);
  bad.source = "guess";
  EXPECT_EQ(store_->AppendHistory({bad}, 0).kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(store_->ListHistory({})->size(), 2u) << "nothing of a rejected batch is stored";
  EXPECT_EQ(store_->ListHistory({.limit = 0}).status().kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {

TEST_F(SqliteStoreTest, CountsFollowWritesFromThisAndOtherConnections) {
  Scan({File("a", 10, 100, 1), File("b", 20, 200, 2)});
  Ensure("d1");
  auto counts = [&] {
    auto c = store_->Counts();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() && !c->empty() ? c->front() : DestinationCounts{};
  };
  EXPECT_EQ(counts().pending_files, 2u);
  EXPECT_EQ(counts().pending_files, 2u) << "asked again with nothing written";
  ASSERT_TRUE(store_->MarkSynced(Id("a"), "d1", InfoFor(10, 100, 1)).ok());
  EXPECT_EQ(counts().synced_files, 1u) << "a write of this store is seen at once";
  EXPECT_EQ(counts().pending_files, 1u);
  // Another process (here: another connection) marks b failed.
  {
    RawDb raw(path_);
    raw.Exec(
        "UPDATE file_dest SET status = 'failed' WHERE destination = 'd1' AND status = 'pending'");
  }
  EXPECT_EQ(counts().failed_files, 1u) << "a write of another connection is seen too";
  EXPECT_EQ(counts().pending_files, 0u);
}

}  // namespace
}  // namespace ck
