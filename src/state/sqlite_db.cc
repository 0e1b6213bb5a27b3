#include "state/sqlite_db.h"

#include <sqlite3.h>

#include <string>
#include <utility>

namespace ck {

Status SqliteStatus(sqlite3* db, int rc, std::string_view path, std::string_view what) {
  std::string msg = "sqlite database ";
  msg += path;
  msg += ": ";
  msg += what;
  msg += ": ";
  // sqlite3_errmsg describes the most recent failure on the connection; when
  // there is no connection fall back to the generic text for the code.
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (code " + std::to_string(rc) + ")";
  ErrorKind kind;
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      kind = ErrorKind::kInvalidArgument;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_PERM:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
    case SQLITE_INTERRUPT:
      kind = ErrorKind::kIo;
      break;
    default:
      kind = ErrorKind::kInternal;
      break;
  }
  return Status(kind, std::move(msg));
}

// ---------------------------------------------------------------------------
// Stmt

Stmt::Stmt(Stmt&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

Stmt::~Stmt() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

void Stmt::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == 0) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
}

Stmt& Stmt::BindInt(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Stmt& Stmt::BindText(int index, std::string_view value) {
  // A null data pointer would bind NULL; bind a real empty string instead.
  const char* data = value.data() != nullptr ? value.data() : "";
  NoteBind(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
           index);
  return *this;
}

Stmt& Stmt::BindBlob(int index, std::string_view value) {
  if (value.empty()) {
    NoteBind(sqlite3_bind_zeroblob(stmt_, index, 0), index);
  } else {
    NoteBind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT),
             index);
  }
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  NoteBind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Result<bool> Stmt::Step() {
  if (bind_rc_ != 0) {
    return db_->Error(bind_rc_, "binding parameter " + std::to_string(bind_index_) + " of \"" +
                                    sqlite3_sql(stmt_) + "\"");
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, std::string("executing \"") + sqlite3_sql(stmt_) + "\"");
}

Status Stmt::Run() {
  while (true) {
    CK_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::OK();
  }
}

int64_t Stmt::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string_view Stmt::View(int column) const {
  // Ask for the blob pointer first, then the size (SQLite's documented order).
  const void* data = sqlite3_column_blob(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || n <= 0) return std::string_view();
  return std::string_view(static_cast<const char*>(data), static_cast<size_t>(n));
}

std::string Stmt::Bytes(int column) const {
  return std::string(View(column));
}

bool Stmt::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// ---------------------------------------------------------------------------
// SqliteDb

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  // NOMUTEX: the owner serialises access, so SQLite's own locking is redundant.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(db, rc, path, "opening");
    sqlite3_close(db);  // a handle is returned even on most failures
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<SqliteDb> out(new SqliteDb(db, path));
  rc = sqlite3_busy_timeout(db, busy_timeout_ms);
  if (rc != SQLITE_OK) return out->Error(rc, "setting the busy timeout");
  // SQLite silently falls back to read-only when the file is not writable.
  if (sqlite3_db_readonly(db, "main") == 1) {
    return IoError("sqlite database " + path + ": the file is not writable");
  }
  return out;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  cache_.clear();
  sqlite3_close(db_);
}

Status SqliteDb::Error(int rc, std::string_view what) const {
  return SqliteStatus(db_, rc, path_, what);
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) return Error(rc, "executing \"" + text + "\"");
  return Status::OK();
}

Result<Stmt> SqliteDb::Prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return Error(rc, "preparing \"" + std::string(sql) + "\"");
    if (stmt == nullptr) return Internal("empty SQL statement");
    it = cache_.emplace(std::string(sql), Cached{stmt, false}).first;
  }
  if (it->second.in_use) {
    return Internal("statement already in use: \"" + std::string(sql) + "\"");
  }
  it->second.in_use = true;
  return Stmt(this, it->second.stmt, &it->second.in_use);
}

Result<int64_t> SqliteDb::QueryInt(std::string_view sql, int64_t if_empty) {
  CK_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  CK_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : if_empty;
}

Result<std::string> SqliteDb::QueryBytes(std::string_view sql) {
  CK_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  CK_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Bytes(0) : std::string();
}

int64_t SqliteDb::Changes() const {
  return sqlite3_changes64(db_);
}
int64_t SqliteDb::TotalChanges() const {
  return sqlite3_total_changes64(db_);
}
bool SqliteDb::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

// ---------------------------------------------------------------------------
// Transaction

Transaction::~Transaction() {
  // SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
  if (active_ && db_->InTransaction()) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Begin() {
  if (active_) return Internal("transaction already begun");
  CK_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  active_ = true;
  return Status::OK();
}

Status Transaction::Commit() {
  if (!active_) return Internal("commit without an active transaction");
  Status st = db_->Exec("COMMIT");
  // On failure the destructor rolls back whatever SQLite left open.
  if (st.ok()) active_ = false;
  return st;
}

}  // namespace ck
