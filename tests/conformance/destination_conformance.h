// The destination conformance suite: one set of behaviours every Destination
// (memory, S3 on each server, B2) must show. A test binary instantiates it with
//
//   INSTANTIATE_TEST_SUITE_P(Memory, DestinationConformance,
//                            ::testing::Values(ConformanceTarget{"memory", factory}));
//
// The factory returns a fresh destination (an empty bucket is not required:
// every test works under its own random key prefix).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "dest/destination.h"
#include "util/hash.h"

namespace ck::test {

struct ConformanceTarget {
  std::string name;
  std::function<std::unique_ptr<Destination>()> make;
  // Servers differ in what they enforce; the suite skips checks a target lacks.
  bool enforces_min_part_size = true;
  bool multipart_etag_is_md5_of_md5s = true;
  // Rejects a body whose Content-MD5 differs (s3rver does not check; the
  // engine's ETag comparison is then what catches damaged bytes).
  bool verifies_content_md5 = true;
  // Implements ListMultipartUploads, ListParts and AbortMultipartUpload (s3rver
  // does not, and must then say so with a permanent error rather than pretend).
  bool lists_and_aborts_uploads = true;
};

inline std::ostream& operator<<(std::ostream& os, const ConformanceTarget& t) {
  return os << t.name;
}

class DestinationConformance : public ::testing::TestWithParam<ConformanceTarget> {
 protected:
  void SetUp() override {
    dest_ = GetParam().make();
    ASSERT_NE(dest_, nullptr);
    std::random_device rd;
    prefix_ = "conf-" + std::to_string(rd()) + "/";
  }

  static std::string Bytes(size_t n, uint32_t seed) {
    std::mt19937 g(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(g());
    return s;
  }

  Status PutBytes(const std::string& key, const std::string& data,
                  std::map<std::string, std::string> meta = {}) {
    MemoryBody body(data);
    PutRequest r{.key = key,
                 .body = &body,
                 .md5 = Md5(data),
                 .sha1 = Sha1(data),
                 .sha256 = Sha256(data),
                 .metadata = std::move(meta)};
    auto res = dest_->Put(r);
    if (!res.ok()) return res.status();
    if (dest_->capabilities().etag_is_md5) {
      EXPECT_EQ(res->etag, HexEncode(Md5(data))) << key;
    }
    return Status::OK();
  }

  Result<std::string> GetBytes(const std::string& key, GetOptions o = {}) {
    std::string out;
    Status s = dest_->Get(key, o, [&](std::string_view d) {
      out.append(d);
      return true;
    });
    if (!s.ok()) return s;
    return out;
  }

  // Every key of a listing, page after page; start_after goes with the first
  // request only (as callers do: S3 ignores it once a token is given).
  std::vector<std::string> ListAll(const std::string& prefix, int page_size,
                                   const std::string& start_after = "") {
    std::vector<std::string> keys;
    ListOptions o{.prefix = prefix, .max_keys = page_size, .start_after = start_after};
    for (int guard = 0; guard < 10000; ++guard) {
      auto page = dest_->List(o);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) break;
      for (const auto& obj : page->objects) keys.push_back(obj.key);
      if (page->next_continuation_token.empty()) break;
      EXPECT_NE(page->next_continuation_token, o.continuation_token) << "the listing must advance";
      o.continuation_token = page->next_continuation_token;
      o.start_after.clear();
    }
    return keys;
  }

  std::unique_ptr<Destination> dest_;
  std::string prefix_;
};

TEST_P(DestinationConformance, CheckSucceeds) {
  EXPECT_TRUE(dest_->Check().ok());
}

TEST_P(DestinationConformance, PutHeadGetRoundTripWithMetadata) {
  std::string data = Bytes(100000, 1);
  std::string key = prefix_ + "dir/file.bin";
  ASSERT_TRUE(
      PutBytes(key, data, {{"sha256", HexEncode(Sha256(data))}, {"mtime", "1700000000.5"}}).ok());
  auto h = dest_->Head(key);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->size, data.size());
  EXPECT_EQ(h->metadata["sha256"], HexEncode(Sha256(data)));
  EXPECT_EQ(h->metadata["mtime"], "1700000000.5");
  auto g = GetBytes(key);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(*g == data);
}

