#include "inspect/bucket_inspector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

#include "inspect/time_format.h"
#include "util/encoding.h"

namespace ck {

std::string_view ConnectionStateName(ConnectionState s) {
  switch (s) {
    case ConnectionState::kChecking:
      return "checking";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kDisabled:
      return "disabled";
    case ConnectionState::kMissingCredentials:
      return "missing_credentials";
    case ConnectionState::kNetworkError:
      return "network_error";
    case ConnectionState::kAuthFailed:
      return "auth_failed";
    case ConnectionState::kBucketNotFound:
      return "bucket_not_found";
    case ConnectionState::kError:
      break;
  }
  return "error";
}

ConnectionState ConnectionStateForError(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return ConnectionState::kConnected;
    case ErrorKind::kTransient:
      return ConnectionState::kNetworkError;
    case ErrorKind::kAuth:
      return ConnectionState::kAuthFailed;
    case ErrorKind::kNotFound:
      return ConnectionState::kBucketNotFound;
    default:
      return ConnectionState::kError;
  }
}

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

double MillisBetween(SteadyTime a, SteadyTime b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

uint64_t AddClamped(uint64_t v, int64_t delta) {
  if (delta >= 0) return v + static_cast<uint64_t>(delta);
  auto d = static_cast<uint64_t>(-delta);
  return d > v ? 0 : v - d;
}

std::string Where(const std::string& bucket, const std::string& prefix) {
  std::string w = bucket.empty() ? "the bucket" : "bucket " + bucket;
  if (!prefix.empty()) w += " under prefix " + prefix;
  return w;
}

// The human message for a failed listing: names the destination and the cause.
std::string FailureMessage(const std::string& name, const std::string& bucket, const Status& st) {
  const std::string& m = st.message();
  switch (ConnectionStateForError(st.kind())) {
    case ConnectionState::kNetworkError:
      return "cannot reach the server of destination " + name + " (network error): " + m;
    case ConnectionState::kAuthFailed:
      return "the server rejected the credentials of destination " + name + ": " + m;
    case ConnectionState::kBucketNotFound:
      return (bucket.empty() ? std::string("the bucket") : "bucket " + bucket) +
             " of destination " + name + " does not exist: " + m;
    default:
      return "listing the bucket of destination " + name + " failed (" +
             std::string(ErrorKindName(st.kind())) + "): " + m;
  }
}

bool HasPrefix(const std::string& key, const std::string& prefix) {
  return key.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

Status ValidateInspectorOptions(const InspectorOptions& o) {
  if (o.list_parallelism < 1 || o.list_parallelism > InspectorOptions::kMaxListParallelism)
    return InvalidArgument("inspector option list_parallelism must be 1.." +
                           std::to_string(InspectorOptions::kMaxListParallelism) + ", not " +
                           std::to_string(o.list_parallelism));
  if (o.s3_max_keys < 1)
    return InvalidArgument("inspector option s3_max_keys must be at least 1, not " +
                           std::to_string(o.s3_max_keys));
  if (o.b2_max_keys < 1)
    return InvalidArgument("inspector option b2_max_keys must be at least 1, not " +
                           std::to_string(o.b2_max_keys));
  return Status::OK();
}

BucketInspector::BucketInspector(const std::vector<DestinationHandle>& dests, StateStore* store,
                                 Env* env, InspectorOptions options)
    : store_(store), env_(env), opts_(std::move(options)) {
  if (Status st = ValidateInspectorOptions(opts_); !st.ok()) {
    spdlog::warn("{}; using the nearest valid value", st.message());
    opts_.list_parallelism =
        std::clamp(opts_.list_parallelism, 1, InspectorOptions::kMaxListParallelism);
    opts_.s3_max_keys = std::max(opts_.s3_max_keys, 1);
    opts_.b2_max_keys = std::max(opts_.b2_max_keys, 1);
  }
  int64_t now = env_->NowMicros();
  for (const auto& h : dests) {
    auto e = std::make_unique<Entry>();
    e->name = h.name;
    e->type = h.type;
    auto b = opts_.buckets.find(h.name);
    if (b != opts_.buckets.end()) e->bucket = b->second;
    e->prefix = h.prefix;
    e->enabled = h.enabled;
    e->dest = h.dest.get();
    e->probe_dest = h.retry_layer != nullptr ? h.retry_layer->inner() : h.dest.get();
    e->metrics = h.metrics;
    e->unavailable = h.unavailable;
    e->max_keys = h.type == "b2" ? opts_.b2_max_keys : opts_.s3_max_keys;
    e->diag.checked_at_us = now;
    if (!h.enabled) {
      e->diag.state = ConnectionState::kDisabled;
      e->diag.message = "destination " + h.name + " is disabled in the configuration";
    } else if (!h.unavailable.ok()) {
      // Credentials are resolved locally before anything is sent, so kAuth here
      // means none were found (a rejected credential is only known from a request).
      if (h.unavailable.kind() == ErrorKind::kAuth) {
        e->diag.state = ConnectionState::kMissingCredentials;
        e->diag.message = h.unavailable.message();
      } else {
        e->diag.state = ConnectionState::kError;
        e->diag.message = "destination " + h.name + " cannot be used: " + h.unavailable.message();
      }
    } else if (h.dest == nullptr) {
      e->diag.state = ConnectionState::kError;
      e->diag.message = "destination " + h.name + " cannot be used: no backend was built";
    } else {
      e->diag.checked_at_us = 0;
      e->diag.message = "first check of destination " + h.name + " has not finished yet";
    }
    entries_.push_back(std::move(e));
  }
}

BucketInspector::~BucketInspector() {
  stopping_.store(true);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& e : entries_) {
      if (e->worker.joinable()) threads.push_back(std::move(e->worker));
      if (e->probe_worker.joinable()) threads.push_back(std::move(e->probe_worker));
    }
  }
  done_cv_.notify_all();
  JoinAll(&threads);
}

