#include "server/api_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>

#include "inspect/time_format.h"
#include "server/api_token.h"
#include "util/encoding.h"

namespace ck {

using json = nlohmann::json;

struct ApiServer::Route {
  // '/'-separated segments; "{x}" matches any one non-empty segment. Also the
  // route's name in logs and metrics.
  std::string pattern;
  std::vector<std::string> methods;  // "GET" implies "HEAD"
  std::function<void(const httplib::Request&, httplib::Response&,
                     const std::vector<std::string>& params)>
      handler;
};

namespace {

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

// Per-request context, kept in the worker thread that serves the request
// (cpp-httplib runs routing, handlers, error handler and logger on one thread).
struct RequestContext {
  std::chrono::steady_clock::time_point start;
  bool started = false;
  std::string route = "unmatched";
};
thread_local RequestContext tl_request;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SendError(httplib::Response& res, int status, std::string_view code,
               const std::string& message) {
  SendJson(res, status, {{"error", {{"code", code}, {"message", JsonSafeString(message)}}}});
}

std::string_view CodeForStatus(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

std::string MessageForStatus(int status) {
  switch (status) {
    case 400:
      return "malformed request";
    case 404:
      return "no such resource";
    case 413:
      return "request body too large";
    case 414:
      return "request URI too long";
    default:
      return status >= 500 ? "internal error (see the server log)" : "request failed";
  }
}

// Whether path matches a route pattern; the segments matched by "{x}" go to *params.
bool MatchRoute(std::string_view pattern, std::string_view path, std::vector<std::string>* params) {
  params->clear();
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    size_t pe = pattern.find('/'), se = path.find('/');
    std::string_view pseg = pattern.substr(0, pe), seg = path.substr(0, se);
    if (pseg.size() >= 2 && pseg.front() == '{' && pseg.back() == '}') {
      if (seg.empty()) return false;
      params->emplace_back(seg);
    } else if (pseg != seg) {
      return false;
    }
    pattern = pe == std::string_view::npos ? std::string_view() : pattern.substr(pe);
    path = se == std::string_view::npos ? std::string_view() : path.substr(se);
  }
  return true;
}

bool IsApiPath(const std::string& path) {
  return path == "/api" || path.rfind("/api/", 0) == 0;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Parses a decimal integer parameter in [lo, hi]; false when malformed or out of range.
bool ParseIntParam(const std::string& v, int64_t lo, int64_t hi, int64_t* out) {
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int64_t n = std::stoll(v);
  if (n < lo || n > hi) return false;
  *out = n;
  return true;
}

json FailedFileToJson(const FailedFile& f) {
  return {{"id", f.file_id},
          {"path", JsonSafeString(f.rel_path)},
          {"source", JsonSafeString(f.source)},
          {"destination", f.destination},
          {"size", f.size},
          {"error_kind", f.error_kind},
          {"error", JsonSafeString(f.error)},
          {"attempts", f.attempts},
          {"last_attempt_at", IsoTimeJson(f.last_attempt_us)}};
}

// cpp-httplib 0.11 listens with a backlog of 5, so a burst of connections (a
// dashboard loading, many clients at once) overflows the accept queue and
// clients stall for seconds. The listening socket is protected; calling
// listen(2) again on it raises the backlog in place.
template <typename Base>
class WideBacklogServer : public Base {
 public:
  using Base::Base;
  bool WidenBacklog(int backlog) { return ::listen(this->svr_sock_.load(), backlog) == 0; }
};

constexpr int kListenBacklog = 256;

std::vector<double> DefaultBounds() {
  return std::vector<double>(DestinationMetrics::kBuckets.begin(),
                             DestinationMetrics::kBuckets.end());
}

}  // namespace

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  ListenAddress a;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return InvalidArgument("listen address \"" + text + "\" is not [ipv6]:port");
    a.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return InvalidArgument("listen address \"" + text + "\" is not host:port");
    a.host = text.substr(0, colon);
    if (a.host.find(':') != std::string::npos)
      return InvalidArgument("listen address \"" + text +
                             "\": write IPv6 addresses in brackets, e.g. [::1]:8080");
    port = text.substr(colon + 1);
  }
  if (a.host.empty()) a.host = "127.0.0.1";
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return InvalidArgument("listen address \"" + text +
                           "\": port must be a number from 0 to 65535");
  a.port = std::stoi(port);
  return a;
}

