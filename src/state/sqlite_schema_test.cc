#include "state/sqlite_schema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "state/state_test_util.h"

namespace ck {
namespace {

using testing::RawDb;
using testing::TempDir;

std::unique_ptr<SqliteDb> OpenDb(const std::string& path) {
  auto db = SqliteDb::Open(path, 1000);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

// Creates a database of schema `version` (default: the latest) at path and
// closes it.
void CreateSchema(const std::string& path, int version = LatestSchemaVersion()) {
  auto db = OpenDb(path);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(MigrateSchema(*db, SchemaMigrations().first(static_cast<size_t>(version))).ok());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status AddWidgets(SqliteDb& db) {
  return db.Exec("CREATE TABLE widgets (id INTEGER PRIMARY KEY)");
}
Status AddGadgets(SqliteDb& db) {
  return db.Exec("CREATE TABLE gadgets (id INTEGER PRIMARY KEY)");
}
Status Broken(SqliteDb& db) {
  Status st = db.Exec("CREATE TABLE half_done (id INTEGER)");
  if (!st.ok()) return st;
  return db.Exec("THIS IS NOT SQL");
}

TEST(SqliteSchemaTest, CreatesLatestSchemaInWalMode) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  CreateSchema(path);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT version FROM schema_info"), LatestSchemaVersion());
  EXPECT_EQ(raw.Int("PRAGMA application_id"), kCloudkeepAppId);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  for (const char* table : {"files", "file_dest", "multipart", "multipart_parts"}) {
    EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = '") +
                      table + "'"),
              1)
        << table;
  }
}

TEST(SqliteSchemaTest, SecondRunIsANoOp) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  auto db = OpenDb(path);
  ASSERT_TRUE(MigrateSchema(*db, SchemaMigrations()).ok());
  int64_t before = db->TotalChanges();
  ASSERT_TRUE(MigrateSchema(*db, SchemaMigrations()).ok());
  EXPECT_EQ(db->TotalChanges(), before);
}

TEST(SqliteSchemaTest, AppliesOnlyNewMigrations) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  const Migration v1[] = {{1, &AddWidgets}};
  const Migration v2[] = {{1, &AddWidgets}, {2, &AddGadgets}};
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(MigrateSchema(*db, v1).ok());
    ASSERT_TRUE(db->Exec("INSERT INTO widgets (id) VALUES (7)").ok());
  }
  {
    auto db = OpenDb(path);
    // Would fail with "table widgets already exists" if step 1 ran again.
    Status st = MigrateSchema(*db, v2);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT version FROM schema_info"), 2);
  EXPECT_EQ(raw.Int("SELECT id FROM widgets"), 7);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM gadgets"), 0);
}

TEST(SqliteSchemaTest, FailedMigrationLeavesPreviousVersion) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  const Migration v1[] = {{1, &AddWidgets}};
  const Migration v2[] = {{1, &AddWidgets}, {2, &Broken}};
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(MigrateSchema(*db, v1).ok());
  }
  {
    auto db = OpenDb(path);
    Status st = MigrateSchema(*db, v2);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("version 2"), std::string::npos) << st.message();
    EXPECT_FALSE(db->InTransaction());
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT version FROM schema_info"), 1);
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'"), 0);
}

TEST(SqliteSchemaTest, RefusesNewerVersion) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(MigrateSchema(*db, SchemaMigrations()).ok());
    ASSERT_TRUE(db->Exec("UPDATE schema_info SET version = 1000").ok());
  }
  auto db = OpenDb(path);
  Status st = MigrateSchema(*db, SchemaMigrations());
  ASSERT_EQ(st.kind(), ErrorKind::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("1000"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("newer"), std::string::npos) << st.message();
}

TEST(SqliteSchemaTest, RefusesNonSqliteFileWithoutTouchingIt) {
  TempDir dir;
  const std::string path = dir.File("notes.txt");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "this is a plain text file, not a database\n";
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  {
    auto db = OpenDb(path);
    Status st = MigrateSchema(*db, SchemaMigrations());
    ASSERT_EQ(st.kind(), ErrorKind::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("not a SQLite file"), std::string::npos) << st.message();
  }
  EXPECT_EQ(ReadAll(path), text);
}

TEST(SqliteSchemaTest, RefusesForeignSqliteDatabaseWithoutConvertingIt) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE notes (t TEXT)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto db = OpenDb(path);
    Status st = MigrateSchema(*db, SchemaMigrations());
    ASSERT_EQ(st.kind(), ErrorKind::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("not a cloudkeep state database"), std::string::npos);
  }
  RawDb raw(path);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "delete");
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE name = 'schema_info'"), 0);
}

TEST(SqliteSchemaTest, RejectsMisnumberedMigrations) {
  TempDir dir;
  auto db = OpenDb(dir.File("s.db"));
  const Migration gap[] = {{1, &AddWidgets}, {3, &AddGadgets}};
  EXPECT_EQ(MigrateSchema(*db, gap).kind(), ErrorKind::kInternal);
}

}  // namespace
}  // namespace ck

