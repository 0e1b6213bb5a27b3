// Env: the process's view of time, randomness and files, behind an interface so
// tests can control the clock and inject faults (leveldb-style).
// All methods are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "util/result.h"

namespace ck {

enum class EntryType {
  kFile,
  kDirectory,
  kSymlink,
  kFifo,
  kSocket,
  kBlockDevice,
  kCharDevice,
  kOther
};
std::string_view EntryTypeName(EntryType t);

struct FileStat {
  EntryType type = EntryType::kOther;
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // nanoseconds since the Unix epoch
  uint64_t inode = 0;
  uint64_t dev = 0;
  uint32_t mode = 0;
};

// An open file read with positional reads. Thread-safe (pread).
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to n bytes at offset; returns the count read (0 at end of file).
  virtual Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) = 0;
  // Stat of the open file (fstat), to detect changes while reading.
  virtual Result<FileStat> Stat() = 0;
};

struct DirEntry {
  std::string name;
  EntryType type;  // from d_type when known, else from lstat
};

class Env {
 public:
  virtual ~Env() = default;

  // Wall-clock time, microseconds since the Unix epoch.
  virtual int64_t NowMicros() = 0;
  // Monotonic time, for durations and deadlines.
  virtual std::chrono::steady_clock::time_point SteadyNow() = 0;
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
  // Uniform random 64-bit value.
  virtual uint64_t Random() = 0;

  // lstat(2). kNotFound if the path does not exist, kPermissionDenied on EACCES.
  virtual Result<FileStat> Lstat(const std::string& path) = 0;
  // Lists a directory (without "." and ".."), in no particular order.
  // kNotFound / kPermissionDenied / kIo on failure.
  virtual Status ListDir(const std::string& path, std::vector<DirEntry>* out) = 0;
  // Opens a regular file for reading; a final symlink is followed only when
  // follow_symlinks is true (else opening one fails with kIo).
  // kVanished (gone), kPermissionDenied, kIo.
  virtual Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path,
                                                            bool follow_symlinks) = 0;

  // The real POSIX environment (process-wide singleton).
  static Env* Default();
};

// Env that forwards everything to another Env; subclass it to override a few calls.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  int64_t NowMicros() override { return target_->NowMicros(); }
  std::chrono::steady_clock::time_point SteadyNow() override { return target_->SteadyNow(); }
  void SleepFor(std::chrono::milliseconds d) override { target_->SleepFor(d); }
  uint64_t Random() override { return target_->Random(); }
  Result<FileStat> Lstat(const std::string& p) override { return target_->Lstat(p); }
  Status ListDir(const std::string& p, std::vector<DirEntry>* o) override {
    return target_->ListDir(p, o);
  }
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& p, bool follow) override {
    return target_->OpenForRead(p, follow);
  }
  Env* target() const { return target_; }

 private:
  Env* target_;
};

// Maps an errno value from a file operation on `what` to a Status.
Status ErrnoStatus(int err, const std::string& what);

}  // namespace ck
