#include "scan/scanner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ck {
namespace {

namespace fs = std::filesystem;

// A ScanBatch that keeps what it is given, in order.
class FakeBatch : public ScanBatch {
 public:
  Status Add(const ScanEntry& e) override {
    ++adds;
    if (fail_on_add != 0 && adds == fail_on_add) return IoError("injected add failure");
    entries.push_back(e);
    return Status::OK();
  }
  Result<ScanStats> Commit() override {
    ++commits;
    return ScanStats{};
  }

  std::vector<std::string> Paths() const {
    std::vector<std::string> out;
    for (const auto& e : entries) out.push_back(e.rel_path);
    return out;
  }
  const ScanEntry* Find(const std::string& rel) const {
    for (const auto& e : entries) {
      if (e.rel_path == rel) return &e;
    }
    return nullptr;
  }

  std::vector<ScanEntry> entries;
  int adds = 0;
  int fail_on_add = 0;  // 1-based index of the Add that fails; 0 = never
  int commits = 0;
};

// An EnvWrapper over the real file system that records calls and injects faults.
class FaultEnv : public EnvWrapper {
 public:
  FaultEnv() : EnvWrapper(Env::Default()) {}

  Result<FileStat> Lstat(const std::string& p) override {
    lstated.push_back(p);
    if (auto it = lstat_errors.find(p); it != lstat_errors.end()) return it->second;
    if (auto it = fake_stats.find(p); it != fake_stats.end()) return it->second;
    auto r = target()->Lstat(p);
    if (r.ok()) {
      if (auto it = dev_override.find(p); it != dev_override.end()) r->dev = it->second;
    }
    return r;
  }
  Status ListDir(const std::string& p, std::vector<DirEntry>* out) override {
    listed.push_back(p);
    if (auto it = list_errors.find(p); it != list_errors.end()) return it->second;
    Status st = target()->ListDir(p, out);
    if (!st.ok()) return st;
    if (auto it = extra_entries.find(p); it != extra_entries.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
    }
    for (auto& e : *out) {
      if (unknown_types) e.type = EntryType::kOther;
      if (auto it = listed_types.find(p + "/" + e.name); it != listed_types.end()) {
        e.type = it->second;
      }
    }
    if (after_list) after_list(p);
    return st;
  }

  bool WasListed(const std::string& p) const {
    return std::find(listed.begin(), listed.end(), p) != listed.end();
  }
  bool WasLstated(const std::string& p) const {
    return std::find(lstated.begin(), lstated.end(), p) != lstated.end();
  }

  std::map<std::string, Status> list_errors;
  std::map<std::string, Status> lstat_errors;
  std::map<std::string, FileStat> fake_stats;
  std::map<std::string, uint64_t> dev_override;
  std::map<std::string, std::vector<DirEntry>> extra_entries;
  std::map<std::string, EntryType> listed_types;  // path -> type ListDir reports
  std::function<void(const std::string&)> after_list;
  bool unknown_types = false;
  std::vector<std::string> listed;
  std::vector<std::string> lstated;
};

class ScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ck_scan_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    root_ = tmpl;
    src_.path = root_;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string P(const std::string& rel) const { return root_ + "/" + rel; }
  void MkDir(const std::string& rel) { ASSERT_EQ(::mkdir(P(rel).c_str(), 0755), 0) << rel; }
  void Write(const std::string& rel, const std::string& data) {
    int fd = ::open(P(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << rel << ": " << std::strerror(errno);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  void Symlink(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), P(rel).c_str()), 0) << rel << ": " << std::strerror(errno);
  }
  struct stat Stat(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(::stat(P(rel).c_str(), &st), 0) << rel;
    return st;
  }

  Result<ScanStats> Scan(Env* env, const ScanOptions& opts = {}) {
    return ScanSource(src_, env, &batch_, opts);
  }

  std::string root_;
  SourceConfig src_;
  FakeBatch batch_;
};

using Paths = std::vector<std::string>;

