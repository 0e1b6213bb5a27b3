#include "server/api_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <set>
#include <sstream>
#include <thread>

#include "config/credentials.h"
#include "inspect/inspect_test_util.h"

namespace ck {
namespace {

using inspect_testing::DisabledHandle;
using inspect_testing::FakeClockEnv;
using inspect_testing::MemoryHandle;
using inspect_testing::PutObject;
using inspect_testing::ScratchDir;
using inspect_testing::SeedDatabase;
using json = nlohmann::json;

constexpr const char* kToken = "tok-0123456789abcdef-VERYSECRET";

// Every spdlog line of the test goes into a string (to look for secrets).
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  // Call only when nothing logs any more (servers stopped).
  std::string Text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = inspect_testing::OpenStore(dir_.File("state.db"), &env_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    inspector_.reset();
  }

  // A memory destination behind the standard decorators (so it has metrics).
  MemoryDestination* AddMemory(const std::string& name) {
    MemoryDestination* raw = nullptr;
    DestinationHandle h = MemoryHandle(name, "host/", &raw);
    h.metrics = std::make_shared<DestinationMetrics>();
    RetryPolicy p;
    p.max_retries = 0;
    h.dest = Decorate(std::move(h.dest), h.metrics, p, 4, &env_, &h.retry_layer);
    handles_.push_back(std::move(h));
    return raw;
  }

  void StartServer(ApiServerOptions o = {}, ApiDeps deps = {},
                   ApiServer::StaticHandler static_handler = nullptr) {
    InspectorOptions io;
    io.max_wait = std::chrono::seconds(30);
    io.min_refresh_interval = std::chrono::milliseconds(0);
    inspector_ = std::make_unique<BucketInspector>(handles_, store_.get(), &env_, io);
    o.listen = "127.0.0.1:0";
    if (o.token.empty()) o.token = kToken;
    deps.inspector = inspector_.get();
    deps.store = store_.get();
    deps.env = &env_;
    auto s = ApiServer::Make(o, deps);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    if (static_handler) server_->SetStaticHandler(static_handler);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(std::chrono::seconds(30));
    return c;
  }
  static httplib::Headers Auth(const std::string& token = kToken) {
    return {{"Authorization", "Bearer " + token}};
  }

