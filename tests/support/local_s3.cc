#include "support/local_s3.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#ifndef CK_SOURCE_DIR
#error "CK_SOURCE_DIR must name the source tree (the CMake target ck_testsupport defines it)"
#endif

extern char** environ;

namespace ck::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string ErrnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
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

// ---------------------------------------------------------------- RunCommand

// Full path of the executable `name` as execvp would find it, or "".
std::string ResolveExecutable(const std::string& name, const std::string& path_var) {
  if (name.find('/') != std::string::npos) return name;
  std::string dirs = path_var.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_var;
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) {
      struct stat st;
      if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return candidate;
    }
    start = end + 1;
  }
  return "";
}

// Child side of RunCommand: only async-signal-safe calls from here on.
[[noreturn]] void ExecChild(const char* exe, char* const* argv, char* const* envp, int out_fd,
                            int err_fd, int max_fd) {
  setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}) signal(sig, SIG_DFL);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
    _exit(127);
  }
  // Nothing else leaks into the command -- nor into daemons it leaves behind,
  // which would otherwise hold our pipes (or the test runner's) open.
  if (close_range(3, ~0U, 0) != 0) {
    for (int fd = 3; fd < max_fd; ++fd) close(fd);
  }
  execve(exe, argv, envp);
  static const char kMsg[] = "RunCommand: execve failed\n";
  ssize_t ignored = write(2, kMsg, sizeof(kMsg) - 1);
  (void)ignored;
  _exit(127);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available from `fd` into `to`; false once it is at EOF (or broken).
bool DrainFd(int fd, std::string* to) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      to->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

// ---------------------------------------------------------------- env files

