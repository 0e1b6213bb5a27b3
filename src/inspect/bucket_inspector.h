// BucketInspector: what the buckets themselves hold (object count and bytes
// under each destination's prefix) and whether each bucket can be reached,
// combined with the state database into the status document that
// `cloudkeep status --json` prints and `GET /api/status` serves.
//
// Listing a bucket costs money (S3 bills LIST requests, B2 bills them as
// Class C transactions), so figures are cached and kept current without new
// listings:
//  * one listing per destination at a time: concurrent callers share it
//    (single flight);
//  * every upload cloudkeep confirms (OnUploaded) and every delete (OnDeleted)
//    adjusts the cached figures at once;
//  * a full re-listing happens only when the figures are older than
//    reconcile_interval (default 15 min), after a failure once
//    failure_retry_interval has passed, or on demand (Refresh);
//  * the connection is checked with a cheap probe (Destination::Probe: S3
//    HeadBucket, B2 b2_get_upload_url with the cached token) whenever a status
//    request finds the last contact older than health_check_interval, so an
//    outage shows on the first request after it; probes are single-flight too,
//    and a successful listing or a confirmed upload counts as contact. When a
//    probe succeeds after a failure, the bucket is listed again at once.
// A failed listing never wipes good figures: they are kept (stale) next to the
// new diagnosis. Changes confirmed while a listing runs are reconciled exactly:
// listings are in ascending key order, so for each change the inspector knows
// whether the listing saw it.
//
// A large bucket is listed as several key ranges in parallel (list_parallelism):
// the split points are keys the state database says were uploaded there
// (StateStore::SampleSyncedKeys), range 0 is every key <= s1, range i the keys
// in (s_i, s_i+1], the last range the keys > s_last. Each range is listed by its
// own thread (start_after = s_i, then continuation tokens) and stops at the
// first page that is the last one or reaches past its upper bound, so it costs
// at most one request more than its share of a sequential listing. Split points
// are only a guess about where keys are: bad ones (missing keys, wrong order)
// cost requests, never exactness. Reconciliation works per range: a change to
// key k was seen iff the range holding k has listed past k (or finished).
//
// Time comes from the Env (NowMicros for timestamps, SteadyNow for ages), so
// tests control the clock. Waiting for a listing (max_wait) is real time.
// All methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dest/decorators.h"
#include "dest/destination.h"
#include "dest/factory.h"
#include "engine/sync_engine.h"
#include "state/state_store.h"
#include "util/env.h"
#include "util/result.h"