TEST_F(ScannerTest, NestedDirsRecordFilesWithStat) {
  MkDir("a");
  MkDir("a/b");
  MkDir("empty");
  Write("a/b/c.txt", "hello");
  Write("a/x.txt", "1234567");
  Write("top.txt", "");
  FaultEnv env;
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();

  // Directories are not recorded; files in depth-first, byte-sorted order.
  EXPECT_EQ(batch_.Paths(), (Paths{"a/b/c.txt", "a/x.txt", "top.txt"}));
  for (const auto& e : batch_.entries) {
    struct stat st = Stat(e.rel_path);
    EXPECT_EQ(e.type, EntryType::kFile) << e.rel_path;
    EXPECT_EQ(e.size, static_cast<uint64_t>(st.st_size)) << e.rel_path;
    EXPECT_EQ(e.inode, static_cast<uint64_t>(st.st_ino)) << e.rel_path;
    EXPECT_EQ(e.mtime_ns, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec) << e.rel_path;
    EXPECT_TRUE(e.skip_reason.empty()) << e.rel_path;
  }
  EXPECT_EQ(batch_.Find("a/b/c.txt")->size, 5u);
  EXPECT_EQ(stats->files, 3u);
  EXPECT_EQ(stats->bytes, 12u);
  EXPECT_EQ(stats->skipped, 0u);
  EXPECT_EQ(batch_.commits, 0) << "the caller commits, not the scanner";
  // Without follow_symlinks / one_file_system, directories are not lstat'd
  // (d_type suffices); files are.
  EXPECT_FALSE(env.WasLstated(P("a")));
  EXPECT_FALSE(env.WasLstated(P("a/b")));
  EXPECT_TRUE(env.WasLstated(P("a/x.txt")));
  EXPECT_TRUE(env.WasListed(P("empty")));
}

TEST_F(ScannerTest, OrderIsByteOrderDepthFirst) {
  MkDir("a");
  Write("a/z", "");
  Write("a-1", "");
  Write("B", "");
  Write("b", "");
  Write("\xc3\xa9", "");  // é sorts after ASCII by byte value
  MkDir("c");
  MkDir("c/d");
  Write("c/d/e", "");
  Write("c/a", "");
  ASSERT_TRUE(Scan(Env::Default()).ok());
  // "a-1" < "a/z": '-' sorts before '/'.
  EXPECT_EQ(batch_.Paths(), (Paths{"B", "a-1", "a/z", "b", "c/a", "c/d/e", "\xc3\xa9"}));
}

TEST_F(ScannerTest, PathsComeInAscendingByteOrder) {
  // Names that sort differently by name than by full path: a directory "x"
  // beside files "x.txt", "x-y", "x y", "x0" and a directory "x.d".
  MkDir("x");
  Write("x/in", "");
  MkDir("x/sub");
  Write("x/sub/deep", "");
  Write("x/sub.txt", "");
  Write("x.txt", "");
  Write("x-y", "");
  Write("x y", "");
  Write("x0", "");
  MkDir("x.d");
  Write("x.d/f", "");
  Write("x!", "");
  ASSERT_TRUE(Scan(Env::Default()).ok());
  Paths got = batch_.Paths();
  Paths sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(got, sorted);
  EXPECT_EQ(got,
            (Paths{"x y", "x!", "x-y", "x.d/f", "x.txt", "x/in", "x/sub.txt", "x/sub/deep", "x0"}));
}

