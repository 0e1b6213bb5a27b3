#include "support/local_b2.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <utility>

#include <httplib.h>

#ifndef CK_SOURCE_DIR
#error "CK_SOURCE_DIR must name the source tree (the CMake target ck_testsupport defines it)"
#endif

namespace ck::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUpScript = "b2server-up.sh";
constexpr const char* kDownScript = "b2server-down.sh";

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// The last `n` lines of `text`.
std::string Tail(const std::string& text, int n) {
  size_t pos = text.size();
  while (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < n && pos > 0; ++i) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos == 0 ? 0 : pos + 1);
}

std::string ScriptPath(const char* name) {
  return std::string(CK_SOURCE_DIR) + "/scripts/" + name;
}

// ---------------------------------------------------------------- env files

// Undoes bash's printf %q for the forms it produces for ordinary values:
// 'single quoted', backslash escapes and $'...' (simplified).
std::string UnquoteShell(std::string_view v) {
  std::string out;
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] == '\'') {
      size_t end = v.find('\'', i + 1);
      if (end == std::string_view::npos) end = v.size();
      out.append(v.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (v[i] == '$' && i + 1 < v.size() && v[i + 1] == '\'') {
      for (i += 2; i < v.size() && v[i] != '\''; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) {
          char e = v[++i];
          out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else {
          out.push_back(v[i]);
        }
      }
      ++i;
    } else if (v[i] == '\\' && i + 1 < v.size()) {
      out.push_back(v[i + 1]);
      i += 2;
    } else {
      out.push_back(v[i++]);
    }
  }
  return out;
}

// KEY=VALUE lines of a sourceable env file ("export " prefixes and comments allowed).
std::optional<std::map<std::string, std::string>> ReadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::map<std::string, std::string> vars;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l(line);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.empty() || l.front() == '#') continue;
    if (l.substr(0, 7) == "export ") l.remove_prefix(7);
    size_t eq = l.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    vars[std::string(l.substr(0, eq))] = UnquoteShell(l.substr(eq + 1));
  }
  return vars;
}

std::optional<B2Server> ServerFromEnvFile(const std::string& path, std::string* why) {
  auto vars = ReadEnvFile(path);
  if (!vars) {
    *why = "cannot read " + path;
    return std::nullopt;
  }
  B2Server s;
  s.api_url = (*vars)["B2_API_URL"];
  s.key_id = (*vars)["B2_APPLICATION_KEY_ID"];
  s.key = (*vars)["B2_APPLICATION_KEY"];
  s.bucket = (*vars)["B2_TEST_BUCKET"];
  s.env = std::move(*vars);
  s.env_file = path;
  if (s.api_url.empty() || s.key_id.empty() || s.key.empty()) {
    *why = path + " lacks B2_API_URL or the keys";
    return std::nullopt;
  }
  while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
  return s;
}

// ---------------------------------------------------------------- HTTP