// Undoes the quoting of bash's printf %q for the forms it produces for
// ordinary values: 'single quoted', backslash escapes, $'...' (simplified).
std::string UnquoteShell(std::string_view v) {
  std::string out;
  size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (c == '\'') {
      size_t end = v.find('\'', i + 1);
      if (end == std::string_view::npos) end = v.size();
      out.append(v.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        out.push_back(v[i++]);
      }
      ++i;
    } else if (c == '$' && i + 1 < v.size() && v[i + 1] == '\'') {
      i += 2;
      while (i < v.size() && v[i] != '\'') {
        if (v[i] == '\\' && i + 1 < v.size()) {
          char e = v[++i];
          out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else {
          out.push_back(v[i]);
        }
        ++i;
      }
      ++i;
    } else if (c == '\\' && i + 1 < v.size()) {
      out.push_back(v[i + 1]);
      i += 2;
    } else {
      out.push_back(c);
      ++i;
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

std::string FirstOf(const std::map<std::string, std::string>& vars,
                    std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = vars.find(k);
    if (it != vars.end() && !it->second.empty()) return it->second;
  }
  return "";
}

// An S3Server from an env file written by the up scripts, or nullopt (+ *why).
std::optional<S3Server> ServerFromEnvFile(const std::string& path, std::string_view kind,
                                          std::string* why) {
  auto vars = ReadEnvFile(path);
  if (!vars) {
    *why = "cannot read " + path;
    return std::nullopt;
  }
  S3Server s;
  s.kind = FirstOf(*vars, {"S3_KIND"});
  if (s.kind.empty()) s.kind = std::string(kind);
  s.endpoint =
      FirstOf(*vars, {"S3_ENDPOINT", "RGW_ENDPOINT", "S3RVER_ENDPOINT", "AWS_ENDPOINT_URL"});
  s.access_key = FirstOf(*vars, {"AWS_ACCESS_KEY_ID"});
  s.secret_key = FirstOf(*vars, {"AWS_SECRET_ACCESS_KEY"});
  s.region = FirstOf(*vars, {"AWS_REGION", "AWS_DEFAULT_REGION"});
  if (s.region.empty()) s.region = "us-east-1";
  s.env = std::move(*vars);
  s.env_file = path;
  if (s.endpoint.empty() || s.access_key.empty() || s.secret_key.empty()) {
    *why = path + " lacks an endpoint or keys";
    return std::nullopt;
  }
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  return s;
}

// ---------------------------------------------------------------- registry

struct KindInfo {
  const char* kind;
  const char* env_override;  // CK_RGW_ENV / CK_S3RVER_ENV
  const char* up_script;
  const char* down_script;
  // environment for the up script (forces automatically picked ports, so
  // values from a sourced env file cannot make parallel runs collide)
  std::map<std::string, std::string> up_env;
  std::chrono::seconds up_timeout;
};

const KindInfo& InfoFor(std::string_view kind) {
  static const KindInfo* const kRgw =
      new KindInfo{"rgw",
                   "CK_RGW_ENV",
                   "rgw-up.sh",
                   "rgw-down.sh",
                   {{"RGW_PORT", "0"}, {"RGW_MON_PORT", "0"}, {"RGW_FRESH", "1"}},
                   std::chrono::seconds(600)};
  static const KindInfo* const kS3rver = new KindInfo{"s3rver",
                                                      "CK_S3RVER_ENV",
                                                      "s3rver-up.sh",
                                                      "s3rver-down.sh",
                                                      {{"S3RVER_PORT", "0"}, {"S3RVER_FRESH", "1"}},
                                                      std::chrono::seconds(600)};
  return kind == "rgw" ? *kRgw : *kS3rver;
}

struct Slot {
  std::mutex mu;
  bool attempted = false;
  std::unique_ptr<S3Server> server;  // set once started (or reused)
  std::string error;
  std::unique_ptr<TempDir> dir;  // set when this process started the server
  const char* down_script = nullptr;
  bool stopped = false;
};

struct Registry {
  Slot rgw;
  Slot s3rver;
  std::atomic<pid_t> owner{0};
  std::once_flag atexit_once;

  Slot& For(std::string_view kind) { return kind == "rgw" ? rgw : s3rver; }
};

// Never destroyed: the atexit handler may run after static destructors.
Registry& GetRegistry() {
  static Registry* const registry = new Registry;
  return *registry;
}

std::string ScriptPath(const char* name) {
  return std::string(CK_SOURCE_DIR) + "/scripts/" + name;
}

bool ServerAnswers(const S3Server& s, std::string* why) {
  S3CurlResult r = S3Curl(s, "GET", "/");
  if (r.http_status == 200) return true;
  *why = "signed ListBuckets to " + s.endpoint + " got " +
         (r.http_status == 0 ? r.error
                             : "HTTP " + std::to_string(r.http_status) + ": " + Tail(r.body, 3));
  return false;
}

void StopSlot(Slot& slot) {
  std::lock_guard<std::mutex> lock(slot.mu);
  if (!slot.dir) return;
  CommandResult r = RunCommand({ScriptPath(slot.down_script), slot.dir->path(), "--purge"}, {},
                               std::chrono::seconds(60));
  if (!r.ok()) {
    std::fprintf(stderr, "[local_s3] %s %s --purge failed (exit %d):\n%s\n", slot.down_script,
                 slot.dir->path().c_str(), r.exit_code, Tail(r.err, 20).c_str());
  }
  slot.dir.reset();  // removes whatever is left
  // Pointers handed out stay valid, but no longer name a running server.
  slot.stopped = true;
  slot.error = "stopped by StopLocalS3Servers()";
}

void StopAllAtExit() {
  // A forked child (a death test, say) that calls exit() must not stop the
  // parent's servers.
  if (GetRegistry().owner.load() != getpid()) return;
  StopLocalS3Servers();
}

// Starts (or finds) the server of `kind`; called with slot.mu held.
void StartSlot(std::string_view kind, Slot& slot) {
  const KindInfo& info = InfoFor(kind);
  Registry& reg = GetRegistry();

  std::string reuse = GetEnv(info.env_override);
  if (!reuse.empty()) {
    if (fs::exists(reuse)) {
      auto s = ServerFromEnvFile(reuse, kind, &slot.error);
      if (!s) return;
      if (!ServerAnswers(*s, &slot.error)) {
        slot.error = std::string(info.env_override) + "=" + reuse + ": " + slot.error;
        return;
      }
      std::fprintf(stderr, "[local_s3] using the %s at %s (%s=%s)\n", info.kind,
                   s->endpoint.c_str(), info.env_override, reuse.c_str());
      slot.server = std::make_unique<S3Server>(std::move(*s));
      return;
    }
    std::fprintf(stderr, "[local_s3] %s=%s does not exist; starting a %s here\n", info.env_override,
                 reuse.c_str(), info.kind);
  }

  std::call_once(reg.atexit_once, [&reg] {
    reg.owner.store(getpid());
    std::atexit(StopAllAtExit);
  });
  slot.dir = std::make_unique<TempDir>(std::string("ck-") + info.kind + "-");
  slot.down_script = info.down_script;
  std::map<std::string, std::string> env = info.up_env;
  env["CK_WATCH_PID"] = std::to_string(getpid());
  auto t0 = Clock::now();
  CommandResult r =
      RunCommand({ScriptPath(info.up_script), slot.dir->path()}, env, info.up_timeout);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.ok()) {
    slot.error = std::string("scripts/") + info.up_script + " " +
                 (r.timed_out       ? "timed out"
                  : r.exit_code < 0 ? r.error
                                    : "exited with " + std::to_string(r.exit_code)) +
                 "; its last messages:\n" + Tail(r.err, 40);
    // Make sure nothing it recorded keeps running.
    RunCommand({ScriptPath(info.down_script), slot.dir->path(), "--purge"}, {},
               std::chrono::seconds(60));
    slot.dir.reset();
    return;
  }
  auto s = ServerFromEnvFile(slot.dir->Join("env"), kind, &slot.error);
  if (!s) return;
  std::fprintf(stderr, "[local_s3] started %s at %s in %.1f s (dir %s)\n", info.kind,
               s->endpoint.c_str(), secs, slot.dir->path().c_str());
  slot.server = std::make_unique<S3Server>(std::move(*s));
}

std::string SanitizeBucketPart(std::string_view hint, size_t max_len) {
  std::string out;
  for (char c : hint) {
    char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    if (ok) {
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

// ---------------------------------------------------------------- servers

const S3Server* LocalS3(std::string_view kind, std::string* reason) {
  if (kind != "rgw" && kind != "s3rver") {
    if (reason != nullptr) *reason = "unknown server kind '" + std::string(kind) + "'";
    return nullptr;
  }
  Slot& slot = GetRegistry().For(kind);
  std::lock_guard<std::mutex> lock(slot.mu);
  if (!slot.attempted) {
    slot.attempted = true;
    StartSlot(kind, slot);
  }
  if (!slot.server || slot.stopped) {
    if (reason != nullptr) *reason = slot.error;
    return nullptr;
  }
  return slot.server.get();
}

const S3Server* LocalRgw(std::string* reason) {
  return LocalS3("rgw", reason);
}
const S3Server* LocalS3rver(std::string* reason) {
  return LocalS3("s3rver", reason);
}

std::vector<std::string> LocalS3Kinds() {
  return {"rgw", "s3rver"};
}

bool AllowSkipServers() {
  return GetEnv("CK_ALLOW_SKIP_SERVERS") == "1";
}

void StopLocalS3Servers() {
  Registry& reg = GetRegistry();
  StopSlot(reg.rgw);
  StopSlot(reg.s3rver);
}

// ---------------------------------------------------------------- S3 requests

S3CurlResult S3Curl(const S3Server& server, std::string_view method,
                    std::string_view path_and_query, std::string_view body) {
  S3CurlResult result;
  TempDir tmp("ck-s3curl-");
  std::string body_file = tmp.Join("body");
  std::string out_file = tmp.Join("out");
  {
    std::ofstream f(body_file, std::ios::binary);
    f.write(body.data(), static_cast<std::streamsize>(body.size()));
  }
  std::string url = server.endpoint + std::string(path_and_query);
  // Credentials go through a config file, not the command line (visible in ps).
  std::string config = tmp.Join("curlrc");
  {
    std::ofstream f(config);
    f << "user = \"" << server.access_key << ":" << server.secret_key << "\"\n";
  }
  std::vector<std::string> argv = {"curl",
                                   "-sS",
                                   "--config",
                                   config,
                                   "--aws-sigv4",
                                   "aws:amz:" + server.region + ":s3",
                                   "-H",
                                   "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                                   "--connect-timeout",
                                   "5",
                                   "--max-time",
                                   "60",
                                   "-o",
                                   out_file,
                                   "-w",
                                   "%{http_code}"};
  if (method == "HEAD") {
    argv.push_back("--head");
  } else {
    argv.insert(argv.end(), {"-X", std::string(method)});
  }
  if (method == "PUT" || method == "POST" || !body.empty()) {
    argv.insert(argv.end(),
                {"-H", "Content-Type: application/octet-stream", "--data-binary", "@" + body_file});
  }
  argv.push_back(url);
  // A stray AWS_CA_BUNDLE or proxy setting must not get between us and loopback.
  CommandResult r =
      RunCommand(argv, {{"NO_PROXY", "127.0.0.1,localhost"}, {"no_proxy", "127.0.0.1,localhost"}},
                 std::chrono::seconds(90));
  if (r.exit_code < 0 || r.timed_out) {
    result.error = r.timed_out ? "curl timed out" : r.error;
    return result;
  }
  result.http_status = std::atoi(r.out.c_str());
  std::ifstream in(out_file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  result.body = ss.str();
  if (result.http_status == 0) {
    result.error = "curl exited with " + std::to_string(r.exit_code) + ": " + Tail(r.err, 5);
  }
  return result;
}

std::string CreateTestBucket(const S3Server& server, std::string_view hint) {
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
  S3CurlResult r = S3Curl(server, "PUT", "/" + name);
  if (r.http_status != 200) {
    ADD_FAILURE() << "CreateTestBucket(" << server.kind << ", " << name << ") at "
                  << server.endpoint << ": "
                  << (r.http_status == 0 ? r.error
                                         : "HTTP " + std::to_string(r.http_status) + " " + r.body);
    return "";
  }
  return name;
}

// ---------------------------------------------------------------- TempDir

TempDir::TempDir(std::string_view prefix) {
  std::string base = GetEnv("TMPDIR");
  if (base.empty()) base = "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string templ = base + "/" + std::string(prefix) + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "[local_s3] %s\n", ErrnoText("mkdtemp " + templ).c_str());
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (!path_.empty() && !RemoveTree(path_)) {
    std::fprintf(stderr, "[local_s3] could not remove all of %s\n", path_.c_str());
  }
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    if (!path_.empty()) RemoveTree(path_);
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

std::string TempDir::Join(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

std::string TempDir::Release() {
  return std::exchange(path_, std::string());
}

bool RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (!ec && !fs::exists(fs::symlink_status(path, ec))) return true;
  // Something was not removable: give every directory in the tree back its
  // owner permissions (tests make some unreadable on purpose), then retry.
  std::vector<std::string> todo = {path};
  while (!todo.empty()) {
    std::string dir = std::move(todo.back());
    todo.pop_back();
    struct stat st;
    if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    chmod(dir.c_str(), st.st_mode | S_IRWXU);
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) todo.push_back(it->path().string());
    }
    ec.clear();
  }
  fs::remove_all(path, ec);
  return !fs::exists(fs::symlink_status(path, ec));
}

// ---------------------------------------------------------------- RunCommand

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout) {
  CommandResult result;
  if (argv.empty()) {
    result.error = "RunCommand: empty argv";
    return result;
  }

  // Everything the child needs is prepared before fork(): after it, in a
  // multi-threaded process, the child may only make async-signal-safe calls.
  std::map<std::string, std::string> merged;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) merged[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  env_strings.reserve(merged.size());
  for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);

  std::string exe = ResolveExecutable(argv[0], merged.count("PATH") ? merged["PATH"] : "");
  if (exe.empty()) {
    result.error = "RunCommand: " + argv[0] + ": not found in PATH";
    return result;
  }
  int max_fd = static_cast<int>(sysconf(_SC_OPEN_MAX));
  if (max_fd <= 0 || max_fd > 65536) max_fd = 65536;

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.error = ErrnoText("pipe2");
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.error = ErrnoText("pipe2");
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.error = ErrnoText("fork");
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return result;
  }
  if (pid == 0) ExecChild(exe.c_str(), argp.data(), envp.data(), out_pipe[1], err_pipe[1], max_fd);

  setpgid(pid, pid);  // also done in the child; whichever runs first wins
  close(out_pipe[1]);
  close(err_pipe[1]);
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  for (int fd : fds) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  bool open_fd[2] = {true, true};

  const auto deadline = Clock::now() + timeout;
  bool exited = false;
  int status = 0;
  for (;;) {
    if (!exited) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid || (w < 0 && errno == ECHILD)) exited = true;
    }
    if (exited) {
      // Whatever the command wrote is in the pipes now; don't wait for
      // processes it left running that inherited them.
      for (int i = 0; i < 2; ++i) {
        if (open_fd[i]) DrainFd(fds[i], sinks[i]);
      }
      break;
    }
    auto now = Clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      kill(-pid, SIGTERM);
      kill(pid, SIGTERM);
      auto kill_at = Clock::now() + std::chrono::seconds(3);
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() >= kill_at) {
          kill(-pid, SIGKILL);
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          break;
        }
        usleep(20000);
      }
      for (int i = 0; i < 2; ++i) {
        if (open_fd[i]) DrainFd(fds[i], sinks[i]);
      }
      exited = true;
      break;
    }
    pollfd pfds[2];
    int n = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (open_fd[i]) {
        pfds[n] = {fds[i], POLLIN, 0};
        which[n++] = i;
      }
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    // with both pipes closed, only the exit is left to notice: poll briefly
    wait_ms = std::min(wait_ms, n == 0 ? 10 : 50);
    if (n == 0) {
      usleep(static_cast<useconds_t>(wait_ms) * 1000);
      continue;
    }
    int pr = poll(pfds, static_cast<nfds_t>(n), std::max(wait_ms, 1));
    if (pr < 0 && errno != EINTR) break;
    for (int j = 0; j < n && pr > 0; ++j) {
      if (pfds[j].revents != 0 && !DrainFd(fds[which[j]], sinks[which[j]])) {
        open_fd[which[j]] = false;
      }
    }
  }
  close(fds[0]);
  close(fds[1]);
  if (!exited) {
    waitpid(pid, &status, 0);
  }
  result.exit_code = DecodeWaitStatus(status);
  return result;
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace ck::test
