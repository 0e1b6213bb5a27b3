// SyncEngine: scan every source into the state store, then bring every
// destination up to date, one bounded worker pool per destination.
//
// Invariants:
//  * a file becomes `synced` for a destination only after that server confirmed
//    the bytes: Content-MD5 (or SHA-1) verified by the server, the returned ETag
//    compared with our MD5 (single part) or with md5-of-part-md5s-N (multipart);
//  * the file is re-checked (size, mtime, inode) after it was read; a file that
//    changed is re-queued, never recorded with stale metadata;
//  * state is written as work progresses, so a crash at any instant loses at
//    most the in-flight uploads, which resume (multipart) or restart.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "dest/decorators.h"
#include "dest/destination.h"
#include "dest/factory.h"
#include "state/state_store.h"
#include "util/env.h"

namespace ck {

// One destination as the engine drives it.
struct EngineDestination {
  std::string name;
  std::string prefix;           // key prefix of the destination ("" or ending in '/')
  Destination* dest = nullptr;  // not owned; the fully decorated destination
  std::shared_ptr<DestinationMetrics> metrics;  // may be null
  int transfers = 4;                            // concurrent file uploads (and parts in flight)
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  // If non-OK, the destination cannot be used (e.g. missing credentials): its
  // files stay pending and the report carries this status.
  Status unavailable;
};

// A confirmed upload, as observers (the bucket inspector) see it.
struct UploadEvent {
  std::string destination;
  std::string key;
  uint64_t size = 0;
  // The object an earlier sync of this file left, if any ("" = none). When it
  // equals `key` the upload replaced it (object count unchanged).
  std::string replaced_key;
  uint64_t replaced_size = 0;
};

// The engine's view of the enabled handles (pointers into `handles`, which
// must outlive the result).
std::vector<EngineDestination> EngineDestinationsFor(const std::vector<DestinationHandle>& handles);

struct EngineOptions {
  int max_attempts = 5;        // failed files are re-tried by a run until they failed this often
  int max_change_retries = 2;  // re-reads of a file that changed while being uploaded
  std::atomic<bool>* cancel = nullptr;  // set to stop taking new work (in-flight work finishes)
  // Called from worker threads after each upload the server confirmed and the
  // state store recorded. Must be thread-safe and quick.
  std::function<void(const UploadEvent&)> on_uploaded;
};

// Live counters, readable from another thread while a sync runs.
struct SyncProgress {
  std::atomic<uint64_t> files_total{0}, bytes_total{0};
  std::atomic<uint64_t> files_done{0}, bytes_done{0};  // done = synced or failed (bytes: sent)
  std::atomic<uint64_t> files_failed{0};
  std::atomic<bool> scanning{false};
  std::atomic<uint64_t> scanned_entries{0};
};

struct DestinationReport {
  std::string name;
  uint64_t uploaded_files = 0, uploaded_bytes = 0;
  uint64_t failed_files = 0;
  uint64_t changed_during_upload = 0;  // left pending: kept changing while read
  uint64_t vanished = 0;
  uint64_t resumed_uploads = 0;  // multipart uploads continued from earlier parts
  uint64_t aborted_stale_uploads = 0;
  Status fatal;  // destination-level failure (auth, bucket missing, unreachable)
  double seconds = 0;
  // From the state store after the run:
  uint64_t synced_files = 0, synced_bytes = 0, pending_files = 0, failed_total = 0;
};

struct SyncReport {
  std::vector<std::pair<std::string, ScanStats>> scans;  // per source path
  std::vector<DestinationReport> destinations;
  double scan_seconds = 0;
  // True when every destination has every file synced (nothing pending or failed).
  bool all_synced() const;
};

// History rows (kind "pass", source "database") for a finished run: one per
// destination, with the database's figures after the run.
std::vector<HistorySample> PassHistory(const SyncReport& report, int64_t at_us, uint64_t run_id);

class SyncEngine {
 public:
  // store, env and the destinations' Destination objects must outlive the engine.
  SyncEngine(StateStore* store, Env* env, std::vector<SourceConfig> sources,
             std::vector<EngineDestination> destinations, EngineOptions options);
  ~SyncEngine();

  // Scans all sources into the store. Sources that cannot be read are an error.
  Result<std::vector<std::pair<std::string, ScanStats>>> Scan(SyncProgress* progress);

  // Scan, then upload everything pending to every destination (destinations in
  // parallel). Per-file failures are recorded, not returned; an error Result
  // means the run itself could not proceed (state store failure, source missing).
  Result<SyncReport> Run(SyncProgress* progress);

  // Upload only (no scan).
  Result<SyncReport> Upload(SyncProgress* progress);

  // The object key for a file: destination prefix + source prefix + relative path.
  static std::string ObjectKey(const std::string& dest_prefix, const std::string& source_prefix,
                               const std::string& rel_path);

 private:
  class DestinationRun;
  StateStore* store_;
  Env* env_;
  std::vector<SourceConfig> sources_;
  std::vector<EngineDestination> dests_;
  EngineOptions opts_;
};

}  // namespace ck