Result<std::unique_ptr<ApiServer>> ApiServer::Make(ApiServerOptions options, ApiDeps deps) {
  if (deps.inspector == nullptr || deps.store == nullptr || deps.env == nullptr)
    return InvalidArgument("API server: inspector, store and env are required");
  CK_ASSIGN_OR_RETURN(ListenAddress addr, ParseListenAddress(options.listen));
  if (options.token.size() < kMinApiTokenLength)
    return Status(ErrorKind::kConfig, "API server: the token must have at least " +
                                          std::to_string(kMinApiTokenLength) + " characters");
  if (options.threads < 1 || options.threads > 256)
    return Status(ErrorKind::kConfig, "API server: threads must be from 1 to 256");
  if (options.max_body_bytes == 0)
    return Status(ErrorKind::kConfig, "API server: max_body_bytes must be positive");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty())
    return Status(ErrorKind::kConfig,
                  "API server: TLS needs both a certificate file and a key file");
  for (const std::string* f : {&options.tls_cert_file, &options.tls_key_file}) {
    struct stat st;
    if (!f->empty() && ::stat(f->c_str(), &st) != 0)
      return Status(ErrorKind::kConfig, "API server: cannot read TLS file " + *f);
  }
  std::unique_ptr<ApiServer> s(new ApiServer(std::move(options), deps, std::move(addr)));
  if (!s->server_->is_valid())
    return Status(ErrorKind::kConfig, "API server: cannot load the TLS certificate " +
                                          s->opts_.tls_cert_file + " with key " +
                                          s->opts_.tls_key_file);
  return s;
}

ApiServer::ApiServer(ApiServerOptions options, ApiDeps deps, ListenAddress addr)
    : opts_(std::move(options)),
      deps_(std::move(deps)),
      addr_(std::move(addr)),
      latency_(DefaultBounds()) {
  if (!opts_.tls_cert_file.empty()) {
    auto tls = std::make_unique<WideBacklogServer<httplib::SSLServer>>(opts_.tls_cert_file.c_str(),
                                                                       opts_.tls_key_file.c_str());
    widen_backlog_ = [p = tls.get()] { return p->WidenBacklog(kListenBacklog); };
    server_ = std::move(tls);
  } else {
    auto plain = std::make_unique<WideBacklogServer<httplib::Server>>();
    widen_backlog_ = [p = plain.get()] { return p->WidenBacklog(kListenBacklog); };
    server_ = std::move(plain);
  }
  started_us_ = deps_.env->NowMicros();
  BuildRoutes();
  auto& s = *server_;
  int threads = opts_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(opts_.max_body_bytes);
  // cpp-httplib's default also sets SO_REUSEPORT, which lets a second process of
  // the same user bind the same port and take a share of the requests; only
  // SO_REUSEADDR (restart without waiting for TIME_WAIT) is wanted.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_keep_alive_timeout(2);
  // cpp-httplib closes a kept-alive connection after 5 requests by default:
  // a polling dashboard or a monitoring client would reconnect all the time.
  s.set_keep_alive_max_count(1000);
  // Headers and body go out in two writes; without TCP_NODELAY the body of a
  // kept-alive response waits for the client's delayed ACK (~40 ms each).
  s.set_tcp_nodelay(true);
  s.set_read_timeout(10, 0);
  s.set_write_timeout(10, 0);
  s.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    tl_request.start = std::chrono::steady_clock::now();
    tl_request.started = true;
    tl_request.route = "unmatched";
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res);
  };
  s.Get(".*", dispatch);
  s.Post(".*", httplib::Server::Handler(dispatch));
  s.Put(".*", httplib::Server::Handler(dispatch));
  s.Patch(".*", httplib::Server::Handler(dispatch));
  s.Delete(".*", httplib::Server::Handler(dispatch));
  s.Options(".*", dispatch);
  // Errors cpp-httplib produces itself (413, 400, unknown methods) get the JSON shape.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        SendError(res, res.status, CodeForStatus(res.status), MessageForStatus(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("api handler failed: method={} path={} error=\"{}\"", req.method,
                      PrintableName(req.path), PrintableName(what));
        SendError(res, 500, "internal", "internal error (see the server log)");
      });
  s.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Content-Security-Policy", kCsp);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    if (IsApiPath(req.path) || req.path == "/metrics") res.set_header("Cache-Control", "no-store");
  });
  s.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { OnLogged(req, res); });
}

