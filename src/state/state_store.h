// StateStore: what cloudkeep knows about every file and every destination.
// SQLite implements it now; a PostgreSQL implementation comes later, so nothing
// outside src/state knows about SQL.
//
// Per (file, destination) the status is one of:
//   pending   - must be uploaded (new, changed, or re-queued)
//   uploading - a multipart upload started and has not finished (reset to
//               pending on start-up); single-request uploads keep their row
//               pending (or failed) until they are confirmed
//   synced    - the destination confirmed the bytes (checksum) of the recorded version
//   failed    - the last attempt failed; error kind and message say why
// All methods are thread-safe (calls are serialised internally).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/env.h"
#include "util/result.h"

namespace ck {

enum class SyncStatus { kPending, kUploading, kSynced, kFailed };
std::string_view SyncStatusName(SyncStatus s);

// What the scanner saw for one directory entry (relative path, '/'-separated).
struct ScanEntry {
  std::string rel_path;  // raw bytes of the name; not necessarily UTF-8
  EntryType type = EntryType::kFile;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  std::string skip_reason;  // non-empty for entries that are recorded but not uploaded
};

struct ScanStats {
  uint64_t files = 0;      // regular files seen
  uint64_t bytes = 0;      // their total size
  uint64_t new_files = 0;  // not known before
  uint64_t changed = 0;    // size, mtime or inode differ from the record
  uint64_t unchanged = 0;
  uint64_t removed = 0;  // known before, not seen now
  uint64_t skipped = 0;  // symlinks, FIFOs, sockets, devices, unreadable dirs
};

// One scan of one source. Add every entry, then Commit. Entries not added are
// considered gone from the source. Dropping a batch without Commit leaves the
// store unchanged for entries not yet flushed; flushed changes are harmless
// (they only mark files pending). Not thread-safe: one thread per batch.
class ScanBatch {
 public:
  virtual ~ScanBatch() = default;
  virtual Status Add(const ScanEntry& entry) = 0;
  virtual Result<ScanStats> Commit() = 0;
};

// A file that needs work for one destination.
struct WorkItem {
  int64_t file_id = 0;
  std::string source;    // source root path
  std::string rel_path;  // relative path within the source
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  SyncStatus status = SyncStatus::kPending;
  int attempts = 0;
  // What an earlier confirmed upload left on the destination: its key ("" if
  // the file was never synced there) and size. Lets observers keep bucket
  // figures current when an object is replaced.
  std::string prev_remote_key;
  uint64_t prev_synced_size = 0;
};

// Recorded when a destination confirmed the bytes of a file version.
struct SyncedInfo {
  std::string key;        // object key
  std::string etag;       // as returned by the server, unquoted
  std::string remote_id;  // version / file ID, if any
  uint64_t size = 0;      // the version that was uploaded
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  std::string md5_hex;
  std::string sha256_hex;
  std::string sha1_hex;  // may be empty
};

struct SyncedRecord {
  int64_t file_id = 0;
  SyncedInfo info;
};

struct MultipartState {
  std::string upload_id;
  std::string key;
  uint64_t part_size = 0;
  uint64_t size = 0;  // file size when the upload started
  int64_t mtime_ns = 0;
  int64_t created_us = 0;
};

struct PartRecord {
  int number = 0;  // 1-based
  uint64_t size = 0;
  std::string etag;      // as the server returned it (S3), unquoted
  std::string checksum;  // hex digest of the part (MD5 for S3, SHA-1 for B2)
};

struct DestinationCounts {
  std::string destination;
  uint64_t synced_files = 0, synced_bytes = 0;
  uint64_t pending_files = 0, pending_bytes = 0;  // pending + uploading
  uint64_t failed_files = 0, failed_bytes = 0;
  int64_t last_synced_us = 0;  // newest synced_at, 0 if none
};

struct FailedFile {
  int64_t file_id = 0;
  std::string source;
  std::string rel_path;
  std::string destination;
  uint64_t size = 0;
  std::string error_kind;
  std::string error;
  int attempts = 0;
  int64_t last_attempt_us = 0;
};

struct FailedPage {
  std::vector<FailedFile> files;
  std::string next_cursor;  // "" when there is no further page
};

struct StoreTotals {
  uint64_t files = 0, bytes = 0;  // present regular files
  uint64_t skipped = 0;           // present entries that are not uploaded
};

// One point of the dashboard's history for one destination.
struct HistorySample {
  int64_t id = 0;  // assigned by the store
  int64_t at_us = 0;
  std::string kind;  // "pass" (after a sync pass) or "reconcile" (after a bucket listing)
  std::string destination;
  uint64_t files = 0, bytes = 0;                    // synced figures at that time
  std::string source;                               // where they come from: "bucket" or "database"
  uint64_t uploaded_files = 0, uploaded_bytes = 0;  // during the pass ("pass" only)
  uint64_t failed_files = 0, pending_files = 0;     // database, at that time
  int64_t duration_ms = 0;                          // of the pass / listing
  uint64_t run_id = 0;                              // sync pass number ("pass" only)
};

struct HistoryQuery {
  int64_t since_us = 0;     // samples with at_us >= since_us
  std::string destination;  // "" = every destination
  size_t limit = 5000;      // the newest `limit` matching samples (1..100000)
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Starts a scan of the source rooted at `source` (absolute path).
  virtual Result<std::unique_ptr<ScanBatch>> BeginScan(const std::string& source) = 0;

  // Gives every present regular file a `pending` row for `destination` if it has
  // none (new destinations, files added by a scan). Returns how many were added.
  virtual Result<uint64_t> EnsureDestination(const std::string& destination) = 0;

