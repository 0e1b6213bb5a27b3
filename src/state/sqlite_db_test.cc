#include "state/sqlite_db.h"

#include <gtest/gtest.h>

#include "state/state_test_util.h"

namespace ck {
namespace {

using testing::TempDir;

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::Open(dir_.File("t.db"), 1000);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB, s TEXT)").ok());
  }
  TempDir dir_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(SqliteDbTest, BindAndReadRawBytes) {
  const std::string blob("\x00\xff\x80 x", 5);
  {
    auto st = db_->Prepare("INSERT INTO t (k, b, s) VALUES (?1, ?2, ?3)");
    ASSERT_TRUE(st.ok());
    st->BindInt(1, -9).BindBlob(2, blob).BindText(3, "");
    ASSERT_TRUE(st->Run().ok());
  }
  auto st = db_->Prepare("SELECT k, b, s, typeof(b), typeof(s) FROM t");
  ASSERT_TRUE(st.ok());
  auto row = st->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(st->Int(0), -9);
  EXPECT_EQ(st->Bytes(1), blob);
  EXPECT_EQ(st->Bytes(2), "");
  EXPECT_EQ(st->Bytes(3), "blob");
  EXPECT_EQ(st->Bytes(4), "text");  // "" is an empty string, not NULL
  EXPECT_FALSE(st->IsNull(2));
  row = st->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST_F(SqliteDbTest, EmptyBlobIsNotNull) {
  {
    auto st = db_->Prepare("INSERT INTO t (k, b) VALUES (1, ?1)");
    ASSERT_TRUE(st.ok());
    st->BindBlob(1, "");
    ASSERT_TRUE(st->Run().ok());
  }
  auto t = db_->QueryBytes("SELECT typeof(b) FROM t");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "blob");
}

TEST_F(SqliteDbTest, CachedStatementIsResetAndReused) {
  for (int i = 1; i <= 3; ++i) {
    auto st = db_->Prepare("INSERT INTO t (k) VALUES (?1)");
    ASSERT_TRUE(st.ok());
    st->BindInt(1, i);
    ASSERT_TRUE(st->Run().ok());
  }
  auto n = db_->QueryInt("SELECT count(*) FROM t");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);
}

TEST_F(SqliteDbTest, SameStatementCannotBeBorrowedTwice) {
  auto a = db_->Prepare("SELECT 1");
  ASSERT_TRUE(a.ok());
  auto b = db_->Prepare("SELECT 1");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().kind(), ErrorKind::kInternal);
}

TEST_F(SqliteDbTest, BindErrorIsReportedByStep) {
  auto st = db_->Prepare("SELECT ?1");
  ASSERT_TRUE(st.ok());
  st->BindInt(5, 1);  // out of range
  auto row = st->Step();
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().kind(), ErrorKind::kInternal);
}

TEST_F(SqliteDbTest, SyntaxErrorIsInternalAndNamesFile) {
  auto st = db_->Prepare("SELEC nonsense");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().kind(), ErrorKind::kInternal);
  EXPECT_NE(st.status().message().find(dir_.File("t.db")), std::string::npos);
}

TEST_F(SqliteDbTest, TransactionRollsBackUnlessCommitted) {
  {
    Transaction txn(db_.get());
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t (k) VALUES (1)").ok());
    EXPECT_TRUE(db_->InTransaction());
  }
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM t").value_or(-1), 0);
  {
    Transaction txn(db_.get());
    ASSERT_TRUE(txn.Begin().ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t (k) VALUES (2)").ok());
    ASSERT_TRUE(txn.Commit().ok());
  }
  EXPECT_EQ(db_->QueryInt("SELECT count(*) FROM t").value_or(-1), 1);
}

TEST(SqliteStatusTest, MapsCodes) {
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_NOTADB, "p", "w").kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_FULL, "p", "w").kind(), ErrorKind::kIo);
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_IOERR_WRITE, "p", "w").kind(), ErrorKind::kIo);
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_BUSY, "p", "w").kind(), ErrorKind::kIo);
  EXPECT_EQ(SqliteStatus(nullptr, SQLITE_CONSTRAINT_CHECK, "p", "w").kind(), ErrorKind::kInternal);
  Status s = SqliteStatus(nullptr, SQLITE_FULL, "/x/state.db", "writing");
  EXPECT_NE(s.message().find("/x/state.db"), std::string::npos);
  EXPECT_NE(s.message().find("writing"), std::string::npos);
}

}  // namespace
}  // namespace ck
