// ServeRunner: `cloudkeep serve` - the long-running mode. It owns the bucket
// inspector, the API server and a background sync loop:
//  * a sync pass (SyncEngine::Run: scan, then upload) runs every
//    rescan_interval (default 15 min) and whenever one is triggered (API
//    POST /api/sync/run, or a retry that queued files);
//  * never two passes at once; triggers during a pass queue exactly one more;
//  * every confirmed upload goes to BucketInspector::OnUploaded, so bucket
//    figures stay current without listings;
//  * each pass leaves a sample (time, per destination uploaded / synced files
//    and bytes, seconds) in a bounded in-memory ring (/api/history "passes"),
//    and one history row per destination in the state DB; so does every
//    successful bucket listing (kind "reconcile"). The dashboard charts those.
// Stop() (the CLI calls it on SIGTERM/SIGINT) sets the engine's cancel flag
// (uploads in flight finish; multipart state is already checkpointed), stops
// the HTTP server and joins the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "dest/factory.h"
#include "engine/sync_engine.h"
#include "inspect/bucket_inspector.h"
#include "server/api_server.h"
#include "state/state_store.h"
#include "util/env.h"

namespace ck {

struct ServeOptions {
  // Time between the end of one scheduled pass and the start of the next.
  std::chrono::milliseconds rescan_interval = std::chrono::minutes(15);
  bool sync_on_start = true;  // the first pass starts right away
  // Pass samples kept in memory for /api/history's "passes" (3 days of
  // 15-minute passes).
  size_t history_capacity = 288;
  // History samples (state DB: one per destination per pass and per bucket
  // listing) older than this are deleted.
  std::chrono::hours history_retention = std::chrono::hours(24 * 90);
  InspectorOptions inspector;
  ApiServerOptions api;
};

// What one sync pass did, for the dashboard's history.
struct PassSample {
  uint64_t run_id = 0;
  std::string trigger;  // "start", "schedule", "api", "retry"
  int64_t started_us = 0, finished_us = 0;
  double seconds = 0;
  bool ok = false;    // the pass ran and no destination had a fatal error
  std::string error;  // why not, "" when ok
  uint64_t scanned_files = 0, scanned_bytes = 0;
  struct Destination {
    std::string name;
    uint64_t uploaded_files = 0, uploaded_bytes = 0, failed_files = 0;
    uint64_t synced_files = 0, synced_bytes = 0;  // state database, after the pass
    uint64_t pending_files = 0, failed_total = 0;
    double seconds = 0;
    std::string error;  // fatal destination error, "" if none
  };
  std::vector<Destination> destinations;
};
nlohmann::json PassSampleJson(const PassSample& s);

class ServeRunner {
 public:
  // dests: every configured destination (disabled and unavailable ones too);
  // the handles, store and env must outlive the runner. Fails when the API
  // options are invalid (ApiServer::Make).
  static Result<std::unique_ptr<ServeRunner>> Make(Config config, StateStore* store,
                                                   std::vector<DestinationHandle>& dests, Env* env,
                                                   ServeOptions options);
  ~ServeRunner();  // Stop()
  ServeRunner(const ServeRunner&) = delete;
  ServeRunner& operator=(const ServeRunner&) = delete;

  // Starts the API server (binding its address) and the sync loop.
  Status Start();
  // Cancels the pass in progress (uploads in flight finish), stops the API
  // server and joins. Idempotent and thread-safe; not async-signal-safe (call
  // it from a normal thread, e.g. after sigwait).
  void Stop();
  // Blocks until Stop() has finished.
  void Wait();

  // Queues a pass: {"queued": true, "run_id": N, "running": bool,
  // "already_queued": bool}. While a pass runs, further triggers coalesce into
  // one queued pass (same run_id). {"queued": false, ...} after Stop.
  nlohmann::json TriggerSync(const std::string& reason);
  // {"capacity", "samples": [PassSampleJson...]} oldest first.
  nlohmann::json History() const;
  // {"running", "run_id", "queued", "passes", "last_success_at", "next_pass_in_seconds",
  //  "progress": {...}} - added to /api/status as "sync".
  nlohmann::json SyncState() const;
  // Passes finished so far.
  uint64_t passes_completed() const;
  // Waits (real time) until at least n passes finished; false on timeout.
  bool WaitForPasses(uint64_t n, std::chrono::milliseconds timeout) const;

  BucketInspector& inspector() { return *inspector_; }
  ApiServer& api() { return *api_; }
  int port() const { return api_->port(); }

 private:
  ServeRunner(Config config, StateStore* store, std::vector<DestinationHandle>& dests, Env* env,
              ServeOptions options);
  void Loop();
  PassSample RunPass(uint64_t run_id, const std::string& trigger);
  // History rows in the state DB for a finished pass / a successful listing.
  void RecordPass(const SyncReport& report, int64_t at_us, uint64_t run_id);
  void RecordListing(const std::string& destination, uint64_t files, uint64_t bytes, double ms);
  int64_t PruneBefore() const;
  void WriteMetrics(PromWriter* w) const;

  Config config_;
  StateStore* store_;
  std::vector<DestinationHandle>& dests_;
  Env* env_;
  ServeOptions opts_;
  std::unique_ptr<BucketInspector> inspector_;
  std::unique_ptr<ApiServer> api_;

  std::atomic<bool> cancel_{false};
  std::mutex stop_mu_;  // serialises Stop()
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // triggers, stop, pass finished
  bool started_ = false, stopping_ = false, stopped_ = false;
  bool running_ = false;
  bool queued_ = false;
  std::string queued_reason_;
  uint64_t run_counter_ = 0;  // last run id handed out
  uint64_t current_run_ = 0, queued_run_ = 0;
  uint64_t passes_ = 0, passes_ok_ = 0, passes_failed_ = 0;
  int64_t last_success_us_ = 0;
  double last_pass_seconds_ = 0;
  std::chrono::steady_clock::time_point next_due_;
  std::shared_ptr<SyncProgress> progress_;  // of the pass in progress
  std::deque<PassSample> history_;
  std::map<std::string, uint64_t> uploaded_files_, uploaded_bytes_;  // per destination, all passes
  std::thread loop_;
};

}  // namespace ck