ApiServer::~ApiServer() {
  Stop();
}

void ApiServer::SetStaticHandler(StaticHandler handler) {
  static_handler_ = std::move(handler);
}

void ApiServer::BuildRoutes() {
  using Params = std::vector<std::string>;
  auto add =
      [this](std::string pattern, std::string method,
             std::function<void(const httplib::Request&, httplib::Response&, const Params&)> h) {
        routes_.push_back(Route{std::move(pattern), {std::move(method)}, std::move(h)});
      };
  add("/api/health", "GET",
      [this](const auto& req, auto& res, const Params&) { HandleHealth(req, res); });
  add("/api/status", "GET",
      [this](const auto& req, auto& res, const Params&) { HandleStatus(req, res); });
  add("/api/buckets/status", "GET",
      [this](const auto& req, auto& res, const Params&) { HandleBucketsStatus(req, res); });
  add("/api/buckets/{name}/status", "GET",
      [this](const auto&, auto& res, const Params& p) { HandleBucketStatus(p[0], res); });
  add("/api/buckets/{name}/refresh", "POST",
      [this](const auto&, auto& res, const Params& p) { HandleBucketRefresh(p[0], res); });
  add("/api/sync/failed-files", "GET",
      [this](const auto& req, auto& res, const Params&) { HandleFailedFiles(req, res); });
  add("/api/sync/retry", "POST",
      [this](const auto& req, auto& res, const Params&) { HandleRetry(req, res); });
  add("/api/sync/run", "POST", [this](const auto&, auto& res, const Params&) { HandleRun(res); });
  add("/api/history", "GET",
      [this](const auto& req, auto& res, const Params&) { HandleHistory(req, res); });
  add("/metrics", "GET", [this](const auto&, auto& res, const Params&) { HandleMetrics(res); });
}

bool ApiServer::Authorized(const httplib::Request& req) const {
  std::string h = Trim(req.get_header_value("Authorization"));
  constexpr std::string_view kScheme = "Bearer ";
  if (h.size() <= kScheme.size() ||
      !IEquals(std::string_view(h).substr(0, kScheme.size()), kScheme))
    return false;
  return TokensEqual(Trim(std::string_view(h).substr(kScheme.size())), opts_.token);
}

void ApiServer::Dispatch(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  bool api = IsApiPath(path);
  bool metrics = path == "/metrics";
  bool needs_auth = (api && path != "/api/health") || (metrics && !opts_.metrics_public);
  if (needs_auth && !Authorized(req)) {
    tl_request.route = "unauthorized";
    res.set_header("WWW-Authenticate", "Bearer realm=\"cloudkeep\"");
    SendError(res, 401, "unauthorized",
              "a valid API token is required (header Authorization: Bearer <token>)");
    return;
  }
  std::vector<std::string> params;
  for (const auto& r : routes_) {
    if (!MatchRoute(r.pattern, path, &params)) continue;
    tl_request.route = r.pattern;
    bool allowed = false;
    std::string allow;
    for (const auto& meth : r.methods) {
      if (req.method == meth || (meth == "GET" && req.method == "HEAD")) allowed = true;
      if (!allow.empty()) allow += ", ";
      allow += meth == "GET" ? "GET, HEAD" : meth;
    }
    if (!allowed) {
      res.set_header("Allow", allow);
      SendError(res, 405, "method_not_allowed",
                "method " + req.method + " is not allowed here (allowed: " + allow + ")");
      return;
    }
    r.handler(req, res, params);
    return;
  }
  if (!api && !metrics && (req.method == "GET" || req.method == "HEAD") && static_handler_) {
    tl_request.route = "static";
    std::string body, content_type;
    if (static_handler_(path, &body, &content_type)) {
      res.status = 200;
      res.set_content(std::move(body), content_type);
      return;
    }
  }
  SendError(res, 404, "not_found", "no such resource");
}

