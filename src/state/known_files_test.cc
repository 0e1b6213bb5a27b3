#include "state/known_files.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace ck {
namespace {

TEST(KnownFilesTest, EmptyFindsNothing) {
  KnownFiles k;
  EXPECT_EQ(k.Find("a"), KnownFiles::kNotFound);
  EXPECT_EQ(k.Find(""), KnownFiles::kNotFound);
  EXPECT_EQ(k.size(), 0u);
}

TEST(KnownFilesTest, StoresFieldsPathAndReason) {
  KnownFiles k;
  KnownFiles::Record r;
  r.id = 42;
  r.size = 7;
  r.mtime_ns = -5;  // before the epoch is legal
  r.inode = 99;
  r.type = 3;
  r.present = true;
  size_t i = k.Add("dir/file", "too large", r);
  size_t j = k.Add("dir/other", "", KnownFiles::Record{});
  ASSERT_EQ(k.Find("dir/file"), i);
  ASSERT_EQ(k.Find("dir/other"), j);
  EXPECT_EQ(k.Find("dir/fil"), KnownFiles::kNotFound);
  EXPECT_EQ(k.Find("dir/file "), KnownFiles::kNotFound);
  const KnownFiles::Record& got = k.at(i);
  EXPECT_EQ(got.id, 42);
  EXPECT_EQ(got.size, 7);
  EXPECT_EQ(got.mtime_ns, -5);
  EXPECT_EQ(got.inode, 99);
  EXPECT_EQ(got.type, 3);
  EXPECT_TRUE(got.present);
  EXPECT_FALSE(got.seen);
  EXPECT_EQ(k.path(got), "dir/file");
  EXPECT_EQ(k.skip_reason(got), "too large");
  EXPECT_EQ(k.path(k.at(j)), "dir/other");
  EXPECT_EQ(k.skip_reason(k.at(j)), "");
}

TEST(KnownFilesTest, RawBytesAreDistinct) {
  KnownFiles k;
  const std::string names[] = {std::string("caf\xc3\xa9"), std::string("cafe\xcc\x81"),
                               std::string("\xff\xfe"),    std::string("a\0b", 3),
                               std::string("a\0c", 3),     std::string("a")};
  for (size_t n = 0; n < std::size(names); ++n) {
    KnownFiles::Record r;
    r.id = static_cast<int64_t>(n) + 1;
    k.Add(names[n], "", r);
  }
  for (size_t n = 0; n < std::size(names); ++n) {
    size_t i = k.Find(names[n]);
    ASSERT_NE(i, KnownFiles::kNotFound) << n;
    EXPECT_EQ(k.at(i).id, static_cast<int64_t>(n) + 1);
    EXPECT_EQ(k.path(k.at(i)), names[n]);
  }
  EXPECT_EQ(k.Find(std::string("a\0d", 3)), KnownFiles::kNotFound);
}

// Many inserts force several table growths; every key must stay findable and
// map to its own record, and absent keys must stay absent.
TEST(KnownFilesTest, ManyEntriesAgainstStdMap) {
  KnownFiles k;
  std::map<std::string, int64_t> want;
  std::mt19937_64 rng(7);
  for (int n = 0; n < 50000; ++n) {
    std::string p = "d" + std::to_string(rng() % 100) + "/f" + std::to_string(rng());
    if (want.count(p)) continue;
    KnownFiles::Record r;
    r.id = n + 1;
    k.Add(p, (n % 10 == 0) ? "skip" : "", r);
    want[p] = n + 1;
  }
  ASSERT_EQ(k.size(), want.size());
  for (const auto& [p, id] : want) {
    size_t i = k.Find(p);
    ASSERT_NE(i, KnownFiles::kNotFound) << p;
    ASSERT_EQ(k.at(i).id, id);
    ASSERT_EQ(k.path(k.at(i)), p);
  }
  for (int n = 0; n < 1000; ++n) {
    EXPECT_EQ(k.Find("absent/" + std::to_string(n)), KnownFiles::kNotFound);
  }
  // Compact: well under 200 bytes per entry for ~25-byte paths.
  EXPECT_LT(k.MemoryBytes(), want.size() * 200);
}

}  // namespace
}  // namespace ck
