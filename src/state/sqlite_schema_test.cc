#include "state/sqlite_schema.h"

#include <gtest/gtest.h>

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
  {
    auto db = OpenDb(path);
    ASSERT_TRUE(MigrateSchema(*db, SchemaMigrations()).ok());
  }
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
