#include "util/glob.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ck {
namespace {

struct MatchCase {
  std::vector<std::string> patterns;
  std::string path;
  bool is_dir;
  bool want;
};

std::string Describe(const MatchCase& c) {
  std::string s = "patterns {";
  for (const auto& p : c.patterns) s += "\"" + p + "\" ";
  s += "} path \"" + c.path + "\"" + (c.is_dir ? " (dir)" : " (file)");
  return s;
}

TEST(GlobSetTest, MatchTable) {
  const std::vector<MatchCase> cases = {
      // Basename patterns apply at any depth.
      {{"*.tmp"}, "c.tmp", false, true},
      {{"*.tmp"}, "a/b/c.tmp", false, true},
      {{"*.tmp"}, "a/b/c.tmpx", false, false},
      {{"*.tmp"}, "a.tmp/c", false, false},  // only the basename is tested
      {{"*.tmp"}, "a.tmp", true, true},      // no trailing '/': dirs match too
      {{"*.tmp"}, ".tmp", false, true},      // '*' may be empty
      {{"node_modules"}, "node_modules", true, true},
      {{"node_modules"}, "x/y/node_modules", true, true},
      {{"node_modules"}, "x/node_modules2", true, false},
      {{"node_modules"}, "node_modules/x", false, false},  // the path itself only
      // '*' stays within one segment.
      {{"a/*"}, "a/b", false, true},
      {{"a/*"}, "a/b/c", false, false},
      {{"a/*/c"}, "a/b/c", false, true},
      {{"a/*/c"}, "a/b/x/c", false, false},
      {{"a*c"}, "abc", false, true},
      {{"a*c"}, "ac", false, true},
      {{"a*c"}, "abcbc", false, true},
      {{"a*c"}, "abcb", false, false},
      {{"*a*b*"}, "xxaxxbxx", false, true},
      {{"*a*b*"}, "xxbxxaxx", false, false},
      {{"*"}, ".hidden", false, true},  // no special leading dot
      {{"x*"}, "xy", false, true},
      {{"x*"}, "yx", false, false},
      {{"*x"}, "yx", false, true},
      {{"*x"}, "xy", false, false},
      {{"*ab"}, "b", false, false},
      {{"ab*"}, "a", false, false},
      // '?'
      {{"?.c"}, "a.c", false, true},
      {{"?.c"}, "ab.c", false, false},
      {{"?.c"}, ".c", false, false},
      {{"/a?c"}, "a/c", false, false},  // '?' never matches '/'
      {{"a?b?"}, "axby", false, true},
      // Brackets.
      {{"[abc].txt"}, "b.txt", false, true},
      {{"[abc].txt"}, "d.txt", false, false},
      {{"[a-c]x"}, "bx", false, true},
      {{"[a-c]x"}, "dx", false, false},
      {{"[!a-c]x"}, "dx", false, true},
      {{"[!a-c]x"}, "ax", false, false},
      {{"[^a-c]x"}, "dx", false, true},
      {{"[]]"}, "]", false, true},
      {{"[]a]"}, "a", false, true},
      {{"[!]]"}, "]", false, false},
      {{"[!]]"}, "x", false, true},
      {{"[a-]"}, "-", false, true},
      {{"[a-]"}, "b", false, false},
      {{"[-a]"}, "-", false, true},
      {{"[\\]]"}, "]", false, true},
      {{"[\\-a]"}, "-", false, true},
      {{"[0-9][0-9]"}, "42", false, true},
      {{"[0-9][0-9]"}, "4a", false, false},
      {{"*.[ch]"}, "src/x.h", false, true},
      {{"*.[ch]"}, "src/x.cc", false, false},
      // Escapes.
      {{"\\*"}, "*", false, true},
      {{"\\*"}, "x", false, false},
      {{"a\\?"}, "a?", false, true},
      {{"a\\?"}, "ab", false, false},
      {{"\\[x]"}, "[x]", false, true},
      {{"\\\\"}, "\\", false, true},
      {{"\\!x"}, "!x", false, true},
      {{"\\#x"}, "#x", false, true},
      // Anchored patterns.
      {{"build/out"}, "build/out", true, true},
      {{"build/out"}, "x/build/out", true, false},
      {{"/foo"}, "foo", false, true},
      {{"/foo"}, "a/foo", false, false},
      {{"/*.log"}, "x.log", false, true},
      {{"/*.log"}, "d/x.log", false, false},
      // Trailing '/': directories only, still unanchored without other '/'.
      {{"cache/"}, "cache", true, true},
      {{"cache/"}, "cache", false, false},
      {{"cache/"}, "a/b/cache", true, true},
      {{"a/cache/"}, "a/cache", true, true},
      {{"a/cache/"}, "a/cache", false, false},
      {{"a/cache/"}, "x/a/cache", true, false},
      // '**'.
      {{".cache/**"}, ".cache", true, true},
      {{".cache/**"}, ".cache/x", false, true},
      {{".cache/**"}, ".cache/x/y/z", false, true},
      {{".cache/**"}, "a/.cache", true, false},
      {{".cache/**"}, ".cachex", true, false},
      {{"**/node_modules"}, "node_modules", true, true},
      {{"**/node_modules"}, "a/b/node_modules", true, true},
      {{"**/node_modules"}, "a/b/node_modules/x", false, false},
      {{"a/**/b"}, "a/b", false, true},
      {{"a/**/b"}, "a/x/b", false, true},
      {{"a/**/b"}, "a/x/y/b", false, true},
      {{"a/**/b"}, "a/x/y/c", false, false},
      {{"a/**/b"}, "x/a/b", false, false},
      {{"a/**/b/**/c"}, "a/b/c", false, true},
      {{"a/**/b/**/c"}, "a/x/b/y/b/z/c", false, true},
      {{"a/**/b/**/c"}, "a/x/c/b", false, false},
      {{"**/*.o"}, "x.o", false, true},
      {{"**/*.o"}, "a/b/x.o", false, true},
      {{"**/b/*.o"}, "a/b/x.o", false, true},
      {{"**/b/*.o"}, "a/c/x.o", false, false},
      {{"**/**/x"}, "a/x", false, true},
      {{"a/**/**"}, "a", true, true},
      {{"**"}, "anything/at/all", false, true},
      {{"/**"}, "anything/at/all", false, true},
      {{"**/"}, "a/dir", true, true},
      {{"**/"}, "a/file", false, false},
      {{"a**b"}, "axxb", false, true},  // not a whole segment: same as '*'
      {{"a**b"}, "ax/xb", false, false},
      {{"a/**b"}, "a/xb", false, true},
      {{"a/**b"}, "a/x/b", false, false},
      // Byte semantics: non-UTF-8 and high bytes.
      {{"bad\xff*"}, "d/bad\xff.txt", false, true},
      {{"*.txt"}, "d/bad\xff\xfe.txt", false, true},
      {{"?.txt"}, "\xff.txt", false, true},  // one byte, not one character
      {{"?.txt"}, "\xc3\xa9.txt", false, false},
      {{"[\x80-\xff]*"}, "\xe9t\xe9", false, true},
      {{"[\x80-\xff]*"}, "et\xe9", false, false},
      {{"[!a]"}, "\xff", false, true},
      {{"A"}, "a", false, false},  // case-sensitive
      // Several patterns: any match wins.
      {{"*.tmp", "build/", "/secret"}, "secret", false, true},
      {{"*.tmp", "build/", "/secret"}, "x/build", true, true},
      {{"*.tmp", "build/", "/secret"}, "x/build", false, false},
      {{"*.tmp", "build/", "/secret"}, "x/secret", false, false},
      // The root itself never matches.
      {{"*"}, "", true, false},
      {{"**"}, "", true, false},
  };
  for (const MatchCase& c : cases) {
    auto set = GlobSet::Make(c.patterns);
    ASSERT_TRUE(set.ok()) << Describe(c) << ": " << set.status().ToString();
    EXPECT_EQ(set->Matches(c.path, c.is_dir), c.want) << Describe(c);
  }
}

TEST(GlobSetTest, EmptySetMatchesNothing) {
  GlobSet empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Matches("a", false));
  auto made = GlobSet::Make({});
  ASSERT_TRUE(made.ok());
  EXPECT_FALSE(made->Matches("a/b", true));
  EXPECT_EQ(made->size(), 0u);
}

