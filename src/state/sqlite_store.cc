// SQLite implementation of StateStore.
//
// Durability: WAL journal with synchronous=NORMAL. A process crash loses no
// committed transaction; a power loss may roll back the last few commits, which
// only ever turns a row back into the state it had before (e.g. synced ->
// uploading/pending), so nothing is ever marked synced that was not confirmed.
// Every multi-statement change runs in one transaction.
//
// Definitions used throughout (they refine the header's wording):
//   live file     - a files row with present = 1, type 'file' and no skip reason:
//                   the only rows that get destination rows and appear as work.
//   skipped entry - a present entry with a skip reason, or whose type is
//                   neither a regular file nor a directory (ScanStats::skipped,
//                   StoreTotals::skipped). Plain directories, if a scanner
//                   records them, are neither files nor skipped.
//   ScanStats     - files/bytes/new_files/changed/unchanged/removed count
//                   regular files without a skip reason. A file that re-appears
//                   after having been removed counts as new.
//   Counts        - synced/pending/failed files and bytes count rows of live
//                   files only (synced bytes are the uploaded size, the others
//                   the current size); last_synced_us is the newest confirmation
//                   of any row of the destination, including rows of files that
//                   have since changed or gone. Only destinations that have at
//                   least one row are listed, ordered by name.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "state/sqlite_db.h"
#include "state/sqlite_schema.h"
#include "state/state_store.h"
#include "util/encoding.h"
#include "util/hash.h"

namespace ck {
namespace {

// Rows written per scan transaction: large enough that commit cost vanishes,
// small enough that other users of the store are not blocked for long.
constexpr size_t kScanFlushRows = 5000;

struct TypeName {
  EntryType type;
  std::string_view name;
};
// Stored in files.type; never change a name (the schema CHECK lists them).
constexpr TypeName kTypeNames[] = {
    {EntryType::kFile, "file"},          {EntryType::kDirectory, "dir"},
    {EntryType::kSymlink, "symlink"},    {EntryType::kFifo, "fifo"},
    {EntryType::kSocket, "socket"},      {EntryType::kBlockDevice, "blockdev"},
    {EntryType::kCharDevice, "chardev"}, {EntryType::kOther, "other"},
};

uint8_t TypeCode(EntryType t) {
  for (size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (kTypeNames[i].type == t) return static_cast<uint8_t>(i);
  }
  return static_cast<uint8_t>(std::size(kTypeNames) - 1);  // "other"
}

std::string_view TypeNameOf(EntryType t) {
  return kTypeNames[TypeCode(t)].name;
}

uint8_t TypeCodeFromName(std::string_view name) {
  for (size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (kTypeNames[i].name == name) return static_cast<uint8_t>(i);
  }
  return static_cast<uint8_t>(std::size(kTypeNames) - 1);
}

Result<SyncStatus> StatusFromName(std::string_view name) {
  for (SyncStatus s :
       {SyncStatus::kPending, SyncStatus::kUploading, SyncStatus::kSynced, SyncStatus::kFailed}) {
    if (SyncStatusName(s) == name) return s;
  }
  return Internal("unknown sync status in the database: " + std::string(name));
}

bool IsUploadable(EntryType type, std::string_view skip_reason) {
  return type == EntryType::kFile && skip_reason.empty();
}

bool IsSkipped(EntryType type, std::string_view skip_reason) {
  return !skip_reason.empty() || (type != EntryType::kFile && type != EntryType::kDirectory);
}

int64_t U2I(uint64_t v) {
  return static_cast<int64_t>(v);
}
uint64_t I2U(int64_t v) {
  return static_cast<uint64_t>(v);
}

// State shared by the store and its live scan batches (which may outlive it).
struct Core {
  std::mutex mu;
  std::unique_ptr<SqliteDb> db;  // guarded by mu
  Env* env = nullptr;
  std::set<std::string> scanning;  // sources with a live ScanBatch; guarded by mu
  // Counts() result and the database version it was computed at (guarded by mu):
  // (rows this connection changed, PRAGMA data_version for other connections).
  std::vector<DestinationCounts> counts;
  std::pair<int64_t, int64_t> counts_version{-1, -1};
};

// ---------------------------------------------------------------------------
// Statements shared by the scan and the store.

// Sets every destination row of a file back to pending for new content.
constexpr std::string_view kResetRowsSql =
    "UPDATE file_dest SET status = 'pending', attempts = 0, error_kind = '', "
    "error_message = '', updated_us = ?2 WHERE file_id = ?1";
// Drops the rows of a file that is gone or no longer uploadable; synced rows
// stay as the record of what the destination holds.
constexpr std::string_view kDropUnsyncedSql =
    "DELETE FROM file_dest WHERE file_id = ?1 AND status <> 'synced'";

Status ResetRows(SqliteDb& db, int64_t file_id, int64_t now_us) {
  CK_ASSIGN_OR_RETURN(Stmt st, db.Prepare(kResetRowsSql));
  st.BindInt(1, file_id).BindInt(2, now_us);
  return st.Run();
}

Status DropUnsynced(SqliteDb& db, int64_t file_id) {
  CK_ASSIGN_OR_RETURN(Stmt st, db.Prepare(kDropUnsyncedSql));
  st.BindInt(1, file_id);
  return st.Run();
}

// ---------------------------------------------------------------------------
// Scan

// A scan compares what it sees with the recorded rows of its source by a
// merge join: the scanner reports entries in (nearly) ascending byte order of
// their relative paths, and the batch reads the source's rows in the same
// order, a page at a time (keyset pagination on the (source, rel_path) index).
// Memory stays bounded by one page of rows plus one batch of writes, whatever
// the size of the source; an entry that arrives out of order costs one point
// query (see Add).
class SqliteScanBatch : public ScanBatch {
 public:
  SqliteScanBatch(std::shared_ptr<Core> core, std::string source)
      : core_(std::move(core)), source_(std::move(source)) {}

  ~SqliteScanBatch() override {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->scanning.erase(source_);
  }

