// KnownFiles: a compact in-memory snapshot of one source's `files` rows, used by
// a scan to compare each entry it sees against what is recorded without a
// database round trip per entry.
//
// Paths and skip reasons live in one byte arena; records are fixed-size; the
// lookup is an open-addressing hash table of 8-byte slots. About 60 bytes per
// entry plus the path bytes. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ck {

class KnownFiles {
 public:
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  struct Record {
    int64_t id = 0;  // files.id; 0 for an entry not written yet
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t inode = 0;
    uint64_t text_offset = 0;  // path bytes, then skip-reason bytes, in the arena
    uint32_t path_len = 0;
    uint32_t reason_len = 0;
    uint8_t type = 0;  // the caller's type code
    bool present = false;
    bool seen = false;  // set by the caller when the scan encounters the entry
  };

  // Adds a record for `path` (which must not be present yet; checked only by
  // assert) and returns its index. Indexes are stable.
  size_t Add(std::string_view path, std::string_view skip_reason, const Record& fields);
  // Index of the record for `path`, or kNotFound.
  size_t Find(std::string_view path) const;

  size_t size() const { return records_.size(); }
  Record& at(size_t i) { return records_[i]; }
  const Record& at(size_t i) const { return records_[i]; }
  std::string_view path(const Record& r) const {
    return std::string_view(arena_).substr(r.text_offset, r.path_len);
  }
  std::string_view skip_reason(const Record& r) const {
    return std::string_view(arena_).substr(r.text_offset + r.path_len, r.reason_len);
  }
  // Approximate heap bytes in use (for diagnostics and tests).
  size_t MemoryBytes() const;

 private:
  struct Slot {
    uint32_t index_plus_one = 0;  // 0 = empty
    // Hash of the path: its low bits are the home position, all 32 bits are
    // compared before the path itself.
    uint32_t tag = 0;
  };
  static uint32_t Hash(std::string_view s);
  void Grow();
  // Slot position for `path` with hash `tag`: either its record's slot or the
  // empty slot where it would go.
  size_t Probe(std::string_view path, uint32_t tag) const;

  std::string arena_;
  std::vector<Record> records_;
  std::vector<Slot> slots_;  // size is a power of two (or 0)
};

}  // namespace ck
