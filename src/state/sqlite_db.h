// A thin RAII layer over the SQLite C API, private to src/state.
//
// SqliteDb owns one connection and a cache of prepared statements keyed by SQL
// text. Prepare() hands out a Stmt: a borrowed handle to the cached statement
// that resets it and clears its bindings when it goes out of scope, so a cached
// statement never keeps a read transaction open by accident.
//
// Nothing here is thread-safe: the owner serialises all use of one SqliteDb
// (the state store holds a mutex around every call).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ck {

// Maps a SQLite result code to a Status: I/O-ish failures (disk full, I/O
// error, cannot open, locked after the busy timeout, read-only, corrupt) become
// kIo, NOTADB becomes kInvalidArgument, and everything that indicates a
// programming error (SQL syntax, misuse, constraint violations) kInternal.
// The message names the database file, `what`, SQLite's own message (taken
// from `db` when non-null) and the extended result code.
Status SqliteStatus(sqlite3* db, int rc, std::string_view path, std::string_view what);

class SqliteDb;

// A prepared statement borrowed from a SqliteDb cache. Move-only. Binding
// errors are remembered and reported by the next Step()/Run(). Parameter and
// column indexes follow SQLite: parameters from 1, columns from 0.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  // Resets the statement, clears its bindings and returns it to the cache.
  ~Stmt();

  Stmt& BindInt(int index, int64_t value);
  // Binds raw bytes as TEXT (no UTF-8 check; "" binds an empty string, not NULL).
  Stmt& BindText(int index, std::string_view value);
  // Binds raw bytes as a BLOB ("" binds an empty blob, not NULL).
  Stmt& BindBlob(int index, std::string_view value);
  Stmt& BindNull(int index);

  // Advances the statement. Returns true when a row is available, false when
  // the statement has finished; an error Status on failure (or on an earlier
  // binding error).
  Result<bool> Step();
  // Steps until the statement finishes, ignoring any rows.
  Status Run();

  // Column accessors for the current row. Bytes() and View() return the raw
  // bytes of a TEXT or BLOB value (NULL reads as "").
  int64_t Int(int column) const;
  std::string Bytes(int column) const;
  // Like Bytes() without a copy; valid until the next Step() or reset.
  std::string_view View(int column) const;
  bool IsNull(int column) const;

 private:
  friend class SqliteDb;
  Stmt(SqliteDb* db, sqlite3_stmt* stmt, bool* in_use) : db_(db), stmt_(stmt), in_use_(in_use) {}
  void NoteBind(int rc, int index);

  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;
  int bind_rc_ = 0;  // first failing sqlite3_bind_* result code, 0 if none
  int bind_index_ = 0;
};

class SqliteDb {
 public:
  // Opens (creating if missing) the database file at `path` in read-write mode
  // and sets the busy timeout; kIo when it cannot be opened for writing. Does
  // not read the file: a file that is not a database is detected by the first
  // statement that reads it.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, int busy_timeout_ms);
  // Finalizes every cached statement and closes the connection.
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more ';'-separated statements that return no needed rows.
  Status Exec(std::string_view sql);
  // Returns the cached statement for `sql`, preparing it on first use.
  // kInternal if the same SQL is already borrowed by a live Stmt.
  Result<Stmt> Prepare(std::string_view sql);
  // Convenience for single-value queries: the first column of the first row as
  // an integer, or `if_empty` when there is no row.
  Result<int64_t> QueryInt(std::string_view sql, int64_t if_empty = 0);
  // Same, for a text/blob value.
  Result<std::string> QueryBytes(std::string_view sql);

  // Rows changed by the most recent INSERT/UPDATE/DELETE on this connection.
  int64_t Changes() const;
  // Rows changed by all statements since the connection was opened.
  int64_t TotalChanges() const;
  bool InTransaction() const;

  const std::string& path() const { return path_; }
  sqlite3* raw() const { return db_; }
  // SqliteStatus() for this connection.
  Status Error(int rc, std::string_view what) const;

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, Cached> cache_;
};

// A write transaction (BEGIN IMMEDIATE, so the write lock is taken up front and
// waits for the busy timeout instead of failing on upgrade). Rolls back on
// destruction unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(SqliteDb* db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin();
  Status Commit();

 private:
  SqliteDb* db_;
  bool active_ = false;
};

}  // namespace ck