std::string Base64(std::string_view in) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out.push_back(kChars[(v >> s) & 63]);
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kChars[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string Describe(const B2HttpResult& r) {
  return r.http_status == 0 ? r.error : "HTTP " + std::to_string(r.http_status) + " " + r.body;
}

// ---------------------------------------------------------------- registry

struct Registry {
  std::mutex mu;
  bool attempted = false;
  bool stopped = false;
  std::string error;
  std::unique_ptr<B2Server> server;
  std::unique_ptr<TempDir> dir;  // set when this process started the server
  std::atomic<pid_t> owner{0};
  std::once_flag atexit_once;
};

// Never destroyed: the atexit handler may run after static destructors.
Registry& GetRegistry() {
  static Registry* const registry = new Registry;
  return *registry;
}

bool ServerAnswers(const B2Server& s, std::string* why) {
  B2HttpResult r = B2TestRequest(s, "GET", "/__test/health");
  if (r.http_status == 200) return true;
  *why = "GET " + s.api_url + "/__test/health: " + Describe(r);
  return false;
}

void StopAtExit() {
  // A forked child (a death test, say) that calls exit() must not stop the
  // parent's server.
  if (GetRegistry().owner.load() != getpid()) return;
  StopLocalB2Server();
}

// Starts (or finds) the server; called with reg.mu held.
void Start(Registry& reg) {
  std::string reuse = GetEnv("CK_B2_ENV");
  if (!reuse.empty()) {
    if (fs::exists(reuse)) {
      auto s = ServerFromEnvFile(reuse, &reg.error);
      if (!s) return;
      if (!ServerAnswers(*s, &reg.error)) {
        reg.error = "CK_B2_ENV=" + reuse + ": " + reg.error;
        return;
      }
      std::fprintf(stderr, "[local_b2] using the B2 server at %s (CK_B2_ENV=%s)\n",
                   s->api_url.c_str(), reuse.c_str());
      reg.server = std::make_unique<B2Server>(std::move(*s));
      return;
    }
    std::fprintf(stderr, "[local_b2] CK_B2_ENV=%s does not exist; starting a B2 server here\n",
                 reuse.c_str());
  }

  std::call_once(reg.atexit_once, [&reg] {
    reg.owner.store(getpid());
    std::atexit(StopAtExit);
  });
  reg.dir = std::make_unique<TempDir>("ck-b2server-");
  auto t0 = Clock::now();
  CommandResult r =
      RunCommand({ScriptPath(kUpScript), reg.dir->path()},
                 {{"CK_WATCH_PID", std::to_string(getpid())}}, std::chrono::seconds(60));
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.ok()) {
    reg.error = std::string("scripts/") + kUpScript + " " +
                (r.timed_out       ? "timed out"
                 : r.exit_code < 0 ? r.error
                                   : "exited with " + std::to_string(r.exit_code)) +
                "; its last messages:\n" + Tail(r.err, 40);
    // Make sure nothing it recorded keeps running.
    RunCommand({ScriptPath(kDownScript), reg.dir->path(), "--purge"}, {}, std::chrono::seconds(30));
    reg.dir.reset();
    return;
  }
  auto s = ServerFromEnvFile(reg.dir->Join("env"), &reg.error);
  if (!s) return;
  std::fprintf(stderr, "[local_b2] started the B2 server at %s in %.1f s (dir %s)\n",
               s->api_url.c_str(), secs, reg.dir->path().c_str());
  reg.server = std::make_unique<B2Server>(std::move(*s));
}

