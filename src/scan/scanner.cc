#include "scan/scanner.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "util/glob.h"

namespace ck {

namespace {

bool IsGone(const Status& s) {
  return s.kind() == ErrorKind::kNotFound || s.kind() == ErrorKind::kVanished;
}

EntryType TypeFromMode(mode_t m) {
  if (S_ISREG(m)) return EntryType::kFile;
  if (S_ISDIR(m)) return EntryType::kDirectory;
  if (S_ISLNK(m)) return EntryType::kSymlink;
  if (S_ISFIFO(m)) return EntryType::kFifo;
  if (S_ISSOCK(m)) return EntryType::kSocket;
  if (S_ISBLK(m)) return EntryType::kBlockDevice;
  if (S_ISCHR(m)) return EntryType::kCharDevice;
  return EntryType::kOther;
}

// stat(2), following symlinks. Returns 0 or the errno value.
int StatFollow(const std::string& path, FileStat* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  out->type = TypeFromMode(st.st_mode);
  out->size = static_cast<uint64_t>(st.st_size);
  out->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  out->inode = static_cast<uint64_t>(st.st_ino);
  out->dev = static_cast<uint64_t>(st.st_dev);
  out->mode = st.st_mode;
  return 0;
}

// Skip reason for an entry that is recorded but not uploaded, by type.
const char* SkipReasonForType(EntryType t) {
  switch (t) {
    case EntryType::kSymlink:
      return "symlink (not followed)";
    case EntryType::kFifo:
      return "fifo";
    case EntryType::kSocket:
      return "socket";
    case EntryType::kBlockDevice:
      return "block device";
    case EntryType::kCharDevice:
      return "character device";
    case EntryType::kFile:
    case EntryType::kDirectory:
    case EntryType::kOther:
      break;
  }
  return "unsupported file type";
}

// Byte order of the paths the entries will have: a directory's name compares
// as if it ended in '/', so the depth-first walk reports relative paths in
// ascending byte order ("a.txt" < "a/x" < "a0"), the order the state store
// reads its rows in.
int OrderChar(const DirEntry& e, size_t i) {
  if (i < e.name.size()) return static_cast<unsigned char>(e.name[i]);
  if (i == e.name.size() && e.type == EntryType::kDirectory) return '/';
  return -1;
}

bool PathOrderLess(const DirEntry& a, const DirEntry& b) {
  const size_t n = std::min(a.name.size(), b.name.size());
  if (int c = std::memcmp(a.name.data(), b.name.data(), n); c != 0) return c < 0;
  for (size_t i = n;; ++i) {
    const int ca = OrderChar(a, i), cb = OrderChar(b, i);
    if (ca != cb) return ca < cb;
    if (ca < 0) return false;
  }
}

// One directory being walked.
struct Frame {
  std::vector<DirEntry> entries;  // sorted by PathOrderLess
  size_t next = 0;                // index of the next entry to visit
  size_t prefix_len = 0;          // length of its absolute path plus the trailing '/'
  uint64_t dev = 0;               // known only when follow_symlinks or one_file_system
  uint64_t inode = 0;
};

class Scanner {
 public:
  Scanner(const SourceConfig& src, Env* env, ScanBatch* batch, const ScanOptions& opts,
          GlobSet excludes)
      : src_(src),
        env_(env),
        batch_(batch),
        opts_(opts),
        excludes_(std::move(excludes)),
        need_dir_stat_(src.follow_symlinks || opts.one_file_system) {}

  Result<ScanStats> Run();

 private:
  // The relative path of the entry in path_.
  std::string_view Rel() const { return std::string_view(path_).substr(base_len_); }
  bool Excluded(bool is_dir) const {
    return !excludes_.empty() && excludes_.Matches(Rel(), is_dir);
  }
  // Examines the entry at path_, of type `listed_type` as ListDir reported
  // it; may push a frame.
  Status Visit(EntryType listed_type);
  // Lists the directory at path_ (stat `st`, when known) and pushes its frame,
  // or records why it is not walked.
  Status EnterDir(const FileStat* st, bool via_link, const FileStat* link_st);
  // Lists path_ into stack_[depth_] and pushes it. Returns the ListDir status.
  Status PushFrame(uint64_t dev, uint64_t inode);
  Status RecordFile(const FileStat& st);
  Status RecordSkipped(EntryType type, const FileStat* st, std::string_view reason);
  void MaybeReportProgress();