  // Remembers everything a response showed the client.
  void Record(const httplib::Result& r) {
    if (!r) return;
    std::lock_guard<std::mutex> l(seen_mu_);
    seen_ += r->body;
    for (const auto& [k, v] : r->headers) seen_ += k + ": " + v + "\n";
  }
  httplib::Result Get(const std::string& path, const httplib::Headers& h = Auth()) {
    auto c = Client();
    auto r = c.Get(path, h);
    Record(r);
    return r;
  }
  httplib::Result Post(const std::string& path, const std::string& body,
                       const httplib::Headers& h = Auth()) {
    auto c = Client();
    auto r = c.Post(path, h, body, "application/json");
    Record(r);
    return r;
  }
  static json Body(const httplib::Result& r) {
    EXPECT_TRUE(r);
    if (!r) return json();
    json j = json::parse(r->body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r->body;
    return j;
  }
  // Asserts the JSON error shape and returns the code.
  static std::string ErrorCode(const httplib::Result& r) {
    json j = Body(r);
    EXPECT_TRUE(j.contains("error")) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    if (!j.contains("error")) return "";
    EXPECT_TRUE(j["error"]["message"].is_string());
    return j["error"]["code"].get<std::string>();
  }

  ScratchDir dir_;
  FakeClockEnv env_;
  std::unique_ptr<StateStore> store_;
  std::vector<DestinationHandle> handles_;
  std::unique_ptr<BucketInspector> inspector_;
  std::unique_ptr<ApiServer> server_;
  std::mutex seen_mu_;
  std::string seen_;
};

TEST_F(ApiServerTest, ServesTheStatusDocumentToTokenHolders) {
  auto* a = AddMemory("a");
  for (int i = 0; i < 12; ++i) PutObject(a, "host/f" + std::to_string(i), "12345");
  SeedDatabase(store_.get(), {"a"}, 12, 3, 2);
  StartServer();
  auto r = Get("/api/status");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json doc = Body(r);
  ASSERT_EQ(doc["destinations"].size(), 1u);
  const json& d = doc["destinations"][0];
  EXPECT_EQ(d["connection"]["state"], "connected");
  EXPECT_EQ(d["synced"]["files"], 12);
  EXPECT_EQ(d["synced"]["bytes"], 60);
  EXPECT_EQ(d["synced"]["source"], "bucket");
  EXPECT_EQ(d["pending"]["files"], 3);
  EXPECT_EQ(d["failed"]["files"], 2);
  EXPECT_EQ(d["list_calls"], 1);
  EXPECT_EQ(doc["totals"]["files"], 12);
  EXPECT_FALSE(doc.contains("sync")) << "no sync loop in this process";
  // Same document as the inspector builds (modulo timing fields).
  auto direct = inspector_->StatusDocument();
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ((*direct)["destinations"][0]["synced"], d["synced"]);
}

TEST_F(ApiServerTest, EveryProtectedRouteNeedsTheToken) {
  auto* a = AddMemory("a");
  bool triggered = false;
  ApiDeps deps;
  deps.trigger_sync = [&] {
    triggered = true;
    return json{{"queued", true}};
  };
  StartServer({}, deps);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/api/status"},
      {"GET", "/api/buckets/status"},
      {"GET", "/api/buckets/a/status"},
      {"POST", "/api/buckets/a/refresh"},
      {"GET", "/api/sync/failed-files"},
      {"POST", "/api/sync/retry"},
      {"POST", "/api/sync/run"},
      {"GET", "/api/history"},
      {"GET", "/api/no-such-route"},
      {"DELETE", "/api/status"},
      {"GET", "/metrics"}};
  const std::vector<httplib::Headers> bad = {{},
                                             Auth("wrong-token-0123456789"),
                                             Auth(std::string(kToken) + "x"),
                                             Auth(std::string(kToken).substr(1)),
                                             {{"Authorization", std::string("Basic ") + kToken}},
                                             {{"Authorization", kToken}},
                                             {{"X-Api-Token", kToken}}};
  for (const auto& [method, path] : routes) {
    for (size_t i = 0; i < bad.size(); ++i) {
      SCOPED_TRACE(method + " " + path + " headers #" + std::to_string(i));
      auto c = Client();
      httplib::Result r = method == "GET"    ? c.Get(path, bad[i])
                          : method == "POST" ? c.Post(path, bad[i], "", "application/json")
                                             : c.Delete(path, bad[i]);
      Record(r);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 401);
      EXPECT_EQ(ErrorCode(r), "unauthorized");
      EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer realm=\"cloudkeep\"");
    }
  }
  EXPECT_FALSE(triggered);
  EXPECT_EQ(a->calls("List"), 0u) << "unauthenticated requests never reach a bucket";
  // The scheme is case-insensitive; the token is not.
  auto ok = Get("/api/history", {{"Authorization", std::string("bearer ") + kToken}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // Health is open, and sends nothing to buckets.
  auto h = Get("/api/health", {});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(Body(h)["status"], "ok");
  EXPECT_EQ(a->calls("List"), 0u);
}

TEST_F(ApiServerTest, HundredConcurrentStatusRequestsListEachBucketOnce) {
  auto* a = AddMemory("a");
  auto* b = AddMemory("b");
  for (int i = 0; i < 30; ++i) PutObject(a, "host/a" + std::to_string(i), "x");
  for (int i = 0; i < 40; ++i) PutObject(b, "host/b" + std::to_string(i), "yy");
  for (auto* m : {a, b}) {
    m->set_fault_hook([](std::string_view op, const std::string&) {
      if (op == "List") std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return Status::OK();
    });
  }
  ApiServerOptions o;
  o.threads = 8;
  StartServer(o);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(std::chrono::seconds(60));
      c.set_connection_timeout(std::chrono::seconds(30));
      auto r = c.Get("/api/status", Auth());
      if (!r || r->status != 200) return;
      json doc = json::parse(r->body, nullptr, false);
      if (doc.is_discarded()) return;
      if (doc["destinations"][0]["synced"]["files"] == 30 &&
          doc["destinations"][1]["synced"]["files"] == 40)
        good.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 100);
  EXPECT_EQ(a->calls("List"), 1u);
  EXPECT_EQ(b->calls("List"), 1u);
}