  Status Add(const ScanEntry& entry) override {
    if (!status_.ok()) return status_;
    if (committed_) return InvalidArgument("scan of " + source_ + " already committed");
    if (entry.rel_path.empty()) {
      return InvalidArgument("scan of " + source_ + ": entry with an empty relative path");
    }
    const std::string& path = entry.rel_path;
    if (!has_last_ || path > last_in_order_) {
      // The common case: past every entry so far. Rows before it that were
      // not seen go aside (gone, unless they come later out of order).
      CK_RETURN_IF_ERROR(AdvanceTo(path));
      last_in_order_ = path;
      has_last_ = true;
      if (pos_ < page_.size() && page_[pos_].rel_path == path) {
        Row row = std::move(page_[pos_++]);
        return Compare(&row, entry);
      }
      return Compare(nullptr, entry);
    }
    // Out of order (e.g. an unreadable directory, recorded under its own
    // name after the entries that sort between "name" and "name/"). Every
    // recorded row before last_in_order_ was either matched already or set
    // aside, so: set aside -> match it now; else look it up, and a present
    // row there was matched (or inserted) by this scan already.
    if (path == last_in_order_ || !out_of_order_.insert(path).second) return Duplicate(path);
    if (auto it = unseen_.find(path); it != unseen_.end()) {
      Row row = std::move(it->second);
      unseen_.erase(it);
      return Compare(&row, entry);
    }
    CK_RETURN_IF_ERROR(Flush());  // so the lookup sees this scan's own writes
    std::optional<Row> row;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      auto r = LookupLocked(path);
      if (!r.ok()) return Fail(r.status());
      row = std::move(r).value();
    }
    if (row && row->present) return Duplicate(path);
    return Compare(row ? &*row : nullptr, entry);
  }

  Result<ScanStats> Commit() override {
    if (!status_.ok()) return status_;
    if (committed_) return InvalidArgument("scan of " + source_ + " already committed");
    // Every recorded row not seen is gone: the rest of the rows, and those
    // set aside.
    while (true) {
      for (; pos_ < page_.size(); ++pos_) {
        if (page_[pos_].present) CK_RETURN_IF_ERROR(Remove(page_[pos_]));
      }
      if (db_done_) break;
      CK_RETURN_IF_ERROR(NextPage());
    }
    for (const auto& [path, row] : unseen_) CK_RETURN_IF_ERROR(Remove(row));
    unseen_.clear();
    CK_RETURN_IF_ERROR(Flush());
    committed_ = true;
    return stats_;
  }

 private:
  // One recorded row of this source.
  struct Row {
    int64_t id = 0;
    std::string rel_path;
    int64_t size = 0, mtime_ns = 0, inode = 0;
    uint8_t type = 0;
    std::string skip_reason;
    bool present = false;
  };
  enum class Op { kInsert, kUpdate, kRemove };
  struct Write {
    Op op;
    int64_t id;  // files.id for kUpdate / kRemove
    ScanEntry entry;
    // kInsert: the entry is uploadable. kUpdate: its content changed, so every
    // destination row goes back to pending.
    bool reset_rows;
  };
  static constexpr size_t kPageRows = 2048;
  static constexpr std::string_view kColumns =
      "SELECT id, rel_path, size, mtime_ns, inode, type, skip_reason, present FROM files ";

  static Row RowFrom(const Stmt& st) {
    Row r;
    r.id = st.Int(0);
    r.rel_path = st.Bytes(1);
    r.size = st.Int(2);
    r.mtime_ns = st.Int(3);
    r.inode = st.Int(4);
    r.type = TypeCodeFromName(st.View(5));
    r.skip_reason = st.Bytes(6);
    r.present = st.Int(7) != 0;
    return r;
  }

  Status Duplicate(const std::string& path) {
    return InvalidArgument("scan of " + source_ + ": entry added twice: " + PrintableName(path));
  }
  Status Fail(const Status& st) {
    status_ = st.WithContext("scan of " + source_);
    return status_;
  }

  // Moves the cursor to the first recorded row >= path; present rows passed
  // over go to unseen_.
  Status AdvanceTo(const std::string& path) {
    while (true) {
      for (; pos_ < page_.size() && page_[pos_].rel_path < path; ++pos_) {
        if (page_[pos_].present) {
          std::string key = page_[pos_].rel_path;
          unseen_.emplace(std::move(key), std::move(page_[pos_]));
        }
      }
      if (pos_ < page_.size() || db_done_) return Status::OK();
      CK_RETURN_IF_ERROR(NextPage());
    }
  }

  // Replaces the exhausted page with the next rows after the last one read.
  Status NextPage() {
    std::lock_guard<std::mutex> lock(core_->mu);
    page_.clear();
    pos_ = 0;
    auto st = core_->db->Prepare(std::string(kColumns) +
                                 "WHERE source = ?1 AND rel_path > ?2 ORDER BY rel_path LIMIT ?3");
    if (!st.ok()) return Fail(st.status());
    st->BindText(1, source_).BindBlob(2, page_end_).BindInt(3, static_cast<int64_t>(kPageRows));
    while (true) {
      auto row = st->Step();
      if (!row.ok()) return Fail(row.status());
      if (!*row) break;
      page_.push_back(RowFrom(*st));
    }
    if (page_.size() < kPageRows) db_done_ = true;
    if (!page_.empty()) page_end_ = page_.back().rel_path;
    return Status::OK();
  }

  Result<std::optional<Row>> LookupLocked(const std::string& path) {
    CK_ASSIGN_OR_RETURN(
        Stmt st, core_->db->Prepare(std::string(kColumns) + "WHERE source = ?1 AND rel_path = ?2"));
    st.BindText(1, source_).BindBlob(2, path);
    CK_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return std::optional<Row>();
    return std::optional<Row>(RowFrom(st));
  }

  // Compares an entry with its recorded row (nullptr: none) and queues the
  // write it needs.
  Status Compare(Row* known, const ScanEntry& entry) {
    const bool uploadable = IsUploadable(entry.type, entry.skip_reason);
    if (uploadable) {
      stats_.files++;
      stats_.bytes += entry.size;
    }
    if (IsSkipped(entry.type, entry.skip_reason)) stats_.skipped++;
    if (known == nullptr) {
      if (uploadable) stats_.new_files++;
      writes_.push_back(Write{Op::kInsert, 0, entry, uploadable});
    } else {
      const Row& k = *known;
      const bool same_stat =
          k.size == U2I(entry.size) && k.mtime_ns == entry.mtime_ns && k.inode == U2I(entry.inode);
      const bool same_kind = k.type == TypeCode(entry.type) && k.skip_reason == entry.skip_reason;
      if (k.present && same_stat && same_kind) {
        if (uploadable) stats_.unchanged++;
        return Status::OK();  // the common case: nothing to write
      }
      Write w{Op::kUpdate, k.id, entry, false};
      if (uploadable) {
        if (k.present) {
          stats_.changed++;
          w.reset_rows = true;
        } else {
          // Re-appeared. Identical stat and kind: the synced rows still
          // describe this content (e.g. a volume that was briefly unmounted).
          stats_.new_files++;
          w.reset_rows = !(same_stat && same_kind);
        }
      }
      writes_.push_back(std::move(w));
    }
    if (writes_.size() >= kScanFlushRows) return Flush();
    return Status::OK();
  }