void ApiServer::OnLogged(const httplib::Request& req, const httplib::Response& res) {
  double ms = 0;
  if (tl_request.started) {
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                   tl_request.start)
             .count();
  }
  std::string route = tl_request.started ? tl_request.route : "unmatched";
  tl_request.started = false;
  latency_.Observe({{"route", route}}, ms / 1000.0);
  {
    std::lock_guard<std::mutex> l(counts_mu_);
    request_counts_[{route, res.status}]++;
  }
  spdlog::info("api method={} path=\"{}\" status={} ms={:.1f}", req.method, PrintableName(req.path),
               res.status, ms);
}

Status ApiServer::Start() {
  std::lock_guard<std::mutex> l(stop_mu_);
  if (started_) return Status(ErrorKind::kInvalidArgument, "API server already started");
  if (addr_.port == 0) {
    port_ = server_->bind_to_any_port(addr_.host);
    if (port_ < 0) return Status(ErrorKind::kIo, "API server: cannot listen on " + addr_.host);
  } else {
    if (!server_->bind_to_port(addr_.host, addr_.port))
      return Status(ErrorKind::kIo, "API server: cannot listen on " + opts_.listen +
                                        " (address in use, or not permitted)");
    port_ = addr_.port;
  }
  if (!widen_backlog_()) spdlog::warn("API server: could not raise the listen backlog");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  started_ = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool loopback =
      addr_.host == "localhost" || addr_.host == "::1" || addr_.host.rfind("127.", 0) == 0;
  if (!loopback && !tls())
    spdlog::warn(
        "API server listens on {} without TLS: the API token crosses the network in clear text "
        "(set a TLS certificate and key, or listen on 127.0.0.1 behind a TLS proxy)",
        addr_.host);
  spdlog::info("API server listening on {} ({} worker threads{})", url(), opts_.threads,
               opts_.metrics_public ? ", /metrics without token" : "");
  return Status::OK();
}

void ApiServer::Stop() {
  std::lock_guard<std::mutex> l(stop_mu_);
  if (!started_) return;
  // listen_after_bind may not have marked the server running yet; stop() is a
  // no-op until it has, so wait for that first.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  if (thread_.joinable()) thread_.join();
  started_ = false;
  spdlog::info("API server on port {} stopped", port_);
}