TEST_F(ApiServerTest, BucketRoutes) {
  auto* a = AddMemory("a");
  auto* bad = AddMemory("bad");
  handles_.push_back(DisabledHandle("off"));
  PutObject(a, "host/x", "123");
  bad->set_fault_hook([](std::string_view, const std::string&) {
    return Status(ErrorKind::kTransient, "could not connect: connection refused");
  });
  StartServer();
  auto r = Get("/api/buckets/status");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json j = Body(r);
  EXPECT_EQ(j["healthy"], false);
  ASSERT_EQ(j["destinations"].size(), 3u);
  EXPECT_EQ(j["destinations"][0]["name"], "a");
  EXPECT_EQ(j["destinations"][0]["connection"]["state"], "connected");
  EXPECT_EQ(j["destinations"][1]["connection"]["state"], "network_error");
  EXPECT_EQ(j["destinations"][2]["connection"]["state"], "disabled");
  for (const auto& d : j["destinations"]) {
    for (const char* k : {"state", "message", "checked_at", "latency_ms"})
      EXPECT_TRUE(d["connection"].contains(k)) << k;
  }

  r = Get("/api/buckets/a/status");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  j = Body(r);
  EXPECT_EQ(j["name"], "a");
  EXPECT_EQ(j["synced"]["files"], 1);
  for (const char* k :
       {"name", "type", "enabled", "connection", "synced", "pending", "failed", "list_calls"})
    EXPECT_TRUE(j.contains(k)) << k;

  r = Get("/api/buckets/nope/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");

  // On demand: a new listing sees what changed behind our back.
  PutObject(a, "host/y", "4567");
  r = Post("/api/buckets/a/refresh", "");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["synced"]["files"], 2);
  EXPECT_EQ(a->calls("List"), 2u);

  // Without the bad bucket everything is healthy.
  bad->set_fault_hook(nullptr);
  ASSERT_TRUE(inspector_->Refresh("bad").ok());
  EXPECT_EQ(Body(Get("/api/buckets/status"))["healthy"], true) << "disabled ones do not count";
}