TEST_P(DestinationConformance, EmptyObject) {
  ASSERT_TRUE(PutBytes(prefix_ + "empty", "").ok());
  auto h = dest_->Head(prefix_ + "empty");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size, 0u);
  auto g = GetBytes(prefix_ + "empty");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, "");
}

TEST_P(DestinationConformance, AwkwardKeysRoundTrip) {
  const std::vector<std::string> names = {
      "with space.txt",   " leading and trailing ", "ünïcödé/日本語.txt",
      "emoji 🎉.txt",      "plus+sign.txt",          "percent%20literal.txt",
      "amp&q?h#e=.txt",   "quote'dq\".txt",         "semi;comma,.txt",
      "br[ack]{et}.txt",  "tilde~at@bang!$.txt",    "a/b/c/d/e/f/g/h/deep.txt",
      "star*paren().txt", "back\\slash.txt",        "caret^pipe|.txt",
      "less<greater>.txt"};
  std::set<std::string> want;
  for (const auto& n : names) {
    std::string key = prefix_ + n;
    Status s = PutBytes(key, "content of " + n);
    ASSERT_TRUE(s.ok()) << n << ": " << s.ToString();
    want.insert(key);
  }
  auto listed = ListAll(prefix_, 1000);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), want);
  for (const auto& n : names) {
    auto g = GetBytes(prefix_ + n);
    ASSERT_TRUE(g.ok()) << n << ": " << g.status().ToString();
    EXPECT_EQ(*g, "content of " + n);
    auto h = dest_->Head(prefix_ + n);
    ASSERT_TRUE(h.ok()) << n << ": " << h.status().ToString();
  }
}

TEST_P(DestinationConformance, WrongDigestIsRejected) {
  std::string data = "the bytes we send";
  MemoryBody body(data);
  PutRequest r{.key = prefix_ + "corrupt",
               .body = &body,
               .md5 = Md5("other bytes"),
               .sha1 = Sha1("other bytes"),
               .sha256 = ""};
  auto res = dest_->Put(r);
  if (!GetParam().verifies_content_md5) {
    // The server kept the bytes; its ETag tells the truth, which is what the
    // engine compares with the MD5 it computed.
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->etag, HexEncode(Md5(data)));
    EXPECT_NE(res->etag, HexEncode(Md5("other bytes")));
    return;
  }
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().kind(), ErrorKind::kChecksumMismatch) << res.status().ToString();
  EXPECT_EQ(dest_->Head(prefix_ + "corrupt").status().kind(), ErrorKind::kNotFound);
}

