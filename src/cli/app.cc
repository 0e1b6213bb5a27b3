#include "cli/app.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/output.h"
#include "engine/sync_engine.h"
#include "inspect/bucket_inspector.h"
#include "server/api_token.h"
#include "server/serve.h"
#include "util/encoding.h"
#include "web/web_assets.h"

namespace ck {

namespace {

void SetUpLogging(const std::string& level, const std::string& file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(file));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: cannot open log file %s: %s\n", file.c_str(), e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("cloudkeep", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
}

std::string DefaultConfigPath() {
  if (const char* e = std::getenv("CLOUDKEEP_CONFIG"); e != nullptr && *e != '\0') return e;
  return "cloudkeep.toml";
}

// A live progress line on a terminal, rewritten in place.
class ProgressLine {
 public:
  ProgressLine(const SyncProgress* p, bool enabled) : p_(p), enabled_(enabled) {
    if (enabled_) th_ = std::thread([this] { Loop(); });
  }
  ~ProgressLine() { Stop(); }
  void Stop() {
    if (!enabled_) return;
    stop_.store(true);
    th_.join();
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    enabled_ = false;
  }

 private:
  void Loop() {
    auto t0 = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      char line[256];
      if (p_->scanning.load()) {
        std::snprintf(line, sizeof line, "scanning: %llu entries",
                      static_cast<unsigned long long>(p_->scanned_entries.load()));
      } else {
        uint64_t fd = p_->files_done.load(), ft = p_->files_total.load();
        uint64_t bd = p_->bytes_done.load(), bt = p_->bytes_total.load();
        double rate = el > 0 ? static_cast<double>(bd) / el : 0;
        std::string eta = "--";
        if (rate > 0 && bt > bd) eta = HumanDuration(static_cast<double>(bt - bd) / rate);
        std::snprintf(line, sizeof line, "%llu/%llu files, %s/%s, %s/s, ETA %s%s",
                      static_cast<unsigned long long>(fd), static_cast<unsigned long long>(ft),
                      HumanBytes(bd).c_str(), HumanBytes(bt).c_str(),
                      HumanBytes(static_cast<uint64_t>(rate)).c_str(), eta.c_str(),
                      p_->files_failed.load() > 0
                          ? (", " + std::to_string(p_->files_failed.load()) + " failed").c_str()
                          : "");
      }
      std::fprintf(stderr, "\r\033[K%s", line);
      std::fflush(stderr);
    }
  }
  const SyncProgress* p_;
  bool enabled_;
  std::atomic<bool> stop_{false};
  std::thread th_;
};

}  // namespace

App::App(GlobalOptions opts) : opts_(std::move(opts)) {
  if (opts_.config_path.empty()) opts_.config_path = DefaultConfigPath();
  SetUpLogging(opts_.log_level.empty() ? "info" : opts_.log_level, "");
}

App::~App() = default;

bool App::LoadConfig(bool print_warnings) {
  std::vector<ConfigIssue> issues;
  auto cfg = ck::LoadConfig(opts_.config_path, &issues);
  for (const auto& i : issues) {
    if (i.error || print_warnings) std::fprintf(stderr, "%s\n", i.ToString().c_str());
  }
  if (!cfg.ok()) {
    if (issues.empty()) std::fprintf(stderr, "error: %s\n", cfg.status().message().c_str());
    return false;
  }
  config_ = std::move(cfg).value();
  SetUpLogging(opts_.log_level.empty() ? config_.log.level : opts_.log_level, config_.log.file);
  return true;
}

bool App::OpenStore() {
  auto st = OpenSqliteStore({.path = config_.database}, Env::Default());
  if (!st.ok()) {
    std::fprintf(stderr, "error: state database %s: %s\n", config_.database.c_str(),
                 st.status().message().c_str());
    return false;
  }
  store_ = std::move(st).value();
  return true;
}

void App::BuildDestinations() {
  auto http = HttpClient::Make(HttpClientOptions{});
  if (http.ok()) http_ = std::move(http).value();
  FactoryDeps deps{.http = http_.get(), .env = Env::Default(), .getenv = ProcessEnv()};
  // Every configured destination, disabled ones too (their status says so).
  for (const auto& d : config_.destinations)
    dests_.push_back(BuildDestination(d, config_.sync, deps));
}

int App::Init(const std::string& path, bool force) {
  std::string target = path.empty() ? opts_.config_path : path;
  struct stat st;
  if (!force && ::stat(target.c_str(), &st) == 0) {
    std::fprintf(stderr, "error: %s already exists (use --force to overwrite)\n", target.c_str());
    return kExitUsage;
  }
  std::ofstream out(target, std::ios::trunc);
  out << StarterConfig();
  out.close();
  if (!out) {
    std::fprintf(stderr, "error: cannot write %s\n", target.c_str());
    return kExitUsage;
  }
  std::printf(
      "wrote %s: edit the source path and destinations, then run\n"
      "  cloudkeep --config %s config check\n",
      target.c_str(), target.c_str());
  return kExitOk;
}

