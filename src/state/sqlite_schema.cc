#include "state/sqlite_schema.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace ck {
namespace {

// Version 1: files, per-destination state, multipart upload state.
//
// files.type is a stable lowercase name (see TypeName in sqlite_store.cc);
// rel_path is a BLOB holding the raw name bytes, which need not be UTF-8.
// Sizes and inodes are uint64 values stored bit-for-bit in SQLite's int64.
//
// Indexes on file_dest:
//   file_dest_work      - ListWork: (destination, file_id) over the rows that can
//                         be work, walked in file_id order and stopped at the limit.
//   file_dest_status    - Counts (covering; grouped by destination and status in
//                         index order, files looked up in ascending id order).
//   file_dest_failed    - ListFailed and Retry (few rows).
//   file_dest_uploading - ResetInterrupted (few rows).
Status MigrateToV1(SqliteDb& db) {
  return db.Exec(R"sql(
CREATE TABLE files (
  id            INTEGER PRIMARY KEY,
  source        TEXT    NOT NULL,
  rel_path      BLOB    NOT NULL,
  size          INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  inode         INTEGER NOT NULL,
  type          TEXT    NOT NULL CHECK (type IN ('file', 'dir', 'symlink', 'fifo', 'socket',
                                                 'blockdev', 'chardev', 'other')),
  skip_reason   TEXT    NOT NULL DEFAULT '',
  present       INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),
  first_seen_us INTEGER NOT NULL,
  updated_us    INTEGER NOT NULL,
  UNIQUE (source, rel_path)
);

CREATE TABLE file_dest (
  file_id         INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  destination     TEXT    NOT NULL,
  status          TEXT    NOT NULL
                  CHECK (status IN ('pending', 'uploading', 'synced', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  error_kind      TEXT    NOT NULL DEFAULT '',
  error_message   TEXT    NOT NULL DEFAULT '',
  remote_key      TEXT    NOT NULL DEFAULT '',
  remote_etag     TEXT    NOT NULL DEFAULT '',
  remote_id       TEXT    NOT NULL DEFAULT '',
  synced_size     INTEGER NOT NULL DEFAULT 0,
  synced_mtime_ns INTEGER NOT NULL DEFAULT 0,
  synced_inode    INTEGER NOT NULL DEFAULT 0,
  md5             TEXT    NOT NULL DEFAULT '',
  sha256          TEXT    NOT NULL DEFAULT '',
  sha1            TEXT    NOT NULL DEFAULT '',
  last_attempt_us INTEGER NOT NULL DEFAULT 0,
  synced_us       INTEGER NOT NULL DEFAULT 0,
  updated_us      INTEGER NOT NULL,
  PRIMARY KEY (file_id, destination)
) WITHOUT ROWID;

CREATE INDEX file_dest_work ON file_dest (destination, file_id)
  WHERE status IN ('pending', 'failed');
CREATE INDEX file_dest_status ON file_dest (destination, status, file_id, synced_size, synced_us);
CREATE INDEX file_dest_failed ON file_dest (destination, file_id) WHERE status = 'failed';
CREATE INDEX file_dest_uploading ON file_dest (file_id) WHERE status = 'uploading';

CREATE TABLE multipart (
  file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  destination TEXT    NOT NULL,
  upload_id   TEXT    NOT NULL,
  key         TEXT    NOT NULL,
  part_size   INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  mtime_ns    INTEGER NOT NULL,
  created_us  INTEGER NOT NULL,
  PRIMARY KEY (file_id, destination)
);
CREATE INDEX multipart_by_destination ON multipart (destination, file_id);

CREATE TABLE multipart_parts (
  file_id     INTEGER NOT NULL,
  destination TEXT    NOT NULL,
  part_number INTEGER NOT NULL CHECK (part_number >= 1),
  size        INTEGER NOT NULL,
  etag        TEXT    NOT NULL,
  checksum    TEXT    NOT NULL,
  PRIMARY KEY (file_id, destination, part_number),
  FOREIGN KEY (file_id, destination) REFERENCES multipart (file_id, destination)
    ON DELETE CASCADE
) WITHOUT ROWID;
)sql");
}

// Version 2: history samples for the dashboard - one row per destination per
// sync pass ('pass') and per bucket re-listing ('reconcile').
Status MigrateToV2(SqliteDb& db) {
  return db.Exec(R"sql(
CREATE TABLE history (
  id             INTEGER PRIMARY KEY,
  at_us          INTEGER NOT NULL,
  kind           TEXT    NOT NULL CHECK (kind IN ('pass', 'reconcile')),
  destination    TEXT    NOT NULL,
  files          INTEGER NOT NULL,
  bytes          INTEGER NOT NULL,
  source         TEXT    NOT NULL CHECK (source IN ('bucket', 'database')),
  uploaded_files INTEGER NOT NULL DEFAULT 0,
  uploaded_bytes INTEGER NOT NULL DEFAULT 0,
  failed_files   INTEGER NOT NULL DEFAULT 0,
  pending_files  INTEGER NOT NULL DEFAULT 0,
  duration_ms    INTEGER NOT NULL DEFAULT 0,
  run_id         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX history_by_time ON history (at_us);
CREATE INDEX history_by_destination ON history (destination, at_us);
)sql");
}

// Version 3: lets EnsureDestination skip its pass over every file when no
// file can have become eligible for a destination row since its last pass.
//   files_seq.seq       - bumped by every scan transaction that inserts an
//                         uploadable entry or updates one (new, re-appeared,
//                         changed, or newly uploadable);
//   dest_ensured        - per destination, the seq its last pass ran at.
// A database migrated from version 2 starts with no dest_ensured rows, so the
// first pass per destination always runs.
Status MigrateToV3(SqliteDb& db) {
  return db.Exec(R"sql(
CREATE TABLE files_seq (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
);
INSERT INTO files_seq (id, seq) VALUES (1, 1);
CREATE TABLE dest_ensured (
  destination TEXT    PRIMARY KEY,
  seq         INTEGER NOT NULL
) WITHOUT ROWID;
)sql");
}

// Version 4: the CHECK constraints of files and file_dest as OR chains
// instead of IN lists. The rule is the same, but SQLite evaluates a CHECK with
// a constant IN list by building a temporary b-tree of the list for every row
// written: one file_dest UPDATE took 3.2 us instead of 1.5 us. Rows on disk do
// not change, so only the stored CREATE TABLE text is edited, the procedure
// SQLite documents for changing CHECK constraints (writable_schema, then a new
// schema_version so that every connection re-reads the schema). The old text
// must be exactly what version 1 wrote; anything else is refused unchanged.
struct CheckEdit {
  const char* table;
  const char* from;
  const char* to;
};
constexpr CheckEdit kV4Edits[] = {
    {"files",
     "CHECK (type IN ('file', 'dir', 'symlink', 'fifo', 'socket',\n"
     "                                                 'blockdev', 'chardev', 'other'))",
     "CHECK (type = 'file' OR type = 'dir' OR type = 'symlink' OR type = 'fifo' OR\n"
     "                                 type = 'socket' OR type = 'blockdev' OR type = 'chardev' "
     "OR\n"
     "                                 type = 'other')"},
    {"files", "CHECK (present IN (0, 1))", "CHECK (present = 0 OR present = 1)"},
    {"file_dest", "CHECK (status IN ('pending', 'uploading', 'synced', 'failed'))",
     "CHECK (status = 'pending' OR status = 'uploading' OR status = 'synced' OR\n"
     "                         status = 'failed')"},
};

Status MigrateToV4(SqliteDb& db) {
  std::map<std::string, std::string> sql;
  for (const CheckEdit& e : kV4Edits) {
    if (sql.count(e.table) == 0) {
      CK_ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' "
                                             "AND name = ?1"));
      q.BindText(1, e.table);
      CK_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return InvalidArgument(std::string("table ") + e.table + " is missing");
      sql[e.table] = q.Bytes(0);
    }
    std::string& text = sql[e.table];
    const size_t at = text.find(e.from);
    if (at == std::string::npos || text.find(e.from, at + 1) != std::string::npos) {
      return InvalidArgument(std::string("table ") + e.table +
                             " is not defined the way cloudkeep created it (its CHECK constraint "
                             "differs); the database was changed by something else");
    }
    text.replace(at, std::strlen(e.from), e.to);
  }
  CK_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA schema_version"));
  CK_RETURN_IF_ERROR(db.Exec("PRAGMA writable_schema = ON"));
  Status st;
  for (const auto& [table, text] : sql) {
    auto up = db.Prepare("UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2");
    if (!up.ok()) {
      st = up.status();
      break;
    }
    up->BindText(1, text).BindText(2, table);
    st = up->Run();
    if (!st.ok()) break;
  }
  if (st.ok()) st = db.Exec("PRAGMA schema_version = " + std::to_string(version + 1));
  Status off = db.Exec("PRAGMA writable_schema = OFF");
  CK_RETURN_IF_ERROR(st);
  CK_RETURN_IF_ERROR(off);
  // The edited definitions must parse and hold for every stored row.
  CK_ASSIGN_OR_RETURN(std::string check, db.QueryBytes("PRAGMA quick_check"));
  if (check != "ok") return Internal("quick_check after editing CHECK constraints: " + check);
  return Status::OK();
}

// Append new steps here; never change a released one.
constexpr Migration kMigrations[] = {
    {1, &MigrateToV1},
    {2, &MigrateToV2},
    {3, &MigrateToV3},
    {4, &MigrateToV4},
};

std::string Hex32(int64_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v & 0xffffffff));
  return buf;
}