  Status Remove(const Row& k) {
    if (k.type == TypeCode(EntryType::kFile) && k.skip_reason.empty()) stats_.removed++;
    writes_.push_back(Write{Op::kRemove, k.id, ScanEntry{}, false});
    if (writes_.size() >= kScanFlushRows) return Flush();
    return Status::OK();
  }

  Status Flush() {
    if (writes_.empty()) return Status::OK();
    Status st = WriteAll();
    if (!st.ok()) return Fail(st);
    writes_.clear();
    return Status::OK();
  }

  Status WriteAll() {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    SqliteDb& db = *core_->db;
    Transaction txn(&db);
    CK_RETURN_IF_ERROR(txn.Begin());
    // A file may have become eligible for destination rows: the next
    // EnsureDestination must look (see files_seq in sqlite_schema.cc).
    bool eligible = false;
    for (const Write& w : writes_) {
      if (w.op != Op::kRemove && IsUploadable(w.entry.type, w.entry.skip_reason)) eligible = true;
    }
    if (eligible) CK_RETURN_IF_ERROR(db.Exec("UPDATE files_seq SET seq = seq + 1 WHERE id = 1"));
    for (const Write& w : writes_) {
      switch (w.op) {
        case Op::kInsert:
          CK_RETURN_IF_ERROR(Insert(db, w, now));
          break;
        case Op::kUpdate:
          CK_RETURN_IF_ERROR(Update(db, w.id, w.entry, w.reset_rows, now));
          break;
        case Op::kRemove: {
          CK_ASSIGN_OR_RETURN(
              Stmt st, db.Prepare("UPDATE files SET present = 0, updated_us = ?2 WHERE id = ?1"));
          st.BindInt(1, w.id).BindInt(2, now);
          CK_RETURN_IF_ERROR(st.Run());
          CK_RETURN_IF_ERROR(DropUnsynced(db, w.id));
          break;
        }
      }
    }
    return txn.Commit();
  }

  Status Insert(SqliteDb& db, const Write& w, int64_t now) {
    const ScanEntry& e = w.entry;
    {
      CK_ASSIGN_OR_RETURN(
          Stmt st, db.Prepare("INSERT INTO files (source, rel_path, size, mtime_ns, inode, type, "
                              "skip_reason, present, first_seen_us, updated_us) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8) "
                              "ON CONFLICT (source, rel_path) DO NOTHING"));
      st.BindText(1, source_)
          .BindBlob(2, e.rel_path)
          .BindInt(3, U2I(e.size))
          .BindInt(4, e.mtime_ns)
          .BindInt(5, U2I(e.inode))
          .BindText(6, TypeNameOf(e.type))
          .BindText(7, e.skip_reason)
          .BindInt(8, now);
      CK_RETURN_IF_ERROR(st.Run());
    }
    if (db.Changes() == 1) return Status::OK();
    // Someone else (another process) recorded the entry since BeginScan. We
    // cannot tell what changed, so treat it as changed: worst case one
    // needless upload, never a row left synced for different content.
    CK_ASSIGN_OR_RETURN(Stmt find,
                        db.Prepare("SELECT id FROM files WHERE source = ?1 AND rel_path = ?2"));
    find.BindText(1, source_).BindBlob(2, e.rel_path);
    CK_ASSIGN_OR_RETURN(bool row, find.Step());
    if (!row) return Internal("files row vanished during a scan: " + PrintableName(e.rel_path));
    return Update(db, find.Int(0), e, w.reset_rows, now);
  }

  static Status Update(SqliteDb& db, int64_t id, const ScanEntry& e, bool reset_rows, int64_t now) {
    {
      CK_ASSIGN_OR_RETURN(Stmt st, db.Prepare("UPDATE files SET size = ?2, mtime_ns = ?3, "
                                              "inode = ?4, type = ?5, skip_reason = ?6, "
                                              "present = 1, updated_us = ?7 WHERE id = ?1"));
      st.BindInt(1, id)
          .BindInt(2, U2I(e.size))
          .BindInt(3, e.mtime_ns)
          .BindInt(4, U2I(e.inode))
          .BindText(5, TypeNameOf(e.type))
          .BindText(6, e.skip_reason)
          .BindInt(7, now);
      CK_RETURN_IF_ERROR(st.Run());
    }
    if (!IsUploadable(e.type, e.skip_reason)) {
      // E.g. a file replaced by a symlink: nothing left to upload.
      return DropUnsynced(db, id);
    }
    if (reset_rows) return ResetRows(db, id, now);
    return Status::OK();
  }

  std::shared_ptr<Core> core_;
  std::string source_;
  // The merge cursor: page_[pos_] is the next recorded row not yet reached.
  std::vector<Row> page_;
  size_t pos_ = 0;
  bool db_done_ = false;       // page_ holds the last rows
  std::string page_end_;       // path of the last row read ("" before the first page)
  std::string last_in_order_;  // the greatest path added so far
  bool has_last_ = false;
  // Present rows the cursor passed without a matching entry (gone, or
  // coming out of order), and the paths added out of order.
  std::unordered_map<std::string, Row> unseen_;
  std::unordered_set<std::string> out_of_order_;
  std::vector<Write> writes_;  // not yet flushed
  ScanStats stats_;
  Status status_;  // first flush error; sticky
  bool committed_ = false;
};

// ---------------------------------------------------------------------------
// Failed-list cursor: "f1.<hex destination>.<file id>".

constexpr std::string_view kCursorPrefix = "f1.";

std::string EncodeCursor(const std::string& destination, int64_t file_id) {
  return std::string(kCursorPrefix) + HexEncode(destination) + "." + std::to_string(file_id);
}

Status DecodeCursor(const std::string& cursor, std::string* destination, int64_t* file_id) {
  Status bad = InvalidArgument("malformed failed-list cursor: \"" + PrintableName(cursor) + "\"");
  if (cursor.compare(0, kCursorPrefix.size(), kCursorPrefix) != 0) return bad;
  size_t dot = cursor.rfind('.');
  if (dot < kCursorPrefix.size()) return bad;
  std::string_view hex(cursor.data() + kCursorPrefix.size(), dot - kCursorPrefix.size());
  std::string_view id(cursor.data() + dot + 1, cursor.size() - dot - 1);
  if (id.empty() || id.size() > 19) return bad;
  for (char c : id) {
    if (c < '0' || c > '9') return bad;
  }
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), *file_id);
  if (ec != std::errc() || end != id.data() + id.size()) return bad;
  if (hex.empty() || !HexDecode(hex, destination)) return bad;
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Store