TEST_P(DestinationConformance, MissingObjects) {
  EXPECT_EQ(dest_->Head(prefix_ + "nope").status().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(GetBytes(prefix_ + "nope").status().kind(), ErrorKind::kNotFound);
  EXPECT_TRUE(dest_->Delete(prefix_ + "nope").ok());
}

TEST_P(DestinationConformance, DeleteRemoves) {
  ASSERT_TRUE(PutBytes(prefix_ + "gone", "x").ok());
  ASSERT_TRUE(dest_->Delete(prefix_ + "gone").ok());
  EXPECT_EQ(dest_->Head(prefix_ + "gone").status().kind(), ErrorKind::kNotFound);
}

TEST_P(DestinationConformance, ListPagesPrefixesAndDelimiters) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(PutBytes(prefix_ + "p/k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(PutBytes(prefix_ + "p/sub/x", "v").ok());
  ASSERT_TRUE(PutBytes(prefix_ + "q", "v").ok());
  auto paged = ListAll(prefix_ + "p/", 2);
  EXPECT_EQ(paged.size(), 6u);
  EXPECT_TRUE(std::is_sorted(paged.begin(), paged.end()));
  auto page = dest_->List({.prefix = prefix_ + "p/", .delimiter = "/", .max_keys = 1000});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 5u);
  ASSERT_EQ(page->common_prefixes.size(), 1u);
  EXPECT_EQ(page->common_prefixes[0], prefix_ + "p/sub/");
  uint64_t total = 0;
  for (const auto& o : page->objects) total += o.size;
  EXPECT_EQ(total, 5u);
}

// ListOptions::start_after: only keys strictly greater, on its own, with a
// prefix and across pages (every page size, down to one key per page).
TEST_P(DestinationConformance, ListStartAfter) {
  const std::string p = prefix_ + "s/";
  // No name is a prefix of another followed by a character below '.': s3rver
  // stores objects as files named KEY._S3rver_object and lists them in that
  // order, so it would put "c d" before "c" (a quirk of the test server that
  // has nothing to do with start_after).
  const std::vector<std::string> names = {"a", "b", "b0", "c", "d e", "f", "g", "\xc3\xbc"};
  for (const auto& n : names) ASSERT_TRUE(PutBytes(p + n, "v").ok()) << n;
  // Outside the listed prefix, on both sides of it.
  ASSERT_TRUE(PutBytes(prefix_ + "r", "v").ok());
  ASSERT_TRUE(PutBytes(prefix_ + "t", "v").ok());
  auto keys_from = [&](size_t first) {
    std::vector<std::string> out;
    for (size_t i = first; i < names.size(); ++i) out.push_back(p + names[i]);
    return out;
  };
  struct Case {
    std::string start_after;
    size_t first;  // index of the first name expected
  };
  const std::vector<Case> cases = {
      {p + "b", 2},         // equal to an existing key: excluded
      {p + "b00", 3},       // between two keys
      {p + "d e", 5},       // an existing key with a space
      {p + "d", 4},         // a prefix of the next key
      {p + "a", 1},         // the first key
      {p, 0},               // the prefix itself: before every key
      {prefix_ + "r", 0},   // before the prefix (a key outside it)
      {prefix_ + "a", 0},   // before everything
      {p + "g", 7},         // the key before a non-ASCII one
      {p + "\xc3\xbc", 8},  // the last key: nothing left
      {p + "z", 7},         // after the ASCII keys, before the non-ASCII one
      {p + "\xc3\xbd", 8},  // after every key
      {prefix_ + "t", 8},   // past the prefix (a key outside it)
  };
  for (const auto& c : cases) {
    for (int page_size : {1000, 3, 2, 1}) {
      SCOPED_TRACE("start_after=" + c.start_after + " max_keys=" + std::to_string(page_size));
      EXPECT_EQ(ListAll(p, page_size, c.start_after), keys_from(c.first));
    }
  }
  // Without a prefix, over this test's keys only: the keys outside "s/" count too.
  auto all = ListAll(prefix_, 2, p + "g");
  EXPECT_EQ(all, (std::vector<std::string>{p + "\xc3\xbc", prefix_ + "t"}));
  // The first page alone: starts right after start_after and is marked last
  // only when nothing follows.
  auto first = dest_->List({.prefix = p, .max_keys = 2, .start_after = p + "c"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_FALSE(first->objects.empty());
  EXPECT_EQ(first->objects[0].key, p + "d e");
  EXPECT_FALSE(first->next_continuation_token.empty());
  auto none = dest_->List({.prefix = p, .max_keys = 2, .start_after = p + "\xc3\xbd"});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->objects.empty());
  EXPECT_TRUE(none->next_continuation_token.empty());
}

TEST_P(DestinationConformance, RangeGet) {
  std::string data = Bytes(10000, 2);
  ASSERT_TRUE(PutBytes(prefix_ + "ranged", data).ok());
  GetOptions o;
  o.range = std::make_pair(uint64_t{100}, uint64_t{199});
  auto g = GetBytes(prefix_ + "ranged", o);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_TRUE(*g == data.substr(100, 100));
}

TEST_P(DestinationConformance, MultipartUploadListResumeComplete) {
  auto caps = dest_->capabilities();
  if (!caps.multipart) GTEST_SKIP() << "no multipart";
  const size_t ps = std::max<size_t>(caps.min_part_size, 5u << 20);
  std::string data = Bytes(2 * ps + 12345, 3);
  std::string key = prefix_ + "big file.bin";
  auto id = dest_->StartMultipart(key, {{"mtime", "1"}}, "application/octet-stream");
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  auto uploads = dest_->ListMultipartUploads(prefix_);
  if (GetParam().lists_and_aborts_uploads) {
    ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
    ASSERT_EQ(uploads->size(), 1u);
    EXPECT_EQ((*uploads)[0].key, key);
    EXPECT_EQ((*uploads)[0].upload_id, *id);
  } else {
    ASSERT_FALSE(uploads.ok());
    EXPECT_EQ(uploads.status().kind(), ErrorKind::kPermanent) << uploads.status().ToString();
  }

  std::vector<PartInfo> parts;
  std::string md5s;
  const bool lists = GetParam().lists_and_aborts_uploads;
  for (int n = 1; n <= 3; ++n) {
    size_t off = static_cast<size_t>(n - 1) * ps;
    std::string_view chunk = std::string_view(data).substr(off, std::min(ps, data.size() - off));
    MemoryBody body(chunk);
    PartUpload pu{
        .part_number = n, .body = &body, .md5 = Md5(chunk), .sha1 = Sha1(chunk), .sha256 = ""};
    auto p = dest_->UploadPart(key, *id, pu);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    if (caps.etag_is_md5) {
      EXPECT_EQ(p->etag, HexEncode(Md5(chunk)));
    }
    parts.push_back(*p);
    md5s += Md5(chunk);
    if (n == 2 && lists) {
      // what a resuming client sees after a crash
      auto listed = dest_->ListParts(key, *id);
      ASSERT_TRUE(listed.ok()) << listed.status().ToString();
      ASSERT_EQ(listed->size(), 2u);
      EXPECT_EQ((*listed)[0].part_number, 1);
      EXPECT_EQ((*listed)[1].size, ps);
      EXPECT_EQ((*listed)[1].etag, parts[1].etag);
    }
  }
  if (lists) {
    auto listed = dest_->ListParts(key, *id);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 3u);
    parts = *listed;
  } else {
    EXPECT_EQ(dest_->ListParts(key, *id).status().kind(), ErrorKind::kPermanent);
  }
  auto done = dest_->CompleteMultipart(key, *id, parts);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  auto h = dest_->Head(key);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size, data.size());
  if (GetParam().multipart_etag_is_md5_of_md5s) {
    EXPECT_EQ(h->etag, HexEncode(Md5(md5s)) + "-3");
  }
  auto g = GetBytes(key);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(*g == data);
  if (GetParam().lists_and_aborts_uploads) {
    auto after = dest_->ListMultipartUploads(prefix_);
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->empty());
  }
  if (lists) {
    EXPECT_EQ(dest_->ListParts(key, *id).status().kind(), ErrorKind::kNotFound);
  }
}