// What the file currently is.
struct Identity {
  bool empty = false;  // a fresh file: no schema objects, application_id 0
  int version = 0;     // schema version when it is a cloudkeep database
};

Result<Identity> Identify(SqliteDb& db) {
  const std::string& path = db.path();
  auto objects = db.QueryInt("SELECT count(*) FROM sqlite_master");
  if (!objects.ok()) {
    if (objects.status().kind() == ErrorKind::kInvalidArgument) {
      return InvalidArgument(path + " is not a cloudkeep state database (not a SQLite file)");
    }
    return objects.status();
  }
  CK_ASSIGN_OR_RETURN(int64_t app_id, db.QueryInt("PRAGMA application_id"));
  Identity id;
  if (app_id == 0 && *objects == 0) {
    id.empty = true;
    return id;
  }
  if (app_id != kCloudkeepAppId) {
    return InvalidArgument(path + " is not a cloudkeep state database (SQLite application_id " +
                           Hex32(app_id) + ", " + std::to_string(*objects) + " schema objects)");
  }
  CK_ASSIGN_OR_RETURN(
      int64_t has_info,
      db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                  "'schema_info'"));
  if (has_info == 0) {
    return InvalidArgument(path + " is a damaged cloudkeep state database (no schema_info table)");
  }
  CK_ASSIGN_OR_RETURN(int64_t version,
                      db.QueryInt("SELECT version FROM schema_info WHERE id = 1", -1));
  if (version < 0) {
    return InvalidArgument(path + " is a damaged cloudkeep state database (no schema version)");
  }
  id.version = static_cast<int>(version);
  return id;
}

