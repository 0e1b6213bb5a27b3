// Micro-benchmarks: SigV4 signing, digest throughput (src/util/hash.h) and state-DB
// updates (src/state SQLite store). bench/run.sh runs them with --benchmark_format=json
// and compares the digests with `openssl speed -evp` on the same machine.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "s3/sigv4.h"
#include "state/state_store.h"
#include "util/env.h"
#include "util/hash.h"

namespace {

// ---------------------------------------------------------------- SigV4
// One PUT as the S3 destination sends it: host, length, MD5, two metadata headers,
// a hex payload hash; derived keys are cached (as in production: one per day).
void BM_SigV4SignPut(benchmark::State& state) {
  ck::SigV4Signer signer({"CKRGWTESTACCESSKEY01", "ckrgwtestsecretkey000000000000000000000001", ""},
                         ck::SigV4Options{});
  const auto now = std::chrono::system_clock::now();
  const std::string payload = ck::HexEncode(ck::Sha256("x"));
  for (auto _ : state) {
    ck::SigV4Request req;
    req.method = "PUT";
    req.path = "/bench-bucket/host1/d00012/f0012345.bin";
    req.headers = {{"Host", "127.0.0.1:7480"},
                   {"Content-Length", "4096"},
                   {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
                   {"x-amz-meta-mtime", "1700000000.000000000"},
                   {"x-amz-meta-sha256", payload}};
    req.payload_hash = payload;
    auto sig = signer.SignHeaders(&req, now);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SigV4SignPut);

// A ListObjectsV2 GET with a query string (canonical query sorting and encoding).
void BM_SigV4SignList(benchmark::State& state) {
  ck::SigV4Signer signer({"CKRGWTESTACCESSKEY01", "ckrgwtestsecretkey000000000000000000000001", ""},
                         ck::SigV4Options{});
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    ck::SigV4Request req;
    req.method = "GET";
    req.path = "/bench-bucket";
    req.query = "list-type=2&prefix=host1%2F&continuation-token=abcdef0123456789&max-keys=1000";
    req.headers = {{"Host", "127.0.0.1:7480"}};
    auto sig = signer.SignHeaders(&req, now);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SigV4SignList);

// ---------------------------------------------------------------- digests
template <ck::DigestAlgo A>
void BM_Digest(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::string buf(n, '\0');
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>(i * 131 + 7);
  ck::Hasher h(A);
  for (auto _ : state) {
    h.Update(buf.data(), buf.size());
    benchmark::DoNotOptimize(h.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_Digest<ck::DigestAlgo::kMd5>)->Name("BM_Md5")->Arg(4096)->Arg(16384)->Arg(1 << 20);
BENCHMARK(BM_Digest<ck::DigestAlgo::kSha1>)->Name("BM_Sha1")->Arg(4096)->Arg(16384)->Arg(1 << 20);
BENCHMARK(BM_Digest<ck::DigestAlgo::kSha256>)
    ->Name("BM_Sha256")
    ->Arg(4096)
    ->Arg(16384)
    ->Arg(1 << 20);

// All three digests over the same buffer, as an upload computes them in one read pass.
void BM_Md5Sha1Sha256OnePass(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::string buf(n, '\x5a');
  ck::Hasher md5(ck::DigestAlgo::kMd5), sha1(ck::DigestAlgo::kSha1),
      sha256(ck::DigestAlgo::kSha256);
  for (auto _ : state) {
    md5.Update(buf.data(), n);
    sha1.Update(buf.data(), n);
    sha256.Update(buf.data(), n);
    benchmark::DoNotOptimize(md5.Finish());
    benchmark::DoNotOptimize(sha1.Finish());
    benchmark::DoNotOptimize(sha256.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
BENCHMARK(BM_Md5Sha1Sha256OnePass)->Arg(1 << 20);

// ---------------------------------------------------------------- state DB
std::string TempDbPath(const char* tag) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ck-micro-" +
                    std::to_string(::getpid()) + "-" + tag;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/state.db";
}

std::unique_ptr<ck::StateStore> OpenStore(const std::string& path) {
  auto st = ck::OpenSqliteStore({.path = path}, ck::Env::Default());
  if (!st.ok()) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), st.status().message().c_str());
    std::abort();
  }
  return std::move(st).value();
}

ck::ScanEntry Entry(int64_t i, int64_t gen) {
  ck::ScanEntry e;
  char name[64];
  std::snprintf(name, sizeof name, "d%05lld/f%07lld.bin", static_cast<long long>(i / 1000),
                static_cast<long long>(i));
  e.rel_path = name;
  e.size = 4096;
  e.mtime_ns = (1700000000 + i) * 1000000000LL + gen;
  e.inode = static_cast<uint64_t>(i + 1);
  return e;
}

// A full scan of N files (first: all new; later iterations: all unchanged), in entries/s.
void BM_StateScan(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool first = state.range(1) != 0;
  std::string path = TempDbPath(first ? "scan-new" : "scan-same");
  auto store = OpenStore(path);
  if (!first) {
    auto b = store->BeginScan("/bench/src").value();
    for (int64_t i = 0; i < n; ++i) (void)b->Add(Entry(i, 0));
    (void)b->Commit();
  }
  int64_t gen = 0;
  for (auto _ : state) {
    if (first) {
      state.PauseTiming();
      store.reset();
      std::filesystem::remove_all(std::filesystem::path(path).parent_path());
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      store = OpenStore(path);
      state.ResumeTiming();
    }
    auto b = store->BeginScan("/bench/src").value();
    for (int64_t i = 0; i < n; ++i) (void)b->Add(Entry(i, 0));
    auto stats = b->Commit();
    benchmark::DoNotOptimize(stats);
    ++gen;
  }
  state.SetItemsProcessed(state.iterations() * n);
  store.reset();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_StateScan)
    ->ArgNames({"files", "new"})
    ->Args({100000, 1})
    ->Args({100000, 0})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// Recording confirmed uploads, in files/s: groups of `group` files per
// transaction (MarkSyncedMany). 256 is the engine's group commit for small
// files; 1 is one transaction per file, what a multipart completion costs.
void BM_StateMarkSynced(benchmark::State& state) {
  const int64_t n = 20000;
  const size_t group = static_cast<size_t>(state.range(0));
  std::string path = TempDbPath("mark");
  auto store = OpenStore(path);
  {
    auto b = store->BeginScan("/bench/src").value();
    for (int64_t i = 0; i < n; ++i) (void)b->Add(Entry(i, 0));
    (void)b->Commit();
    (void)store->EnsureDestination("s3");
  }
  std::vector<ck::SyncedRecord> records;
  const auto work = store->ListWork("s3", 5, 0, static_cast<size_t>(n)).value();
  for (const ck::WorkItem& w : work) {
    ck::SyncedInfo info;
    info.key = w.rel_path;
    info.etag = "0123456789abcdef0123456789abcdef";
    info.size = w.size;
    info.mtime_ns = w.mtime_ns;
    info.inode = w.inode;
    info.md5_hex = info.etag;
    info.sha256_hex = std::string(ck::kEmptySha256Hex);
    records.push_back({w.file_id, std::move(info)});
  }
  std::vector<ck::SyncedRecord> batch(group);
  size_t k = 0;
  for (auto _ : state) {
    for (auto& r : batch) r = records[k++ % records.size()];
    benchmark::DoNotOptimize(store->MarkSyncedMany("s3", batch));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(group));
  store.reset();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}
BENCHMARK(BM_StateMarkSynced)->ArgName("group")->Arg(1)->Arg(256);

}  // namespace

BENCHMARK_MAIN();
