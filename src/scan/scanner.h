// Scanner: walks one source tree and reports every entry to a ScanBatch.
//
// What is recorded (one ScanBatch::Add per entry, '/'-separated path relative
// to the source root, raw name bytes, not necessarily UTF-8):
//   - regular files: type kFile, size, mtime_ns, inode; empty skip_reason.
//   - symlinks (when not followed), FIFOs, sockets, block and character
//     devices and unknown types: their own type and lstat data, with
//     skip_reason "symlink (not followed)", "fifo", "socket", "block device",
//     "character device" or "unsupported file type".
//   - directories are not recorded themselves (only their contents), except a
//     directory that is not descended for a reason other than an exclude:
//       "permission denied: cannot list directory"
//       "cannot list directory: <error>"           (other I/O errors)
//       "on another file system (not crossed)"    (one_file_system)
//   - an entry whose lstat fails for a reason other than vanishing:
//       "permission denied: cannot stat" / "cannot stat: <error>"
//   - with follow_symlinks: a symlink whose target is missing ("symlink target
//     missing"), whose target is a directory already being walked above it
//     ("symlink loop (not followed)") or that cannot be resolved ("symlink
//     loop" for ELOOP, "cannot follow symlink: <error>") is recorded as a
//     skipped kSymlink.
// What is not recorded:
//   - paths matching src.exclude (see util/glob.h); an excluded directory is
//     not listed at all, so nothing below it is seen;
//   - entries that vanish between being listed and being examined, and
//     directories that vanish before they are listed.
//
// Order: depth first (a subdirectory is walked completely when it is
// reached), the entries of a directory sorted so that relative paths come in
// ascending byte order: a directory's name sorts as if it ended in '/'
// ("a.txt", "a/x", "a0"). ScanBatch relies on this for a cheap merge with
// the recorded rows, but only for speed: two cases arrive out of order and
// cost it a lookup each - a directory recorded itself (unreadable, other file
// system) comes after the entries between "name" and "name/", and with
// follow_symlinks a link to a directory sorts as a file. The walk is
// iterative (no recursion limit) and deterministic.
//
// Symlinks: with src.follow_symlinks=false (the default) no symlink is
// followed. With true, a symlink to a file is recorded under the link's path
// with the target's type and stat; a symlink to a directory is walked under
// the link's path. A symlink whose target is a directory on the current walk
// path (same dev and inode as the directory or one of its ancestors) is not
// walked, so loops terminate. A directory reachable through several links is
// walked once per path. Excludes are tested against the target's type
// (a link to a directory matches "name/").
//
// File system access goes through env->ListDir and env->Lstat, so tests can
// inject faults; the one exception is resolving a symlink's target when
// follow_symlinks is true (and a source root that is itself a symlink), which
// uses stat(2) directly because Env has no following stat.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "config/config.h"
#include "state/state_store.h"
#include "util/env.h"
#include "util/result.h"

namespace ck {

// Running totals passed to ScanOptions::progress.
struct ScanProgress {
  uint64_t entries = 0;  // directory entries examined so far (including excluded)
  uint64_t dirs = 0;     // directories listed so far (including the root)
  uint64_t files = 0;    // regular files recorded
  uint64_t bytes = 0;    // their total size
  uint64_t skipped = 0;  // entries recorded with a skip reason
  // Relative path of the directory being walked ("" for the root). Valid only
  // during the callback.
  std::string_view current_dir;
};

struct ScanOptions {
  // Called on the scanning thread after every `progress_every` examined
  // entries (and not at all if empty or progress_every is 0).
  std::function<void(const ScanProgress&)> progress;
  uint64_t progress_every = 10000;
  // When non-null and set to true (by any thread), the scan stops soon and
  // returns kCancelled.
  std::atomic<bool>* cancel = nullptr;
  // Do not descend into directories on a different device than the root;
  // such directories are recorded as skipped.
  bool one_file_system = false;
};

// Walks the tree rooted at src.path (absolute) and Adds every entry to
// `batch`. Does NOT call batch->Commit(): the caller commits only after an OK
// return. After an error or cancellation the batch holds only part of the
// tree and must be dropped, because committing it would mark every file not
// yet seen as removed.
//
// Returns stats with files, bytes and skipped filled in (the other fields are
// for Commit to fill). Errors:
//   kNotFound / kVanished: src.path does not exist;
//   kInvalidArgument: src.path is not absolute, not a directory, or src.exclude
//     holds an invalid pattern;
//   kPermissionDenied / kIo: the root itself cannot be examined or listed;
//   kCancelled: opts.cancel was set;
//   any error returned by batch->Add.
// Problems below the root (unreadable directories, vanished entries, ...) do
// not fail the scan; see the file comment.
Result<ScanStats> ScanSource(const SourceConfig& src, Env* env, ScanBatch* batch,
                             const ScanOptions& opts = {});

}  // namespace ck
