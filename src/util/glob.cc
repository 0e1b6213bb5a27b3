#include "util/glob.h"

#include <cstring>
#include <limits>

namespace ck {

namespace {

constexpr size_t kNpos = std::string_view::npos;

bool HasByte(const std::array<uint64_t, 4>& set, uint8_t b) {
  return (set[b >> 6] >> (b & 63)) & 1;
}

void AddByte(std::array<uint64_t, 4>* set, uint8_t b) {
  (*set)[b >> 6] |= uint64_t{1} << (b & 63);
}

Status Bad(std::string_view pattern, std::string_view why) {
  std::string msg = "invalid exclude pattern \"";
  msg.append(pattern);
  msg += "\": ";
  msg.append(why);
  return InvalidArgument(std::move(msg));
}

}  // namespace

Result<GlobSet> GlobSet::Make(const std::vector<std::string>& patterns) {
  GlobSet set;
  set.patterns_.reserve(patterns.size());
  for (const std::string& text : patterns) {
    Pattern p;
    Status st = set.Compile(text, &p);
    if (!st.ok()) return Bad(text, st.message());
    set.patterns_.push_back(std::move(p));
  }
  return set;
}

// Splits on unescaped '/', strips a leading '/' (anchor) and a trailing '/'
// (directories only), then compiles each segment.
Status GlobSet::Compile(std::string_view pattern, Pattern* out) {
  if (pattern.empty()) return InvalidArgument("empty pattern");
  if (pattern[0] == '!') {
    return InvalidArgument("negation ('!') is not supported; write \\! for a literal '!'");
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 == pattern.size()) return InvalidArgument("trailing '\\'");
      if (pattern[i + 1] == '/') return InvalidArgument("'/' cannot be escaped");
      ++i;
    } else if (c == '/') {
      parts.push_back(pattern.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(pattern.substr(start));

  size_t first = 0;
  size_t last = parts.size();
  if (parts.size() > 1 && parts.front().empty()) {
    out->anchored = true;
    ++first;
  }
  if (last - first > 0 && parts.size() > 1 && parts[last - 1].empty()) {
    out->dir_only = true;
    --last;
  }
  if (first == last) return InvalidArgument("pattern has no name to match");
  if (last - first > 1) out->anchored = true;

  for (size_t i = first; i < last; ++i) {
    std::string_view seg = parts[i];
    if (seg.empty()) return InvalidArgument("empty path segment ('//')");
    if (seg == "." || seg == "..") return InvalidArgument("'.' and '..' segments never match");
    Segment s;
    if (seg == "**") {
      if (!out->anchored) {
        s.kind = Segment::kAny;
      } else {
        // "**/**" is the same as "**".
        if (!out->segments.empty() && out->segments.back().kind == Segment::kDoubleStar) continue;
        s.kind = Segment::kDoubleStar;
      }
    } else {
      CK_RETURN_IF_ERROR(CompileSegment(seg, &s));
    }
    out->segments.push_back(std::move(s));
  }
  return Status::OK();
}

Status GlobSet::CompileSegment(std::string_view seg, Segment* out) {
  std::vector<Token>& toks = out->tokens;
  for (size_t i = 0; i < seg.size();) {
    uint8_t c = static_cast<uint8_t>(seg[i]);
    if (c == '\\') {
      toks.push_back({Token::kLiteral, static_cast<uint8_t>(seg[i + 1]), 0});
      i += 2;
    } else if (c == '*') {
      if (toks.empty() || toks.back().kind != Token::kStar) toks.push_back({Token::kStar, 0, 0});
      ++i;
    } else if (c == '?') {
      toks.push_back({Token::kAnyByte, 0, 0});
      ++i;
    } else if (c == '[') {
      ByteSet set{};
      size_t j = i + 1;
      bool negate = false;
      if (j < seg.size() && (seg[j] == '!' || seg[j] == '^')) {
        negate = true;
        ++j;
      }
      bool closed = false;
      bool first = true;
      // Reads one (possibly escaped) byte of the class at j.
      auto read_byte = [&](uint8_t* b) {
        if (seg[j] == '\\') {
          if (j + 1 >= seg.size()) return false;
          ++j;
        }
        *b = static_cast<uint8_t>(seg[j++]);
        return true;
      };
      while (j < seg.size()) {
        if (seg[j] == ']' && !first) {
          ++j;
          closed = true;
          break;
        }
        first = false;
        uint8_t lo;
        if (!read_byte(&lo)) break;
        if (j + 1 < seg.size() && seg[j] == '-' && seg[j + 1] != ']') {
          ++j;
          uint8_t hi;
          if (!read_byte(&hi)) break;
          if (hi < lo) return InvalidArgument("reversed range in '[...]'");
          for (unsigned b = lo; b <= hi; ++b) AddByte(&set, static_cast<uint8_t>(b));
        } else {
          AddByte(&set, lo);
        }
      }
      if (!closed) return InvalidArgument("unclosed '['");
      if (negate) {
        for (uint64_t& w : set) w = ~w;
      }
      if (classes_.size() >= std::numeric_limits<uint32_t>::max()) {
        return InvalidArgument("too many '[...]' classes");
      }
      toks.push_back({Token::kClass, 0, static_cast<uint32_t>(classes_.size())});
      classes_.push_back(set);
      i = j;
    } else {
      toks.push_back({Token::kLiteral, c, 0});
      ++i;
    }
  }

  // Pick a fast path when the shape allows one.
  size_t stars = 0;
  size_t other = 0;
  for (const Token& t : toks) {
    if (t.kind == Token::kStar) {
      ++stars;
    } else if (t.kind != Token::kLiteral) {
      ++other;
    }
  }
  auto literal_text = [&](size_t from, size_t to) {
    out->text.clear();
    for (size_t k = from; k < to; ++k) out->text.push_back(static_cast<char>(toks[k].byte));
  };
  if (other == 0 && stars == 0) {
    out->kind = Segment::kLiteral;
    literal_text(0, toks.size());
  } else if (other == 0 && stars == 1 && toks.size() == 1) {
    out->kind = Segment::kAny;
  } else if (other == 0 && stars == 1 && toks.back().kind == Token::kStar) {
    out->kind = Segment::kPrefix;
    literal_text(0, toks.size() - 1);
  } else if (other == 0 && stars == 1 && toks.front().kind == Token::kStar) {
    out->kind = Segment::kSuffix;
    literal_text(1, toks.size());
  } else {
    out->kind = Segment::kGeneral;
    return Status::OK();
  }
  toks.clear();
  toks.shrink_to_fit();
  return Status::OK();
}

// Classic wildcard matching with one backtrack point: each non-star token
// consumes exactly one byte, so on a mismatch it suffices to let the most
// recent '*' absorb one more byte.
bool GlobSet::MatchTokens(const std::vector<Token>& toks, std::string_view name) const {
  const size_t n = toks.size();
  size_t ti = 0;
  size_t si = 0;
  size_t star_ti = kNpos;
  size_t star_si = 0;
  while (si < name.size()) {
    if (ti < n) {
      const Token& t = toks[ti];
      uint8_t c = static_cast<uint8_t>(name[si]);
      bool ok = false;
      switch (t.kind) {
        case Token::kStar:
          star_ti = ti++;
          star_si = si;
          continue;
        case Token::kLiteral:
          ok = c == t.byte;
          break;
        case Token::kAnyByte:
          ok = c != '/';
          break;
        case Token::kClass:
          ok = c != '/' && HasByte(classes_[t.cls], c);
          break;
      }
      if (ok) {
        ++ti;
        ++si;
        continue;
      }
    }
    if (star_ti == kNpos) return false;
    ti = star_ti + 1;
    si = ++star_si;
  }
  while (ti < n && toks[ti].kind == Token::kStar) ++ti;
  return ti == n;
}

bool GlobSet::MatchSegment(const Segment& seg, std::string_view name) const {
  switch (seg.kind) {
    case Segment::kLiteral:
      return name == seg.text;
    case Segment::kAny:
    case Segment::kDoubleStar:
      return true;
    case Segment::kPrefix:
      return name.size() >= seg.text.size() &&
             std::memcmp(name.data(), seg.text.data(), seg.text.size()) == 0;
    case Segment::kSuffix:
      return name.size() >= seg.text.size() &&
             std::memcmp(name.data() + name.size() - seg.text.size(), seg.text.data(),
                         seg.text.size()) == 0;
    case Segment::kGeneral:
      return MatchTokens(seg.tokens, name);
  }
  return false;
}

// The same one-backtrack-point algorithm one level up: "**" is the star and
// every other segment pattern consumes exactly one path segment. `pos` is the
// byte offset of the current path segment; pos > path.size() means the path
// is used up.
bool GlobSet::MatchAnchored(const Pattern& p, std::string_view path) const {
  const size_t n = p.segments.size();
  const size_t len = path.size();
  size_t si = 0;
  size_t pos = 0;
  size_t star_si = kNpos;
  size_t star_pos = 0;
  while (true) {
    if (pos <= len) {
      if (si < n) {
        const Segment& seg = p.segments[si];
        if (seg.kind == Segment::kDoubleStar) {
          star_si = si++;
          star_pos = pos;
          continue;
        }
        size_t end = path.find('/', pos);
        if (end == kNpos) end = len;
        if (MatchSegment(seg, path.substr(pos, end - pos))) {
          ++si;
          pos = end + 1;
          continue;
        }
      }
    } else {
      while (si < n && p.segments[si].kind == Segment::kDoubleStar) ++si;
      if (si == n) return true;
    }
    // Mismatch: let the last "**" swallow one more segment, if any are left.
    if (star_si == kNpos || star_pos > len) return false;
    size_t end = path.find('/', star_pos);
    star_pos = (end == kNpos ? len : end) + 1;
    pos = star_pos;
    si = star_si + 1;
  }
}

bool GlobSet::Matches(std::string_view rel_path, bool is_dir) const {
  if (rel_path.empty()) return false;
  size_t slash = rel_path.rfind('/');
  std::string_view base = slash == kNpos ? rel_path : rel_path.substr(slash + 1);
  for (const Pattern& p : patterns_) {
    if (p.dir_only && !is_dir) continue;
    if (p.anchored ? MatchAnchored(p, rel_path) : MatchSegment(p.segments.front(), base)) {
      return true;
    }
  }
  return false;
}

}  // namespace ck