void BucketInspector::JoinAll(std::vector<std::thread>* threads) {
  for (auto& t : *threads) t.join();
  threads->clear();
}

std::vector<std::string> BucketInspector::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e->name);
  return out;
}

bool BucketInspector::Has(const std::string& name) const {
  return Find(name) != nullptr;
}

BucketInspector::Entry* BucketInspector::Find(const std::string& name) {
  for (auto& e : entries_)
    if (e->name == name) return e.get();
  return nullptr;
}

const BucketInspector::Entry* BucketInspector::Find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e->name == name) return e.get();
  return nullptr;
}

bool BucketInspector::Expired(const Entry& e, SteadyTime now) const {
  if (!Usable(e) || e.listing) return false;
  if (!e.last_attempt) return true;
  auto age = now - *e.last_attempt;
  return e.last_status.ok() ? age >= opts_.reconcile_interval : age >= opts_.failure_retry_interval;
}

void BucketInspector::StartListing(Entry& e, std::vector<std::thread>* finished) {
  if (e.listing || stopping_.load()) return;
  if (e.worker.joinable()) finished->push_back(std::move(e.worker));
  e.listing = true;
  e.listings++;
  // One range that has listed nothing yet, until RunListing knows the split points.
  e.splits.clear();
  e.ranges.assign(1, RangeCursor{});
  e.undecided.clear();
  e.missed.clear();
  Entry* p = &e;
  e.worker = std::thread([this, p] { RunListing(p); });
}

bool BucketInspector::NeedsProbe(const Entry& e, SteadyTime now) const {
  if (!Usable(e) || e.listing || e.probing || !e.last_attempt) return false;
  return !e.last_contact || now - *e.last_contact >= opts_.health_check_interval;
}