TEST_F(ScannerTest, ExcludedPathsAreNotRecordedAndDirsAreNotListed) {
  MkDir("src");
  Write("src/main.cc", "x");
  Write("src/main.o", "x");
  Write("scratch.tmp", "x");
  MkDir("cache");  // "cache/": any directory named cache
  Write("cache/big", "x");
  MkDir("src/cache");
  Write("src/cache/big", "x");
  Write("src/notes", "x");
  MkDir("src/notes.d");
  Write("src/notes.d/cache", "x");  // a file named cache: kept (dir-only pattern)
  MkDir("build");
  MkDir("build/out");
  Write("build/out/bin", "x");
  Write("build/keep.txt", "x");
  MkDir("web");
  MkDir("web/node_modules");
  Write("web/node_modules/pkg.js", "x");
  MkDir("node_modules");
  Write("node_modules/root.js", "x");
  src_.exclude = {"*.tmp", "*.o", "cache/", "/build/out/**", "**/node_modules"};

  FaultEnv env;
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(),
            (Paths{"build/keep.txt", "src/main.cc", "src/notes", "src/notes.d/cache"}));
  EXPECT_EQ(stats->files, 4u);
  for (const char* pruned :
       {"cache", "src/cache", "build/out", "web/node_modules", "node_modules"}) {
    EXPECT_FALSE(env.WasListed(P(pruned))) << pruned;
  }
  for (const char* excluded : {"scratch.tmp", "src/main.o"}) {
    EXPECT_FALSE(env.WasLstated(P(excluded))) << excluded;
  }
  EXPECT_TRUE(env.WasListed(P("web")));
}

TEST_F(ScannerTest, InvalidExcludePatternFailsBeforeScanning) {
  Write("f", "");
  src_.exclude = {"ok", "[unclosed"};
  FaultEnv env;
  auto stats = Scan(&env);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(stats.status().message().find("[unclosed"), std::string::npos);
  EXPECT_TRUE(batch_.entries.empty());
  EXPECT_TRUE(env.listed.empty());
}

TEST_F(ScannerTest, SpecialFilesAreRecordedAsSkipped) {
  Write("file", "data");
  MkDir("dir");
  Write("dir/inner", "x");
  Symlink("file", "link_file");
  Symlink("dir", "link_dir");
  Symlink("nowhere", "link_dangling");
  ASSERT_EQ(::mkfifo(P("fifo").c_str(), 0644), 0) << std::strerror(errno);
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock_path = P("sock");
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << std::strerror(errno);
  ::close(sock);
  // Devices need privileges to create; inject them through the Env instead.
  FaultEnv env;
  env.extra_entries[root_] = {{"blk", EntryType::kBlockDevice}, {"chr", EntryType::kCharDevice}};
  FileStat dev_st;
  dev_st.type = EntryType::kBlockDevice;
  dev_st.inode = 77;
  env.fake_stats[P("blk")] = dev_st;
  dev_st.type = EntryType::kCharDevice;
  dev_st.inode = 78;
  env.fake_stats[P("chr")] = dev_st;

  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{"blk", "chr", "dir/inner", "fifo", "file", "link_dangling",
                                   "link_dir", "link_file", "sock"}));
  struct Want {
    const char* path;
    EntryType type;
    const char* reason;
  };
  for (const Want& w : std::vector<Want>{
           {"blk", EntryType::kBlockDevice, "block device"},
           {"chr", EntryType::kCharDevice, "character device"},
           {"fifo", EntryType::kFifo, "fifo"},
           {"sock", EntryType::kSocket, "socket"},
           {"link_file", EntryType::kSymlink, "symlink (not followed)"},
           {"link_dir", EntryType::kSymlink, "symlink (not followed)"},
           {"link_dangling", EntryType::kSymlink, "symlink (not followed)"},
           {"file", EntryType::kFile, ""},
       }) {
    const ScanEntry* e = batch_.Find(w.path);
    ASSERT_NE(e, nullptr) << w.path;
    EXPECT_EQ(e->type, w.type) << w.path;
    EXPECT_EQ(e->skip_reason, w.reason) << w.path;
  }
  EXPECT_EQ(batch_.Find("chr")->inode, 78u);
  struct stat lst {};
  ASSERT_EQ(::lstat(P("link_file").c_str(), &lst), 0);
  EXPECT_EQ(batch_.Find("link_file")->inode, static_cast<uint64_t>(lst.st_ino));
  EXPECT_FALSE(env.WasListed(P("link_dir")));
  EXPECT_EQ(stats->files, 2u);
  EXPECT_EQ(stats->bytes, 5u);
  EXPECT_EQ(stats->skipped, 7u);
}