TEST_P(DestinationConformance, MultipartTooSmallPartIsRefusedAndAbortCleansUp) {
  auto caps = dest_->capabilities();
  if (!caps.multipart) GTEST_SKIP() << "no multipart";
  std::string key = prefix_ + "small-parts";
  auto id = dest_->StartMultipart(key, {}, "application/octet-stream");
  ASSERT_TRUE(id.ok());
  std::vector<PartInfo> parts;
  for (int n = 1; n <= 2; ++n) {
    std::string chunk(1000, static_cast<char>('a' + n));
    MemoryBody body(chunk);
    auto p = dest_->UploadPart(
        key, *id,
        {.part_number = n, .body = &body, .md5 = Md5(chunk), .sha1 = Sha1(chunk), .sha256 = ""});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    parts.push_back(*p);
  }
  if (GetParam().enforces_min_part_size) {
    auto done = dest_->CompleteMultipart(key, *id, parts);
    EXPECT_FALSE(done.ok()) << "a non-last part below the minimum size was accepted";
  }
  if (!GetParam().lists_and_aborts_uploads) {
    Status ab = dest_->AbortMultipart(key, *id);
    EXPECT_EQ(ab.kind(), ErrorKind::kPermanent) << ab.ToString();
    return;
  }
  ASSERT_TRUE(dest_->AbortMultipart(key, *id).ok());
  auto uploads = dest_->ListMultipartUploads(prefix_);
  ASSERT_TRUE(uploads.ok());
  EXPECT_TRUE(uploads->empty());
  EXPECT_TRUE(dest_->AbortMultipart(key, *id).ok()) << "aborting twice is fine";
}

}  // namespace ck::test