TEST_F(ApiServerTest, FailedFilesArePagedAndParametersChecked) {
  AddMemory("a");
  AddMemory("b");
  SeedDatabase(store_.get(), {"a", "b"}, 1, 0, 5);
  StartServer();
  auto r = Get("/api/sync/failed-files?destination=a&limit=2");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = Body(r);
  ASSERT_EQ(j["files"].size(), 2u);
  const json& f = j["files"][0];
  EXPECT_EQ(f["destination"], "a");
  EXPECT_EQ(f["size"], 1000);
  EXPECT_EQ(f["error_kind"], "transient");
  EXPECT_EQ(f["error"], "connection reset");
  EXPECT_EQ(f["attempts"], 1);
  EXPECT_TRUE(f["last_attempt_at"].is_string());
  EXPECT_TRUE(f["path"].is_string());
  ASSERT_TRUE(j["next_cursor"].is_string());
  std::set<std::string> paths;
  std::string cursor = j["next_cursor"];
  for (const auto& x : j["files"]) paths.insert(x["path"]);
  while (!cursor.empty()) {
    auto page = Body(Get("/api/sync/failed-files?destination=a&limit=2&cursor=" + cursor));
    for (const auto& x : page["files"]) paths.insert(x["path"]);
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
  }
  EXPECT_EQ(paths.size(), 5u);
  EXPECT_EQ(Body(Get("/api/sync/failed-files"))["files"].size(), 10u) << "all destinations";

  for (const char* q : {"limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=", "limit=99999",
                        "cursor=not-a-cursor"}) {
    SCOPED_TRACE(q);
    auto bad = Get(std::string("/api/sync/failed-files?") + q);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(ErrorCode(bad), "bad_request");
  }
  auto unknown = Get("/api/sync/failed-files?destination=nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(Body(Get("/api/sync/failed-files?limit=1000"))["files"].size(), 10u);
}

TEST_F(ApiServerTest, RetryQueuesFailedFilesAndTriggersASync) {
  AddMemory("a");
  AddMemory("b");
  SeedDatabase(store_.get(), {"a", "b"}, 0, 0, 3);
  std::atomic<int> triggers{0};
  ApiDeps deps;
  deps.trigger_sync = [&] {
    triggers.fetch_add(1);
    return json{{"queued", true}, {"run_id", 7}};
  };
  StartServer({}, deps);
  auto counts = [&](const std::string& d) {
    auto c = store_->Counts();
    EXPECT_TRUE(c.ok());
    for (const auto& x : *c)
      if (x.destination == d) return x;
    return DestinationCounts{};
  };
  // One path of one destination.
  auto page = store_->ListFailed("a", 1, "");
  ASSERT_TRUE(page.ok());
  std::string path = page->files[0].rel_path;
  auto r = Post("/api/sync/retry", json{{"destination", "a"}, {"paths", {path}}}.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(Body(r)["queued"], 1);
  EXPECT_EQ(Body(r)["sync"]["run_id"], 7);
  EXPECT_EQ(counts("a").failed_files, 2u);
  EXPECT_EQ(counts("b").failed_files, 3u);
  // By the failed files' ids (what the dashboard sends): exactly those rows.
  auto listed = Get("/api/sync/failed-files?destination=b&limit=2");
  ASSERT_TRUE(listed);
  json two = Body(listed)["files"];
  ASSERT_EQ(two.size(), 2u);
  ASSERT_TRUE(two[0]["id"].is_number_integer());
  r = Post("/api/sync/retry",
           json{{"destination", "b"}, {"ids", {two[0]["id"], two[1]["id"], 999999}}}.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(Body(r)["queued"], 2);
  EXPECT_EQ(counts("b").failed_files, 1u);
  EXPECT_EQ(Post("/api/sync/retry", json{{"ids", {1}}, {"paths", {"x"}}}.dump())->status, 400);
  r = Post("/api/sync/retry", json{{"ids", json::array()}}.dump());
  EXPECT_EQ(Body(r)["queued"], 0) << "an empty choice retries nothing";
  EXPECT_EQ(counts("a").failed_files, 2u);
  // Empty body: everything.
  r = Post("/api/sync/retry", "");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202);
  EXPECT_EQ(Body(r)["queued"], 3);
  EXPECT_EQ(counts("a").failed_files, 0u);
  EXPECT_EQ(counts("b").failed_files, 0u);
  EXPECT_EQ(triggers.load(), 3);
  // Nothing left: nothing queued, no pass triggered.
  r = Post("/api/sync/retry", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(Body(r)["queued"], 0);
  EXPECT_TRUE(Body(r)["sync"].is_null());
  EXPECT_EQ(triggers.load(), 3);

  for (const char* body :
       {"not json", "[1,2]", "{\"destination\": 5}", "{\"paths\": \"x\"}", "{\"paths\": [1]}",
        "{\"ids\": [\"1\"]}", "{\"ids\": 1}", "{\"unknown\": true}"}) {
    SCOPED_TRACE(body);
    auto bad = Post("/api/sync/retry", body);
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(ErrorCode(bad), "bad_request");
  }
  auto unknown = Post("/api/sync/retry", "{\"destination\": \"nope\"}");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(ApiServerTest, RunCallsTheTriggerOr503WithoutOne) {
  AddMemory("a");
  std::atomic<int> triggers{0};
  ApiDeps deps;
  deps.trigger_sync = [&] {
    int n = triggers.fetch_add(1) + 1;
    return json{{"queued", true}, {"run_id", n}};
  };
  StartServer({}, deps);
  auto r = Post("/api/sync/run", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(Body(r)["run_id"], 1);
  EXPECT_EQ(triggers.load(), 1);
  server_->Stop();

  StartServer();
  r = Post("/api/sync/run", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(ErrorCode(r), "unavailable");
  server_->Stop();

  // A handler that throws: 500 with no detail of the exception in the response.
  ApiDeps throwing;
  throwing.trigger_sync = []() -> json { throw std::runtime_error("internal-detail-xyz"); };
  StartServer({}, throwing);
  r = Post("/api/sync/run", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorCode(r), "internal");
  EXPECT_EQ(r->body.find("internal-detail-xyz"), std::string::npos);
  EXPECT_FALSE(r->has_header("EXCEPTION_WHAT"));
  EXPECT_EQ(Get("/api/health", {})->status, 200) << "the server keeps serving";
}

TEST_F(ApiServerTest, ErrorsAreJsonWithTheRightStatus) {
  AddMemory("a");
  StartServer();
  auto r = Get("/api/nothing-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");
  r = Get("/no-dashboard-yet", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrorCode(r), "not_found");

  r = Post("/api/status", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  auto c = Client();
  r = c.Get("/api/sync/run", Auth());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  EXPECT_EQ(ErrorCode(r), "method_not_allowed");
  r = c.Delete("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  r = c.Put("/metrics", Auth(), "x", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);

  r = Post("/api/sync/retry", std::string(64 * 1024 + 1, ' '));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorCode(r), "payload_too_large");
  r = Post("/api/sync/retry", std::string(64 * 1024, ' '));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << "a body at the limit is accepted";

  r = Post("/api/sync/retry", "{");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(ErrorCode(r), "bad_request");
}

TEST_F(ApiServerTest, SecurityHeadersOnEveryResponseAndStaticFiles) {
  AddMemory("a");
  StartServer({}, {}, [](const std::string& path, std::string* body, std::string* type) {
    if (path != "/" && path != "/app.js") return false;
    *body = path == "/" ? "<!doctype html><title>cloudkeep</title>" : "console.log(1)";
    *type = path == "/" ? "text/html; charset=utf-8" : "text/javascript";
    return true;
  });
  auto page = Get("/", {});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("cloudkeep"), std::string::npos);
  EXPECT_EQ(Get("/app.js", {})->body, "console.log(1)");
  EXPECT_EQ(Get("/missing.css", {})->status, 404);
  EXPECT_EQ(Get("/api/../api/status", {})->status, 401) << "normalised paths stay protected";

  auto c = Client();
  std::vector<httplib::Result> all;
  all.push_back(c.Get("/"));
  all.push_back(c.Get("/api/health"));
  all.push_back(c.Get("/api/status"));                                                      // 401
  all.push_back(c.Get("/api/status", Auth()));                                              // 200
  all.push_back(c.Get("/api/nope", Auth()));                                                // 404
  all.push_back(c.Post("/api/status", Auth(), "", "text/plain"));                           // 405
  all.push_back(c.Post("/api/sync/retry", Auth(), std::string(70000, ' '), "text/plain"));  // 413
  for (size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(all[i]);
    std::string csp = all[i]->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(all[i]->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(all[i]->get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(all[i]->get_header_value("X-Frame-Options"), "DENY");
    std::string cache = all[i]->get_header_value("Cache-Control");
    EXPECT_EQ(cache, i == 0 ? "" : "no-store") << "only /api and /metrics are never cached";
  }
}

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

// Reads a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) at *pos; "" if there is none.
std::string ReadName(const std::string& s, size_t* pos, bool colons) {
  size_t b = *pos;
  if (b >= s.size() || !(IsNameStart(s[b]) || (colons && s[b] == ':'))) return "";
  size_t e = b + 1;
  while (e < s.size() && (IsNameChar(s[e]) || (colons && s[e] == ':'))) ++e;
  *pos = e;
  return s.substr(b, e - b);
}

// Parses one sample line "name{l="v",...} value"; returns the name, "" if malformed.
std::string ParseSampleLine(const std::string& line) {
  size_t pos = 0;
  std::string name = ReadName(line, &pos, true);
  if (name.empty()) return "";
  if (pos < line.size() && line[pos] == '{') {
    ++pos;
    while (true) {
      if (ReadName(line, &pos, false).empty()) return "";
      if (line.compare(pos, 2, "=\"") != 0) return "";
      pos += 2;
      while (pos < line.size() && line[pos] != '"') {
        if (line[pos] == '\\') {
          if (pos + 1 >= line.size() ||
              std::string("\\\"n").find(line[pos + 1]) == std::string::npos)
            return "";
          ++pos;
        }
        ++pos;
      }
      if (pos >= line.size()) return "";
      ++pos;  // closing quote
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < line.size() && line[pos] == '}') {
        ++pos;
        break;
      }
      return "";
    }
  }
  if (pos >= line.size() || line[pos] != ' ') return "";
  std::string value = line.substr(pos + 1);
  if (value == "+Inf" || value == "-Inf" || value == "NaN") return name;
  if (value.empty() || value.find_first_not_of("0123456789.eE+-") != std::string::npos) return "";
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  return *end == '\0' ? name : "";
}

// Every line is a HELP or TYPE comment or a sample of a declared family.
void ExpectValidExposition(const std::string& text) {
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    SCOPED_TRACE(line);
    if (line.rfind("# HELP ", 0) == 0) {
      size_t pos = 7;
      EXPECT_FALSE(ReadName(line, &pos, true).empty());
      EXPECT_TRUE(pos < line.size() && line[pos] == ' ');
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      size_t pos = 7;
      std::string name = ReadName(line, &pos, true);
      std::string type = pos < line.size() ? line.substr(pos + 1) : "";
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << type;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE declared twice";
      continue;
    }
    std::string name = ParseSampleLine(line);
    ASSERT_FALSE(name.empty()) << "not a sample line";
    std::string family = name;
    for (std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.count(family) && name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        family = name.substr(0, name.size() - suffix.size());
    }
    EXPECT_TRUE(typed.count(family)) << "sample before its TYPE line";
  }
  EXPECT_GT(n, 0);
}

TEST(ExpositionCheckTest, RejectsMalformedLines) {
  EXPECT_EQ(ParseSampleLine("a_b{x=\"1\",y=\"q\\\"\"} 1.5e3"), "a_b");
  EXPECT_EQ(ParseSampleLine("a 1"), "a");
  EXPECT_EQ(ParseSampleLine("a +Inf"), "a");
  EXPECT_EQ(ParseSampleLine("a{x=\"1\"}1"), "");
  EXPECT_EQ(ParseSampleLine("a{x=1} 1"), "");
  EXPECT_EQ(ParseSampleLine("a{x=\"1} 1"), "");
  EXPECT_EQ(ParseSampleLine("1a 1"), "");
  EXPECT_EQ(ParseSampleLine("a one"), "");
  EXPECT_EQ(ParseSampleLine("a 1 2"), "");
}

// The value of the sample line that starts with `prefix` (name{labels}), or -1.
double SampleValue(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix + " ", 0) == 0) return std::stod(line.substr(prefix.size() + 1));
  return -1;
}

TEST_F(ApiServerTest, MetricsAreValidPrometheusTextWithTheListedSeries) {
  auto* a = AddMemory("a");
  PutObject(a, "host/x", "12345");
  SeedDatabase(store_.get(), {"a"}, 2, 3, 1);
  // Requests through the decorated destination: one upload, one failed upload.
  std::string data = "abc";
  MemoryBody body(data);
  PutRequest req;
  req.key = "host/y";
  req.body = &body;
  req.md5 = Md5(data);
  ASSERT_TRUE(handles_[0].dest->Put(req).ok());
  a->set_fault_hook([](std::string_view op, const std::string&) {
    return op == "Put" ? Status(ErrorKind::kThrottled, "SlowDown") : Status::OK();
  });
  EXPECT_FALSE(handles_[0].dest->Put(req).ok());
  ApiDeps deps;
  deps.extra_metrics = [](PromWriter* w) {
    w->Family("cloudkeep_sync_last_success_timestamp_seconds", "gauge", "Last good pass.");
    w->Sample("cloudkeep_sync_last_success_timestamp_seconds", {}, 1790000000);
  };
  StartServer({}, deps);
  ASSERT_EQ(Get("/api/status")->status, 200);  // lists the bucket once
  auto r = Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& t = r->body;
  ExpectValidExposition(t);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_files{destination="a",state="synced"})"), 2);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_files{destination="a",state="pending"})"), 3);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_files{destination="a",state="failed"})"), 1);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_bytes{destination="a",state="pending"})"), 300);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_uploaded_bytes_total{destination="a"})"), 3);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_upload_errors_total{destination="a",kind="throttled"})"),
            1);
  EXPECT_EQ(
      SampleValue(
          t,
          R"(cloudkeep_destination_request_errors_total{destination="a",op="put",kind="throttled"})"),
      1);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_list_calls_total{destination="a"})"), 1);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_inspector_list_calls_total{destination="a"})"), 1);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_bucket_objects{destination="a"})"), 2);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_destination_up{destination="a"})"), 1);
  EXPECT_EQ(
      SampleValue(
          t, R"(cloudkeep_destination_request_duration_seconds_count{destination="a",op="put"})"),
      2);
  EXPECT_EQ(
      SampleValue(
          t,
          R"(cloudkeep_destination_request_duration_seconds_bucket{destination="a",op="put",le="+Inf"})"),
      2);
  EXPECT_GE(SampleValue(t, R"(cloudkeep_api_request_duration_seconds_count{route="/api/status"})"),
            1);
  EXPECT_EQ(SampleValue(t, R"(cloudkeep_api_requests_total{route="/api/status",code="200"})"), 1);
  EXPECT_GT(SampleValue(t, R"(cloudkeep_last_upload_timestamp_seconds{destination="a"})"), 0);
  EXPECT_EQ(SampleValue(t, "cloudkeep_sync_last_success_timestamp_seconds"), 1790000000);
  EXPECT_EQ(SampleValue(t, "cloudkeep_state_database_up"), 1);
  EXPECT_EQ(a->calls("List"), 1u) << "a scrape never lists a bucket";
}