int App::ConfigCheck() {
  if (!LoadConfig(true)) return kExitUsage;
  int problems = 0;
  std::printf("config %s: ok\n", config_.file.c_str());
  std::printf("  state database: %s\n", config_.database.c_str());
  for (const auto& s : config_.sources)
    std::printf("  source: %s%s%s\n", s.path.c_str(), s.prefix.empty() ? "" : " -> prefix ",
                s.prefix.c_str());
  FactoryDeps deps{.http = nullptr, .env = Env::Default(), .getenv = ProcessEnv()};
  for (const auto& d : config_.destinations) {
    if (!d.enabled) {
      std::printf("  destination %s (%s): disabled\n", d.name.c_str(), d.type.c_str());
      continue;
    }
    std::string creds = "credentials found";
    if (d.type == "s3") {
      auto c = ResolveS3Credentials(d, deps.getenv);
      if (!c.ok()) {
        creds = c.status().message();
        ++problems;
      } else {
        creds = "credentials from " + c->origin;
      }
    } else if (d.type == "b2") {
      auto c = ResolveB2Credentials(d, deps.getenv);
      creds = c.ok() ? "credentials from " + c->origin : c.status().message();
      if (!c.ok()) ++problems;
    }
    std::printf("  destination %s (%s): bucket %s%s%s; %s\n", d.name.c_str(), d.type.c_str(),
                d.bucket.c_str(), d.prefix.empty() ? "" : ", prefix ", d.prefix.c_str(),
                creds.c_str());
  }
  return problems == 0 ? kExitOk : kExitUsage;
}

std::string App::RequestSummary(const std::string& destination) const {
  std::string out;
  for (const auto& h : dests_) {
    if (h.name != destination || !h.metrics) continue;
    for (size_t i = 0; i < DestinationMetrics::kOps; ++i) {
      uint64_t n = h.metrics->calls[i].load();
      if (n == 0) continue;
      if (!out.empty()) out += ", ";
      out += std::to_string(n) + " " + std::string(DestOpName(static_cast<DestOp>(i)));
    }
  }
  return out.empty() ? "none" : out;
}

int App::Sync(std::atomic<bool>* cancel) {
  if (!LoadConfig(false)) return kExitUsage;
  if (!OpenStore()) return kExitUsage;
  BuildDestinations();
  std::vector<EngineDestination> eds = EngineDestinationsFor(dests_);
  EngineOptions eo;
  eo.max_attempts = config_.sync.max_attempts;
  eo.cancel = cancel;
  SyncEngine engine(store_.get(), Env::Default(), config_.sources, std::move(eds), eo);
  SyncProgress progress;
  bool tty = ::isatty(STDERR_FILENO) == 1 && !opts_.quiet;
  ProgressLine line(&progress, tty);
  auto t0 = std::chrono::steady_clock::now();
  auto report = engine.Run(&progress);
  line.Stop();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n", report.status().message().c_str());
    return report.status().kind() == ErrorKind::kCancelled ? kExitFailed : kExitUsage;
  }
  for (const auto& [path, s] : report->scans) {
    std::printf("scan %s: %llu files (%s), %llu new, %llu changed, %llu removed, %llu skipped\n",
                PrintableName(path).c_str(), static_cast<unsigned long long>(s.files),
                HumanBytes(s.bytes).c_str(), static_cast<unsigned long long>(s.new_files),
                static_cast<unsigned long long>(s.changed),
                static_cast<unsigned long long>(s.removed),
                static_cast<unsigned long long>(s.skipped));
  }
  for (const auto& d : report->destinations) {
    double rate = d.seconds > 0 ? static_cast<double>(d.uploaded_bytes) / d.seconds : 0;
    std::string line2 = d.name + ": ";
    if (!d.fatal.ok()) {
      std::string what = d.fatal.kind() == ErrorKind::kAuth        ? "authentication failed"
                         : d.fatal.kind() == ErrorKind::kNotFound  ? "bucket not found"
                         : d.fatal.kind() == ErrorKind::kTransient ? "unreachable"
                                                                   : "failed";
      line2 += "ERROR " + what + " for destination " + d.name + ": " + d.fatal.message() + "; ";
    }
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "uploaded %llu files (%s) in %s (%s/s); %llu synced, %llu pending, %llu failed",
                  static_cast<unsigned long long>(d.uploaded_files),
                  HumanBytes(d.uploaded_bytes).c_str(), HumanDuration(d.seconds).c_str(),
                  HumanBytes(static_cast<uint64_t>(rate)).c_str(),
                  static_cast<unsigned long long>(d.synced_files),
                  static_cast<unsigned long long>(d.pending_files),
                  static_cast<unsigned long long>(d.failed_total));
    line2 += buf;
    if (d.resumed_uploads > 0)
      line2 += "; resumed " + std::to_string(d.resumed_uploads) + " interrupted uploads";
    if (d.changed_during_upload > 0)
      line2 += "; " + std::to_string(d.changed_during_upload) +
               " files kept changing while read (left pending)";
    if (d.vanished > 0) line2 += "; " + std::to_string(d.vanished) + " files vanished";
    line2 += "; requests: " + RequestSummary(d.name);
    std::printf("%s\n", line2.c_str());
  }
  // The pass goes into the dashboard's history (database figures).
  if (ck::Status st =
          store_->AppendHistory(PassHistory(*report, Env::Default()->NowMicros(), 0), 0);
      !st.ok())
    spdlog::warn("history not recorded: {}", st.ToString());
  bool ok = report->all_synced();
  if (!ok) {
    std::printf("not everything is synced (%s); see `cloudkeep failed` for the reasons\n",
                HumanDuration(secs).c_str());
    return kExitFailed;
  }
  return kExitOk;
}