void BucketInspector::StartProbe(Entry& e, std::vector<std::thread>* finished) {
  if (e.probing || stopping_.load()) return;
  if (e.probe_worker.joinable()) finished->push_back(std::move(e.probe_worker));
  e.probing = true;
  e.probes++;
  Entry* p = &e;
  e.probe_worker = std::thread([this, p] { RunProbe(p); });
}

void BucketInspector::RunProbe(Entry* e) {
  SteadyTime t0 = env_->SteadyNow();
  Status st = e->probe_dest->Probe();
  SteadyTime t1 = env_->SteadyNow();
  double ms = MillisBetween(t0, t1);
  int64_t now_us = env_->NowMicros();
  std::vector<std::thread> finished;
  bool relist = false;
  ConnectionState before;
  {
    std::lock_guard<std::mutex> l(mu_);
    e->probing = false;
    e->probes_done++;
    e->last_contact = t1;
    before = e->diag.state;
    // Throttling means the server answered: it says nothing against the connection.
    if (st.ok() || st.kind() == ErrorKind::kThrottled) {
      e->diag.checked_at_us = now_us;
      e->diag.latency_ms = ms;
      if (before != ConnectionState::kConnected && !e->listing) {
        // Back after a failure: the figures may be stale or wrong, list again now.
        e->diag.state = ConnectionState::kConnected;
        e->diag.message = Where(e->bucket, e->prefix) + " is reachable again; re-listing it";
        StartListing(*e, &finished);
        relist = true;
      }
    } else if (st.kind() != ErrorKind::kCancelled) {
      e->diag.state = ConnectionStateForError(st.kind());
      e->diag.message = FailureMessage(e->name, e->bucket, st);
      e->diag.checked_at_us = now_us;
      e->diag.latency_ms = ms;
      e->fig.stale = e->fig.known;
      if (!e->listing) {
        e->last_attempt = t1;
        e->last_status = st;
      }
    }
  }
  done_cv_.notify_all();
  JoinAll(&finished);
  if (st.ok()) {
    spdlog::debug("bucket query destination={} op=probe ms={:.1f} outcome=ok{}", e->name, ms,
                  relist ? " relist=1" : "");
  } else if (st.kind() != ErrorKind::kCancelled) {
    auto level =
        before == ConnectionStateForError(st.kind()) ? spdlog::level::debug : spdlog::level::warn;
    spdlog::log(level, "bucket query destination={} op=probe ms={:.1f} outcome={} error=\"{}\"",
                e->name, ms, ErrorKindName(st.kind()), PrintableName(st.message()));
  }
}

std::vector<std::string> BucketInspector::SplitPoints(const Entry& e) {
  if (opts_.list_parallelism <= 1 || store_ == nullptr) return {};
  // Worth it only for a bucket of several pages: the database's count of
  // synced keys says how many pages to expect (Counts() is cached, and the
  // status document reads it anyway).
  auto counts = store_->Counts();
  if (!counts.ok()) {
    spdlog::debug("bucket query destination={} op=list sequential: no count of synced keys: {}",
                  e.name, counts.status().ToString());
    return {};
  }
  uint64_t synced = 0;
  for (const auto& c : *counts)
    if (c.destination == e.name) synced = c.synced_files;
  const uint64_t ranges = std::min<uint64_t>(static_cast<uint64_t>(opts_.list_parallelism),
                                             synced / static_cast<uint64_t>(e.max_keys));
  if (ranges < 2) return {};
  auto sample = store_->SampleSyncedKeys(e.name, ranges - 1);
  if (!sample.ok()) {
    spdlog::debug("bucket query destination={} op=list sequential: no split points: {}", e.name,
                  sample.status().ToString());
    return {};
  }
  // Only keys under the prefix, strictly increasing, and no more than asked
  // for (each range may cost one extra request).
  std::vector<std::string> splits;
  for (const auto& k : *sample) {
    if (splits.size() + 1 >= ranges) break;
    if (k.empty() || !HasPrefix(k, e.prefix)) continue;
    if (!splits.empty() && k <= splits.back()) continue;
    splits.push_back(k);
  }
  return splits;
}

