// Local S3 servers for tests: a process-wide registry that starts a real
// radosgw (scripts/rgw-up.sh) and an s3rver (scripts/s3rver-up.sh) on
// 127.0.0.1 the first time a test asks for one, at most once per test binary,
// and stops them when the process exits.  Plus the small process and
// filesystem helpers those need (and tests can use): TempDir, RunCommand,
// FreeLoopbackPort.
//
// Typical use in a test body:
//
//   TEST(UploadTest, RoundTrip) {
//     CK_REQUIRE_LOCAL_S3(server, "rgw");  // const ck::test::S3Server* server
//     std::string bucket = ck::test::CreateTestBucket(*server, "roundtrip");
//     ASSERT_FALSE(bucket.empty());
//     ...
//   }
//
// A server that cannot be had FAILS the test, because CI must really exercise
// the servers.  Set CK_ALLOW_SKIP_SERVERS=1 to skip such tests instead (e.g.
// on a machine without Ceph).
//
// Environment:
//   CK_RGW_ENV=FILE     reuse the radosgw described by FILE (an env file written
//                       by scripts/rgw-up.sh) instead of starting one, if FILE exists
//   CK_S3RVER_ENV=FILE  the same for s3rver (scripts/s3rver-up.sh)
//   CK_ALLOW_SKIP_SERVERS=1  skip, not fail, when a server is unavailable
//   RGW_STORE_BYTES, RGW_TIMEOUT, ...  passed on to the scripts (see their headers)
//
// Servers started here live in a temporary directory and are stopped by an
// atexit handler.  Should the test binary be killed instead, a watchdog that
// the scripts start (CK_WATCH_PID) stops them within about a second.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace ck::test {

// A running S3 server on loopback.
struct S3Server {
  std::string kind;      // "rgw" or "s3rver"
  std::string endpoint;  // "http://127.0.0.1:PORT", path-style addressing
  std::string access_key, secret_key, region;
  // Every KEY=VALUE of the server's env file (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL,
  // ...): handy as the environment of a subprocess that should talk to it.
  std::map<std::string, std::string> env;
  std::string env_file;  // where that came from
};

// The process-wide radosgw / s3rver, started on first use.  nullptr when it is
// unavailable, with the reason in *reason (if given).  A failed start is not
// retried within the same process.  Thread-safe.
const S3Server* LocalRgw(std::string* reason = nullptr);
const S3Server* LocalS3rver(std::string* reason = nullptr);
// By kind: "rgw" or "s3rver".
const S3Server* LocalS3(std::string_view kind, std::string* reason = nullptr);
// All kinds, e.g. for INSTANTIATE_TEST_SUITE_P(..., testing::ValuesIn(LocalS3Kinds())).
std::vector<std::string> LocalS3Kinds();

// True when CK_ALLOW_SKIP_SERVERS=1: tests may skip when a server is unavailable.
bool AllowSkipServers();

// Stops the servers this process started (normally left to the atexit
// handler); LocalS3() returns nullptr for them afterwards.
void StopLocalS3Servers();

// Creates a fresh bucket with a unique name derived from `hint` (lowercased,
// reduced to [a-z0-9-]) and returns its name.  On failure records a non-fatal
// gtest failure and returns "".  Uses curl --aws-sigv4 in a subprocess, not
// the project's own S3 client.
std::string CreateTestBucket(const S3Server& server, std::string_view hint);

// The result of one signed request made with curl.
struct S3CurlResult {
  int http_status = 0;  // 0 if no response
  std::string body;
  std::string error;  // curl's complaint when http_status is 0
};
// One SigV4-signed request to `server` made with curl (--aws-sigv4), e.g.
// S3Curl(s, "PUT", "/bucket/key", "data") or S3Curl(s, "GET", "/bucket?list-type=2").
// `path_and_query` must be URL-encoded already; curl 7.88 signs the query
// string as given, so write parameters sorted and as "k=v" (e.g. "?location=").
S3CurlResult S3Curl(const S3Server& server, std::string_view method,
                    std::string_view path_and_query, std::string_view body = {});

// A fresh directory (mkdtemp under $TMPDIR, or /tmp), removed with everything
// in it (even entries made unreadable or read-only) when the object goes away.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "ck-test-");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Join(std::string_view name) const;
  // Gives up ownership: the directory is kept; returns its path.
  std::string Release();

 private:
  std::string path_;
};

// Removes `path` recursively, first making directories in it writable and
// searchable again.  True if nothing is left.
bool RemoveTree(const std::string& path);

struct CommandResult {
  int exit_code = -1;      // exit status; 128 + N if killed by signal N; -1 if not started
  bool timed_out = false;  // killed after `timeout`
  std::string out;         // everything it wrote to stdout
  std::string err;         // everything it wrote to stderr
  std::string error;       // why it could not be started (exit_code -1)

  bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (looked up in PATH unless it has a '/') directly, without a
// shell, in its own process group, with stdin from /dev/null, no other
// inherited file descriptors, and this process's environment plus `env`
// (entries there override).  Captures stdout and stderr.  After `timeout` the
// process group gets SIGTERM, and SIGKILL 3 s later.  Stops reading once the
// command has exited, even if something it started still holds its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0), or 0.
// Someone else may take it before you bind it: prefer letting servers pick.
int FreeLoopbackPort();

}  // namespace ck::test

// In a test body (or a void SetUp): declares `const ck::test::S3Server* var`
// holding the local server of `kind` ("rgw" or "s3rver"); if there is none,
// fails the test -- or skips it when CK_ALLOW_SKIP_SERVERS=1 -- and returns.
#define CK_REQUIRE_LOCAL_S3(var, kind)                                                      \
  std::string var##_unavailable_reason;                                                     \
  const ::ck::test::S3Server* var = ::ck::test::LocalS3((kind), &var##_unavailable_reason); \
  if (var == nullptr) {                                                                     \
    if (::ck::test::AllowSkipServers()) {                                                   \
      GTEST_SKIP() << "no local " << (kind)                                                 \
                   << " server (CK_ALLOW_SKIP_SERVERS=1): " << var##_unavailable_reason;    \
    } else {                                                                                \
      FAIL() << "no local " << (kind) << " server: " << var##_unavailable_reason            \
             << " (set CK_ALLOW_SKIP_SERVERS=1 to skip instead)";                           \
    }                                                                                       \
  }                                                                                         \
  static_assert(true, "")
