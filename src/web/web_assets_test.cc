#include "web/web_assets.h"

#include <gtest/gtest.h>

namespace ck {
namespace {

TEST(WebAssets, IndexIsServedForRoot) {
  WebAsset a;
  ASSERT_TRUE(FindWebAsset("/", &a));
  EXPECT_EQ(a.content_type, "text/html; charset=utf-8");
  EXPECT_NE(a.body.find("<html"), std::string_view::npos);
  WebAsset b;
  ASSERT_TRUE(FindWebAsset("/index.html?x=1", &b));
  EXPECT_EQ(a.body.data(), b.body.data());
}

TEST(WebAssets, EveryEmbeddedFileMatchesItsSource) {
  // The table is generated from web/: same bytes as the files on disk.
  for (const auto& e : WebAssetTable()) {
    std::string path = std::string(CK_SOURCE_DIR) + "/web" + std::string(e.path);
    FILE* f = fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr) << path;
    std::string disk;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) disk.append(buf, n);
    fclose(f);
    EXPECT_EQ(disk, e.body) << e.path;
  }
}

TEST(WebAssets, UnknownAndTraversalPathsAreRefused) {
  WebAsset a;
  EXPECT_FALSE(FindWebAsset("/nope.js", &a));
  EXPECT_FALSE(FindWebAsset("/../CMakeLists.txt", &a));
  EXPECT_FALSE(FindWebAsset("/api/status", &a));
}

TEST(WebAssets, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("/a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("/a.bin"), "application/octet-stream");
}

}  // namespace
}  // namespace ck