std::string SanitizeBucketPart(std::string_view hint, size_t max_len) {
  std::string out;
  for (char c : hint) {
    char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      out.push_back(l);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
    if (out.size() >= max_len) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace

// ---------------------------------------------------------------- server

const B2Server* LocalB2(std::string* reason) {
  Registry& reg = GetRegistry();
  std::lock_guard<std::mutex> lock(reg.mu);
  if (!reg.attempted) {
    reg.attempted = true;
    Start(reg);
  }
  if (!reg.server || reg.stopped) {
    if (reason != nullptr) *reason = reg.error;
    return nullptr;
  }
  return reg.server.get();
}

void StopLocalB2Server() {
  Registry& reg = GetRegistry();
  std::lock_guard<std::mutex> lock(reg.mu);
  if (!reg.dir) return;
  CommandResult r = RunCommand({ScriptPath(kDownScript), reg.dir->path(), "--purge"}, {},
                               std::chrono::seconds(30));
  if (!r.ok()) {
    std::fprintf(stderr, "[local_b2] %s %s --purge failed (exit %d):\n%s\n", kDownScript,
                 reg.dir->path().c_str(), r.exit_code, Tail(r.err, 20).c_str());
  }
  reg.dir.reset();  // removes whatever is left
  // Pointers handed out stay valid, but no longer name a running server.
  reg.stopped = true;
  reg.error = "stopped by StopLocalB2Server()";
}

// ---------------------------------------------------------------- requests

B2HttpResult B2TestRequest(const B2Server& server, std::string_view method,
                           std::string_view path_and_query, std::string_view body,
                           const std::map<std::string, std::string>& headers) {
  B2HttpResult result;
  httplib::Client client(server.api_url);
  client.set_connection_timeout(5);
  client.set_read_timeout(60);
  client.set_write_timeout(60);
  httplib::Request req;
  req.method = std::string(method);
  req.path = std::string(path_and_query);
  for (const auto& [k, v] : headers) req.headers.emplace(k, v);
  if (!body.empty() || method == "POST") {
    req.body = std::string(body);
    if (!req.has_header("Content-Type")) req.headers.emplace("Content-Type", "application/json");
  }
  httplib::Result res = client.send(req);
  if (!res) {
    result.error = "no response from " + server.api_url + ": " + httplib::to_string(res.error());
    return result;
  }
  result.http_status = res->status;
  result.body = res->body;
  return result;
}

std::string CreateB2TestBucket(const B2Server& server, std::string_view hint) {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}();
  // "ck-" + hint + "-" + pid + "-" + n + "-" + salt: at most 63 characters
  std::string name = "ck-";
  std::string part = SanitizeBucketPart(hint, 24);
  if (!part.empty()) name += part + "-";
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), "%d-%u-%08x", static_cast<int>(getpid()),
                counter.fetch_add(1), salt);
  name += suffix;

  auto fail = [&](const std::string& what, const B2HttpResult& r) {
    ADD_FAILURE() << "CreateB2TestBucket(" << name << ") at " << server.api_url << ": " << what
                  << ": " << Describe(r);
    return std::string();
  };
  B2HttpResult auth =
      B2TestRequest(server, "GET", "/b2api/v2/b2_authorize_account", {},
                    {{"Authorization", "Basic " + Base64(server.key_id + ":" + server.key)}});
  if (auth.http_status != 200) return fail("b2_authorize_account", auth);
  nlohmann::json a = nlohmann::json::parse(auth.body, nullptr, /*allow_exceptions=*/false);
  if (!a.is_object() || !a.contains("authorizationToken") || !a.contains("accountId")) {
    return fail("b2_authorize_account reply", auth);
  }
  nlohmann::json request = {
      {"accountId", a["accountId"]}, {"bucketName", name}, {"bucketType", "allPrivate"}};
  B2HttpResult created =
      B2TestRequest(server, "POST", "/b2api/v2/b2_create_bucket", request.dump(),
                    {{"Authorization", a["authorizationToken"].get<std::string>()}});
  if (created.http_status != 200) return fail("b2_create_bucket", created);
  return name;
}

nlohmann::json B2TestStats(const B2Server& server, std::string_view bucket) {
  std::string path = "/__test/stats";
  if (!bucket.empty()) {
    path += "?bucket=";
    for (unsigned char c : bucket) {  // bucket names are [A-Za-z0-9-]; escape anything else
      if (std::isalnum(c) || c == '-') {
        path.push_back(static_cast<char>(c));
      } else {
        char buf[4];
        std::snprintf(buf, sizeof(buf), "%%%02X", c);
        path += buf;
      }
    }
  }
  B2HttpResult r = B2TestRequest(server, "GET", path);
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.http_status != 200 || !j.is_object()) {
    ADD_FAILURE() << "B2TestStats at " << server.api_url << ": " << Describe(r);
    return nlohmann::json::object();
  }
  return j;
}

bool B2TestConfigure(const B2Server& server, const std::string& json) {
  B2HttpResult r = B2TestRequest(server, "POST", "/__test/config", json);
  if (r.http_status != 200) {
    ADD_FAILURE() << "B2TestConfigure(" << json << ") at " << server.api_url << ": " << Describe(r);
    return false;
  }
  return true;
}

}  // namespace ck::test