size_t BucketInspector::RangeOf(const Entry& e, const std::string& key) {
  // Range i holds (splits[i-1], splits[i]]: i = the number of split points < key.
  return static_cast<size_t>(std::lower_bound(e.splits.begin(), e.splits.end(), key) -
                             e.splits.begin());
}

Status BucketInspector::ListRange(Entry* e, const std::vector<std::string>& splits, size_t i,
                                  const std::atomic<bool>& abort, uint64_t* files, uint64_t* bytes,
                                  uint64_t* pages) {
  const std::string* lower = i > 0 ? &splits[i - 1] : nullptr;
  const std::string* upper = i < splits.size() ? &splits[i] : nullptr;
  ListOptions lo;
  lo.prefix = e->prefix;
  lo.max_keys = e->max_keys;
  if (lower != nullptr) lo.start_after = *lower;
  while (true) {
    if (stopping_.load()) return Status(ErrorKind::kCancelled, "inspector shutting down");
    if (abort.load()) return Status(ErrorKind::kCancelled, "another key range failed");
    auto page = e->dest->List(lo);
    ++*pages;
    {
      std::lock_guard<std::mutex> l(mu_);
      e->pages++;
    }
    if (!page.ok()) return page.status();
    bool beyond = false;  // the page reaches past this range: the next range lists the rest
    for (const auto& o : page->objects) {
      if (upper != nullptr && o.key > *upper) {
        beyond = true;
        continue;
      }
      if (!HasPrefix(o.key, e->prefix)) continue;
      if (lower != nullptr && o.key <= *lower) continue;  // a server that ignored start_after
      ++*files;
      *bytes += o.size;
    }
    const bool last = page->next_continuation_token.empty();
    const bool done = last || beyond;
    if (!done && page->next_continuation_token == lo.continuation_token)
      return Status(ErrorKind::kPermanent, "the listing did not advance (same continuation token)");
    {
      std::lock_guard<std::mutex> l(mu_);
      DecideChanges(*e, i, page->objects, done,
                    page->objects.empty() ? "" : page->objects.back().key);
    }
    if (done) return Status::OK();
    lo.continuation_token = page->next_continuation_token;
    lo.start_after.clear();
  }
}

