// The local Backblaze B2 server for tests: a process-wide registry that starts
// tools/b2server/b2server.py (through scripts/b2server-up.sh) on 127.0.0.1 the
// first time a test asks for it, at most once per test binary, and stops it
// when the process exits -- the B2 counterpart of local_s3.h.
//
// Typical use in a test body:
//
//   TEST(B2UploadTest, RoundTrip) {
//     CK_REQUIRE_LOCAL_B2(server);  // const ck::test::B2Server* server
//     std::string bucket = ck::test::CreateB2TestBucket(*server, "roundtrip");
//     ASSERT_FALSE(bucket.empty());
//     ... authorize at server->api_url with server->key_id / server->key ...
//   }
//
// A server that cannot be had FAILS the test, unless CK_ALLOW_SKIP_SERVERS=1.
//
// The server behaves like B2 as docs/b2-native-api.md describes (tokens expire,
// one upload at a time per upload URL, SHA-1 and Content-Length checked, ...)
// and has test-only endpoints: transaction counters (B2TestStats) and fault
// switches (B2TestConfigure); see tools/b2server/README.md.  The server is
// shared by every test of the binary (and of the run, with CK_B2_ENV): use a
// bucket of your own, read the counters of that bucket, and undo the fault
// switches you set.
//
// Environment:
//   CK_B2_ENV=FILE  reuse the server described by FILE (an env file written by
//                   scripts/b2server-up.sh) instead of starting one, if FILE exists
//   CK_ALLOW_SKIP_SERVERS=1  skip, not fail, when the server is unavailable
//   B2SERVER_ARGS, B2SERVER_VERBOSE, ...  passed on to the script (see its header)
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/local_s3.h"  // AllowSkipServers, TempDir, RunCommand

namespace ck::test {

// A running local B2 server.
struct B2Server {
  std::string api_url;  // "http://127.0.0.1:PORT": where b2_authorize_account is
  std::string key_id, key;
  std::string bucket;  // a bucket created at start (shared; prefer CreateB2TestBucket)
  // Every KEY=VALUE of the server's env file (B2_API_URL, B2_APPLICATION_KEY_ID,
  // B2_APPLICATION_KEY, B2_TEST_BUCKET, ...): handy as a subprocess environment.
  std::map<std::string, std::string> env;
  std::string env_file;  // where that came from
};

// The process-wide server, started on first use.  nullptr when it is
// unavailable, with the reason in *reason (if given).  A failed start is not
// retried within the same process.  Thread-safe.
const B2Server* LocalB2(std::string* reason = nullptr);

// Stops the server this process started (normally left to the atexit
// handler); LocalB2() returns nullptr afterwards.
void StopLocalB2Server();

// Creates a fresh allPrivate bucket with a unique name derived from `hint`
// (reduced to [a-z0-9-]) through the server's own b2_authorize_account and
// b2_create_bucket (not the project's B2 client) and returns its name.  On
// failure records a non-fatal gtest failure and returns "".
std::string CreateB2TestBucket(const B2Server& server, std::string_view hint);

// GET /__test/stats: {"requests", "transactions": {"A","B","C"}, "calls": {op: n},
// "errors": {op: {"503 service_unavailable": n}}, "status": {"200": n},
// "bytes_uploaded", "bytes_downloaded", "faults_injected"} -- for the whole
// server plus "buckets": {name: {...}}, or only for `bucket` when given.
// On failure records a non-fatal gtest failure and returns an empty object.
nlohmann::json B2TestStats(const B2Server& server, std::string_view bucket = {});

// POST /__test/config with `json`, e.g. R"({"upload_fail_rate": 0.5})",
// R"({"expire_tokens_now": true})" or
// R"({"fail_next": [{"op": "b2_upload_file", "status": 503, "count": 2}]})".
// True when the server accepted it; otherwise records a non-fatal gtest failure.
bool B2TestConfigure(const B2Server& server, const std::string& json);

// One plain HTTP request to the server, for tests that need to look at it
// directly: `path_and_query` is appended to api_url.
struct B2HttpResult {
  int http_status = 0;  // 0 if no response
  std::string body;
  std::string error;  // why there was no response
};
B2HttpResult B2TestRequest(const B2Server& server, std::string_view method,
                           std::string_view path_and_query, std::string_view body = {},
                           const std::map<std::string, std::string>& headers = {});

}  // namespace ck::test

// In a test body (or a void SetUp): declares `const ck::test::B2Server* var`
// holding the local B2 server; if there is none, fails the test -- or skips it
// when CK_ALLOW_SKIP_SERVERS=1 -- and returns.
#define CK_REQUIRE_LOCAL_B2(var)                                                    \
  std::string var##_unavailable_reason;                                             \
  const ::ck::test::B2Server* var = ::ck::test::LocalB2(&var##_unavailable_reason); \
  if (var == nullptr) {                                                             \
    if (::ck::test::AllowSkipServers()) {                                           \
      GTEST_SKIP() << "no local B2 server (CK_ALLOW_SKIP_SERVERS=1): "              \
                   << var##_unavailable_reason;                                     \
    } else {                                                                        \
      FAIL() << "no local B2 server: " << var##_unavailable_reason                  \
             << " (set CK_ALLOW_SKIP_SERVERS=1 to skip instead)";                   \
    }                                                                               \
  }                                                                                 \
  static_assert(true, "")