TEST_F(ScannerTest, UnlistableDirectoryIsSkippedAndScanContinues) {
  MkDir("a");
  Write("a/f", "");
  MkDir("locked");
  Write("locked/secret", "");
  MkDir("broken");
  Write("broken/x", "");
  Write("z.txt", "");
  FaultEnv env;  // root ignores chmod, so deny through the Env
  env.list_errors[P("locked")] = ErrnoStatus(EACCES, "open directory " + P("locked"));
  env.list_errors[P("broken")] = ErrnoStatus(EIO, "read directory " + P("broken"));
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{"a/f", "broken", "locked", "z.txt"}));
  const ScanEntry* locked = batch_.Find("locked");
  EXPECT_EQ(locked->type, EntryType::kDirectory);
  EXPECT_EQ(locked->skip_reason, "permission denied: cannot list directory");
  const ScanEntry* broken = batch_.Find("broken");
  EXPECT_EQ(broken->type, EntryType::kDirectory);
  EXPECT_EQ(broken->skip_reason.rfind("cannot list directory: ", 0), 0u) << broken->skip_reason;
  EXPECT_NE(broken->skip_reason.find("Input/output error"), std::string::npos);
  EXPECT_EQ(stats->files, 2u);
  EXPECT_EQ(stats->skipped, 2u);
}

TEST_F(ScannerTest, UnstatableFileIsSkipped) {
  Write("a", "");
  Write("b", "");
  FaultEnv env;
  env.lstat_errors[P("a")] = ErrnoStatus(EACCES, "lstat " + P("a"));
  env.lstat_errors[P("b")] = ErrnoStatus(EIO, "lstat " + P("b"));
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(batch_.Paths(), (Paths{"a", "b"}));
  EXPECT_EQ(batch_.entries[0].skip_reason, "permission denied: cannot stat");
  EXPECT_EQ(batch_.entries[1].skip_reason.rfind("cannot stat: ", 0), 0u);
  EXPECT_EQ(stats->files, 0u);
  EXPECT_EQ(stats->skipped, 2u);
}

TEST_F(ScannerTest, EntriesThatVanishMidScanAreNotRecorded) {
  Write("before", "");
  Write("gone.txt", "x");
  MkDir("gonedir");
  Write("gonedir/f", "");
  MkDir("keep");
  Write("keep/f", "");
  FaultEnv env;
  // The root is listed with gone.txt and gonedir present, then they vanish.
  env.after_list = [&](const std::string& p) {
    if (p != root_) return;
    fs::remove(P("gone.txt"));
    fs::remove_all(P("gonedir"));
  };
  // A file that is gone by the time it is examined.
  env.lstat_errors[P("keep/f")] = NotFound(P("keep/f") + ": no such file or directory");
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{"before"}));
  EXPECT_TRUE(env.WasListed(P("gonedir")));
  EXPECT_EQ(stats->files, 1u);
  EXPECT_EQ(stats->skipped, 0u);
}

TEST_F(ScannerTest, NonUtf8NamesArePreservedByteForByte) {
  const std::string bad_file = "bad\xff.txt";
  const std::string bad_dir = "d\xfe\x80";
  Write(bad_file, "x");
  MkDir(bad_dir);
  Write(bad_dir + "/in\xc0\xaf", "yy");
  src_.exclude = {"*.skip"};
  ASSERT_TRUE(Scan(Env::Default()).ok());
  EXPECT_EQ(batch_.Paths(), (Paths{bad_file, bad_dir + "/in\xc0\xaf"}));
  EXPECT_EQ(batch_.Find(bad_dir + "/in\xc0\xaf")->size, 2u);
}