void BucketInspector::RunListing(Entry* e) {
  SteadyTime t0 = env_->SteadyNow();
  const std::vector<std::string> splits = SplitPoints(*e);
  const size_t n = splits.size() + 1;
  {
    std::lock_guard<std::mutex> l(mu_);
    // No range has listed anything yet, so every change recorded so far stays undecided.
    e->splits = splits;
    e->ranges.assign(n, RangeCursor{});
  }
  struct RangeResult {
    uint64_t files = 0, bytes = 0, pages = 0;
    Status st;
  };
  std::vector<RangeResult> results(n);
  std::atomic<bool> abort{false};
  std::mutex first_mu;
  std::optional<Status> first_error;  // the first range to fail decides the outcome
  auto run = [&](size_t i) {
    RangeResult& r = results[i];
    r.st = ListRange(e, splits, i, abort, &r.files, &r.bytes, &r.pages);
    if (!r.st.ok() && !abort.exchange(true)) {
      std::lock_guard<std::mutex> l(first_mu);
      first_error = r.st;
    }
  };
  std::vector<std::thread> threads;
  std::vector<size_t> inline_ranges;  // no thread could be started for these
  for (size_t i = 1; i < n; ++i) {
    try {
      threads.emplace_back(run, i);
    } catch (const std::system_error& ex) {
      spdlog::debug("bucket query destination={} op=list range={} runs inline: {}", e->name, i,
                    ex.what());
      inline_ranges.push_back(i);
    }
  }
  run(0);
  for (size_t i : inline_ranges) run(i);
  JoinAll(&threads);

  uint64_t files = 0, bytes = 0, pages = 0;
  for (const auto& r : results) {
    files += r.files;
    bytes += r.bytes;
    pages += r.pages;
  }
  Status st;
  if (first_error) st = *first_error;
  SteadyTime t1 = env_->SteadyNow();
  double ms = MillisBetween(t0, t1);
  int64_t now_us = env_->NowMicros();
  {
    std::lock_guard<std::mutex> l(mu_);
    e->listing = false;
    e->attempts_done++;
    e->last_attempt = t1;
    e->last_status = st;
    if (st.kind() != ErrorKind::kCancelled) e->last_contact = t1;
    if (st.kind() != ErrorKind::kCancelled) {
      e->diag.checked_at_us = now_us;
      e->diag.latency_ms = ms;
    }
    if (st.ok()) {
      for (const auto& c : e->missed) {
        files = AddClamped(files, c.dfiles);
        bytes = AddClamped(bytes, c.dbytes);
      }
      e->fig.known = true;
      e->fig.files = files;
      e->fig.bytes = bytes;
      e->fig.as_of_us = now_us;
      e->fig.listed_at_us = now_us;
      e->fig.stale = false;
      e->last_success = t1;
      e->diag.state = ConnectionState::kConnected;
      // Not the figures themselves: they move on with every confirmed upload,
      // while this message describes the check.
      e->diag.message = Where(e->bucket, e->prefix) + " is reachable; fully listed with " +
                        std::to_string(pages) + (pages == 1 ? " request" : " requests") +
                        (n > 1 ? " in " + std::to_string(n) + " parallel key ranges" : "");
    } else if (st.kind() != ErrorKind::kCancelled) {
      e->fig.stale = e->fig.known;
      e->diag.state = ConnectionStateForError(st.kind());
      e->diag.message = FailureMessage(e->name, e->bucket, st);
    }
    e->splits.clear();
    e->ranges.assign(1, RangeCursor{});
    e->undecided.clear();
    e->missed.clear();
  }
  done_cv_.notify_all();
  if (st.ok()) {
    spdlog::info(
        "bucket query destination={} op=list ranges={} pages={} objects={} bytes={} ms={:.1f} "
        "outcome=ok",
        e->name, n, pages, files, bytes, ms);
    if (opts_.on_listed) opts_.on_listed(e->name, files, bytes, ms);
  } else if (st.kind() != ErrorKind::kCancelled) {
    spdlog::warn(
        "bucket query destination={} op=list ranges={} pages={} ms={:.1f} outcome={} "
        "error=\"{}\"",
        e->name, n, pages, ms, ErrorKindName(st.kind()), PrintableName(st.message()));
  }
}

void BucketInspector::DecideChanges(Entry& e, size_t range, const std::vector<ObjectInfo>& objects,
                                    bool range_done, const std::string& page_last_key) {
  // The page covers the keys of its range in (cursor, page_last_key], or all
  // the range has left when the range ends with it. A covered change was seen
  // by the listing if the page shows the state it (or a later change of the
  // same key) left. Changes in other ranges are for their own pages to decide.
  auto covered = [&](const std::string& key) {
    return RangeOf(e, key) == range && (range_done || (!objects.empty() && key <= page_last_key));
  };
  std::map<std::string, std::vector<const Change*>> groups;
  std::vector<Change> keep;
  for (const auto& c : e.undecided) {
    if (covered(c.key))
      groups[c.key].push_back(&c);
    else
      keep.push_back(c);
  }
  for (const auto& [key, changes] : groups) {
    auto it = std::lower_bound(objects.begin(), objects.end(), key,
                               [](const ObjectInfo& o, const std::string& k) { return o.key < k; });
    bool present = it != objects.end() && it->key == key;
    uint64_t size = present ? it->size : 0;
    // The last change whose outcome the listing shows; none: it saw the state before all.
    size_t seen = 0;  // count of changes the listing saw
    for (size_t i = changes.size(); i > 0; --i) {
      const Change* c = changes[i - 1];
      if (c->present == present && (!present || c->size == size)) {
        seen = i;
        break;
      }
    }
    for (size_t i = seen; i < changes.size(); ++i) e.missed.push_back(*changes[i]);
  }
  e.undecided = std::move(keep);
  RangeCursor& r = e.ranges[range];
  if (!objects.empty()) {
    r.cursor = page_last_key;
    r.cursor_set = true;
  }
  if (range_done) r.done = true;
}

