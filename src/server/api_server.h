// ApiServer: cloudkeep's HTTP API (cpp-httplib), JSON throughout.
//
// Routes (every one except /api/health needs "Authorization: Bearer <token>";
// /metrics too unless ApiServerOptions::metrics_public):
//   GET  /api/health                      liveness: no auth, no secrets, no bucket calls
//   GET  /api/status                      BucketInspector::StatusDocument (+ "sync" when known)
//   GET  /api/buckets/status              {"healthy", "destinations": [{"name", "enabled",
//   "connection"}]} GET  /api/buckets/{name}/status       one destination's D object; 404 for an
//   unknown name POST /api/buckets/{name}/refresh      re-lists now (at most every
//   min_refresh_interval), then D GET  /api/sync/failed-files?destination=&limit=&cursor=
//                                         {"files": [...], "next_cursor"}; limit 1..1000 (default
//                                         100)
//   POST /api/sync/retry                  body empty (all) or {"destination", "paths"} or
//                                         {"destination", "ids"} (the failed files' "id"):
//                                         failed -> pending; 202 {"queued": n, "sync": ... | null}
//   POST /api/sync/run                    202 with what the trigger callback queued
//   GET  /api/history?since=&destination=&limit=
//                                         {"since", "samples": [HistorySampleJson...] oldest
//                                         first (state DB; default the last 7 days, limit
//                                         1..100000, default 5000), "passes": [...] (callback)}
//   GET  /metrics                         Prometheus text exposition
//   GET  anything else outside /api       the static handler (dashboard), else 404
// Errors are {"error": {"code", "message"}} with status 400 (bad_request), 401
// (unauthorized, with WWW-Authenticate: Bearer), 404 (not_found), 405
// (method_not_allowed, with Allow), 413 (payload_too_large: bodies are capped
// at max_body_bytes), 500 (internal; details only in the log), 503 (unavailable).
// Every response carries a strict Content-Security-Policy, X-Content-Type-Options:
// nosniff, Referrer-Policy: no-referrer and X-Frame-Options: DENY; /api and
// /metrics responses also Cache-Control: no-store.
// Every request is logged (method, path, status, milliseconds) - never a header
// value, so neither the token nor any credential reaches a log or a response.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "inspect/bucket_inspector.h"
#include "server/prometheus.h"
#include "state/state_store.h"
#include "util/env.h"
#include "util/result.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ck {

struct ListenAddress {
  std::string host;  // without brackets for IPv6
  int port = 0;      // 0 = pick a free port
};
// Parses "host:port", "[v6addr]:port" or ":port" (host 127.0.0.1). kInvalidArgument
// for anything else or a port outside 0..65535.
Result<ListenAddress> ParseListenAddress(const std::string& text);

struct ApiServerOptions {
  std::string listen = "127.0.0.1:8080";  // port 0 = pick a free one (see ApiServer::port)
  // HTTPS when both are set (PEM files); neither = plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string token;            // required; at least kMinApiTokenLength characters
  bool metrics_public = false;  // serve /metrics without the token (scrapers on a trusted net)
  // Request worker threads (1..256). cpp-httplib gives each connection a thread
  // for as long as it is kept alive, so this is also how many clients (browser
  // tabs open several connections each) are served at once without queueing.
  int threads = 32;
  size_t max_body_bytes = 64 * 1024;
};

// What the server reads and drives; everything not owned.
struct ApiDeps {
  BucketInspector* inspector = nullptr;  // required
  StateStore* store = nullptr;           // required
  Env* env = nullptr;                    // required
  // Queues a sync pass (POST /api/sync/run, and after a retry that queued
  // files); returns what was queued, e.g. {"queued": true, "run_id": 3}.
  // Null: /api/sync/run answers 503.
  std::function<nlohmann::json()> trigger_sync;
  // Recent sync passes for /api/history's "passes" ({"samples": [...]}); null: none.
  std::function<nlohmann::json()> history;
  // Added to /api/status as "sync" when set (running pass, progress, schedule).
  std::function<nlohmann::json()> sync_state;
  // Appends further series to /metrics (e.g. sync pass counters).
  std::function<void(PromWriter*)> extra_metrics;
};

// One history sample: {"at", "at_unix", "kind", "destination", "files", "bytes",
// "source", "uploaded_files", "uploaded_bytes", "failed_files", "pending_files",
// "seconds", "run_id", "throughput_bps" (uploaded bytes per second of a pass, or null)}.
nlohmann::json HistorySampleJson(const HistorySample& s);

class ApiServer {
 public:
  // Serves a static file for a GET outside /api: fills *body and *content_type
  // and returns true, or returns false (404).
  using StaticHandler =
      std::function<bool(const std::string& path, std::string* body, std::string* content_type)>;

  // Validates the options (listen address, token, TLS files loadable, limits).
  // kConfig / kInvalidArgument naming the problem.
  static Result<std::unique_ptr<ApiServer>> Make(ApiServerOptions options, ApiDeps deps);
  ~ApiServer();  // Stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Call before Start().
  void SetStaticHandler(StaticHandler handler);

  // Binds the listen address and serves on a background thread; returns once
  // the server accepts connections. kIo when the address cannot be bound.
  Status Start();
  // Stops accepting, finishes requests in progress and joins. Idempotent.
  void Stop();

  // The bound port (after Start), the host, and whether it is HTTPS.
  int port() const { return port_; }
  const std::string& host() const { return addr_.host; }
  bool tls() const { return !opts_.tls_cert_file.empty(); }
  // "http://127.0.0.1:8080" style base URL (after Start).
  std::string url() const;

 private:
  struct Route;
  ApiServer(ApiServerOptions options, ApiDeps deps, ListenAddress addr);
  void BuildRoutes();
  void Dispatch(const httplib::Request& req, httplib::Response& res);
  bool Authorized(const httplib::Request& req) const;
  void OnLogged(const httplib::Request& req, const httplib::Response& res);
  std::string Metrics();

  void UnknownDestination(httplib::Response& res) const;
  void HandleHealth(const httplib::Request& req, httplib::Response& res);
  void HandleStatus(const httplib::Request& req, httplib::Response& res);
  void HandleBucketsStatus(const httplib::Request& req, httplib::Response& res);
  void HandleBucketStatus(const std::string& name, httplib::Response& res);
  void HandleBucketRefresh(const std::string& name, httplib::Response& res);
  void HandleFailedFiles(const httplib::Request& req, httplib::Response& res);
  void HandleRetry(const httplib::Request& req, httplib::Response& res);
  void HandleRun(httplib::Response& res);
  void HandleHistory(const httplib::Request& req, httplib::Response& res);
  void HandleMetrics(httplib::Response& res);

  ApiServerOptions opts_;
  ApiDeps deps_;
  ListenAddress addr_;
  std::unique_ptr<httplib::Server> server_;
  std::function<bool()> widen_backlog_;  // raises the listen backlog after binding
  std::vector<Route> routes_;
  StaticHandler static_handler_;
  LatencyHistograms latency_;
  std::mutex counts_mu_;
  std::map<std::pair<std::string, int>, uint64_t> request_counts_;  // (route, status)
  int64_t started_us_ = 0;
  int port_ = 0;
  std::thread thread_;
  std::mutex stop_mu_;
  bool started_ = false;
};

}  // namespace ck