int App::Status(bool json, bool bucket_stats) {
  if (!LoadConfig(false)) return kExitUsage;
  if (!OpenStore()) return kExitUsage;
  auto counts = store_->Counts();
  auto totals = store_->Totals();
  if (!counts.ok() || !totals.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 (!counts.ok() ? counts.status() : totals.status()).message().c_str());
    return kExitFailed;
  }
  nlohmann::json doc;
  if (bucket_stats) {
    BuildDestinations();
    InspectorOptions io;
    io.max_wait = std::chrono::minutes(10);  // one-shot: wait for the listings
    io.list_parallelism = config_.server.list_parallelism;
    for (const auto& d : config_.destinations) io.buckets[d.name] = d.bucket;
    BucketInspector inspector(dests_, store_.get(), Env::Default(), io);
    auto d = inspector.StatusDocument();
    if (!d.ok()) {
      std::fprintf(stderr, "error: %s\n", d.status().message().c_str());
      return kExitFailed;
    }
    doc = std::move(d).value();
  } else {
    doc = StatusJson(config_, *counts, *totals, Env::Default()->NowMicros());
  }
  bool all = true;
  for (const auto& d : doc["destinations"])
    if (d.value("enabled", true) && !d.value("all_synced", false)) all = false;
  if (json) {
    std::printf("%s\n", doc.dump(2).c_str());
    return all ? kExitOk : kExitFailed;
  }
  std::printf("local: %llu files, %s (%llu skipped entries)\n",
              static_cast<unsigned long long>(totals->files), HumanBytes(totals->bytes).c_str(),
              static_cast<unsigned long long>(totals->skipped));
  for (const auto& d : doc["destinations"]) {
    const std::string name = d["name"].get<std::string>();
    if (!d.value("enabled", true)) {
      std::printf("%-16s disabled\n", name.c_str());
      continue;
    }
    std::string last = !d.contains("last_synced_at") || d["last_synced_at"].is_null()
                           ? "never"
                           : d["last_synced_at"].get<std::string>();
    std::string source = d["synced"].value("source", "database");
    std::printf(
        "%-16s synced %llu files (%s, from %s), pending %llu (%s), failed %llu; "
        "last upload %s\n",
        name.c_str(), d["synced"]["files"].get<unsigned long long>(),
        HumanBytes(d["synced"]["bytes"].get<uint64_t>()).c_str(), source.c_str(),
        d["pending"]["files"].get<unsigned long long>(),
        HumanBytes(d["pending"]["bytes"].get<uint64_t>()).c_str(),
        d["failed"]["files"].get<unsigned long long>(), last.c_str());
    if (d.contains("connection")) {
      std::printf("%-16s %s: %s\n", "", d["connection"].value("state", "").c_str(),
                  d["connection"].value("message", "").c_str());
    }
  }
  return all ? kExitOk : kExitFailed;
}