TEST_F(ApiServerTest, MetricsCanBePublic) {
  AddMemory("a");
  ApiServerOptions o;
  o.metrics_public = true;
  StartServer(o);
  auto r = Get("/metrics", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Get("/api/status", {})->status, 401) << "only /metrics is opened";
}

TEST_F(ApiServerTest, NoTokenOrCredentialInAnyResponseOrLogLine) {
  LogCapture logs;
  const std::string key_id = "AKIDLEAKCHECK0123456";
  const std::string secret = "sEcReT/leak+check=0123456789abcdefXYZ";
  auto http = HttpClient::Make(HttpClientOptions{.connect_timeout = std::chrono::seconds(2)});
  ASSERT_TRUE(http.ok());
  DestinationConfig cfg;
  cfg.name = "s3bad";
  cfg.type = "s3";
  cfg.bucket = "bucket";
  cfg.endpoint = "http://127.0.0.1:1";  // nothing listens there
  cfg.path_style = true;
  cfg.access_key_id.inline_value = key_id;
  cfg.secret_access_key.inline_value = secret;
  SyncConfig sync;
  sync.request_retries = 0;
  FactoryDeps fd{.http = http->get(), .env = &env_, .getenv = [](const std::string&) {
                   return std::string();
                 }};
  handles_.push_back(BuildDestination(cfg, sync, fd));
  ASSERT_TRUE(handles_.back().unavailable.ok()) << handles_.back().unavailable.ToString();
  AddMemory("a");
  SeedDatabase(store_.get(), {"a", "s3bad"}, 1, 1, 1);
  StartServer();
  json doc = Body(Get("/api/status"));
  EXPECT_EQ(doc["destinations"][0]["connection"]["state"], "network_error") << doc.dump();
  EXPECT_EQ(doc["destinations"][0]["synced"]["source"], "database");
  for (const char* path :
       {"/api/health", "/api/buckets/status", "/api/buckets/s3bad/status", "/api/history",
        "/api/sync/failed-files", "/metrics", "/api/nope", "/"}) {
    Get(path);
    Get(path, {});
  }
  Post("/api/buckets/s3bad/refresh", "");
  Post("/api/sync/retry", "{\"destination\": \"s3bad\"}");
  Post("/api/sync/retry", "{\"destination\": \"" + std::string(kToken) + "\"}");
  Post("/api/status", "");
  Get("/api/status", Auth("wrong-" + std::string(kToken)));
  Post("/api/sync/retry", std::string(100000, 'x'));
  server_->Stop();
  inspector_->WaitIdle();
  std::string log = logs.Text();
  EXPECT_NE(log.find("api method=GET path=\"/api/status\" status=200"), std::string::npos) << log;
  EXPECT_NE(log.find("bucket query destination=s3bad op=list"), std::string::npos) << log;
  for (const std::string& s : {std::string(kToken), key_id, secret}) {
    EXPECT_EQ(log.find(s), std::string::npos) << "log leaks " << s;
    EXPECT_EQ(seen_.find(s), std::string::npos) << "a response leaks " << s;
  }
}