void BucketInspector::ApplyChange(Entry& e, Change c) {
  if (e.fig.known) {
    e.fig.files = AddClamped(e.fig.files, c.dfiles);
    e.fig.bytes = AddClamped(e.fig.bytes, c.dbytes);
    e.fig.as_of_us = env_->NowMicros();
  }
  if (e.listing) {
    // Missed when the range holding the key has already listed past it (or
    // to its end); otherwise one of its coming pages decides.
    const RangeCursor& r = e.ranges[RangeOf(e, c.key)];
    if (r.done || (r.cursor_set && c.key <= r.cursor))
      e.missed.push_back(std::move(c));
    else
      e.undecided.push_back(std::move(c));
  }
}

void BucketInspector::OnUploaded(const UploadEvent& event) {
  Entry* e = Find(event.destination);
  if (e == nullptr || !HasPrefix(event.key, e->prefix)) return;
  Change c;
  c.key = event.key;
  c.present = true;
  c.size = event.size;
  if (!event.replaced_key.empty() && event.replaced_key == event.key) {
    c.dfiles = 0;
    c.dbytes = static_cast<int64_t>(event.size) - static_cast<int64_t>(event.replaced_size);
  } else {
    c.dfiles = 1;
    c.dbytes = static_cast<int64_t>(event.size);
  }
  std::lock_guard<std::mutex> l(mu_);
  // A confirmed upload proves the connection, unless a failure is being
  // diagnosed: then the next probe decides.
  if (e->diag.state == ConnectionState::kConnected) e->last_contact = env_->SteadyNow();
  ApplyChange(*e, std::move(c));
}

void BucketInspector::OnDeleted(const std::string& destination, const std::string& key,
                                uint64_t size) {
  Entry* e = Find(destination);
  if (e == nullptr || !HasPrefix(key, e->prefix)) return;
  Change c;
  c.key = key;
  c.present = false;
  c.size = 0;
  c.dfiles = -1;
  c.dbytes = -static_cast<int64_t>(size);
  std::lock_guard<std::mutex> l(mu_);
  ApplyChange(*e, std::move(c));
}

void BucketInspector::OnConnectionError(const std::string& destination, const Status& error) {
  Entry* e = Find(destination);
  if (e == nullptr || !Usable(*e)) return;
  ErrorKind k = error.kind();
  if (k != ErrorKind::kTransient && k != ErrorKind::kAuth && k != ErrorKind::kNotFound) return;
  std::lock_guard<std::mutex> l(mu_);
  e->diag.state = ConnectionStateForError(k);
  e->diag.message = FailureMessage(e->name, e->bucket, error);
  e->diag.checked_at_us = env_->NowMicros();
  e->diag.latency_ms = 0;
  e->fig.stale = e->fig.known;
  e->last_contact = env_->SteadyNow();
  if (!e->listing) {
    e->last_attempt = env_->SteadyNow();
    e->last_status = error;
  }
}

DestinationSnapshot BucketInspector::SnapshotLocked(const Entry& e, SteadyTime now) const {
  DestinationSnapshot s;
  s.name = e.name;
  s.type = e.type;
  s.bucket = e.bucket;
  s.prefix = e.prefix;
  s.enabled = e.enabled;
  s.connection = e.diag;
  s.figures = e.fig;
  if (e.fig.known && !e.fig.stale && e.last_success &&
      now - *e.last_success >= opts_.reconcile_interval)
    s.figures.stale = true;
  s.refreshing = e.listing;
  s.inspector_list_calls = e.pages;
  s.listings = e.listings;
  s.probes = e.probes;
  if (e.metrics) s.destination_list_calls = e.metrics->ListCalls();
  s.metrics = e.metrics;
  return s;
}