namespace ck {
namespace {

// Opcodes of sql's compiled program (EXPLAIN), in order.
std::vector<std::string> Opcodes(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::vector<std::string> out;
  int rc = sqlite3_prepare_v2(db, ("EXPLAIN " + sql).c_str(), -1, &st, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db);
  while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

bool BuildsTemporaryTable(const std::string& path, const std::string& sql) {
  auto ops = Opcodes(path, sql);
  EXPECT_FALSE(ops.empty()) << sql;
  return std::find(ops.begin(), ops.end(), "OpenEphemeral") != ops.end();
}

const char kMarkSynced[] =
    "UPDATE file_dest SET status = 'synced', md5 = 'x' WHERE file_id = 1 AND destination = 'd'";
const char kUpdateFile[] = "UPDATE files SET present = 1, type = 'file' WHERE id = 1";

// Rows of each table v4 edits, with values its CHECK constraints allow.
void InsertSampleRows(RawDb& raw) {
  raw.Exec(
      "INSERT INTO files (id, source, rel_path, size, mtime_ns, inode, type, present, "
      "first_seen_us, updated_us) VALUES (1, '/s', 'a', 1, 1, 1, 'file', 1, 1, 1), "
      "(2, '/s', 'b', 0, 1, 2, 'dir', 0, 1, 1);"
      "INSERT INTO file_dest (file_id, destination, status, updated_us) VALUES "
      "(1, 'd', 'pending', 1), (2, 'd', 'failed', 1);");
}

TEST(SqliteSchemaTest, V4ChecksBuildNoTemporaryTablePerRowAndStillHold) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  CreateSchema(path);
  RawDb raw(path);
  InsertSampleRows(raw);
  EXPECT_FALSE(BuildsTemporaryTable(path, kMarkSynced));
  EXPECT_FALSE(BuildsTemporaryTable(path, kUpdateFile));
  EXPECT_EQ(raw.Text("PRAGMA integrity_check"), "ok");
  for (const char* bad : {"UPDATE file_dest SET status = 'done' WHERE file_id = 1",
                          "UPDATE files SET type = 'blob' WHERE id = 1",
                          "UPDATE files SET present = 2 WHERE id = 1"}) {
    char* err = nullptr;
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, bad, nullptr, nullptr, &err), SQLITE_CONSTRAINT) << bad;
    if (err != nullptr) {
      EXPECT_NE(std::string(err).find("CHECK constraint failed"), std::string::npos) << err;
      sqlite3_free(err);
    }
    sqlite3_close(db);
  }
  for (const char* good : {"UPDATE file_dest SET status = 'uploading' WHERE file_id = 1",
                           "UPDATE file_dest SET status = 'synced' WHERE file_id = 1",
                           "UPDATE files SET type = 'chardev', present = 0 WHERE id = 1",
                           "UPDATE files SET type = 'other' WHERE id = 2"}) {
    raw.Exec(good);
  }
}

TEST(SqliteSchemaTest, UpgradeFromV3KeepsRowsAndDropsTheTemporaryTables) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  auto all = SchemaMigrations();
  CreateSchema(path, 3);
  {
    RawDb raw(path);
    InsertSampleRows(raw);
  }
  EXPECT_TRUE(BuildsTemporaryTable(path, kMarkSynced));  // what v4 is for
  auto db = OpenDb(path);
  RawDb other(path);  // a connection that read the v3 schema
  EXPECT_EQ(other.Int("SELECT count(*) FROM file_dest"), 2);
  ASSERT_TRUE(MigrateSchema(*db, all).ok());
  EXPECT_EQ(other.Int("SELECT version FROM schema_info"), 4);
  EXPECT_EQ(other.Text("SELECT group_concat(status) FROM (SELECT status FROM file_dest ORDER BY "
                       "file_id)"),
            "pending,failed");
  EXPECT_EQ(other.Text("SELECT group_concat(type || present) FROM (SELECT type, present FROM "
                       "files ORDER BY id)"),
            "file1,dir0");
  EXPECT_FALSE(BuildsTemporaryTable(path, kMarkSynced));
  EXPECT_FALSE(BuildsTemporaryTable(path, kUpdateFile));
  EXPECT_EQ(other.Text("PRAGMA integrity_check"), "ok");
  // The migrating connection itself works with the new definitions.
  ASSERT_TRUE(db->Exec(kMarkSynced).ok());
  EXPECT_EQ(db->Exec("UPDATE file_dest SET status = 'done' WHERE file_id = 2").kind(),
            ErrorKind::kInternal);
  EXPECT_EQ(other.Text("SELECT status FROM file_dest WHERE file_id = 1"), "synced");
}

TEST(SqliteSchemaTest, V4RefusesATableDefinedDifferentlyAndChangesNothing) {
  TempDir dir;
  const std::string path = dir.File("s.db");
  auto all = SchemaMigrations();
  CreateSchema(path, 3);
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(db->Exec("DROP TABLE file_dest;"
                         "CREATE TABLE file_dest (file_id INTEGER, destination TEXT, "
                         "status TEXT CHECK (status IN ('pending', 'synced')), "
                         "updated_us INTEGER, PRIMARY KEY (file_id, destination)) WITHOUT ROWID")
                    .ok());
  }
  auto db = OpenDb(path);
  Status st = MigrateSchema(*db, all);
  ASSERT_EQ(st.kind(), ErrorKind::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("file_dest"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("version 4"), std::string::npos) << st.message();
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT version FROM schema_info"), 3);
  EXPECT_NE(raw.Text("SELECT sql FROM sqlite_schema WHERE name = 'files'").find("type IN ("),
            std::string::npos);
}

}  // namespace
}  // namespace ck
