// Helpers shared by the src/state tests (header-only; not part of ck_state).
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "util/env.h"

namespace ck::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/ck_state_test.XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr) << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The real Env with a controllable wall clock.
class FakeClockEnv : public EnvWrapper {
 public:
  explicit FakeClockEnv(int64_t start_us = 1'700'000'000'000'000)
      : EnvWrapper(Env::Default()), now_us_(start_us) {}
  int64_t NowMicros() override { return now_us_.load(); }
  void Set(int64_t us) { now_us_.store(us); }
  void Advance(int64_t us) { now_us_.fetch_add(us); }

 private:
  std::atomic<int64_t> now_us_;
};

// A plain SQLite connection for looking at (or tampering with) a database
// from the outside, as another process would.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << "opening " << path;
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // First column of the first row as text ("" if no row); fails the test on error.
  std::string Text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
    if (rc != SQLITE_OK) return "";
    std::string out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const void* p = sqlite3_column_blob(st, 0);
      int n = sqlite3_column_bytes(st, 0);
      if (p != nullptr) out.assign(static_cast<const char*>(p), static_cast<size_t>(n));
    } else {
      EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_finalize(st);
    return out;
  }
  int64_t Int(const std::string& sql) {
    std::string s = Text(sql);
    return s.empty() ? 0 : std::stoll(s);
  }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  sqlite3* raw() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace ck::testing