void BucketInspector::EnsureFresh(const std::vector<Entry*>& entries) {
  std::vector<std::thread> finished;
  std::vector<std::pair<Entry*, uint64_t>> waits, probe_waits;
  {
    std::lock_guard<std::mutex> l(mu_);
    SteadyTime now = env_->SteadyNow();
    for (Entry* e : entries) {
      if (Expired(*e, now))
        StartListing(*e, &finished);
      else if (NeedsProbe(*e, now))
        StartProbe(*e, &finished);
      if (e->listing) waits.emplace_back(e, e->attempts_done);
      if (e->probing) probe_waits.emplace_back(e, e->probes_done);
    }
  }
  JoinAll(&finished);
  if (waits.empty() && probe_waits.empty()) return;
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait_for(l, opts_.max_wait, [&] {
    if (stopping_.load()) return true;
    for (const auto& [e, n] : waits)
      if (e->attempts_done == n) return false;
    // A probe that found the server back starts a listing: wait for that too.
    for (const auto& [e, n] : probe_waits)
      if (e->probes_done == n || e->listing) return false;
    return true;
  });
}

std::vector<DestinationSnapshot> BucketInspector::Snapshots(bool ensure_fresh) {
  if (ensure_fresh) {
    std::vector<Entry*> all;
    for (auto& e : entries_) all.push_back(e.get());
    EnsureFresh(all);
  }
  std::lock_guard<std::mutex> l(mu_);
  SteadyTime now = env_->SteadyNow();
  std::vector<DestinationSnapshot> out;
  for (const auto& e : entries_) out.push_back(SnapshotLocked(*e, now));
  return out;
}

Result<DestinationSnapshot> BucketInspector::Snapshot(const std::string& name, bool ensure_fresh) {
  Entry* e = Find(name);
  if (e == nullptr) return NotFound("no destination named '" + name + "'");
  if (ensure_fresh) EnsureFresh({e});
  std::lock_guard<std::mutex> l(mu_);
  return SnapshotLocked(*e, env_->SteadyNow());
}

Status BucketInspector::Refresh(const std::string& name) {
  Entry* e = Find(name);
  if (e == nullptr) return NotFound("no destination named '" + name + "'");
  if (!e->enabled) return Status(ErrorKind::kConfig, "destination " + name + " is disabled");
  if (!e->unavailable.ok()) return e->unavailable;
  if (e->dest == nullptr) return Internal("destination " + name + " has no backend");
  std::vector<std::thread> finished;
  uint64_t target;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!e->listing && e->last_attempt &&
        env_->SteadyNow() - *e->last_attempt < opts_.min_refresh_interval)
      return e->last_status;
    StartListing(*e, &finished);
    target = e->attempts_done;
  }
  JoinAll(&finished);
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [&] { return e->attempts_done > target || stopping_.load(); });
  if (e->attempts_done <= target) return Status(ErrorKind::kCancelled, "inspector shutting down");
  return e->last_status;
}

void BucketInspector::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [&] {
    for (const auto& e : entries_)
      if (e->listing || e->probing) return false;
    return true;
  });
}

nlohmann::json ConnectionJson(const ConnectionDiagnosis& d) {
  return {{"state", ConnectionStateName(d.state)},
          {"message", JsonSafeString(d.message)},
          {"checked_at", IsoTimeJson(d.checked_at_us)},
          {"latency_ms", static_cast<double>(static_cast<int64_t>(d.latency_ms * 10 + 0.5)) / 10}};
}