  // Crash recovery: every `uploading` row becomes `pending`. Returns the count.
  virtual Result<uint64_t> ResetInterrupted() = 0;

  // Work for `destination` with file_id > after_id, ordered by file_id, at most
  // `limit` items: pending rows, and failed rows with attempts < max_attempts
  // whose error kind is retryable by a new run (not invalid_name).
  // Only present regular files.
  virtual Result<std::vector<WorkItem>> ListWork(const std::string& destination, int max_attempts,
                                                 int64_t after_id, size_t limit) = 0;

  // The row is in the middle of a multipart upload (see `uploading`).
  virtual Status MarkUploading(int64_t file_id, const std::string& destination) = 0;
  // Records a confirmed upload. If the file's recorded size/mtime/inode differ from
  // info (it changed since), the row stays pending instead.
  virtual Status MarkSynced(int64_t file_id, const std::string& destination,
                            const SyncedInfo& info) = 0;
  // MarkSynced for many files of one destination in one transaction (group
  // commit: a write transaction costs far more than a row). Rows whose file
  // or destination row no longer exists are skipped; returns how many were.
  // Any other error rolls the whole group back.
  virtual Result<size_t> MarkSyncedMany(const std::string& destination,
                                        const std::vector<SyncedRecord>& records) = 0;
  // Increments attempts and records the error (kind name + message).
  virtual Status MarkFailed(int64_t file_id, const std::string& destination, ErrorKind kind,
                            const std::string& message) = 0;
  // The file changed while being uploaded: records its new stat and leaves the
  // destination row pending (attempts unchanged).
  virtual Status MarkChanged(int64_t file_id, uint64_t size, int64_t mtime_ns, uint64_t inode) = 0;
  // The file disappeared: it is no longer present; its non-synced rows are dropped.
  virtual Status MarkVanished(int64_t file_id) = 0;

  // Multipart / large-file upload state, so an interrupted upload can resume.
  // GetMultipart returns nullopt when none is recorded.
  virtual Result<std::optional<MultipartState>> GetMultipart(int64_t file_id,
                                                             const std::string& destination) = 0;
  virtual Status SaveMultipart(int64_t file_id, const std::string& destination,
                               const MultipartState& state) = 0;
  virtual Status SavePart(int64_t file_id, const std::string& destination,
                          const PartRecord& part) = 0;
  virtual Result<std::vector<PartRecord>> GetParts(int64_t file_id,
                                                   const std::string& destination) = 0;
  // Removes the multipart state and its parts (after completion or abort).
  virtual Status DeleteMultipart(int64_t file_id, const std::string& destination) = 0;
  // All recorded multipart uploads for a destination (to abort stale ones).
  virtual Result<std::vector<std::pair<int64_t, MultipartState>>> ListMultipart(
      const std::string& destination) = 0;

  // Reporting.
  virtual Result<std::vector<DestinationCounts>> Counts() = 0;
  virtual Result<StoreTotals> Totals() = 0;
  // Failed rows, optionally for one destination, ordered by (destination, file id).
  // cursor: "" for the first page, else a previous next_cursor. kInvalidArgument
  // for a malformed cursor.
  virtual Result<FailedPage> ListFailed(const std::string& destination, size_t limit,
                                        const std::string& cursor) = 0;
  // failed -> pending with attempts reset, for one destination ("" = all) and,
  // if `paths` is non-empty, only those relative paths. Returns the count.
  virtual Result<uint64_t> Retry(const std::string& destination,
                                 const std::vector<std::string>& paths) = 0;
  // The same for the failed rows of these files (FailedFile::file_id): an
  // exact choice even when a name is not valid UTF-8 or two sources hold the
  // same relative path. Unknown ids are ignored. Returns the count.
  virtual Result<uint64_t> RetryFiles(const std::string& destination,
                                      const std::vector<int64_t>& file_ids) = 0;

  // Up to `n` object keys (remote_key) of `destination`'s synced rows, spread
  // evenly over them, in ascending byte order, without duplicates. The bucket
  // inspector uses them as split points to list one bucket as several key
  // ranges in parallel; they are guesses, so any answer is safe. Empty when
  // nothing is synced or n is 0.
  virtual Result<std::vector<std::string>> SampleSyncedKeys(const std::string& destination,
                                                            size_t n) = 0;

  // History for the dashboard. AppendHistory stores the samples in one
  // transaction (kind and source must be valid, else kInvalidArgument) and
  // deletes samples older than prune_before_us (0 = keep all).
  virtual Status AppendHistory(const std::vector<HistorySample>& samples,
                               int64_t prune_before_us) = 0;
  // Matching samples, oldest first (ties by id). kInvalidArgument for a limit
  // outside 1..100000.
  virtual Result<std::vector<HistorySample>> ListHistory(const HistoryQuery& query) = 0;

  // Recorded status of one file for one destination (tests, diagnostics).
  // kNotFound when the file or row is unknown.
  virtual Result<SyncStatus> GetStatus(const std::string& source, const std::string& rel_path,
                                       const std::string& destination) = 0;
};

struct SqliteOptions {
  std::string path;  // database file; created with its directory if missing
  // Milliseconds to wait for a lock held by another process. Default 10 s.
  int busy_timeout_ms = 10000;
  // SQLite page cache per connection, in KiB. Default 8 MiB: scans and work
  // lists read the tables in index order, so a larger cache buys little and
  // costs resident memory at millions of files. At least 256.
  int cache_kib = 8192;
};

// Opens (creating or migrating) a SQLite state store. kConfig/kIo on failure;
// kInvalidArgument when the file is not a cloudkeep database or is newer than
// this build understands.
Result<std::unique_ptr<StateStore>> OpenSqliteStore(const SqliteOptions& options, Env* env);

}  // namespace ck