int App::Serve() {
  if (!LoadConfig(true)) return kExitUsage;
  if (!OpenStore()) return kExitUsage;
  const char* env_token = std::getenv("CLOUDKEEP_API_TOKEN");
  bool created = false;
  auto token = LoadOrCreateToken(env_token != nullptr ? env_token : "", config_.server.token_file,
                                 config_.server.token_file, &created);
  if (!token.ok()) {
    std::fprintf(stderr, "error: API token: %s\n", token.status().message().c_str());
    return kExitUsage;
  }
  if (created)
    std::printf("created a new API token in %s (mode 0600); the dashboard asks for it\n",
                config_.server.token_file.c_str());
  BuildDestinations();
  ServeOptions so;
  so.rescan_interval = config_.server.scan_interval_s > 0
                           ? std::chrono::milliseconds(config_.server.scan_interval_s * 1000LL)
                           : std::chrono::milliseconds(std::chrono::hours(24 * 365));
  so.sync_on_start = config_.server.scan_interval_s > 0;
  so.inspector.reconcile_interval =
      std::chrono::milliseconds(config_.server.reconcile_interval_s * 1000LL);
  so.inspector.health_check_interval =
      std::chrono::milliseconds(config_.server.health_check_interval_s * 1000LL);
  so.inspector.list_parallelism = config_.server.list_parallelism;
  so.api.listen = config_.server.listen;
  so.api.tls_cert_file = config_.server.cert;
  so.api.tls_key_file = config_.server.key;
  so.api.token = *token;

  // Signals are taken by sigwait on this thread, not by a handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto runner = ServeRunner::Make(config_, store_.get(), dests_, Env::Default(), so);
  if (!runner.ok()) {
    std::fprintf(stderr, "error: %s\n", runner.status().message().c_str());
    return kExitUsage;
  }
  (*runner)->api().SetStaticHandler(
      [](const std::string& path, std::string* body, std::string* content_type) {
        WebAsset a;
        if (!FindWebAsset(path, &a)) return false;
        body->assign(a.body);
        content_type->assign(a.content_type);
        return true;
      });
  if (ck::Status st = (*runner)->Start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return kExitUsage;
  }
  std::printf("cloudkeep serving on %s://%s (port %d); Ctrl-C stops\n",
              config_.server.cert.empty() ? "http" : "https", config_.server.listen.c_str(),
              (*runner)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping (uploads in flight finish, the rest stays pending)", sig);
  (*runner)->Stop();
  std::printf("stopped\n");
  return kExitOk;
}

int App::Failed(bool json, const std::string& destination, size_t limit) {
  if (!LoadConfig(false)) return kExitUsage;
  if (!destination.empty() && config_.FindDestination(destination) == nullptr) {
    std::fprintf(stderr, "error: no destination named '%s' in %s\n", destination.c_str(),
                 config_.file.c_str());
    return kExitUsage;
  }
  if (!OpenStore()) return kExitUsage;
  nlohmann::json files = nlohmann::json::array();
  std::string cursor;
  size_t n = 0;
  std::vector<FailedFile> all;
  do {
    size_t page = limit == 0 ? 500 : std::min<size_t>(500, limit - n);
    auto r = store_->ListFailed(destination, page, cursor);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
      return kExitFailed;
    }
    for (auto& f : r->files) all.push_back(std::move(f));
    n = all.size();
    cursor = r->next_cursor;
  } while (!cursor.empty() && (limit == 0 || n < limit));
  if (json) {
    for (const auto& f : all) files.push_back(FailedFileJson(f));
    nlohmann::json doc = {
        {"files", files},
        {"next_cursor", cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(cursor)}};
    std::printf("%s\n", doc.dump(2).c_str());
  } else if (all.empty()) {
    std::printf("no failed files\n");
  } else {
    for (const auto& f : all) {
      std::printf("%s\t%s\t%s: %s (attempts: %d, last %s)\n", f.destination.c_str(),
                  PrintableName(f.source + "/" + f.rel_path).c_str(), f.error_kind.c_str(),
                  PrintableName(f.error).c_str(), f.attempts,
                  f.last_attempt_us > 0 ? IsoTime(f.last_attempt_us).c_str() : "never");
    }
    std::printf("%zu failed files%s; `cloudkeep retry` queues them again\n", all.size(),
                cursor.empty() ? "" : " shown (more exist)");
  }
  return all.empty() ? kExitOk : kExitFailed;
}

int App::Retry(const std::string& destination, const std::vector<std::string>& paths) {
  if (!LoadConfig(false)) return kExitUsage;
  if (!destination.empty() && config_.FindDestination(destination) == nullptr) {
    std::fprintf(stderr, "error: no destination named '%s' in %s\n", destination.c_str(),
                 config_.file.c_str());
    return kExitUsage;
  }
  if (!OpenStore()) return kExitUsage;
  auto r = store_->Retry(destination, paths);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return kExitFailed;
  }
  std::printf("%llu failed files queued for the next sync\n", static_cast<unsigned long long>(*r));
  return kExitOk;
}

}  // namespace ck