nlohmann::json DestinationStatusJson(const DestinationSnapshot& s, const DestinationCounts* counts,
                                     int64_t now_us) {
  DestinationCounts c;
  if (counts != nullptr) c = *counts;
  nlohmann::json j;
  j["name"] = s.name;
  j["type"] = s.type;
  j["enabled"] = s.enabled;
  j["bucket"] = s.bucket;
  j["prefix"] = JsonSafeString(s.prefix);
  j["connection"] = ConnectionJson(s.connection);
  bool from_bucket = s.connection.state == ConnectionState::kConnected && s.figures.known;
  if (from_bucket) {
    j["synced"] = {{"files", s.figures.files},
                   {"bytes", s.figures.bytes},
                   {"source", "bucket"},
                   {"as_of", IsoTimeJson(s.figures.as_of_us)},
                   {"listed_at", IsoTimeJson(s.figures.listed_at_us)},
                   {"stale", s.figures.stale}};
  } else {
    j["synced"] = {{"files", c.synced_files},
                   {"bytes", c.synced_bytes},
                   {"source", "database"},
                   {"as_of", IsoTimeJson(now_us)},
                   {"stale", false}};
    if (s.figures.known) {
      j["last_bucket"] = {{"files", s.figures.files},
                          {"bytes", s.figures.bytes},
                          {"as_of", IsoTimeJson(s.figures.as_of_us)},
                          {"listed_at", IsoTimeJson(s.figures.listed_at_us)},
                          {"stale", true}};
    }
  }
  j["pending"] = {{"files", c.pending_files}, {"bytes", c.pending_bytes}};
  j["failed"] = {{"files", c.failed_files}, {"bytes", c.failed_bytes}};
  j["database"] = {{"synced", {{"files", c.synced_files}, {"bytes", c.synced_bytes}}}};
  j["list_calls"] = s.inspector_list_calls;
  j["health_probes"] = s.probes;
  j["destination_list_calls"] =
      s.destination_list_calls ? nlohmann::json(*s.destination_list_calls) : nlohmann::json();
  j["last_synced_at"] = IsoTimeJson(c.last_synced_us);
  j["refreshing"] = s.refreshing;
  j["all_synced"] = s.enabled && c.pending_files == 0 && c.failed_files == 0;
  return j;
}

Result<nlohmann::json> BucketInspector::StatusDocument() {
  auto snaps = Snapshots(true);
  CK_ASSIGN_OR_RETURN(auto counts, store_->Counts());
  int64_t now = env_->NowMicros();
  nlohmann::json doc;
  doc["generated_at"] = FormatIsoTime(now);
  doc["destinations"] = nlohmann::json::array();
  uint64_t files = 0, bytes = 0, pending_files = 0, pending_bytes = 0, failed_files = 0;
  for (const auto& s : snaps) {
    const DestinationCounts* dc = nullptr;
    for (const auto& c : counts)
      if (c.destination == s.name) dc = &c;
    nlohmann::json d = DestinationStatusJson(s, dc, now);
    files += d["synced"]["files"].get<uint64_t>();
    bytes += d["synced"]["bytes"].get<uint64_t>();
    pending_files += d["pending"]["files"].get<uint64_t>();
    pending_bytes += d["pending"]["bytes"].get<uint64_t>();
    failed_files += d["failed"]["files"].get<uint64_t>();
    doc["destinations"].push_back(std::move(d));
  }
  doc["totals"] = {{"files", files},
                   {"bytes", bytes},
                   {"pending_files", pending_files},
                   {"pending_bytes", pending_bytes},
                   {"failed_files", failed_files}};
  return doc;
}

Result<nlohmann::json> BucketInspector::DestinationStatus(const std::string& name) {
  CK_ASSIGN_OR_RETURN(DestinationSnapshot s, Snapshot(name, true));
  CK_ASSIGN_OR_RETURN(auto counts, store_->Counts());
  const DestinationCounts* dc = nullptr;
  for (const auto& c : counts)
    if (c.destination == s.name) dc = &c;
  return DestinationStatusJson(s, dc, env_->NowMicros());
}

}  // namespace ck