TEST_F(ScannerTest, DeepTreeOfAThousandLevels) {
  std::string rel;
  for (int i = 0; i < 1000; ++i) {
    rel += (i == 0 ? "d" : "/d");
    MkDir(rel);
  }
  Write(rel + "/leaf.txt", "leaf");
  Write("d/top.txt", "t");
  auto stats = Scan(Env::Default());
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{rel + "/leaf.txt", "d/top.txt"}));
  EXPECT_EQ(stats->files, 2u);
}

TEST_F(ScannerTest, EmptySource) {
  FaultEnv env;
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_TRUE(batch_.entries.empty());
  EXPECT_EQ(stats->files, 0u);
  EXPECT_EQ(stats->bytes, 0u);
  EXPECT_EQ(stats->skipped, 0u);
  EXPECT_EQ(env.listed, (Paths{root_}));
}

TEST_F(ScannerTest, RootTrailingSlashAndSymlinkedRoot) {
  MkDir("real");
  Write("real/f", "abc");
  Symlink("real", "alias");
  src_.path = P("real") + "/";
  ASSERT_TRUE(Scan(Env::Default()).ok());
  EXPECT_EQ(batch_.Paths(), (Paths{"f"}));
  batch_.entries.clear();
  src_.path = P("alias");  // a root that is a symlink is followed
  ASSERT_TRUE(Scan(Env::Default()).ok());
  EXPECT_EQ(batch_.Paths(), (Paths{"f"}));
}

TEST_F(ScannerTest, RootErrors) {
  Write("file", "");
  struct Case {
    std::string path;
    ErrorKind kind;
  };
  for (const Case& c : std::vector<Case>{
           {P("missing"), ErrorKind::kNotFound},
           {P("file"), ErrorKind::kInvalidArgument},
           {"relative/path", ErrorKind::kInvalidArgument},
           {"", ErrorKind::kInvalidArgument},
       }) {
    src_.path = c.path;
    auto stats = Scan(Env::Default());
    ASSERT_FALSE(stats.ok()) << c.path;
    EXPECT_EQ(stats.status().kind(), c.kind) << c.path << ": " << stats.status().ToString();
  }
  // A root that cannot be listed fails the scan instead of recording it.
  src_.path = root_;
  FaultEnv env;
  env.list_errors[root_] = ErrnoStatus(EACCES, "open directory " + root_);
  auto stats = Scan(&env);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().kind(), ErrorKind::kPermissionDenied);
  EXPECT_TRUE(batch_.entries.empty());
}

TEST_F(ScannerTest, UnknownDirentTypesFallBackToLstat) {
  MkDir("a");
  Write("a/f", "12");
  MkDir("skipme");
  Write("skipme/f", "");
  Write("x.tmp", "");
  ASSERT_EQ(::mkfifo(P("fifo").c_str(), 0644), 0);
  src_.exclude = {"skipme/", "*.tmp"};
  FaultEnv env;
  env.unknown_types = true;  // as on file systems without d_type
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{"a/f", "fifo"}));
  EXPECT_EQ(batch_.Find("fifo")->skip_reason, "fifo");
  EXPECT_EQ(batch_.Find("a/f")->size, 2u);
  EXPECT_FALSE(env.WasListed(P("skipme")));
}

TEST_F(ScannerTest, TypeChangedSinceListingIsRecheckedAgainstExcludes) {
  // "cache" was a file when the directory was read and is a directory by the
  // time it is examined: the directory-only exclude must still apply.
  MkDir("cache");
  Write("cache/f", "");
  MkDir("other");
  Write("other/f", "");
  src_.exclude = {"cache/"};
  FaultEnv env;
  env.listed_types[P("cache")] = EntryType::kFile;
  env.listed_types[P("other")] = EntryType::kFile;
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{"other/f"}));
  EXPECT_FALSE(env.WasListed(P("cache")));
}