namespace ck {

// Connection diagnosis of one destination.
enum class ConnectionState {
  kChecking,            // the first check has not finished yet
  kConnected,           // the last listing succeeded
  kDisabled,            // not enabled in the configuration
  kMissingCredentials,  // no credentials could be resolved; nothing was sent
  kNetworkError,        // DNS, connection refused, timeout (ErrorKind::kTransient)
  kAuthFailed,          // the server rejected the credentials (ErrorKind::kAuth)
  kBucketNotFound,      // the bucket does not exist (ErrorKind::kNotFound)
  kError,               // anything else
};
// "checking", "connected", "disabled", "missing_credentials", "network_error",
// "auth_failed", "bucket_not_found", "error".
std::string_view ConnectionStateName(ConnectionState s);
// The state a failed listing with this error kind means.
ConnectionState ConnectionStateForError(ErrorKind kind);

struct ConnectionDiagnosis {
  ConnectionState state = ConnectionState::kChecking;
  std::string message;        // human-readable, names the destination and the cause
  int64_t checked_at_us = 0;  // wall clock of the check, 0 = never
  double latency_ms = 0;      // how long the check (the listing) took
};

// Bucket figures under the destination's prefix.
struct BucketFigures {
  bool known = false;  // a listing has succeeded at least once
  uint64_t files = 0, bytes = 0;
  int64_t as_of_us = 0;      // last time the figures were known right (listing or confirmed change)
  int64_t listed_at_us = 0;  // when the listing they stem from finished
  // The latest listing attempt failed, or the figures are older than the
  // reconcile interval and the re-listing has not finished yet.
  bool stale = false;
};

// Everything the inspector knows about one destination, copied out.
struct DestinationSnapshot {
  std::string name, type, bucket, prefix;
  bool enabled = true;
  ConnectionDiagnosis connection;
  BucketFigures figures;
  bool refreshing = false;            // a listing is in flight
  uint64_t inspector_list_calls = 0;  // list requests (pages) the inspector sent
  uint64_t listings = 0;              // listings the inspector started
  uint64_t probes = 0;                // health probes sent
  // Every list request sent to the destination by anyone in this process
  // (engine included), from its DestinationMetrics; nullopt without metrics.
  std::optional<uint64_t> destination_list_calls;
  std::shared_ptr<DestinationMetrics> metrics;  // may be null
};

struct InspectorOptions {
  // Full re-listing when the figures are older than this.
  std::chrono::milliseconds reconcile_interval = std::chrono::minutes(15);
  // After a failed listing, the next attempt is made this much later.
  std::chrono::milliseconds failure_retry_interval = std::chrono::minutes(1);
  // A status request probes the connection when the last contact with the
  // destination (probe, listing, confirmed upload) is older than this. Zero
  // probes on every request (still one probe at a time per destination).
  std::chrono::milliseconds health_check_interval = std::chrono::seconds(1);
  // Refresh() does not list again when a listing finished less than this ago.
  std::chrono::milliseconds min_refresh_interval = std::chrono::seconds(10);
  // How long a status request waits for a listing it needs before answering
  // with what is cached (state "checking" or stale figures). The CLI's one-shot
  // `status` should pass a long value; the API server keeps it short.
  std::chrono::milliseconds max_wait = std::chrono::seconds(3);
  // Page size per destination type; a backend may cap it (B2: 10,000).
  int s3_max_keys = 1000;
  int b2_max_keys = 10000;
  // Key ranges one listing of a bucket is split into, listed in parallel (one
  // thread and one connection each), 1..kMaxListParallelism; 1 lists
  // sequentially. Fewer ranges are used when the state database holds few
  // synced keys for the destination: ranges = min(list_parallelism,
  // synced keys / page size), so a bucket of less than two pages (by the
  // database) is listed sequentially and every range averages a full page.
  // Each range may cost one request more than a sequential listing (the page
  // that reaches past its end), so a listing sends at most list_parallelism
  // requests more. Out-of-range values are clamped (with a warning).
  int list_parallelism = 4;
  static constexpr int kMaxListParallelism = 32;
  // Called (on the listing's thread, no lock held) after every successful
  // listing with the figures it found and how long it took (history samples).
  std::function<void(const std::string& destination, uint64_t files, uint64_t bytes,
                     double milliseconds)>
      on_listed;
  // Destination name -> bucket name, shown in documents only (optional).
  std::map<std::string, std::string> buckets;
};

// kInvalidArgument naming the field when an option is out of range
// (list_parallelism outside 1..kMaxListParallelism, a page size below 1).
Status ValidateInspectorOptions(const InspectorOptions& options);

class BucketInspector {
 public:
  // dests: every configured destination, disabled and unavailable ones included
  // (they are diagnosed, not listed). The handles' Destination objects and the
  // store must outlive the inspector; the vector itself is only read here.
  // Options out of range (see ValidateInspectorOptions) are clamped.
  BucketInspector(const std::vector<DestinationHandle>& dests, StateStore* store, Env* env,
                  InspectorOptions options);
  // Stops listings in flight (between two pages) and joins them.
  ~BucketInspector();
  BucketInspector(const BucketInspector&) = delete;
  BucketInspector& operator=(const BucketInspector&) = delete;

