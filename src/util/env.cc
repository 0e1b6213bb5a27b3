#include "util/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

namespace ck {

std::string_view EntryTypeName(EntryType t) {
  switch (t) {
    case EntryType::kFile:
      return "file";
    case EntryType::kDirectory:
      return "directory";
    case EntryType::kSymlink:
      return "symlink";
    case EntryType::kFifo:
      return "fifo";
    case EntryType::kSocket:
      return "socket";
    case EntryType::kBlockDevice:
      return "block device";
    case EntryType::kCharDevice:
      return "character device";
    case EntryType::kOther:
      break;
  }
  return "other";
}

Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status(ErrorKind::kVanished, msg);
    case EACCES:
    case EPERM:
      return Status(ErrorKind::kPermissionDenied, what + ": permission denied");
    default:
      return Status(ErrorKind::kIo, msg);
  }
}

namespace {

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

FileStat FromStat(const struct stat& st) {
  FileStat fs;
  fs.type = TypeFromMode(st.st_mode);
  fs.size = static_cast<uint64_t>(st.st_size);
  fs.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  fs.inode = static_cast<uint64_t>(st.st_ino);
  fs.dev = static_cast<uint64_t>(st.st_dev);
  fs.mode = st.st_mode;
  return fs;
}

class PosixFile : public ReadableFile {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read " + path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }
  Result<FileStat> Stat() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoStatus(errno, "fstat " + path_);
    return FromStat(st);
  }

 private:
  int fd_;
  std::string path_;
};

class PosixEnv : public Env {
 public:
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point SteadyNow() override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
  uint64_t Random() override {
    std::lock_guard<std::mutex> l(mu_);
    return rng_();
  }
  Result<FileStat> Lstat(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound(path + ": no such file or directory");
      return ErrnoStatus(errno, "lstat " + path);
    }
    return FromStat(st);
  }
  Status ListDir(const std::string& path, std::vector<DirEntry>* out) override {
    out->clear();
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return NotFound(path + ": no such directory");
      return ErrnoStatus(errno, "open directory " + path);
    }
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      DirEntry de{e->d_name, EntryType::kOther};
      switch (e->d_type) {
        case DT_REG:
          de.type = EntryType::kFile;
          break;
        case DT_DIR:
          de.type = EntryType::kDirectory;
          break;
        case DT_LNK:
          de.type = EntryType::kSymlink;
          break;
        case DT_FIFO:
          de.type = EntryType::kFifo;
          break;
        case DT_SOCK:
          de.type = EntryType::kSocket;
          break;
        case DT_BLK:
          de.type = EntryType::kBlockDevice;
          break;
        case DT_CHR:
          de.type = EntryType::kCharDevice;
          break;
        default: {
          auto st = Lstat(path + "/" + de.name);
          if (st.ok()) de.type = st->type;
        }
      }
      out->push_back(std::move(de));
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return ErrnoStatus(err, "read directory " + path);
    return Status::OK();
  }
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path,
                                                    bool follow_symlinks) override {
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow_symlinks ? 0 : O_NOFOLLOW);
    int fd = ::open(path.c_str(), flags);
    if (fd < 0) return ErrnoStatus(errno, "open " + path);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status(ErrorKind::kIo, path + ": not a regular file");
    }
    // O_NONBLOCK is only there so a FIFO swapped in cannot block open; on a
    // regular file Linux ignores it, so it stays (two syscalls saved per file).
    // Read-ahead hints pay off only for files read in several pieces.
    if (st.st_size >= (1 << 20)) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<ReadableFile>(new PosixFile(fd, path));
  }

 private:
  std::mutex mu_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

}  // namespace ck