TEST_F(ScannerTest, FollowSymlinksWithLoops) {
  MkDir("a");
  Write("a/file.txt", "abc");
  Symlink("..", "a/up");           // -> root: an ancestor
  Symlink(".", "a/self");          // -> a itself
  Symlink("a", "link_to_a");       // a second path to a
  Symlink("a/file.txt", "flink");  // -> a file
  Symlink("nowhere", "dangling");
  Symlink("selfloop", "selfloop");  // ELOOP
  MkDir("x");
  MkDir("y");
  Symlink("../y", "x/to_y");  // x/to_y/to_x leads back to x
  Symlink("../x", "y/to_x");
  src_.follow_symlinks = true;
  FaultEnv env;
  auto stats = Scan(&env);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(),
            (Paths{"a/file.txt", "a/self", "a/up", "dangling", "flink", "link_to_a/file.txt",
                   "link_to_a/self", "link_to_a/up", "selfloop", "x/to_y/to_x", "y/to_x/to_y"}));
  const std::string kLoop = "symlink loop (not followed)";
  for (const char* p :
       {"a/self", "a/up", "link_to_a/self", "link_to_a/up", "x/to_y/to_x", "y/to_x/to_y"}) {
    EXPECT_EQ(batch_.Find(p)->skip_reason, kLoop) << p;
    EXPECT_EQ(batch_.Find(p)->type, EntryType::kSymlink) << p;
  }
  EXPECT_EQ(batch_.Find("dangling")->skip_reason, "symlink target missing");
  EXPECT_EQ(batch_.Find("selfloop")->skip_reason, "symlink loop");
  const ScanEntry* flink = batch_.Find("flink");
  EXPECT_EQ(flink->type, EntryType::kFile);
  EXPECT_TRUE(flink->skip_reason.empty());
  EXPECT_EQ(flink->size, 3u);
  EXPECT_EQ(flink->inode, static_cast<uint64_t>(Stat("a/file.txt").st_ino));
  EXPECT_EQ(stats->files, 3u);
  EXPECT_EQ(stats->bytes, 9u);
  EXPECT_EQ(stats->skipped, 8u);
}

TEST_F(ScannerTest, FollowedSymlinkToDirMatchesDirectoryExcludes) {
  MkDir("real");
  Write("real/f", "");
  Symlink("real", "cache");
  src_.follow_symlinks = true;
  src_.exclude = {"cache/"};
  ASSERT_TRUE(Scan(Env::Default()).ok());
  EXPECT_EQ(batch_.Paths(), (Paths{"real/f"}));
}

TEST_F(ScannerTest, OneFileSystemDoesNotCrossDevices) {
  MkDir("local");
  Write("local/f", "");
  MkDir("mnt");
  Write("mnt/f", "");
  FaultEnv env;
  auto real = env.target()->Lstat(P("mnt"));
  ASSERT_TRUE(real.ok());
  env.dev_override[P("mnt")] = real->dev + 1;

  ScanOptions opts;
  opts.one_file_system = true;
  auto stats = Scan(&env, opts);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(batch_.Paths(), (Paths{"local/f", "mnt"}));
  EXPECT_EQ(batch_.Find("mnt")->skip_reason, "on another file system (not crossed)");
  EXPECT_FALSE(env.WasListed(P("mnt")));

  batch_.entries.clear();
  auto crossing = Scan(&env);
  ASSERT_TRUE(crossing.ok());
  EXPECT_EQ(batch_.Paths(), (Paths{"local/f", "mnt/f"}));
}

TEST_F(ScannerTest, ProgressIsReportedEveryNEntries) {
  MkDir("d");
  for (int i = 0; i < 9; ++i) Write("d/f" + std::to_string(i), "x");
  std::vector<uint64_t> seen_entries;
  std::vector<std::string> seen_dirs;
  ScanOptions opts;
  opts.progress_every = 4;
  opts.progress = [&](const ScanProgress& p) {
    seen_entries.push_back(p.entries);
    seen_dirs.emplace_back(p.current_dir);
    EXPECT_LE(p.files, p.entries);
    EXPECT_EQ(p.bytes, p.files);
  };
  auto stats = Scan(Env::Default(), opts);
  ASSERT_TRUE(stats.ok());
  // 10 entries in all: "d" and its 9 files.
  EXPECT_EQ(seen_entries, (std::vector<uint64_t>{4, 8}));
  EXPECT_EQ(seen_dirs, (Paths{"d", "d"}));
}