class SqliteStore : public StateStore {
 public:
  explicit SqliteStore(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  Result<std::unique_ptr<ScanBatch>> BeginScan(const std::string& source) override {
    if (source.empty()) return InvalidArgument("scan source must not be empty");
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->scanning.count(source) != 0) {
      return InvalidArgument("a scan of " + source + " is already in progress");
    }
    core_->scanning.insert(source);
    return std::unique_ptr<ScanBatch>(new SqliteScanBatch(core_, source));
  }

  Result<uint64_t> EnsureDestination(const std::string& destination) override {
    if (destination.empty()) return InvalidArgument("destination name must not be empty");
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    // Nothing can be missing when no scan made a file eligible since the last
    // pass for this destination.
    CK_ASSIGN_OR_RETURN(int64_t seq, db().QueryInt("SELECT seq FROM files_seq WHERE id = 1"));
    {
      CK_ASSIGN_OR_RETURN(Stmt done,
                          db().Prepare("SELECT seq FROM dest_ensured WHERE destination = ?1"));
      done.BindText(1, destination);
      CK_ASSIGN_OR_RETURN(bool row, done.Step());
      if (row && done.Int(0) == seq) return uint64_t{0};  // rolls back the empty transaction
    }
    // SQLite materialises the rows of an INSERT ... SELECT that reads its own
    // target table before inserting them; in slices of file ids that buffer
    // stays small (it held 1M rows, 33 MB, for a first sync of 1M files).
    CK_ASSIGN_OR_RETURN(int64_t max_id, db().QueryInt("SELECT max(id) FROM files"));
    constexpr int64_t kSlice = 1 << 15;
    uint64_t added = 0;
    for (int64_t lo = 0; lo < max_id; lo += kSlice) {
      CK_ASSIGN_OR_RETURN(
          Stmt st, db().Prepare("INSERT INTO file_dest (file_id, destination, status, updated_us) "
                                "SELECT f.id, ?1, 'pending', ?2 FROM files f "
                                "WHERE f.id > ?3 AND f.id <= ?4 "
                                "AND f.present = 1 AND f.type = 'file' AND f.skip_reason = '' "
                                "AND NOT EXISTS (SELECT 1 FROM file_dest d "
                                "WHERE d.file_id = f.id AND d.destination = ?1)"));
      st.BindText(1, destination).BindInt(2, now).BindInt(3, lo).BindInt(4, lo + kSlice);
      CK_RETURN_IF_ERROR(st.Run());
      added += I2U(db().Changes());
    }
    {
      CK_ASSIGN_OR_RETURN(
          Stmt mark, db().Prepare("INSERT INTO dest_ensured (destination, seq) VALUES (?1, ?2) "
                                  "ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq"));
      mark.BindText(1, destination).BindInt(2, seq);
      CK_RETURN_IF_ERROR(mark.Run());
    }
    CK_RETURN_IF_ERROR(txn.Commit());
    return added;
  }

