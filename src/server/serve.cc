#include "server/serve.h"

#include <spdlog/spdlog.h>

#include <map>

#include "inspect/time_format.h"
#include "util/encoding.h"

namespace ck {

using json = nlohmann::json;

namespace {

double SecondsBetween(std::chrono::steady_clock::time_point a,
                      std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

json PassSampleJson(const PassSample& s) {
  json dests = json::array();
  for (const auto& d : s.destinations) {
    dests.push_back({{"name", d.name},
                     {"uploaded_files", d.uploaded_files},
                     {"uploaded_bytes", d.uploaded_bytes},
                     {"failed_files", d.failed_files},
                     {"synced_files", d.synced_files},
                     {"synced_bytes", d.synced_bytes},
                     {"pending_files", d.pending_files},
                     {"failed_total", d.failed_total},
                     {"seconds", d.seconds},
                     {"error", d.error.empty() ? json(nullptr) : json(JsonSafeString(d.error))}});
  }
  return {{"run_id", s.run_id},
          {"trigger", s.trigger},
          {"started_at", IsoTimeJson(s.started_us)},
          {"finished_at", IsoTimeJson(s.finished_us)},
          {"seconds", s.seconds},
          {"ok", s.ok},
          {"error", s.error.empty() ? json(nullptr) : json(JsonSafeString(s.error))},
          {"scan", {{"files", s.scanned_files}, {"bytes", s.scanned_bytes}}},
          {"destinations", dests}};
}

Result<std::unique_ptr<ServeRunner>> ServeRunner::Make(Config config, StateStore* store,
                                                       std::vector<DestinationHandle>& dests,
                                                       Env* env, ServeOptions options) {
  if (store == nullptr || env == nullptr) return InvalidArgument("serve: store and env required");
  std::unique_ptr<ServeRunner> r(
      new ServeRunner(std::move(config), store, dests, env, std::move(options)));
  ServeRunner* p = r.get();
  ApiDeps deps;
  deps.inspector = r->inspector_.get();
  deps.store = store;
  deps.env = env;
  deps.trigger_sync = [p] { return p->TriggerSync("api"); };
  deps.history = [p] { return p->History(); };
  deps.sync_state = [p] { return p->SyncState(); };
  deps.extra_metrics = [p](PromWriter* w) { p->WriteMetrics(w); };
  CK_ASSIGN_OR_RETURN(r->api_, ApiServer::Make(r->opts_.api, std::move(deps)));
  return r;
}

ServeRunner::ServeRunner(Config config, StateStore* store, std::vector<DestinationHandle>& dests,
                         Env* env, ServeOptions options)
    : config_(std::move(config)),
      store_(store),
      dests_(dests),
      env_(env),
      opts_(std::move(options)) {
  for (const auto& d : config_.destinations)
    if (!opts_.inspector.buckets.count(d.name)) opts_.inspector.buckets[d.name] = d.bucket;
  if (opts_.history_capacity == 0) opts_.history_capacity = 1;
  auto chained = opts_.inspector.on_listed;
  opts_.inspector.on_listed = [this, chained](const std::string& d, uint64_t files, uint64_t bytes,
                                              double ms) {
    RecordListing(d, files, bytes, ms);
    if (chained) chained(d, files, bytes, ms);
  };
  inspector_ = std::make_unique<BucketInspector>(dests_, store_, env_, opts_.inspector);
}

ServeRunner::~ServeRunner() {
  Stop();
}

Status ServeRunner::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (started_ || stopping_) return InvalidArgument("serve: already started or stopped");
  CK_RETURN_IF_ERROR(api_->Start());
  next_due_ = env_->SteadyNow() + opts_.rescan_interval;
  if (opts_.sync_on_start && !queued_) {
    queued_ = true;
    queued_reason_ = "start";
    queued_run_ = ++run_counter_;
  }
  started_ = true;
  loop_ = std::thread([this] { Loop(); });
  spdlog::info("serve: API at {}, sync pass every {} s{}", api_->url(),
               std::chrono::duration_cast<std::chrono::seconds>(opts_.rescan_interval).count(),
               opts_.sync_on_start ? ", first pass now" : "");
  return Status::OK();
}

void ServeRunner::Stop() {
  std::lock_guard<std::mutex> sl(stop_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopping_ = true;
    cancel_.store(true);
  }
  cv_.notify_all();
  if (api_) api_->Stop();
  if (loop_.joinable()) loop_.join();
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
  spdlog::info("serve: stopped");
}

void ServeRunner::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return stopped_; });
}

json ServeRunner::TriggerSync(const std::string& reason) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_) return {{"queued", false}, {"reason", "shutting down"}};
  bool already = queued_;
  if (!queued_) {
    queued_ = true;
    queued_reason_ = reason;
    queued_run_ = ++run_counter_;
  }
  cv_.notify_all();
  return {{"queued", true},
          {"run_id", queued_run_},
          {"already_queued", already},
          {"running", running_},
          {"running_run_id", running_ ? json(current_run_) : json(nullptr)}};
}

