#include "state/known_files.h"

#include <cassert>

namespace ck {

uint32_t KnownFiles::Hash(std::string_view s) {
  // FNV-1a over the bytes followed by a 64-bit finaliser (splitmix64); the
  // well-mixed upper half is the result.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<uint32_t>(h >> 32);
}

size_t KnownFiles::Probe(std::string_view path, uint32_t tag) const {
  const size_t mask = slots_.size() - 1;
  for (size_t pos = tag & mask;; pos = (pos + 1) & mask) {
    const Slot& slot = slots_[pos];
    if (slot.index_plus_one == 0) return pos;
    if (slot.tag == tag && this->path(records_[slot.index_plus_one - 1]) == path) return pos;
  }
}

void KnownFiles::Grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.index_plus_one == 0) continue;
    // The tag is also the home position, so growing never re-reads a path.
    size_t pos = s.tag & mask;
    while (slots_[pos].index_plus_one != 0) pos = (pos + 1) & mask;
    slots_[pos] = s;
  }
}

size_t KnownFiles::Add(std::string_view path, std::string_view skip_reason, const Record& fields) {
  // Keep the load factor at or below 1/2 so probe sequences stay short.
  if ((records_.size() + 1) * 2 > slots_.size()) Grow();
  Record r = fields;
  r.text_offset = arena_.size();
  r.path_len = static_cast<uint32_t>(path.size());
  r.reason_len = static_cast<uint32_t>(skip_reason.size());
  arena_.append(path);
  arena_.append(skip_reason);
  records_.push_back(r);
  const uint32_t tag = Hash(path);
  size_t pos = Probe(path, tag);
  assert(slots_[pos].index_plus_one == 0 && "path added twice");
  slots_[pos] = Slot{static_cast<uint32_t>(records_.size()), tag};
  return records_.size() - 1;
}

size_t KnownFiles::Find(std::string_view path) const {
  if (slots_.empty()) return kNotFound;
  const Slot& slot = slots_[Probe(path, Hash(path))];
  return slot.index_plus_one == 0 ? kNotFound : slot.index_plus_one - 1;
}

size_t KnownFiles::MemoryBytes() const {
  return arena_.capacity() + records_.capacity() * sizeof(Record) +
         slots_.capacity() * sizeof(Slot);
}

}  // namespace ck