TEST_F(ApiServerTest, StopIsCleanAndThePortIsFreedAndReportsBindErrors) {
  AddMemory("a");
  StartServer();
  int port = server_->port();
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(port));
  ApiServerOptions o;
  o.listen = "127.0.0.1:" + std::to_string(port);
  o.token = kToken;
  auto clash =
      ApiServer::Make(o, {.inspector = inspector_.get(), .store = store_.get(), .env = &env_});
  ASSERT_TRUE(clash.ok());
  Status st = (*clash)->Start();
  EXPECT_EQ(st.kind(), ErrorKind::kIo) << st.ToString();
  server_->Stop();
  server_->Stop();
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(std::chrono::seconds(2));
  EXPECT_FALSE(c.Get("/api/health")) << "nothing listens after Stop";
  ASSERT_TRUE((*clash)->Start().ok()) << "the port is free again";
  httplib::Client c2("127.0.0.1", port);
  auto r = c2.Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ApiServerOptionsTest, ParsesListenAddresses) {
  auto a = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  a = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 0);
  a = ParseListenAddress(":9000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  a = ParseListenAddress("0.0.0.0:65535");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 65535);
  for (const char* bad : {"", "localhost", "host:", "host:65536", "host:-1", "host:80x", "::1:80",
                          "[::1]80", "[::1]:", "host:123456"})
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
}

