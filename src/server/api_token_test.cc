#include "server/api_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "inspect/inspect_test_util.h"
#include "server/prometheus.h"

namespace ck {
namespace {

using inspect_testing::ScratchDir;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(ApiTokenTest, EnvironmentWinsOverFiles) {
  ScratchDir dir;
  bool created = true;
  auto t = LoadOrCreateToken("  from-env-0123456789 \n", dir.File("named"), dir.File("default"),
                             &created);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "from-env-0123456789");
  EXPECT_FALSE(created);
  struct stat st;
  EXPECT_NE(::stat(dir.File("named").c_str(), &st), 0) << "no file is created";
  EXPECT_NE(::stat(dir.File("default").c_str(), &st), 0);
}

TEST(ApiTokenTest, CreatesARandomPrivateTokenOnceAndReadsItLater) {
  ScratchDir dir;
  std::string path = dir.File("sub/dir/api-token");
  bool created = false;
  auto t = LoadOrCreateToken("", "", path, &created);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(created);
  EXPECT_EQ(t->size(), 64u);
  EXPECT_EQ(t->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ModeOf(path), 0600u);
  auto again = LoadOrCreateToken("", "", path, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(*again, *t);

  ScratchDir other;
  auto t2 = LoadOrCreateToken("", "", other.File("api-token"), nullptr);
  ASSERT_TRUE(t2.ok());
  EXPECT_NE(*t2, *t) << "tokens are random";
}

TEST(ApiTokenTest, TheConfiguredFileComesBeforeTheDefault) {
  ScratchDir dir;
  std::string named = dir.File("named");
  { std::ofstream(named) << "configured-token-0123456789\n"; }
  ::chmod(named.c_str(), 0600);
  bool created = true;
  auto t = LoadOrCreateToken("", named, dir.File("default"), &created);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "configured-token-0123456789");
  EXPECT_FALSE(created);
  // A configured file that does not exist yet is created there.
  auto made = LoadOrCreateToken("", dir.File("new-named"), dir.File("default"), &created);
  ASSERT_TRUE(made.ok());
  EXPECT_TRUE(created);
  EXPECT_EQ(ModeOf(dir.File("new-named")), 0600u);
  struct stat st;
  EXPECT_NE(::stat(dir.File("default").c_str(), &st), 0);
}

TEST(ApiTokenTest, RefusesUnsafeOrUnusableTokens) {
  ScratchDir dir;
  std::string path = dir.File("t");
  { std::ofstream(path) << "readable-by-all-0123456789\n"; }
  ::chmod(path.c_str(), 0644);
  auto t = LoadOrCreateToken("", path, "", nullptr);
  EXPECT_EQ(t.status().kind(), ErrorKind::kConfig);
  EXPECT_NE(t.status().message().find("chmod 600"), std::string::npos);
  EXPECT_EQ(t.status().message().find("readable-by-all"), std::string::npos)
      << "the message must not contain the token";

  ::chmod(path.c_str(), 0600);
  { std::ofstream(path, std::ios::trunc) << "   \n"; }
  EXPECT_EQ(LoadOrCreateToken("", path, "", nullptr).status().kind(), ErrorKind::kConfig);
  EXPECT_EQ(LoadOrCreateToken("short", "", dir.File("d"), nullptr).status().kind(),
            ErrorKind::kConfig);
  EXPECT_EQ(
      LoadOrCreateToken("has space inside 0123456789", "", dir.File("d"), nullptr).status().kind(),
      ErrorKind::kConfig);
  EXPECT_TRUE(LoadOrCreateToken("", dir.File("new-parent/x"), "", nullptr).ok())
      << "parent directories are created";
  { std::ofstream(dir.File("plainfile")) << "x"; }
  EXPECT_EQ(LoadOrCreateToken("", dir.File("plainfile/x"), "", nullptr).status().kind(),
            ErrorKind::kIo);
}

TEST(ApiTokenTest, ComparesTokens) {
  EXPECT_TRUE(TokensEqual("abc-0123456789", "abc-0123456789"));
  EXPECT_FALSE(TokensEqual("abc-0123456788", "abc-0123456789"));
  EXPECT_FALSE(TokensEqual("abc-012345678", "abc-0123456789"));
  EXPECT_FALSE(TokensEqual("", "abc-0123456789"));
  auto g = GenerateApiToken();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->size(), 64u);
}

TEST(PrometheusTest, WritesFamiliesSamplesAndCumulativeHistograms) {
  PromWriter w;
  w.Family("x_total", "counter", "Things.\nSecond line");
  w.Family("x_total", "counter", "again");
  w.Sample("x_total", {{"a", "q\"uo\\te\nnl"}}, 3);
  w.Sample("x_total", {}, 0.25);
  w.Family("h", "histogram", "Latency.");
  w.Histogram("h", {{"op", "put"}}, {0.1, 1}, {2, 3, 1}, 4.5);
  EXPECT_EQ(w.text(),
            "# HELP x_total Things. Second line\n"
            "# TYPE x_total counter\n"
            "x_total{a=\"q\\\"uo\\\\te\\nnl\"} 3\n"
            "x_total 0.25\n"
            "# HELP h Latency.\n"
            "# TYPE h histogram\n"
            "h_bucket{op=\"put\",le=\"0.1\"} 2\n"
            "h_bucket{op=\"put\",le=\"1\"} 5\n"
            "h_bucket{op=\"put\",le=\"+Inf\"} 6\n"
            "h_sum{op=\"put\"} 4.5\n"
            "h_count{op=\"put\"} 6\n");
  EXPECT_EQ(PromEscapeLabelValue("bad\xff"), "bad\\\\xFF");
  LatencyHistograms lh({0.01, 0.1});
  lh.Observe({{"route", "r"}}, 0.005);
  lh.Observe({{"route", "r"}}, 0.05);
  lh.Observe({{"route", "r"}}, 5);
  EXPECT_EQ(lh.Count({{"route", "r"}}), 3u);
  EXPECT_EQ(lh.Count({{"route", "other"}}), 0u);
}

}  // namespace
}  // namespace ck