  Result<uint64_t> ResetInterrupted() override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    // Without statistics SQLite would scan the large status index; the
    // partial index holds only the (few) uploading rows.
    CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("UPDATE file_dest INDEXED BY file_dest_uploading "
                                              "SET status = 'pending', updated_us = ?1 "
                                              "WHERE status = 'uploading'"));
    st.BindInt(1, now);
    CK_RETURN_IF_ERROR(st.Run());
    return I2U(db().Changes());
  }

  Result<std::vector<WorkItem>> ListWork(const std::string& destination, int max_attempts,
                                         int64_t after_id, size_t limit) override {
    std::vector<WorkItem> out;
    if (limit == 0) return out;
    std::lock_guard<std::mutex> lock(core_->mu);
    // The literal "status IN ('pending', 'failed')" matches the partial index
    // file_dest_work; CROSS JOIN keeps file_dest as the outer loop so rows come
    // in file_id order and the scan stops at the limit.
    CK_ASSIGN_OR_RETURN(
        Stmt st,
        db().Prepare("SELECT f.id, f.source, f.rel_path, f.size, f.mtime_ns, f.inode, d.status, "
                     "d.attempts, d.remote_key, COALESCE(d.synced_size, 0) "
                     "FROM file_dest d CROSS JOIN files f ON f.id = d.file_id "
                     "WHERE d.destination = ?1 AND d.status IN ('pending', 'failed') "
                     "AND d.file_id > ?2 "
                     "AND (d.status = 'pending' OR (d.attempts < ?3 AND "
                     "d.error_kind <> 'invalid_name')) "
                     "AND f.present = 1 AND f.type = 'file' AND f.skip_reason = '' "
                     "ORDER BY d.file_id LIMIT ?4"));
    st.BindText(1, destination)
        .BindInt(2, after_id)
        .BindInt(3, max_attempts)
        .BindInt(
            4, static_cast<int64_t>(std::min<size_t>(limit, std::numeric_limits<int64_t>::max())));
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      WorkItem w;
      w.file_id = st.Int(0);
      w.source = st.Bytes(1);
      w.rel_path = st.Bytes(2);
      w.size = I2U(st.Int(3));
      w.mtime_ns = st.Int(4);
      w.inode = I2U(st.Int(5));
      CK_ASSIGN_OR_RETURN(w.status, StatusFromName(st.View(6)));
      w.attempts = static_cast<int>(st.Int(7));
      w.prev_remote_key = st.Bytes(8);
      w.prev_synced_size = I2U(st.Int(9));
      out.push_back(std::move(w));
    }
    return out;
  }

  Status MarkUploading(int64_t file_id, const std::string& destination) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(
        Stmt st, db().Prepare("UPDATE file_dest SET status = 'uploading', last_attempt_us = ?3, "
                              "updated_us = ?3 WHERE file_id = ?1 AND destination = ?2"));
    st.BindInt(1, file_id).BindText(2, destination).BindInt(3, now);
    CK_RETURN_IF_ERROR(st.Run());
    if (db().Changes() == 0) return RowNotFound(file_id, destination);
    return Status::OK();
  }

  // Returns OK both when the row became synced and when it stayed pending
  // because the file's recorded stat no longer matches `info`.
  Status MarkSynced(int64_t file_id, const std::string& destination,
                    const SyncedInfo& info) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    CK_RETURN_IF_ERROR(MarkSyncedLocked(file_id, destination, info, now));
    return txn.Commit();
  }

  Result<size_t> MarkSyncedMany(const std::string& destination,
                                const std::vector<SyncedRecord>& records) override {
    if (records.empty()) return size_t{0};
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    size_t missing = 0;
    for (const SyncedRecord& r : records) {
      Status st = MarkSyncedLocked(r.file_id, destination, r.info, now);
      if (st.kind() == ErrorKind::kNotFound) {
        ++missing;
        continue;
      }
      CK_RETURN_IF_ERROR(st);
    }
    CK_RETURN_IF_ERROR(txn.Commit());
    return missing;
  }

  // MarkSynced's work inside the caller's transaction.
  Status MarkSyncedLocked(int64_t file_id, const std::string& destination, const SyncedInfo& info,
                          int64_t now) {
    {
      CK_ASSIGN_OR_RETURN(
          Stmt st,
          db().Prepare("UPDATE file_dest SET status = 'synced', attempts = 0, error_kind = '', "
                       "error_message = '', remote_key = ?3, remote_etag = ?4, remote_id = ?5, "
                       "synced_size = ?6, synced_mtime_ns = ?7, synced_inode = ?8, md5 = ?9, "
                       "sha256 = ?10, sha1 = ?11, synced_us = ?12, updated_us = ?12 "
                       "WHERE file_id = ?1 AND destination = ?2 AND EXISTS (SELECT 1 FROM files f "
                       "WHERE f.id = ?1 AND f.size = ?6 AND f.mtime_ns = ?7 AND f.inode = ?8 "
                       "AND f.present = 1 AND f.type = 'file' AND f.skip_reason = '')"));
      st.BindInt(1, file_id)
          .BindText(2, destination)
          .BindText(3, info.key)
          .BindText(4, info.etag)
          .BindText(5, info.remote_id)
          .BindInt(6, U2I(info.size))
          .BindInt(7, info.mtime_ns)
          .BindInt(8, U2I(info.inode))
          .BindText(9, info.md5_hex)
          .BindText(10, info.sha256_hex)
          .BindText(11, info.sha1_hex)
          .BindInt(12, now);
      CK_RETURN_IF_ERROR(st.Run());
    }
    if (db().Changes() == 0) {
      // The uploaded version is not the recorded one (or the file is gone or
      // no longer a regular file): the row needs another upload. A row that
      // is already synced (for the current version) is left alone.
      CK_ASSIGN_OR_RETURN(Stmt st,
                          db().Prepare("UPDATE file_dest SET status = 'pending', updated_us = ?3 "
                                       "WHERE file_id = ?1 AND destination = ?2 "
                                       "AND status <> 'synced'"));
      st.BindInt(1, file_id).BindText(2, destination).BindInt(3, now);
      CK_RETURN_IF_ERROR(st.Run());
      if (db().Changes() == 0) {
        CK_ASSIGN_OR_RETURN(bool exists, RowExists(file_id, destination));
        if (!exists) return RowNotFound(file_id, destination);
      }
    }
    return Status::OK();
  }

  Status MarkFailed(int64_t file_id, const std::string& destination, ErrorKind kind,
                    const std::string& message) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(
        Stmt st, db().Prepare("UPDATE file_dest SET status = 'failed', attempts = attempts + 1, "
                              "error_kind = ?3, error_message = ?4, last_attempt_us = ?5, "
                              "updated_us = ?5 WHERE file_id = ?1 AND destination = ?2"));
    st.BindInt(1, file_id)
        .BindText(2, destination)
        .BindText(3, ErrorKindName(kind))
        .BindText(4, message)
        .BindInt(5, now);
    CK_RETURN_IF_ERROR(st.Run());
    if (db().Changes() == 0) return RowNotFound(file_id, destination);
    return Status::OK();
  }

  // When the stat differs from the recorded one, every row of the file becomes
  // pending, synced ones included: they describe content that no longer exists
  // locally. When it is the same (a caller leaving an interrupted upload for
  // later), only uploading rows become pending; synced rows still describe
  // this very version. Attempts and error fields are left as they are.
  Status MarkChanged(int64_t file_id, uint64_t size, int64_t mtime_ns, uint64_t inode) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    bool same_stat;
    {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT size = ?2 AND mtime_ns = ?3 AND inode = ?4 "
                                                "FROM files WHERE id = ?1"));
      st.BindInt(1, file_id).BindInt(2, U2I(size)).BindInt(3, mtime_ns).BindInt(4, U2I(inode));
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return FileNotFound(file_id);
      same_stat = st.Int(0) != 0;
    }
    if (!same_stat) {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("UPDATE files SET size = ?2, mtime_ns = ?3, "
                                                "inode = ?4, updated_us = ?5 WHERE id = ?1"));
      st.BindInt(1, file_id).BindInt(2, U2I(size)).BindInt(3, mtime_ns).BindInt(4, U2I(inode));
      st.BindInt(5, now);
      CK_RETURN_IF_ERROR(st.Run());
    }
    {
      CK_ASSIGN_OR_RETURN(Stmt st,
                          db().Prepare(same_stat ? "UPDATE file_dest SET status = 'pending', "
                                                   "updated_us = ?2 WHERE file_id = ?1 "
                                                   "AND status = 'uploading'"
                                                 : "UPDATE file_dest SET status = 'pending', "
                                                   "updated_us = ?2 WHERE file_id = ?1"));
      st.BindInt(1, file_id).BindInt(2, now);
      CK_RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  Status MarkVanished(int64_t file_id) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    {
      CK_ASSIGN_OR_RETURN(
          Stmt st, db().Prepare("UPDATE files SET present = 0, updated_us = ?2 WHERE id = ?1"));
      st.BindInt(1, file_id).BindInt(2, now);
      CK_RETURN_IF_ERROR(st.Run());
      if (db().Changes() == 0) return FileNotFound(file_id);
    }
    CK_RETURN_IF_ERROR(DropUnsynced(db(), file_id));
    return txn.Commit();
  }

  Result<std::optional<MultipartState>> GetMultipart(int64_t file_id,
                                                     const std::string& destination) override {
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT upload_id, key, part_size, size, mtime_ns, "
                                              "created_us FROM multipart "
                                              "WHERE file_id = ?1 AND destination = ?2"));
    st.BindInt(1, file_id).BindText(2, destination);
    CK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<MultipartState>();
    return std::optional<MultipartState>(ReadMultipart(st, 0));
  }

  // Records the upload for (file, destination), replacing any previous one.
  // When the upload id differs from the recorded one, the recorded parts
  // belong to the old upload and are removed. created_us is stored as given.
  Status SaveMultipart(int64_t file_id, const std::string& destination,
                       const MultipartState& state) override {
    if (state.upload_id.empty()) return InvalidArgument("multipart upload id must not be empty");
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT 1 FROM files WHERE id = ?1"));
      st.BindInt(1, file_id);
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return FileNotFound(file_id);
    }
    {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("DELETE FROM multipart_parts WHERE file_id = ?1 "
                                                "AND destination = ?2 AND EXISTS (SELECT 1 FROM "
                                                "multipart m WHERE m.file_id = ?1 AND "
                                                "m.destination = ?2 AND m.upload_id <> ?3)"));
      st.BindInt(1, file_id).BindText(2, destination).BindText(3, state.upload_id);
      CK_RETURN_IF_ERROR(st.Run());
    }
    {
      CK_ASSIGN_OR_RETURN(
          Stmt st,
          db().Prepare("INSERT INTO multipart (file_id, destination, upload_id, key, part_size, "
                       "size, mtime_ns, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                       "ON CONFLICT (file_id, destination) DO UPDATE SET "
                       "upload_id = excluded.upload_id, key = excluded.key, "
                       "part_size = excluded.part_size, size = excluded.size, "
                       "mtime_ns = excluded.mtime_ns, created_us = excluded.created_us"));
      st.BindInt(1, file_id)
          .BindText(2, destination)
          .BindText(3, state.upload_id)
          .BindText(4, state.key)
          .BindInt(5, U2I(state.part_size))
          .BindInt(6, U2I(state.size))
          .BindInt(7, state.mtime_ns)
          .BindInt(8, state.created_us);
      CK_RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  // Records (or overwrites, for a re-uploaded part) one part. kNotFound when
  // no multipart upload is recorded for (file, destination).
  Status SavePart(int64_t file_id, const std::string& destination,
                  const PartRecord& part) override {
    if (part.number < 1) {
      return InvalidArgument("part number must be at least 1, got " + std::to_string(part.number));
    }
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(
        Stmt st, db().Prepare("INSERT INTO multipart_parts (file_id, destination, part_number, "
                              "size, etag, checksum) SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
                              "WHERE EXISTS (SELECT 1 FROM multipart "
                              "WHERE file_id = ?1 AND destination = ?2) "
                              "ON CONFLICT (file_id, destination, part_number) DO UPDATE SET "
                              "size = excluded.size, etag = excluded.etag, "
                              "checksum = excluded.checksum"));
    st.BindInt(1, file_id)
        .BindText(2, destination)
        .BindInt(3, part.number)
        .BindInt(4, U2I(part.size))
        .BindText(5, part.etag)
        .BindText(6, part.checksum);
    CK_RETURN_IF_ERROR(st.Run());
    if (db().Changes() == 0) {
      return NotFound("no multipart upload recorded for file " + std::to_string(file_id) +
                      " and destination " + destination);
    }
    return Status::OK();
  }

  Result<std::vector<PartRecord>> GetParts(int64_t file_id,
                                           const std::string& destination) override {
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT part_number, size, etag, checksum "
                                              "FROM multipart_parts WHERE file_id = ?1 AND "
                                              "destination = ?2 ORDER BY part_number"));
    st.BindInt(1, file_id).BindText(2, destination);
    std::vector<PartRecord> out;
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PartRecord p;
      p.number = static_cast<int>(st.Int(0));
      p.size = I2U(st.Int(1));
      p.etag = st.Bytes(2);
      p.checksum = st.Bytes(3);
      out.push_back(std::move(p));
    }
    return out;
  }

  // Idempotent: OK when nothing is recorded.
  Status DeleteMultipart(int64_t file_id, const std::string& destination) override {
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    for (std::string_view sql :
         {"DELETE FROM multipart_parts WHERE file_id = ?1 AND destination = ?2",
          "DELETE FROM multipart WHERE file_id = ?1 AND destination = ?2"}) {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare(sql));
      st.BindInt(1, file_id).BindText(2, destination);
      CK_RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  // Ordered by file id.
  Result<std::vector<std::pair<int64_t, MultipartState>>> ListMultipart(
      const std::string& destination) override {
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT file_id, upload_id, key, part_size, size, "
                                              "mtime_ns, created_us FROM multipart "
                                              "WHERE destination = ?1 ORDER BY file_id"));
    st.BindText(1, destination);
    std::vector<std::pair<int64_t, MultipartState>> out;
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.emplace_back(st.Int(0), ReadMultipart(st, 1));
    }
    return out;
  }

  Result<std::vector<DestinationCounts>> Counts() override {
    std::lock_guard<std::mutex> lock(core_->mu);
    // The status API asks for this on every request: answer from the cache
    // while nothing was written, by this process or any other.
    CK_ASSIGN_OR_RETURN(int64_t data_version, db().QueryInt("PRAGMA data_version"));
    const std::pair<int64_t, int64_t> version{db().TotalChanges(), data_version};
    if (version == core_->counts_version) return core_->counts;
    CK_ASSIGN_OR_RETURN(std::vector<DestinationCounts> out, CountsLocked());
    core_->counts = out;
    core_->counts_version = version;
    return out;
  }

  Result<std::vector<std::string>> SampleSyncedKeys(const std::string& destination,
                                                    size_t n) override {
    std::vector<std::string> keys;
    if (n == 0) return keys;
    std::lock_guard<std::mutex> lock(core_->mu);
    int64_t synced = 0;
    {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT count(*) FROM file_dest "
                                                "WHERE destination = ?1 AND status = 'synced'"));
      st.BindText(1, destination);
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) synced = st.Int(0);
    }
    if (synced == 0) return keys;
    // A sample of about 32 keys per split point, every step-th synced row in
    // file id order (index file_dest_status; the key is read only for the
    // sampled rows), then sorted by key.
    const int64_t want = static_cast<int64_t>(std::min<size_t>(n, 1u << 16)) * 32;
    const int64_t step = std::max<int64_t>(1, synced / want);
    CK_ASSIGN_OR_RETURN(
        Stmt st, db().Prepare("SELECT remote_key FROM file_dest WHERE destination = ?1 "
                              "AND status = 'synced' AND (file_id % ?2) = 0 AND remote_key <> ''"));
    st.BindText(1, destination).BindInt(2, step);
    std::vector<std::string> sample;
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      sample.push_back(st.Bytes(0));
    }
    std::sort(sample.begin(), sample.end());
    sample.erase(std::unique(sample.begin(), sample.end()), sample.end());
    if (sample.size() <= n) return sample;
    for (size_t i = 1; i <= n; ++i) {
      // Quantiles i/(n+1): n keys cut the sample into n+1 nearly equal parts.
      keys.push_back(sample[i * sample.size() / (n + 1)]);
    }
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
  }

  Result<std::vector<DestinationCounts>> CountsLocked() {
    // One pass over the covering index file_dest_status, already grouped by
    // (destination, status), with an ascending-id lookup into files per row.
    CK_ASSIGN_OR_RETURN(
        Stmt st,
        db().Prepare("SELECT d.destination, d.status, "
                     "sum(f.present = 1 AND f.type = 'file' AND f.skip_reason = ''), "
                     "sum(CASE WHEN f.present = 1 AND f.type = 'file' AND f.skip_reason = '' "
                     "THEN (CASE WHEN d.status = 'synced' THEN d.synced_size ELSE f.size END) "
                     "ELSE 0 END), max(d.synced_us) "
                     "FROM file_dest d CROSS JOIN files f ON f.id = d.file_id "
                     "GROUP BY d.destination, d.status ORDER BY d.destination, d.status"));
    std::vector<DestinationCounts> out;
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      std::string dest = st.Bytes(0);
      if (out.empty() || out.back().destination != dest) {
        out.emplace_back();
        out.back().destination = std::move(dest);
      }
      DestinationCounts& c = out.back();
      auto files = I2U(st.Int(2));
      auto bytes = I2U(st.Int(3));
      c.last_synced_us = std::max(c.last_synced_us, st.Int(4));
      CK_ASSIGN_OR_RETURN(SyncStatus s, StatusFromName(st.View(1)));
      switch (s) {
        case SyncStatus::kSynced:
          c.synced_files += files;
          c.synced_bytes += bytes;
          break;
        case SyncStatus::kPending:
        case SyncStatus::kUploading:
          c.pending_files += files;
          c.pending_bytes += bytes;
          break;
        case SyncStatus::kFailed:
          c.failed_files += files;
          c.failed_bytes += bytes;
          break;
      }
    }
    return out;
  }

  Result<StoreTotals> Totals() override {
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(
        Stmt st,
        db().Prepare("SELECT count(*) FILTER (WHERE type = 'file' AND skip_reason = ''), "
                     "coalesce(sum(size) FILTER (WHERE type = 'file' AND skip_reason = ''), 0), "
                     "count(*) FILTER (WHERE skip_reason <> '' OR type NOT IN ('file', 'dir')) "
                     "FROM files WHERE present = 1"));
    CK_ASSIGN_OR_RETURN(bool row, st.Step());
    StoreTotals t;
    if (row) {
      t.files = I2U(st.Int(0));
      t.bytes = I2U(st.Int(1));
      t.skipped = I2U(st.Int(2));
    }
    return t;
  }

  Result<FailedPage> ListFailed(const std::string& destination, size_t limit,
                                const std::string& cursor) override {
    if (limit == 0) return InvalidArgument("failed-list page size must be positive");
    std::string after_dest;
    int64_t after_id = std::numeric_limits<int64_t>::min();
    if (!cursor.empty()) {
      CK_RETURN_IF_ERROR(DecodeCursor(cursor, &after_dest, &after_id));
      if (!destination.empty() && after_dest != destination) {
        return InvalidArgument("failed-list cursor belongs to destination " +
                               PrintableName(after_dest) + ", not " + destination);
      }
    }
    std::lock_guard<std::mutex> lock(core_->mu);
    constexpr std::string_view kColumns =
        "SELECT d.file_id, f.source, f.rel_path, d.destination, f.size, d.error_kind, "
        "d.error_message, d.attempts, d.last_attempt_us "
        "FROM file_dest d CROSS JOIN files f ON f.id = d.file_id ";
    std::string sql(kColumns);
    if (destination.empty()) {
      sql +=
          "WHERE d.status = 'failed' AND (d.destination, d.file_id) > (?1, ?2) "
          "ORDER BY d.destination, d.file_id LIMIT ?3";
    } else {
      sql +=
          "WHERE d.status = 'failed' AND d.destination = ?1 AND d.file_id > ?2 "
          "ORDER BY d.file_id LIMIT ?3";
    }
    CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare(sql));
    st.BindText(1, destination.empty() ? after_dest : destination)
        .BindInt(2, after_id)
        // One extra row tells whether another page exists.
        .BindInt(3, static_cast<int64_t>(
                        std::min<size_t>(limit, std::numeric_limits<int64_t>::max() - 1)) +
                        1);
    FailedPage page;
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (page.files.size() == limit) {
        const FailedFile& last = page.files.back();
        page.next_cursor = EncodeCursor(last.destination, last.file_id);
        break;
      }
      FailedFile f;
      f.file_id = st.Int(0);
      f.source = st.Bytes(1);
      f.rel_path = st.Bytes(2);
      f.destination = st.Bytes(3);
      f.size = I2U(st.Int(4));
      f.error_kind = st.Bytes(5);
      f.error = st.Bytes(6);
      f.attempts = static_cast<int>(st.Int(7));
      f.last_attempt_us = st.Int(8);
      page.files.push_back(std::move(f));
    }
    return page;
  }

  Result<uint64_t> Retry(const std::string& destination,
                         const std::vector<std::string>& paths) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    // INDEXED BY: walk only the (few) failed rows, not the whole status index.
    constexpr std::string_view kRetry =
        "UPDATE file_dest INDEXED BY file_dest_failed "
        "SET status = 'pending', attempts = 0, error_kind = '', "
        "error_message = '', updated_us = ?2 "
        "WHERE status = 'failed' AND (?1 = '' OR destination = ?1)";
    if (paths.empty()) {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare(kRetry));
      st.BindText(1, destination).BindInt(2, now);
      CK_RETURN_IF_ERROR(st.Run());
      return I2U(db().Changes());
    }
    const std::string by_path = std::string(kRetry) +
                                " AND EXISTS (SELECT 1 FROM files f WHERE f.id = "
                                "file_dest.file_id AND f.rel_path = ?3)";
    return RetryEachLocked(destination, now, by_path, paths,
                           [](Stmt& st, const std::string& path) { st.BindBlob(3, path); });
  }

  Status AppendHistory(const std::vector<HistorySample>& samples,
                       int64_t prune_before_us) override {
    for (const auto& s : samples) {
      if (s.kind != "pass" && s.kind != "reconcile")
        return InvalidArgument("history sample kind must be pass or reconcile, not '" +
                               PrintableName(s.kind) + "'");
      if (s.source != "bucket" && s.source != "database")
        return InvalidArgument("history sample source must be bucket or database, not '" +
                               PrintableName(s.source) + "'");
    }
    std::lock_guard<std::mutex> lock(core_->mu);
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    for (const auto& s : samples) {
      CK_ASSIGN_OR_RETURN(
          Stmt st,
          db().Prepare("INSERT INTO history (at_us, kind, destination, files, bytes, source, "
                       "uploaded_files, uploaded_bytes, failed_files, pending_files, duration_ms, "
                       "run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
      st.BindInt(1, s.at_us)
          .BindText(2, s.kind)
          .BindText(3, s.destination)
          .BindInt(4, U2I(s.files))
          .BindInt(5, U2I(s.bytes))
          .BindText(6, s.source)
          .BindInt(7, U2I(s.uploaded_files))
          .BindInt(8, U2I(s.uploaded_bytes))
          .BindInt(9, U2I(s.failed_files))
          .BindInt(10, U2I(s.pending_files))
          .BindInt(11, s.duration_ms)
          .BindInt(12, U2I(s.run_id));
      CK_RETURN_IF_ERROR(st.Run());
    }
    if (prune_before_us > 0) {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("DELETE FROM history WHERE at_us < ?1"));
      st.BindInt(1, prune_before_us);
      CK_RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  Result<std::vector<HistorySample>> ListHistory(const HistoryQuery& q) override {
    if (q.limit < 1 || q.limit > 100000)
      return InvalidArgument("history limit must be 1..100000, not " + std::to_string(q.limit));
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(
        Stmt st,
        db().Prepare("SELECT id, at_us, kind, destination, files, bytes, source, uploaded_files, "
                     "uploaded_bytes, failed_files, pending_files, duration_ms, run_id "
                     "FROM history WHERE at_us >= ?1 AND (?2 = '' OR destination = ?2) "
                     "ORDER BY at_us DESC, id DESC LIMIT ?3"));
    st.BindInt(1, q.since_us).BindText(2, q.destination).BindInt(3, static_cast<int64_t>(q.limit));
    std::vector<HistorySample> out;
    while (true) {
      CK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      HistorySample s;
      s.id = st.Int(0);
      s.at_us = st.Int(1);
      s.kind = st.Bytes(2);
      s.destination = st.Bytes(3);
      s.files = I2U(st.Int(4));
      s.bytes = I2U(st.Int(5));
      s.source = st.Bytes(6);
      s.uploaded_files = I2U(st.Int(7));
      s.uploaded_bytes = I2U(st.Int(8));
      s.failed_files = I2U(st.Int(9));
      s.pending_files = I2U(st.Int(10));
      s.duration_ms = st.Int(11);
      s.run_id = I2U(st.Int(12));
      out.push_back(std::move(s));
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  Result<uint64_t> RetryFiles(const std::string& destination,
                              const std::vector<int64_t>& file_ids) override {
    const int64_t now = core_->env->NowMicros();
    std::lock_guard<std::mutex> lock(core_->mu);
    // By primary key (file_id, destination), not through the failed-rows index.
    constexpr std::string_view kById =
        "UPDATE file_dest SET status = 'pending', attempts = 0, error_kind = '', "
        "error_message = '', updated_us = ?2 "
        "WHERE file_id = ?3 AND status = 'failed' AND (?1 = '' OR destination = ?1)";
    return RetryEachLocked(destination, now, kById, file_ids,
                           [](Stmt& st, int64_t id) { st.BindInt(3, id); });
  }

  Result<SyncStatus> GetStatus(const std::string& source, const std::string& rel_path,
                               const std::string& destination) override {
    std::lock_guard<std::mutex> lock(core_->mu);
    CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare("SELECT d.status FROM files f JOIN file_dest d "
                                              "ON d.file_id = f.id AND d.destination = ?3 "
                                              "WHERE f.source = ?1 AND f.rel_path = ?2"));
    st.BindText(1, source).BindBlob(2, rel_path).BindText(3, destination);
    CK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      return NotFound("no state for " + PrintableName(rel_path) + " in " + source + " at " +
                      destination);
    }
    return StatusFromName(st.View(0));
  }

 private:
  SqliteDb& db() { return *core_->db; }

  // Runs a retry UPDATE (?1 destination, ?2 now, ?3 bound by `bind` from one
  // item) once per item in one transaction; the number of rows it changed.
  // core_->mu must be held.
  template <typename T, typename Bind>
  Result<uint64_t> RetryEachLocked(const std::string& destination, int64_t now,
                                   std::string_view sql, const std::vector<T>& items, Bind bind) {
    Transaction txn(&db());
    CK_RETURN_IF_ERROR(txn.Begin());
    uint64_t total = 0;
    for (const T& item : items) {
      CK_ASSIGN_OR_RETURN(Stmt st, db().Prepare(sql));
      st.BindText(1, destination).BindInt(2, now);
      bind(st, item);
      CK_RETURN_IF_ERROR(st.Run());
      total += I2U(db().Changes());
    }
    CK_RETURN_IF_ERROR(txn.Commit());
    return total;
  }

  static MultipartState ReadMultipart(const Stmt& st, int first) {
    MultipartState m;
    m.upload_id = st.Bytes(first);
    m.key = st.Bytes(first + 1);
    m.part_size = I2U(st.Int(first + 2));
    m.size = I2U(st.Int(first + 3));
    m.mtime_ns = st.Int(first + 4);
    m.created_us = st.Int(first + 5);
    return m;
  }

  Result<bool> RowExists(int64_t file_id, const std::string& destination) {
    CK_ASSIGN_OR_RETURN(
        Stmt st, db().Prepare("SELECT 1 FROM file_dest WHERE file_id = ?1 AND destination = ?2"));
    st.BindInt(1, file_id).BindText(2, destination);
    return st.Step();
  }

  static Status RowNotFound(int64_t file_id, const std::string& destination) {
    return NotFound("no state row for file " + std::to_string(file_id) + " and destination " +
                    destination);
  }
  static Status FileNotFound(int64_t file_id) {
    return NotFound("no file with id " + std::to_string(file_id));
  }

  std::shared_ptr<Core> core_;
};

// Creates the file (mode 0600: it lists file names) so SQLite does not create
// it with the umask default; SQLite gives -wal and -shm the same mode.
Status PrepareFile(const std::string& path) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
      return IoError("cannot create directory " + p.parent_path().string() +
                     " for the state database: " + ec.message());
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return IoError("cannot create state database " + path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<StateStore>> OpenSqliteStore(const SqliteOptions& options, Env* env) {
  if (options.path.empty()) return Status(ErrorKind::kConfig, "state database path is empty");
  if (options.busy_timeout_ms < 0) {
    return Status(ErrorKind::kConfig, "state database busy timeout must not be negative");
  }
  if (options.cache_kib < 256) {
    return Status(ErrorKind::kConfig, "state database cache must be at least 256 KiB");
  }
  CK_RETURN_IF_ERROR(PrepareFile(options.path));
  auto core = std::make_shared<Core>();
  core->env = env != nullptr ? env : Env::Default();
  CK_ASSIGN_OR_RETURN(core->db, SqliteDb::Open(options.path, options.busy_timeout_ms));
  SqliteDb& db = *core->db;
  CK_RETURN_IF_ERROR(MigrateSchema(db, SchemaMigrations()));
  CK_RETURN_IF_ERROR(
      db.Exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -" +
              std::to_string(options.cache_kib) +
              "; PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;"));
  CK_ASSIGN_OR_RETURN(int64_t fk, db.QueryInt("PRAGMA foreign_keys"));
  if (fk != 1) return Internal("this SQLite build cannot enforce foreign keys");
  return std::unique_ptr<StateStore>(new SqliteStore(std::move(core)));
}

}  // namespace ck
