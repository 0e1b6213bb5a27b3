// GlobSet: gitignore-like exclude patterns matched against relative paths.
//
// Paths are '/'-separated, relative to a source root, with no leading or
// trailing '/' and no empty, "." or ".." segments ("a/b/c.txt"). Matching works
// on raw bytes: no locale, no case folding, no Unicode normalisation, so names
// that are not valid UTF-8 match like any other bytes.
//
// Pattern syntax (each pattern is one string; there are no comments):
//   *        any run of bytes within one path segment (never '/'); may be empty
//   ?        exactly one byte other than '/'
//   [abc]    one byte from the set; [a-z] a range (by unsigned byte value);
//            [!a-z] or [^a-z] the complement. A ']' right after '[' (or after
//            '[!') is literal, so "[]x]" matches ']' or 'x'. Escape with '\'.
//   **       as a whole segment ("**/x", "x/**", "a/**/b"): zero or more whole
//            segments. Elsewhere ("a**b") it is the same as '*'.
//   \c       the byte c literally (e.g. "\*", "\[", "\\", "\!").
//   Nothing is special about a leading '.': "*" matches ".hidden".
//
// Where a pattern applies:
//   - A pattern without a '/' (other than a trailing one) matches the last
//     segment (basename) of a path at any depth: "*.tmp" matches "c.tmp" and
//     "a/b/c.tmp"; "node_modules" matches "x/node_modules".
//   - A pattern with a '/' at the start or in the middle is anchored at the
//     source root and must match the whole path: "build/out" matches
//     "build/out" but not "x/build/out"; "/foo" matches only "foo" at the root.
//     Use "**/" to float it: "**/node_modules" matches "node_modules" and
//     "a/b/node_modules".
//   - A trailing '/' restricts the pattern to directories: "cache/" matches a
//     directory named cache at any depth, never a file named cache.
//   - "x/**" matches x itself and everything below it; "a/**/b" matches "a/b",
//     "a/x/b", "a/x/y/b".
//   - A pattern matches the path itself only. Matches("a/b.txt") is false for
//     the pattern "a": a tree walker is expected to prune a matched directory,
//     which excludes everything below it.
//
// Rejected patterns (Make returns kInvalidArgument naming the pattern): empty
// patterns, an unclosed '[', a reversed range "[z-a]", a trailing '\', an
// escaped '/', empty segments ("a//b", "/" alone), "." or ".." segments, and a
// leading '!' (gitignore negation is not supported; write "\!" for a literal).
//
// Matching allocates nothing and uses no regular expressions. Cost is linear
// in the path length per pattern for typical patterns (worst case quadratic
// for patterns with several '*' or '**'). A GlobSet is immutable after Make
// and safe to use from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace ck {

class GlobSet {
 public:
  // An empty set: matches nothing.
  GlobSet() = default;

  // Compiles `patterns`. On the first invalid pattern returns kInvalidArgument
  // with a message that quotes the pattern and says what is wrong.
  static Result<GlobSet> Make(const std::vector<std::string>& patterns);

  // True if any pattern matches `rel_path` (see the rules above). `is_dir`
  // says whether the path names a directory (for trailing-'/' patterns).
  // An empty rel_path (the root itself) never matches.
  bool Matches(std::string_view rel_path, bool is_dir) const;

  bool empty() const { return patterns_.empty(); }
  size_t size() const { return patterns_.size(); }

 private:
  // One element of a general segment pattern; each non-star token consumes one byte.
  struct Token {
    enum Kind : uint8_t { kLiteral, kAnyByte, kStar, kClass };
    Kind kind;
    uint8_t byte;  // kLiteral
    uint32_t cls;  // kClass: index into classes_
  };
  // One '/'-separated piece of a pattern.
  struct Segment {
    enum Kind : uint8_t {
      kLiteral,     // exact bytes in `text`
      kAny,         // "*": any segment
      kPrefix,      // text + "*"
      kSuffix,      // "*" + text
      kGeneral,     // `tokens`
      kDoubleStar,  // "**": zero or more segments (anchored patterns only)
    };
    Kind kind = kLiteral;
    std::string text;
    std::vector<Token> tokens;
  };
  struct Pattern {
    std::vector<Segment> segments;
    bool anchored = false;  // else exactly one segment, matched against the basename
    bool dir_only = false;
  };
  using ByteSet = std::array<uint64_t, 4>;

  // Compiles one pattern into *out, or returns why it is invalid.
  Status Compile(std::string_view pattern, Pattern* out);
  Status CompileSegment(std::string_view seg, Segment* out);
  bool MatchSegment(const Segment& seg, std::string_view name) const;
  bool MatchTokens(const std::vector<Token>& tokens, std::string_view name) const;
  bool MatchAnchored(const Pattern& p, std::string_view path) const;

  std::vector<Pattern> patterns_;
  std::vector<ByteSet> classes_;
};

}  // namespace ck
