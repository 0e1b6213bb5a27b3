// B2 percent-encoding, against the fact sheet's §6 table.
#include "b2/b2_encoding.h"

#include <gtest/gtest.h>

#include <string>

namespace ck {
namespace {

TEST(B2EncodingTest, NeverEncodedSetStaysLiteral) {
  const std::string kept =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-~!$'()*;=:@/";
  EXPECT_EQ(B2PercentEncode(kept), kept);
}

TEST(B2EncodingTest, SheetTable) {
  struct Case {
    std::string raw, encoded;
  };
  const Case cases[] = {
      {" ", "%20"},
      {"+", "%2B"},
      {"\"", "%22"},
      {"#", "%23"},
      {"%", "%25"},
      {"&", "%26"},
      {",", "%2C"},
      {"<", "%3C"},
      {">", "%3E"},
      {"?", "%3F"},
      {"[", "%5B"},
      {"\\", "%5C"},
      {"]", "%5D"},
      {"^", "%5E"},
      {"`", "%60"},
      {"{", "%7B"},
      {"|", "%7C"},
      {"}", "%7D"},
      {"\x7F", "%7F"},
      {"\x01", "%01"},
      {"自由", "%E8%87%AA%E7%94%B1"},
      {"a/b c+d", "a/b%20c%2Bd"},
      {"dir/sub dir/file+1 (copy).txt", "dir/sub%20dir/file%2B1%20(copy).txt"},
      {"percent%20literal", "percent%2520literal"},
      {"", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(B2PercentEncode(c.raw), c.encoded) << c.raw;
    std::string back;
    ASSERT_TRUE(B2PercentDecode(c.encoded, &back)) << c.encoded;
    EXPECT_EQ(back, c.raw) << c.encoded;
  }
}

TEST(B2EncodingTest, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string enc = B2PercentEncode(all);
  EXPECT_EQ(enc.find('+'), std::string::npos);
  EXPECT_EQ(enc.find(' '), std::string::npos);
  std::string back;
  ASSERT_TRUE(B2PercentDecode(enc, &back));
  EXPECT_EQ(back, all);
}

TEST(B2EncodingTest, DecodeAcceptsBothForms) {
  std::string out;
  ASSERT_TRUE(B2PercentDecode("a+b%20c%2bd%2Be", &out));
  EXPECT_EQ(out, "a b c+d+e");
  ASSERT_TRUE(B2PercentDecode("%e8%87%aa%E7%94%B1", &out));
  EXPECT_EQ(out, "自由");
}

TEST(B2EncodingTest, DecodeRejectsMalformedEscapes) {
  std::string out;
  EXPECT_FALSE(B2PercentDecode("%", &out));
  EXPECT_FALSE(B2PercentDecode("%4", &out));
  EXPECT_FALSE(B2PercentDecode("abc%zz", &out));
  EXPECT_FALSE(B2PercentDecode("%G0", &out));
}

}  // namespace
}  // namespace ck