void ServeRunner::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    auto now = env_->SteadyNow();
    if (!queued_ && now < next_due_) {
      // Env time decides when a pass is due (tests move a fake clock), so wake
      // at least every second to look at it.
      auto wait =
          std::min<std::chrono::steady_clock::duration>(next_due_ - now, std::chrono::seconds(1));
      cv_.wait_for(l, wait);
      continue;
    }
    uint64_t id;
    std::string trigger;
    if (queued_) {
      id = queued_run_;
      trigger = queued_reason_;
      queued_ = false;
    } else {
      id = ++run_counter_;
      trigger = "schedule";
    }
    running_ = true;
    current_run_ = id;
    progress_ = std::make_shared<SyncProgress>();
    l.unlock();
    PassSample s = RunPass(id, trigger);
    l.lock();
    running_ = false;
    passes_++;
    if (s.ok) {
      passes_ok_++;
      last_success_us_ = s.finished_us;
    } else {
      passes_failed_++;
    }
    last_pass_seconds_ = s.seconds;
    for (const auto& d : s.destinations) {
      uploaded_files_[d.name] += d.uploaded_files;
      uploaded_bytes_[d.name] += d.uploaded_bytes;
    }
    history_.push_back(std::move(s));
    while (history_.size() > opts_.history_capacity) history_.pop_front();
    next_due_ = env_->SteadyNow() + opts_.rescan_interval;
    cv_.notify_all();
  }
}

PassSample ServeRunner::RunPass(uint64_t run_id, const std::string& trigger) {
  PassSample s;
  s.run_id = run_id;
  s.trigger = trigger;
  s.started_us = env_->NowMicros();
  auto t0 = env_->SteadyNow();
  std::vector<EngineDestination> eds = EngineDestinationsFor(dests_);
  EngineOptions eo;
  eo.max_attempts = config_.sync.max_attempts;
  eo.cancel = &cancel_;
  BucketInspector* insp = inspector_.get();
  eo.on_uploaded = [insp](const UploadEvent& e) { insp->OnUploaded(e); };
  std::shared_ptr<SyncProgress> progress;
  {
    std::lock_guard<std::mutex> l(mu_);
    progress = progress_;
  }
  spdlog::info("sync pass {} started ({})", run_id, trigger);
  SyncEngine engine(store_, env_, config_.sources, std::move(eds), eo);
  auto report = engine.Run(progress.get());
  s.finished_us = env_->NowMicros();
  s.seconds = SecondsBetween(t0, env_->SteadyNow());
  if (!report.ok()) {
    s.ok = false;
    s.error = report.status().ToString();
    spdlog::warn("sync pass {} failed: {}", run_id, PrintableName(s.error));
    return s;
  }
  s.ok = true;
  RecordPass(*report, s.finished_us, run_id);
  for (const auto& [path, st] : report->scans) {
    s.scanned_files += st.files;
    s.scanned_bytes += st.bytes;
  }
  for (const auto& d : report->destinations) {
    PassSample::Destination pd;
    pd.name = d.name;
    pd.uploaded_files = d.uploaded_files;
    pd.uploaded_bytes = d.uploaded_bytes;
    pd.failed_files = d.failed_files;
    pd.synced_files = d.synced_files;
    pd.synced_bytes = d.synced_bytes;
    pd.pending_files = d.pending_files;
    pd.failed_total = d.failed_total;
    pd.seconds = d.seconds;
    if (!d.fatal.ok()) {
      // The engine's check before uploading doubles as a connection check.
      inspector_->OnConnectionError(d.name, d.fatal);
      pd.error = d.fatal.ToString();
      if (s.ok) s.error = "destination " + d.name + ": " + pd.error;
      s.ok = false;
    }
    spdlog::info(
        "sync pass {} destination={} uploaded={} bytes={} failed={} synced={} pending={} "
        "failed_total={}{}{}",
        run_id, d.name, d.uploaded_files, d.uploaded_bytes, d.failed_files, d.synced_files,
        d.pending_files, d.failed_total,
        pd.error.empty() ? "" : " error=", PrintableName(pd.error));
    s.destinations.push_back(std::move(pd));
  }
  if (cancel_.load() && s.ok) {
    s.ok = false;
    s.error = "cancelled: cloudkeep is shutting down";
  }
  spdlog::info("sync pass {} finished in {:.1f} s ({})", run_id, s.seconds,
               s.ok ? "ok" : PrintableName(s.error));
  return s;
}

int64_t ServeRunner::PruneBefore() const {
  return env_->NowMicros() -
         std::chrono::duration_cast<std::chrono::microseconds>(opts_.history_retention).count();
}

void ServeRunner::RecordPass(const SyncReport& report, int64_t at_us, uint64_t run_id) {
  std::vector<HistorySample> rows = PassHistory(report, at_us, run_id);
  for (auto& h : rows) {
    // The bucket's own figures when they are current, else the database's.
    auto snap = inspector_->Snapshot(h.destination, false);
    if (snap.ok() && snap->connection.state == ConnectionState::kConnected && snap->figures.known &&
        !snap->figures.stale) {
      h.files = snap->figures.files;
      h.bytes = snap->figures.bytes;
      h.source = "bucket";
    }
  }
  if (rows.empty()) return;
  if (Status st = store_->AppendHistory(rows, PruneBefore()); !st.ok())
    spdlog::warn("sync pass {}: history not recorded: {}", run_id, st.ToString());
}