  const SourceConfig& src_;
  Env* env_;
  ScanBatch* batch_;
  const ScanOptions& opts_;
  GlobSet excludes_;
  const bool need_dir_stat_;

  std::string path_;     // absolute path of the current entry (reused buffer)
  size_t base_len_ = 0;  // bytes of path_ before the relative path
  uint64_t root_dev_ = 0;
  std::vector<Frame> stack_;  // frames [0, depth_) are active; the rest are spare
  size_t depth_ = 0;
  ScanEntry entry_;  // reused for every Add
  ScanStats stats_;
  ScanProgress progress_;
};

Result<ScanStats> Scanner::Run() {
  const std::string& root = src_.path;
  if (root.empty() || root[0] != '/') {
    return InvalidArgument("source path \"" + root + "\" is not absolute");
  }
  auto lst = env_->Lstat(root);
  if (!lst.ok()) return lst.status().WithContext("source");
  FileStat root_st = *lst;
  if (root_st.type == EntryType::kSymlink) {
    // The user named this path; follow it like `find -H` does.
    int err = StatFollow(root, &root_st);
    if (err != 0) return ErrnoStatus(err, "source " + root);
  }
  if (root_st.type != EntryType::kDirectory) {
    return InvalidArgument("source " + root + " is not a directory");
  }
  root_dev_ = root_st.dev;

  path_.reserve(4096);
  path_ = root;
  Status ls = PushFrame(root_st.dev, root_st.inode);
  if (!ls.ok()) return ls.WithContext("source");
  base_len_ = path_.size();

  while (depth_ > 0) {
    Frame& f = stack_[depth_ - 1];
    if (f.next == f.entries.size()) {
      --depth_;
      continue;
    }
    if (opts_.cancel != nullptr && opts_.cancel->load(std::memory_order_relaxed)) {
      return Status(ErrorKind::kCancelled, "scan of " + root + " cancelled");
    }
    const DirEntry& e = f.entries[f.next++];
    path_.resize(f.prefix_len);
    path_.append(e.name);
    // Visit may push a frame, which invalidates f and e.
    CK_RETURN_IF_ERROR(Visit(e.type));
    ++progress_.entries;
    MaybeReportProgress();
  }
  return stats_;
}

Status Scanner::Visit(EntryType listed_type) {
  const bool follow = src_.follow_symlinks;
  EntryType type = listed_type;

  // Test excludes before any syscall when the listing already gave the type.
  bool checked = false;
  bool checked_as_dir = false;
  if (type != EntryType::kOther && !(follow && type == EntryType::kSymlink)) {
    checked = true;
    checked_as_dir = type == EntryType::kDirectory;
    if (Excluded(checked_as_dir)) return Status::OK();
  }

  FileStat st;
  bool have_stat = false;
  if (type != EntryType::kDirectory || need_dir_stat_) {
    auto r = env_->Lstat(path_);
    if (!r.ok()) {
      if (IsGone(r.status())) return Status::OK();
      if (!checked && Excluded(type == EntryType::kDirectory)) return Status::OK();
      if (r.status().kind() == ErrorKind::kPermissionDenied) {
        return RecordSkipped(type, nullptr, "permission denied: cannot stat");
      }
      return RecordSkipped(type, nullptr, "cannot stat: " + r.status().message());
    }
    st = *r;
    have_stat = true;
    type = st.type;
  }

  bool via_link = false;
  FileStat link_st;
  if (follow && type == EntryType::kSymlink) {
    FileStat target;
    int err = StatFollow(path_, &target);
    if (err != 0) {
      if (Excluded(false)) return Status::OK();
      switch (err) {
        case ENOENT:
          return RecordSkipped(EntryType::kSymlink, &st, "symlink target missing");
        case ELOOP:
          return RecordSkipped(EntryType::kSymlink, &st, "symlink loop");
        case EACCES:
        case EPERM:
          return RecordSkipped(EntryType::kSymlink, &st,
                               "permission denied: cannot follow symlink");
        default:
          return RecordSkipped(EntryType::kSymlink, &st,
                               std::string("cannot follow symlink: ") + std::strerror(err));
      }
    }
    link_st = st;
    st = target;
    type = target.type;
    via_link = true;
  }

  const bool is_dir = type == EntryType::kDirectory;
  if ((!checked || checked_as_dir != is_dir) && Excluded(is_dir)) return Status::OK();

  switch (type) {
    case EntryType::kFile:
      return RecordFile(st);
    case EntryType::kDirectory:
      return EnterDir(have_stat ? &st : nullptr, via_link, via_link ? &link_st : nullptr);
    default:
      return RecordSkipped(type, &st, SkipReasonForType(type));
  }
}

Status Scanner::EnterDir(const FileStat* st, bool via_link, const FileStat* link_st) {
  uint64_t dev = st != nullptr ? st->dev : 0;
  uint64_t inode = st != nullptr ? st->inode : 0;
  if (opts_.one_file_system && st != nullptr && st->dev != root_dev_) {
    return RecordSkipped(EntryType::kDirectory, st, "on another file system (not crossed)");
  }
  if (via_link) {
    for (size_t i = 0; i < depth_; ++i) {
      if (stack_[i].dev == dev && stack_[i].inode == inode) {
        return RecordSkipped(EntryType::kSymlink, link_st, "symlink loop (not followed)");
      }
    }
  }
  Status ls = PushFrame(dev, inode);
  if (ls.ok() || IsGone(ls)) return Status::OK();
  if (ls.kind() == ErrorKind::kPermissionDenied) {
    return RecordSkipped(EntryType::kDirectory, st, "permission denied: cannot list directory");
  }
  return RecordSkipped(EntryType::kDirectory, st, "cannot list directory: " + ls.message());
}

Status Scanner::PushFrame(uint64_t dev, uint64_t inode) {
  if (stack_.size() == depth_) stack_.emplace_back();
  Frame& f = stack_[depth_];
  f.entries.clear();
  CK_RETURN_IF_ERROR(env_->ListDir(path_, &f.entries));
  std::sort(f.entries.begin(), f.entries.end(), PathOrderLess);
  f.next = 0;
  if (path_.back() != '/') path_.push_back('/');
  f.prefix_len = path_.size();
  f.dev = dev;
  f.inode = inode;
  ++depth_;
  ++progress_.dirs;
  return Status::OK();
}

Status Scanner::RecordFile(const FileStat& st) {
  entry_.rel_path.assign(Rel());
  entry_.type = EntryType::kFile;
  entry_.size = st.size;
  entry_.mtime_ns = st.mtime_ns;
  entry_.inode = st.inode;
  entry_.skip_reason.clear();
  ++stats_.files;
  stats_.bytes += st.size;
  return batch_->Add(entry_);
}

Status Scanner::RecordSkipped(EntryType type, const FileStat* st, std::string_view reason) {
  entry_.rel_path.assign(Rel());
  entry_.type = type;
  entry_.size = st != nullptr ? st->size : 0;
  entry_.mtime_ns = st != nullptr ? st->mtime_ns : 0;
  entry_.inode = st != nullptr ? st->inode : 0;
  entry_.skip_reason.assign(reason);
  ++stats_.skipped;
  return batch_->Add(entry_);
}

void Scanner::MaybeReportProgress() {
  if (!opts_.progress || opts_.progress_every == 0 ||
      progress_.entries % opts_.progress_every != 0) {
    return;
  }
  progress_.files = stats_.files;
  progress_.bytes = stats_.bytes;
  progress_.skipped = stats_.skipped;
  // The directory of the entry just visited, or of the newly pushed frame.
  size_t dir_end = depth_ > 0 ? stack_[depth_ - 1].prefix_len : base_len_;
  progress_.current_dir = dir_end > base_len_
                              ? std::string_view(path_).substr(base_len_, dir_end - base_len_ - 1)
                              : std::string_view();
  opts_.progress(progress_);
}

}  // namespace

Result<ScanStats> ScanSource(const SourceConfig& src, Env* env, ScanBatch* batch,
                             const ScanOptions& opts) {
  auto excludes = GlobSet::Make(src.exclude);
  if (!excludes.ok()) return excludes.status().WithContext("source " + src.path);
  Scanner scanner(src, env, batch, opts, std::move(excludes).value());
  return scanner.Run();
}

}  // namespace ck
