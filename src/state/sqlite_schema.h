// Schema of the SQLite state store and its forward migrations.
//
// A cloudkeep database carries PRAGMA application_id = kCloudkeepAppId and a
// one-row table schema_info(version). Version 0 means "empty file". Each
// migration takes the schema from version N-1 to N; to change the schema,
// append a function to the list in sqlite_schema.cc (never edit a released
// one). All pending migrations run in one write transaction, so a crash or an
// error mid-way leaves the file at its previous version.
#pragma once

#include <span>
#include <string>

#include "state/sqlite_db.h"
#include "util/status.h"

namespace ck {

// 'ckst' in ASCII; stored in the SQLite header (offset 68).
inline constexpr int32_t kCloudkeepAppId = 0x636b7374;

struct Migration {
  int to_version;  // the version after this step; steps are numbered 1, 2, ...
  Status (*apply)(SqliteDb& db);
};

// The migrations this build knows, in order; the last one's to_version is
// the newest schema version.
std::span<const Migration> SchemaMigrations();
int LatestSchemaVersion();

// Brings the database opened in `db` to the newest version in `migrations`,
// creating it when the file is empty. Must be called outside a transaction.
// Sets WAL journal mode (only after the file was recognised, so a foreign
// database is never converted). Errors:
//   kInvalidArgument - not a SQLite file, a SQLite file that is not a cloudkeep
//                      database, or a schema newer than the newest migration
//                      (the message names the file);
//   kIo              - the file could not be read or written.
// `migrations` must be numbered 1..N without gaps (kInternal otherwise).
Status MigrateSchema(SqliteDb& db, std::span<const Migration> migrations);

}  // namespace ck