std::string ApiServer::url() const {
  std::string host =
      addr_.host.find(':') != std::string::npos ? "[" + addr_.host + "]" : addr_.host;
  return std::string(tls() ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
}

// --- handlers ---------------------------------------------------------------

void ApiServer::UnknownDestination(httplib::Response& res) const {
  // The requested name is not echoed (responses never reflect client input).
  std::string known;
  for (const auto& n : deps_.inspector->names()) known += (known.empty() ? "" : ", ") + n;
  SendError(res, 404, "not_found",
            "no such destination (configured: " + (known.empty() ? "none" : known) + ")");
}

void ApiServer::HandleHealth(const httplib::Request&, httplib::Response& res) {
  int64_t now = deps_.env->NowMicros();
  SendJson(res, 200,
           {{"status", "ok"},
            {"time", FormatIsoTime(now)},
            {"uptime_seconds", static_cast<double>(now - started_us_) / 1e6}});
}

void ApiServer::HandleStatus(const httplib::Request&, httplib::Response& res) {
  auto doc = deps_.inspector->StatusDocument();
  if (!doc.ok()) {
    spdlog::error("api status: {}", doc.status().ToString());
    SendError(res, 500, "internal", "the state database could not be read (see the server log)");
    return;
  }
  if (deps_.sync_state) (*doc)["sync"] = deps_.sync_state();
  SendJson(res, 200, *doc);
}

void ApiServer::HandleBucketsStatus(const httplib::Request&, httplib::Response& res) {
  auto snaps = deps_.inspector->Snapshots(true);
  bool healthy = true;
  json dests = json::array();
  for (const auto& s : snaps) {
    if (s.enabled && s.connection.state != ConnectionState::kConnected) healthy = false;
    dests.push_back(
        {{"name", s.name}, {"enabled", s.enabled}, {"connection", ConnectionJson(s.connection)}});
  }
  SendJson(res, 200, {{"healthy", healthy}, {"destinations", dests}});
}

void ApiServer::HandleBucketStatus(const std::string& name, httplib::Response& res) {
  auto d = deps_.inspector->DestinationStatus(name);
  if (!d.ok()) {
    if (d.status().kind() == ErrorKind::kNotFound) {
      UnknownDestination(res);
    } else {
      spdlog::error("api bucket status {}: {}", PrintableName(name), d.status().ToString());
      SendError(res, 500, "internal", "the state database could not be read (see the server log)");
    }
    return;
  }
  SendJson(res, 200, *d);
}

void ApiServer::HandleBucketRefresh(const std::string& name, httplib::Response& res) {
  if (!deps_.inspector->Has(name)) {
    UnknownDestination(res);
    return;
  }
  // The outcome (connected or not) is part of the document; only "unknown" fails.
  (void)deps_.inspector->Refresh(name);
  HandleBucketStatus(name, res);
}

void ApiServer::HandleFailedFiles(const httplib::Request& req, httplib::Response& res) {
  std::string dest = req.get_param_value("destination");
  if (!dest.empty() && !deps_.inspector->Has(dest)) {
    UnknownDestination(res);
    return;
  }
  int64_t limit = 100;
  if (req.has_param("limit") && !ParseIntParam(req.get_param_value("limit"), 1, 1000, &limit)) {
    SendError(res, 400, "bad_request", "limit must be an integer from 1 to 1000");
    return;
  }
  auto page =
      deps_.store->ListFailed(dest, static_cast<size_t>(limit), req.get_param_value("cursor"));
  if (!page.ok()) {
    if (page.status().kind() == ErrorKind::kInvalidArgument) {
      SendError(res, 400, "bad_request", "malformed cursor");
    } else {
      spdlog::error("api failed-files: {}", page.status().ToString());
      SendError(res, 500, "internal", "the state database could not be read (see the server log)");
    }
    return;
  }
  json files = json::array();
  for (const auto& f : page->files) files.push_back(FailedFileToJson(f));
  SendJson(res, 200,
           {{"files", files},
            {"next_cursor", page->next_cursor.empty() ? json(nullptr) : json(page->next_cursor)}});
}

void ApiServer::HandleRetry(const httplib::Request& req, httplib::Response& res) {
  std::string dest;
  std::vector<std::string> paths;
  std::vector<int64_t> ids;
  bool by_id = false;
  std::string body = Trim(req.body);
  if (!body.empty()) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      SendError(res, 400, "bad_request",
                "the body must be empty or a JSON object {\"destination\", \"paths\" or "
                "\"ids\"}");
      return;
    }
    for (const auto& [key, value] : j.items()) {
      if (key == "destination") {
        if (!value.is_string() && !value.is_null()) {
          SendError(res, 400, "bad_request", "destination must be a string");
          return;
        }
        if (value.is_string()) dest = value.get<std::string>();
      } else if (key == "paths") {
        if (!value.is_array() && !value.is_null()) {
          SendError(res, 400, "bad_request", "paths must be an array of strings");
          return;
        }
        for (const auto& p : value) {
          if (!p.is_string()) {
            SendError(res, 400, "bad_request", "paths must be an array of strings");
            return;
          }
          paths.push_back(p.get<std::string>());
        }
      } else if (key == "ids") {
        if (!value.is_array()) {
          SendError(res, 400, "bad_request", "ids must be an array of failed-file ids");
          return;
        }
        by_id = true;
        for (const auto& p : value) {
          if (!p.is_number_integer()) {
            SendError(res, 400, "bad_request", "ids must be an array of failed-file ids");
            return;
          }
          ids.push_back(p.get<int64_t>());
        }
      } else {
        SendError(res, 400, "bad_request", "unknown field '" + key + "'");
        return;
      }
    }
  }
  if (!dest.empty() && !deps_.inspector->Has(dest)) {
    UnknownDestination(res);
    return;
  }
  if (by_id && !paths.empty()) {
    SendError(res, 400, "bad_request", "give paths or ids, not both");
    return;
  }
  if (by_id && ids.empty()) {  // an empty choice retries nothing (not everything)
    SendJson(res, 202, {{"queued", 0}, {"sync", nullptr}});
    return;
  }
  auto n = by_id ? deps_.store->RetryFiles(dest, ids) : deps_.store->Retry(dest, paths);
  if (!n.ok()) {
    spdlog::error("api retry: {}", n.status().ToString());
    SendError(res, 500, "internal", "the state database could not be updated (see the server log)");
    return;
  }
  spdlog::info("api retry: {} failed files queued (destination={}, paths={}, ids={})", *n,
               dest.empty() ? "all" : dest, paths.size(), ids.size());
  json sync = nullptr;
  if (*n > 0 && deps_.trigger_sync) sync = deps_.trigger_sync();
  SendJson(res, 202, {{"queued", *n}, {"sync", sync}});
}