  // Destination names, in configuration order.
  std::vector<std::string> names() const;
  bool Has(const std::string& name) const;

  // Snapshots of every destination. With ensure_fresh, listings are first
  // started (in parallel) for destinations whose figures expired or that were
  // never checked, and waited for up to max_wait; without it, no request is
  // ever sent (metrics scrapes).
  std::vector<DestinationSnapshot> Snapshots(bool ensure_fresh);
  // One destination; kNotFound for an unknown name.
  Result<DestinationSnapshot> Snapshot(const std::string& name, bool ensure_fresh);

  // Lists the destination now (joining a listing in flight) and waits for it
  // without a time limit. No new listing when one finished less than
  // min_refresh_interval ago. Returns the outcome: OK, the listing's error, the
  // reason the destination cannot be used, or kNotFound for an unknown name.
  Status Refresh(const std::string& name);

  // A confirmed upload (EngineOptions::on_uploaded): replaced_key == key ->
  // bytes += size - replaced_size; otherwise files += 1, bytes += size.
  // Quick; callable from any thread. Events for unknown destinations or keys
  // outside the prefix are ignored; without figures yet, the coming listing
  // counts the object.
  void OnUploaded(const UploadEvent& event);
  // An object cloudkeep deleted: files -= 1, bytes -= size.
  void OnDeleted(const std::string& destination, const std::string& key, uint64_t size);

  // A request to the destination made by someone else (e.g. the sync engine's
  // check before uploading) failed with a network, authentication or
  // bucket-not-found error: the diagnosis changes at once, the figures are kept
  // but marked stale, and the next listing follows after failure_retry_interval.
  // Other error kinds (local I/O, database, throttling) say nothing about the
  // connection and are ignored, as are unknown or unusable destinations.
  void OnConnectionError(const std::string& destination, const Status& error);

  // The status document (see README "JSON output"):
  //   {"generated_at", "destinations": [D...], "totals": {"files", "bytes", ...}}
  // with D = {"name", "type", "enabled", "bucket", "prefix",
  //           "connection": {"state", "message", "checked_at", "latency_ms"},
  //           "synced": {"files", "bytes", "source": "bucket"|"database", "as_of", "stale"},
  //           "pending": {"files", "bytes"}, "failed": {"files", "bytes"},
  //           "list_calls", "destination_list_calls", "last_synced_at", "refreshing",
  //           "database": {"synced": {"files", "bytes"}}, "last_bucket" (when the bucket
  //           figures are known but not used), "all_synced"}.
  // Synced figures come from the bucket when it is connected; otherwise from the
  // database (source "database") with the diagnosis. Pending and failed always
  // come from the database. Fails only when the database cannot be read.
  Result<nlohmann::json> StatusDocument();
  // One D object; kNotFound for an unknown name.
  Result<nlohmann::json> DestinationStatus(const std::string& name);

  // Blocks until no listing or probe is in flight (tests, shutdown).
  void WaitIdle();

 private:
  // A confirmed change of one key, as recorded while a listing runs.
  struct Change {
    std::string key;
    bool present = true;  // the object exists afterwards (upload) or not (delete)
    uint64_t size = 0;    // its size afterwards
    int64_t dfiles = 0, dbytes = 0;
  };
  // Progress of one key range of the listing in flight.
  struct RangeCursor {
    bool cursor_set = false;
    std::string cursor;  // last key the range has processed
    bool done = false;   // the range has been listed to its end
  };
  struct Entry {
    // Fixed at construction.
    std::string name, type, bucket, prefix;
    bool enabled = true;
    Destination* dest = nullptr;
    Destination* probe_dest = nullptr;  // below the retry layer: a probe is one request
    std::shared_ptr<DestinationMetrics> metrics;
    Status unavailable;
    int max_keys = 1000;
    // Guarded by mu_.
    ConnectionDiagnosis diag;
    BucketFigures fig;
    bool listing = false;
    uint64_t attempts_done = 0;  // listings finished (any outcome)
    std::optional<std::chrono::steady_clock::time_point> last_attempt;  // finished
    std::optional<std::chrono::steady_clock::time_point> last_success;
    Status last_status;
    uint64_t pages = 0;
    uint64_t listings = 0;
    bool probing = false;
    uint64_t probes = 0, probes_done = 0;
    std::optional<std::chrono::steady_clock::time_point> last_contact;
    std::thread probe_worker;
    // Bookkeeping of the listing in flight. Range i holds the keys in
    // (splits[i-1], splits[i]] (open-ended at both ends); always
    // ranges.size() == splits.size() + 1.
    std::vector<std::string> splits;
    std::vector<RangeCursor> ranges = std::vector<RangeCursor>(1);
    std::vector<Change> undecided;  // the listing may still see these
    std::vector<Change> missed;     // the listing did not see these: apply at the end
    std::thread worker;
  };