TEST(ApiServerOptionsTest, MakeValidates) {
  ScratchDir dir;
  FakeClockEnv env;
  auto store = inspect_testing::OpenStore(dir.File("s.db"), &env);
  std::vector<DestinationHandle> none;
  BucketInspector insp(none, store.get(), &env, {});
  ApiDeps deps{.inspector = &insp, .store = store.get(), .env = &env};
  auto make = [&](ApiServerOptions o) { return ApiServer::Make(o, deps).status(); };
  ApiServerOptions good;
  good.token = kToken;
  EXPECT_TRUE(make(good).ok());
  auto o = good;
  o.token = "short";
  EXPECT_EQ(make(o).kind(), ErrorKind::kConfig);
  o = good;
  o.listen = "nope";
  EXPECT_EQ(make(o).kind(), ErrorKind::kInvalidArgument);
  o = good;
  o.threads = 0;
  EXPECT_EQ(make(o).kind(), ErrorKind::kConfig);
  o = good;
  o.tls_cert_file = dir.File("cert.pem");
  EXPECT_EQ(make(o).kind(), ErrorKind::kConfig) << "a certificate without a key";
  o.tls_key_file = dir.File("key.pem");
  EXPECT_EQ(make(o).kind(), ErrorKind::kConfig) << "missing files";
  inspect_testing::ScratchDir d2;
  d2.Write("cert.pem", "not a certificate");
  d2.Write("key.pem", "not a key");
  o.tls_cert_file = d2.File("cert.pem");
  o.tls_key_file = d2.File("key.pem");
  EXPECT_EQ(make(o).kind(), ErrorKind::kConfig) << "unloadable files";
  EXPECT_EQ(ApiServer::Make(good, {}).status().kind(), ErrorKind::kInvalidArgument);
}

TEST_F(ApiServerTest, ServesHttpsWithACertificate) {
  std::string cert = dir_.File("cert.pem"), key = dir_.File("key.pem");
  std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key +
      " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  AddMemory("a");
  ApiServerOptions o;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  StartServer(o);
  EXPECT_TRUE(server_->tls());
  EXPECT_EQ(server_->url().rfind("https://", 0), 0u);
  httplib::SSLClient c("127.0.0.1", server_->port());
  c.enable_server_certificate_verification(false);
  auto r = c.Get("/api/status", Auth());
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["destinations"][0]["name"], "a");
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(std::chrono::seconds(2));
  auto p = plain.Get("/api/health");
  EXPECT_TRUE(!p || p->status != 200) << "plain HTTP is not served on the TLS port";
}

}  // namespace
}  // namespace ck