void ApiServer::HandleRun(httplib::Response& res) {
  if (!deps_.trigger_sync) {
    SendError(res, 503, "unavailable", "this process does not run sync passes");
    return;
  }
  SendJson(res, 202, deps_.trigger_sync());
}

void ApiServer::HandleHistory(const httplib::Request& req, httplib::Response& res) {
  HistoryQuery q;
  const int64_t now_us = deps_.env->NowMicros();
  int64_t since = (now_us / 1000000) - 7 * 86400;  // default: the last 7 days
  if (req.has_param("since") &&
      !ParseIntParam(req.get_param_value("since"), 0, int64_t{1} << 40, &since)) {
    SendError(res, 400, "bad_request", "since must be a time in Unix seconds");
    return;
  }
  q.since_us = since * 1000000;
  int64_t limit = 5000;
  if (req.has_param("limit") && !ParseIntParam(req.get_param_value("limit"), 1, 100000, &limit)) {
    SendError(res, 400, "bad_request", "limit must be an integer from 1 to 100000");
    return;
  }
  q.limit = static_cast<size_t>(limit);
  q.destination = req.get_param_value("destination");
  if (!q.destination.empty() && !deps_.inspector->Has(q.destination)) {
    UnknownDestination(res);
    return;
  }
  auto samples = deps_.store->ListHistory(q);
  if (!samples.ok()) {
    spdlog::error("api history: {}", samples.status().ToString());
    SendError(res, 500, "internal", "the state database could not be read (see the server log)");
    return;
  }
  json out = json::array();
  for (const auto& s : *samples) out.push_back(HistorySampleJson(s));
  json body = {{"since", IsoTimeJson(q.since_us)}, {"samples", std::move(out)}};
  // The server's recent passes (in memory), when it runs a sync loop.
  body["passes"] = deps_.history ? deps_.history()["samples"] : json::array();
  SendJson(res, 200, body);
}

json HistorySampleJson(const HistorySample& s) {
  json j = {{"at", IsoTimeJson(s.at_us)},
            {"at_unix", static_cast<double>(s.at_us) / 1e6},
            {"kind", s.kind},
            {"destination", s.destination},
            {"files", s.files},
            {"bytes", s.bytes},
            {"source", s.source},
            {"uploaded_files", s.uploaded_files},
            {"uploaded_bytes", s.uploaded_bytes},
            {"failed_files", s.failed_files},
            {"pending_files", s.pending_files},
            {"seconds", static_cast<double>(s.duration_ms) / 1000.0},
            {"run_id", s.kind == "pass" ? json(s.run_id) : json(nullptr)}};
  j["throughput_bps"] = s.kind == "pass" && s.duration_ms > 0 && s.uploaded_bytes > 0
                            ? json(static_cast<double>(s.uploaded_bytes) * 1000.0 /
                                   static_cast<double>(s.duration_ms))
                            : json(nullptr);
  return j;
}