TEST_F(ScannerTest, CancelStopsTheScan) {
  for (int i = 0; i < 50; ++i) Write("f" + std::to_string(i), "");
  std::atomic<bool> cancel{false};
  ScanOptions opts;
  opts.cancel = &cancel;
  opts.progress_every = 10;
  opts.progress = [&](const ScanProgress&) { cancel = true; };
  auto stats = Scan(Env::Default(), opts);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().kind(), ErrorKind::kCancelled);
  EXPECT_EQ(batch_.entries.size(), 10u);

  // Already cancelled: nothing is added.
  batch_.entries.clear();
  auto again = Scan(Env::Default(), opts);
  EXPECT_EQ(again.status().kind(), ErrorKind::kCancelled);
  EXPECT_TRUE(batch_.entries.empty());
}

TEST_F(ScannerTest, BatchAddErrorAbortsTheScan) {
  for (int i = 0; i < 5; ++i) Write("f" + std::to_string(i), "");
  batch_.fail_on_add = 2;
  auto stats = Scan(Env::Default());
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().kind(), ErrorKind::kIo);
  EXPECT_EQ(batch_.adds, 2);
}

// A batch that only counts, so the timing below measures the scanner.
class CountingBatch : public ScanBatch {
 public:
  Status Add(const ScanEntry& e) override {
    ++count;
    bytes += e.size;
    return Status::OK();
  }
  Result<ScanStats> Commit() override { return ScanStats{}; }
  uint64_t count = 0;
  uint64_t bytes = 0;
};

double CpuSeconds(const rusage& a, const rusage& b, bool user) {
  const timeval& x = user ? a.ru_utime : a.ru_stime;
  const timeval& y = user ? b.ru_utime : b.ru_stime;
  return static_cast<double>(y.tv_sec - x.tv_sec) +
         static_cast<double>(y.tv_usec - x.tv_usec) / 1e6;
}

TEST_F(ScannerTest, HundredThousandFilesTiming) {
  constexpr int kDirs = 200;
  constexpr int kPerDir = 500;
  uint64_t want_bytes = 0;
  for (int d = 0; d < kDirs; ++d) {
    std::string dir = "dir" + std::to_string(d);
    MkDir(dir);
    if (d % 10 == 0) MkDir(dir + "/.cache");
    for (int f = 0; f < kPerDir; ++f) {
      std::string path = P(dir + "/file_with_a_longer_name_" + std::to_string(f) + ".dat");
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::ftruncate(fd, f), 0);  // sparse: cheap to create
      want_bytes += static_cast<uint64_t>(f);
      ::close(fd);
    }
  }
  for (bool with_excludes : {false, true}) {
    src_.exclude.clear();
    if (with_excludes) src_.exclude = {"*.tmp", "*.o", ".cache/", "**/node_modules", "/build/**"};
    CountingBatch batch;
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    auto t0 = std::chrono::steady_clock::now();
    auto stats = ScanSource(src_, Env::Default(), &batch);
    auto t1 = std::chrono::steady_clock::now();
    ::getrusage(RUSAGE_SELF, &after);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->files, static_cast<uint64_t>(kDirs * kPerDir));
    EXPECT_EQ(batch.count, static_cast<uint64_t>(kDirs * kPerDir));
    EXPECT_EQ(stats->bytes, want_bytes);
    std::printf("[ timing ] %d files%s: wall %.3f s, user %.3f s, sys %.3f s\n", kDirs * kPerDir,
                with_excludes ? " (5 exclude patterns)" : "",
                std::chrono::duration<double>(t1 - t0).count(), CpuSeconds(before, after, true),
                CpuSeconds(before, after, false));
  }
}

}  // namespace
}  // namespace ck