TEST(GlobSetTest, InvalidPatterns) {
  struct Bad {
    std::string pattern;
    std::string why;  // substring of the message
  };
  const std::vector<Bad> cases = {
      {"", "empty pattern"},
      {"[abc", "unclosed '['"},
      {"a/[b", "unclosed '['"},
      {"[]", "unclosed '['"},
      {"[!]", "unclosed '['"},
      {"[a/b]", "unclosed '['"},
      {"[\\]", "unclosed '['"},
      {"[z-a]", "reversed range"},
      {"abc\\", "trailing '\\'"},
      {"a\\/b", "'/' cannot be escaped"},
      {"/", "no name"},
      {"//", "empty path segment"},
      {"a//b", "empty path segment"},
      {"a//", "empty path segment"},
      {"./a", "'.' and '..'"},
      {"a/../b", "'.' and '..'"},
      {"!keep.txt", "negation"},
  };
  for (const Bad& b : cases) {
    auto set = GlobSet::Make({"ok/*", b.pattern});
    ASSERT_FALSE(set.ok()) << "pattern \"" << b.pattern << "\" was accepted";
    EXPECT_EQ(set.status().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(set.status().message().find("\"" + b.pattern + "\""), std::string::npos)
        << set.status().message();
    EXPECT_NE(set.status().message().find(b.why), std::string::npos)
        << "pattern \"" << b.pattern << "\": " << set.status().message();
  }
}

// --- Differential test against a straightforward recursive reference. ---

// A structured pattern: segments of tokens; the segment {"**"} is the
// multi-segment wildcard. Tokens: "a", "b", "*", "?", "[ab]", "[!a]".
using RefSegment = std::vector<std::string>;

bool RefMatchSegment(const RefSegment& toks, size_t ti, std::string_view s) {
  if (ti == toks.size()) return s.empty();
  const std::string& t = toks[ti];
  if (t == "*") {
    for (size_t k = 0; k <= s.size(); ++k) {
      if (RefMatchSegment(toks, ti + 1, s.substr(k))) return true;
    }
    return false;
  }
  if (s.empty()) return false;
  char c = s[0];
  bool ok = t == "?"      ? true
            : t == "[ab]" ? (c == 'a' || c == 'b')
            : t == "[!a]" ? c != 'a'
                          : c == t[0];
  return ok && RefMatchSegment(toks, ti + 1, s.substr(1));
}

bool RefMatchPath(const std::vector<RefSegment>& segs, size_t si,
                  const std::vector<std::string>& parts, size_t pi) {
  if (si == segs.size()) return pi == parts.size();
  if (segs[si].size() == 1 && segs[si][0] == "**") {
    for (size_t k = pi; k <= parts.size(); ++k) {
      if (RefMatchPath(segs, si + 1, parts, k)) return true;
    }
    return false;
  }
  return pi < parts.size() && RefMatchSegment(segs[si], 0, parts[pi]) &&
         RefMatchPath(segs, si + 1, parts, pi + 1);
}

TEST(GlobSetTest, AgreesWithReferenceOnRandomInputs) {
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* kTokens[] = {"a", "b", "*", "?", "[ab]", "[!a]"};
  int matched = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<RefSegment> segs(1 + pick(4));
    std::string text;
    for (auto& seg : segs) {
      text += "/";
      if (pick(4) == 0) {
        seg = {"**"};
      } else {
        int n = 1 + pick(4);
        for (int k = 0; k < n; ++k) {
          std::string t = kTokens[pick(6)];
          // "**" as a whole segment means something else; keep stars apart.
          if (t == "*" && !seg.empty() && seg.back() == "*") t = "a";
          seg.push_back(t);
        }
      }
      for (const auto& t : seg) text += t;
    }
    std::vector<std::string> parts(1 + pick(4));
    std::string path;
    for (auto& p : parts) {
      int n = 1 + pick(4);
      for (int k = 0; k < n; ++k) p.push_back("abc"[pick(3)]);
      if (!path.empty()) path += "/";
      path += p;
    }
    // A one-segment pattern without the leading '/' applies to the basename.
    bool basename_only = segs.size() == 1 && pick(2) == 0;
    if (basename_only) text.erase(0, 1);
    auto set = GlobSet::Make({text});
    ASSERT_TRUE(set.ok()) << text;
    bool want =
        basename_only ? RefMatchPath(segs, 0, {parts.back()}, 0) : RefMatchPath(segs, 0, parts, 0);
    matched += want;
    ASSERT_EQ(set->Matches(path, false), want) << "pattern " << text << " path " << path;
  }
  // The generator must exercise both outcomes substantially.
  EXPECT_GT(matched, 1000);
  EXPECT_LT(matched, 19000);
}

}  // namespace
}  // namespace ck