void ApiServer::HandleMetrics(httplib::Response& res) {
  res.status = 200;
  res.set_content(Metrics(), "text/plain; version=0.0.4; charset=utf-8");
}

std::string ApiServer::Metrics() {
  PromWriter w;
  auto counts = deps_.store->Counts();
  w.Family("cloudkeep_state_database_up", "gauge",
           "1 when the state database could be read for this scrape.");
  w.Sample("cloudkeep_state_database_up", {}, counts.ok() ? 1 : 0);
  w.Family("cloudkeep_files", "gauge", "Files per destination and state (state database).");
  w.Family("cloudkeep_bytes", "gauge", "Bytes of the files per destination and state.");
  w.Family("cloudkeep_last_upload_timestamp_seconds", "gauge",
           "Unix time of the newest confirmed upload per destination.");
  if (counts.ok()) {
    for (const auto& c : *counts) {
      const std::pair<const char*, std::pair<uint64_t, uint64_t>> states[] = {
          {"synced", {c.synced_files, c.synced_bytes}},
          {"pending", {c.pending_files, c.pending_bytes}},
          {"failed", {c.failed_files, c.failed_bytes}}};
      for (const auto& [state, fb] : states) {
        PromLabels l = {{"destination", c.destination}, {"state", state}};
        w.Sample("cloudkeep_files", l, static_cast<double>(fb.first));
        w.Sample("cloudkeep_bytes", l, static_cast<double>(fb.second));
      }
      if (c.last_synced_us > 0)
        w.Sample("cloudkeep_last_upload_timestamp_seconds", {{"destination", c.destination}},
                 static_cast<double>(c.last_synced_us / 1000000));
    }
  }

  // Bucket figures as cached: a scrape never sends a request to a bucket.
  auto snaps = deps_.inspector->Snapshots(false);
  w.Family("cloudkeep_destination_up", "gauge",
           "1 when the destination's last bucket check succeeded.");
  for (const auto& s : snaps)
    w.Sample("cloudkeep_destination_up", {{"destination", s.name}},
             s.connection.state == ConnectionState::kConnected ? 1 : 0);
  w.Family("cloudkeep_destination_connection", "gauge",
           "Connection diagnosis of each destination (1 for its current state).");
  for (const auto& s : snaps)
    w.Sample(
        "cloudkeep_destination_connection",
        {{"destination", s.name}, {"state", std::string(ConnectionStateName(s.connection.state))}},
        1);
  w.Family("cloudkeep_bucket_objects", "gauge",
           "Objects under the destination's prefix (listing + confirmed changes).");
  w.Family("cloudkeep_bucket_bytes", "gauge", "Bytes under the destination's prefix.");
  w.Family("cloudkeep_bucket_figures_timestamp_seconds", "gauge",
           "Unix time the bucket figures were last known right.");
  for (const auto& s : snaps) {
    if (!s.figures.known) continue;
    PromLabels l = {{"destination", s.name}};
    w.Sample("cloudkeep_bucket_objects", l, static_cast<double>(s.figures.files));
    w.Sample("cloudkeep_bucket_bytes", l, static_cast<double>(s.figures.bytes));
    w.Sample("cloudkeep_bucket_figures_timestamp_seconds", l,
             static_cast<double>(s.figures.as_of_us / 1000000));
  }
  w.Family("cloudkeep_inspector_list_calls_total", "counter",
           "List requests the bucket inspector sent (billed as LIST / Class C).");
  for (const auto& s : snaps)
    w.Sample("cloudkeep_inspector_list_calls_total", {{"destination", s.name}},
             static_cast<double>(s.inspector_list_calls));
  w.Family("cloudkeep_list_calls_total", "counter",
           "All list requests sent to the destination by this process (List, ListParts, "
           "ListMultipartUploads).");
  for (const auto& s : snaps)
    if (s.destination_list_calls)
      w.Sample("cloudkeep_list_calls_total", {{"destination", s.name}},
               static_cast<double>(*s.destination_list_calls));

  w.Family("cloudkeep_uploaded_bytes_total", "counter", "Request body bytes the servers accepted.");
  w.Family("cloudkeep_destination_requests_total", "counter",
           "Requests sent to the destination, by operation.");
  w.Family("cloudkeep_destination_request_errors_total", "counter",
           "Failed requests by operation and error kind.");
  w.Family("cloudkeep_upload_errors_total", "counter",
           "Failed upload requests (put, parts, multipart start/complete) by error kind.");
  w.Family("cloudkeep_destination_request_duration_seconds", "histogram",
           "Latency of requests to the destination, by operation.");
  const DestOp upload_ops[] = {DestOp::kPut, DestOp::kUploadPart, DestOp::kStartMultipart,
                               DestOp::kCompleteMultipart};
  std::vector<double> bounds = DefaultBounds();
  for (const auto& s : snaps) {
    if (!s.metrics) continue;
    const DestinationMetrics& m = *s.metrics;
    w.Sample("cloudkeep_uploaded_bytes_total", {{"destination", s.name}},
             static_cast<double>(m.bytes_uploaded.load()));
    for (size_t op = 0; op < DestinationMetrics::kOps; ++op) {
      std::string opname(DestOpName(static_cast<DestOp>(op)));
      w.Sample("cloudkeep_destination_requests_total", {{"destination", s.name}, {"op", opname}},
               static_cast<double>(m.calls[op].load()));
    }
    for (size_t op = 0; op < DestinationMetrics::kOps; ++op) {
      std::string opname(DestOpName(static_cast<DestOp>(op)));
      for (size_t k = 1; k < DestinationMetrics::kKinds; ++k) {
        uint64_t n = m.errors[op][k].load();
        if (n == 0) continue;
        w.Sample("cloudkeep_destination_request_errors_total",
                 {{"destination", s.name},
                  {"op", opname},
                  {"kind", std::string(ErrorKindName(static_cast<ErrorKind>(k)))}},
                 static_cast<double>(n));
      }
    }
    for (size_t k = 1; k < DestinationMetrics::kKinds; ++k) {
      uint64_t n = 0;
      for (DestOp op : upload_ops) n += m.errors[static_cast<size_t>(op)][k].load();
      if (n == 0) continue;
      w.Sample("cloudkeep_upload_errors_total",
               {{"destination", s.name},
                {"kind", std::string(ErrorKindName(static_cast<ErrorKind>(k)))}},
               static_cast<double>(n));
    }
    for (size_t op = 0; op < DestinationMetrics::kOps; ++op) {
      if (m.calls[op].load() == 0) continue;
      std::vector<uint64_t> buckets;
      for (const auto& b : m.latency_buckets[op]) buckets.push_back(b.load());
      w.Histogram(
          "cloudkeep_destination_request_duration_seconds",
          {{"destination", s.name}, {"op", std::string(DestOpName(static_cast<DestOp>(op)))}},
          bounds, buckets, static_cast<double>(m.latency_us_sum[op].load()) / 1e6);
    }
  }

  w.Family("cloudkeep_api_requests_total", "counter", "API requests served, by route and status.");
  {
    std::lock_guard<std::mutex> l(counts_mu_);
    for (const auto& [key, n] : request_counts_)
      w.Sample("cloudkeep_api_requests_total",
               {{"route", key.first}, {"code", std::to_string(key.second)}},
               static_cast<double>(n));
  }
  w.Family("cloudkeep_api_request_duration_seconds", "histogram",
           "Latency of API requests, by route.");
  latency_.Write(&w, "cloudkeep_api_request_duration_seconds");
  if (deps_.extra_metrics) deps_.extra_metrics(&w);
  return w.text();
}

}  // namespace ck