Status CheckNotNewer(const SqliteDb& db, const Identity& id, int latest) {
  if (id.version > latest) {
    return InvalidArgument(db.path() + " has state schema version " + std::to_string(id.version) +
                           ", but this cloudkeep build understands only up to version " +
                           std::to_string(latest) + "; it was written by a newer cloudkeep");
  }
  return Status::OK();
}

}  // namespace

std::span<const Migration> SchemaMigrations() {
  return kMigrations;
}

int LatestSchemaVersion() {
  return kMigrations[std::size(kMigrations) - 1].to_version;
}

Status MigrateSchema(SqliteDb& db, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].to_version != static_cast<int>(i) + 1 || migrations[i].apply == nullptr) {
      return Internal("schema migrations must be numbered 1..N");
    }
  }
  const int latest = static_cast<int>(migrations.size());
  if (db.InTransaction()) return Internal("MigrateSchema called inside a transaction");

  // Recognise the file before changing anything about it.
  CK_ASSIGN_OR_RETURN(Identity before, Identify(db));
  CK_RETURN_IF_ERROR(CheckNotNewer(db, before, latest));

  CK_ASSIGN_OR_RETURN(std::string mode, db.QueryBytes("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return IoError(db.path() + ": cannot enable write-ahead logging (journal mode stays " + mode +
                   ")");
  }

  Transaction txn(&db);
  CK_RETURN_IF_ERROR(txn.Begin());
  // Identify again under the write lock: another process may have created or
  // upgraded the file since.
  CK_ASSIGN_OR_RETURN(Identity now, Identify(db));
  CK_RETURN_IF_ERROR(CheckNotNewer(db, now, latest));
  if (now.version == latest) return Status::OK();  // nothing to do; rolls back the empty txn

  if (now.empty) {
    CK_RETURN_IF_ERROR(db.Exec("PRAGMA application_id = " + std::to_string(kCloudkeepAppId)));
    CK_RETURN_IF_ERROR(
        db.Exec("CREATE TABLE schema_info (id INTEGER PRIMARY KEY CHECK (id = 1), "
                "version INTEGER NOT NULL);"
                "INSERT INTO schema_info (id, version) VALUES (1, 0);"));
  }
  for (const Migration& m : migrations) {
    if (m.to_version <= now.version) continue;
    Status st = m.apply(db);
    if (!st.ok()) {
      return st.WithContext(db.path() + ": migrating the state schema to version " +
                            std::to_string(m.to_version));
    }
  }
  {
    CK_ASSIGN_OR_RETURN(Stmt set, db.Prepare("UPDATE schema_info SET version = ?1 WHERE id = 1"));
    set.BindInt(1, latest);
    CK_RETURN_IF_ERROR(set.Run());
  }
  return txn.Commit();
}

}  // namespace ck