  Entry* Find(const std::string& name);
  const Entry* Find(const std::string& name) const;
  bool Usable(const Entry& e) const { return e.dest != nullptr && e.unavailable.ok() && e.enabled; }
  // Whether e's figures need a listing now. mu_ held.
  bool Expired(const Entry& e, std::chrono::steady_clock::time_point now) const;
  // Starts a listing on its own thread unless one is in flight. mu_ held;
  // threads of finished listings are moved to *finished for joining outside mu_.
  void StartListing(Entry& e, std::vector<std::thread>* finished);
  void RunListing(Entry* e);
  // Split points for listing e in parallel: strictly increasing keys under
  // e's prefix, from the state database; empty = one sequential range. Reads
  // the store (no lock held).
  std::vector<std::string> SplitPoints(const Entry& e);
  // Lists range i of e (between splits[i-1] and splits[i]) to its end, adding
  // what it counts to *files/*bytes and its requests to *pages. Stops early
  // (kCancelled) when the inspector stops or *abort is set.
  Status ListRange(Entry* e, const std::vector<std::string>& splits, size_t i,
                   const std::atomic<bool>& abort, uint64_t* files, uint64_t* bytes,
                   uint64_t* pages);
  // Index of the range holding key in the listing in flight. mu_ held.
  static size_t RangeOf(const Entry& e, const std::string& key);
  // Whether a status request should probe e now. mu_ held.
  bool NeedsProbe(const Entry& e, std::chrono::steady_clock::time_point now) const;
  // Starts a probe on its own thread unless one is in flight. mu_ held.
  void StartProbe(Entry& e, std::vector<std::thread>* finished);
  void RunProbe(Entry* e);
  // Applies a change to the live figures and to the bookkeeping of a listing in flight.
  void ApplyChange(Entry& e, Change c);
  // Decides the undecided changes in range `range` that a page of that range
  // with these objects covers; range_done: the range ends with this page. mu_ held.
  void DecideChanges(Entry& e, size_t range, const std::vector<ObjectInfo>& objects,
                     bool range_done, const std::string& page_last_key);
  DestinationSnapshot SnapshotLocked(const Entry& e,
                                     std::chrono::steady_clock::time_point now) const;
  void EnsureFresh(const std::vector<Entry*>& entries);
  static void JoinAll(std::vector<std::thread>* threads);

  StateStore* store_;
  Env* env_;
  InspectorOptions opts_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable done_cv_;  // a listing finished
  std::vector<std::unique_ptr<Entry>> entries_;
};

// JSON of one diagnosis: {"state", "message", "checked_at", "latency_ms"}.
nlohmann::json ConnectionJson(const ConnectionDiagnosis& d);

// One D object of the status document from a snapshot and the database's counts
// for that destination (null: none recorded yet). now_us stamps database figures.
nlohmann::json DestinationStatusJson(const DestinationSnapshot& s, const DestinationCounts* counts,
                                     int64_t now_us);

}  // namespace ck
