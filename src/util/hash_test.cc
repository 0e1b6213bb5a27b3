#include "util/hash.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ck {
namespace {

// Published vectors: RFC 1321 (MD5), FIPS 180-2 examples (SHA-1, SHA-256),
// RFC 4231 (HMAC-SHA-256).
TEST(HashTest, KnownDigests) {
  EXPECT_EQ(HexEncode(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexEncode(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(HexEncode(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, HmacSha256Rfc4231) {
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // A key longer than the block size is hashed first (test case 6).
  EXPECT_EQ(HexEncode(HmacSha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Re-keying the per-thread context: the first key must not linger.
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HmacSha256("", "data").size(), 32u);
  EXPECT_NE(HmacSha256("", "data"), HmacSha256("k", "data"));
}

TEST(HashTest, HasherIsIncrementalAndReusable) {
  const std::string data(100000, 'x');
  for (DigestAlgo a : {DigestAlgo::kMd5, DigestAlgo::kSha1, DigestAlgo::kSha256}) {
    Hasher h(a);
    for (size_t off = 0; off < data.size(); off += 777)
      h.Update(std::string_view(data).substr(off, 777));
    const std::string whole = a == DigestAlgo::kMd5    ? Md5(data)
                              : a == DigestAlgo::kSha1 ? Sha1(data)
                                                       : Sha256(data);
    EXPECT_EQ(h.Finish(), whole);
    h.Update("abc");  // Finish resets it
    const std::string abc = a == DigestAlgo::kMd5    ? Md5("abc")
                            : a == DigestAlgo::kSha1 ? Sha1("abc")
                                                     : Sha256("abc");
    EXPECT_EQ(h.Finish(), abc);
    Hasher moved = std::move(h);
    moved.Update("abc");
    EXPECT_EQ(moved.Finish(), abc);
  }
}

TEST(HashTest, OneShotsAreThreadSafe) {
  const std::string expect_md5 = Md5("payload"), expect_sha = Sha256("payload"),
                    expect_mac = HmacSha256("key", "payload");
  std::vector<std::thread> threads;
  std::vector<int> bad(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (Md5("payload") != expect_md5 || Sha256("payload") != expect_sha ||
            HmacSha256("key", "payload") != expect_mac)
          ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace ck