void ServeRunner::RecordListing(const std::string& destination, uint64_t files, uint64_t bytes,
                                double ms) {
  HistorySample h;
  h.at_us = env_->NowMicros();
  h.kind = "reconcile";
  h.destination = destination;
  h.files = files;
  h.bytes = bytes;
  h.source = "bucket";
  h.duration_ms = static_cast<int64_t>(ms);
  if (auto counts = store_->Counts(); counts.ok()) {
    for (const auto& c : *counts) {
      if (c.destination != destination) continue;
      h.pending_files = c.pending_files;
      h.failed_files = c.failed_files;
    }
  }
  if (Status st = store_->AppendHistory({h}, PruneBefore()); !st.ok())
    spdlog::warn("bucket listing of {}: history not recorded: {}", destination, st.ToString());
}

json ServeRunner::History() const {
  std::lock_guard<std::mutex> l(mu_);
  json samples = json::array();
  for (const auto& s : history_) samples.push_back(PassSampleJson(s));
  return {{"capacity", opts_.history_capacity}, {"samples", samples}};
}

json ServeRunner::SyncState() const {
  std::lock_guard<std::mutex> l(mu_);
  json j;
  j["running"] = running_;
  j["run_id"] = running_ ? json(current_run_) : json(nullptr);
  j["queued"] = queued_;
  j["queued_run_id"] = queued_ ? json(queued_run_) : json(nullptr);
  j["passes"] = passes_;
  j["passes_ok"] = passes_ok_;
  j["passes_failed"] = passes_failed_;
  j["last_success_at"] = IsoTimeJson(last_success_us_);
  j["last_pass"] = history_.empty() ? json(nullptr) : PassSampleJson(history_.back());
  j["interval_seconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(opts_.rescan_interval).count();
  if (!running_ && started_ && !stopping_) {
    double in = SecondsBetween(env_->SteadyNow(), next_due_);
    j["next_pass_in_seconds"] = queued_ ? 0.0 : std::max(0.0, in);
  } else {
    j["next_pass_in_seconds"] = nullptr;
  }
  if (running_ && progress_) {
    const SyncProgress& p = *progress_;
    j["progress"] = {
        {"scanning", p.scanning.load()},        {"scanned_entries", p.scanned_entries.load()},
        {"files_done", p.files_done.load()},    {"files_total", p.files_total.load()},
        {"bytes_done", p.bytes_done.load()},    {"bytes_total", p.bytes_total.load()},
        {"files_failed", p.files_failed.load()}};
  } else {
    j["progress"] = nullptr;
  }
  return j;
}

uint64_t ServeRunner::passes_completed() const {
  std::lock_guard<std::mutex> l(mu_);
  return passes_;
}

bool ServeRunner::WaitForPasses(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [&] { return passes_ >= n; });
}

void ServeRunner::WriteMetrics(PromWriter* w) const {
  std::lock_guard<std::mutex> l(mu_);
  w->Family("cloudkeep_sync_passes_total", "counter", "Sync passes finished, by outcome.");
  w->Sample("cloudkeep_sync_passes_total", {{"outcome", "ok"}}, static_cast<double>(passes_ok_));
  w->Sample("cloudkeep_sync_passes_total", {{"outcome", "failed"}},
            static_cast<double>(passes_failed_));
  w->Family("cloudkeep_sync_running", "gauge", "1 while a sync pass runs.");
  w->Sample("cloudkeep_sync_running", {}, running_ ? 1 : 0);
  w->Family("cloudkeep_sync_last_success_timestamp_seconds", "gauge",
            "Unix time the last sync pass without errors finished.");
  if (last_success_us_ > 0)
    w->Sample("cloudkeep_sync_last_success_timestamp_seconds", {},
              static_cast<double>(last_success_us_ / 1000000));
  w->Family("cloudkeep_sync_last_pass_duration_seconds", "gauge",
            "Duration of the last sync pass.");
  if (passes_ > 0) w->Sample("cloudkeep_sync_last_pass_duration_seconds", {}, last_pass_seconds_);
  w->Family("cloudkeep_sync_uploaded_files_total", "counter",
            "Files uploaded by the sync passes of this process.");
  for (const auto& [name, n] : uploaded_files_)
    w->Sample("cloudkeep_sync_uploaded_files_total", {{"destination", name}},
              static_cast<double>(n));
  w->Family("cloudkeep_sync_uploaded_bytes_total", "counter",
            "Bytes of the files uploaded by the sync passes of this process.");
  for (const auto& [name, n] : uploaded_bytes_)
    w->Sample("cloudkeep_sync_uploaded_bytes_total", {{"destination", name}},
              static_cast<double>(n));
}

}  // namespace ck
