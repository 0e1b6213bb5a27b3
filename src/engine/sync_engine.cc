#include "engine/sync_engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "scan/scanner.h"
#include "util/encoding.h"
#include "util/hash.h"
#include "util/thread_pool.h"

namespace ck {

std::vector<EngineDestination> EngineDestinationsFor(
    const std::vector<DestinationHandle>& handles) {
  std::vector<EngineDestination> out;
  for (const auto& h : handles) {
    if (!h.enabled) continue;
    out.push_back(EngineDestination{.name = h.name,
                                    .prefix = h.prefix,
                                    .dest = h.dest.get(),
                                    .metrics = h.metrics,
                                    .transfers = h.transfers,
                                    .multipart_threshold = h.multipart_threshold,
                                    .part_size = h.part_size,
                                    .unavailable = h.unavailable});
  }
  return out;
}

std::vector<HistorySample> PassHistory(const SyncReport& report, int64_t at_us, uint64_t run_id) {
  std::vector<HistorySample> rows;
  for (const auto& d : report.destinations) {
    HistorySample h;
    h.at_us = at_us;
    h.kind = "pass";
    h.destination = d.name;
    h.run_id = run_id;
    h.files = d.synced_files;
    h.bytes = d.synced_bytes;
    h.source = "database";
    h.uploaded_files = d.uploaded_files;
    h.uploaded_bytes = d.uploaded_bytes;
    h.failed_files = d.failed_total;
    h.pending_files = d.pending_files;
    h.duration_ms = static_cast<int64_t>(d.seconds * 1000.0);
    rows.push_back(std::move(h));
  }
  return rows;
}

bool SyncReport::all_synced() const {
  for (const auto& d : destinations)
    if (!d.fatal.ok() || d.pending_files > 0 || d.failed_total > 0) return false;
  return true;
}

std::string SyncEngine::ObjectKey(const std::string& dest_prefix, const std::string& source_prefix,
                                  const std::string& rel_path) {
  std::string k;
  k.reserve(dest_prefix.size() + source_prefix.size() + rel_path.size());
  k += dest_prefix;
  k += source_prefix;
  k += rel_path;
  return k;
}

namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "1700000000.123456789": seconds since the epoch with nanoseconds, the form
// other S3 tools use for a source mtime in user metadata.
std::string MtimeMeta(int64_t mtime_ns) {
  char buf[40];
  int64_t s = mtime_ns / 1000000000LL, ns = mtime_ns % 1000000000LL;
  if (ns < 0) {
    s -= 1;
    ns += 1000000000LL;
  }
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(s),
                static_cast<long long>(ns));
  return buf;
}

// Whether an error means the whole destination is unusable right now, so
// continuing to hammer it with every file makes no sense.
bool IsDestinationFatal(ErrorKind k) {
  return k == ErrorKind::kAuth || k == ErrorKind::kCapExceeded;
}

// Content digests of one file version, computed in the pass that reads it.
struct Digests {
  std::string md5, sha1, sha256;  // raw
};

// SHA-1 of a file's first `size` bytes, read in 1 MiB blocks.
Result<std::string> WholeFileSha1(ReadableFile* file, uint64_t size) {
  Hasher h(DigestAlgo::kSha1);
  std::string buf(1u << 20, '\0');
  uint64_t off = 0;
  while (off < size) {
    CK_ASSIGN_OR_RETURN(size_t n,
                        file->ReadAt(off, buf.data(), std::min<uint64_t>(buf.size(), size - off)));
    if (n == 0) return Status(ErrorKind::kChanged, "file shrank while being read");
    h.Update(buf.data(), n);
    off += n;
  }
  return h.Finish();
}

// Counts parts' buffers in flight for one destination (bounded memory).
class Slots {
 public:
  explicit Slots(int n) : free_(n) {}
  void Acquire() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return free_ > 0; });
    --free_;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;
};

}  // namespace

// ---------------------------------------------------------------------------
// One destination's upload run.
class SyncEngine::DestinationRun {
 public:
  DestinationRun(SyncEngine* engine, const EngineDestination& d, SyncProgress* progress)
      : e_(engine),
        d_(d),
        caps_(d.dest != nullptr ? d.dest->capabilities() : Capabilities{}),
        progress_(progress),
        part_slots_(std::max(1, d.transfers)) {
    for (const auto& s : e_->sources_) {
      source_prefix_[s.path] = s.prefix;
      if (s.follow_symlinks) follow_.insert(s.path);
    }
  }

  DestinationReport Run();

 private:
  enum class Outcome { kSynced, kFailed, kChanged, kVanished, kSkipped };

  bool Cancelled() const {
    return (e_->opts_.cancel != nullptr && e_->opts_.cancel->load()) || abort_.load();
  }
  Outcome UploadFile(const WorkItem& item);
  Outcome UploadOnce(const WorkItem& item, const std::string& key, ReadableFile* file,
                     const FileStat& st, Status* error);
  Status UploadSmall(const std::string& key, ReadableFile* file, const FileStat& st,
                     SyncedInfo* info);
  Status UploadMultipart(const WorkItem& item, const std::string& key, ReadableFile* file,
                         const FileStat& st, SyncedInfo* info);
  Status AbortStaleUploads();
  void Fail(const WorkItem& item, const Status& st);

  // Group commit of confirmed uploads: a write transaction per file cost
  // more client CPU than the upload itself for small files. RecordSynced
  // queues the record; the flusher thread writes the queue in one
  // transaction within kGroupDelay of the first record, or at once when it
  // holds kGroupRows. A crash before the write loses only the record, so the
  // file is uploaded again, never marked synced early. on_uploaded is called
  // after the write.
  static constexpr size_t kGroupRows = 256;
  static constexpr std::chrono::milliseconds kGroupDelay{50};
  struct Confirmed {
    SyncedRecord record;
    UploadEvent event;
  };
  void RecordSynced(Confirmed c);
  void FlushSynced();
  void StartFlusher();
  void StopFlusher();

  SyncEngine* e_;
  const EngineDestination& d_;
  Capabilities caps_;
  SyncProgress* progress_;
  std::map<std::string, std::string> source_prefix_;
  std::set<std::string> follow_;  // sources whose symlinks are followed
  Slots part_slots_;
  std::unique_ptr<ThreadPool> part_pool_;
  std::atomic<bool> abort_{false};
  std::once_flag stale_checked_;
  std::mutex synced_mu_;  // guards synced_ and stop_flusher_
  std::condition_variable synced_cv_;
  std::vector<Confirmed> synced_;
  bool stop_flusher_ = false;
  std::mutex flush_mu_;  // one group write at a time, in order
  std::thread flusher_;
  std::mutex mu_;  // guards report_ and fatal_
  DestinationReport report_;
};

void SyncEngine::DestinationRun::Fail(const WorkItem& item, const Status& st) {
  std::string path = PrintableName(item.source + "/" + item.rel_path);
  spdlog::warn("destination={} upload failed file=\"{}\" kind={} error=\"{}\"", d_.name, path,
               ErrorKindName(st.kind()), st.message());
  Status s = e_->store_->MarkFailed(item.file_id, d_.name, st.kind(), st.message());
  if (!s.ok()) spdlog::error("state store: {}", s.ToString());
  if (IsDestinationFatal(st.kind())) {
    std::lock_guard<std::mutex> l(mu_);
    if (report_.fatal.ok()) report_.fatal = st;
    abort_.store(true);
  }
}

void SyncEngine::DestinationRun::RecordSynced(Confirmed c) {
  bool first, full;
  {
    std::lock_guard<std::mutex> l(synced_mu_);
    first = synced_.empty();
    synced_.push_back(std::move(c));
    full = synced_.size() >= kGroupRows;
  }
  if (full) {
    FlushSynced();
  } else if (first) {
    synced_cv_.notify_one();  // the flusher waits for a first record only
  }
}

void SyncEngine::DestinationRun::FlushSynced() {
  std::lock_guard<std::mutex> order(flush_mu_);
  std::vector<Confirmed> group;
  {
    std::lock_guard<std::mutex> l(synced_mu_);
    group.swap(synced_);
  }
  if (group.empty()) return;
  std::vector<SyncedRecord> records;
  records.reserve(group.size());
  for (auto& c : group) records.push_back(std::move(c.record));  // the events stay
  auto missing = e_->store_->MarkSyncedMany(d_.name, records);
  if (!missing.ok()) {
    // The uploads happened but are not recorded: they stay pending and are
    // sent again by a later run. The store is unusable, so stop this one.
    Status st = missing.status().WithContext("recording " + std::to_string(group.size()) +
                                             " confirmed uploads");
    spdlog::error("destination={} state store: {}", d_.name, st.ToString());
    std::lock_guard<std::mutex> l(mu_);
    if (report_.fatal.ok()) report_.fatal = st;
    abort_.store(true);
    return;
  }
  if (*missing > 0) {
    spdlog::debug("destination={} {} confirmed uploads were of files no longer recorded", d_.name,
                  *missing);
  }
  if (e_->opts_.on_uploaded) {
    for (const auto& c : group) e_->opts_.on_uploaded(c.event);
  }
}

void SyncEngine::DestinationRun::StartFlusher() {
  flusher_ = std::thread([this] {
    std::unique_lock<std::mutex> l(synced_mu_);
    while (true) {
      synced_cv_.wait(l, [&] { return stop_flusher_ || !synced_.empty(); });
      if (stop_flusher_) break;
      // Let the group fill for a moment (or until it is full: RecordSynced
      // then writes it itself).
      synced_cv_.wait_for(l, kGroupDelay, [&] { return stop_flusher_; });
      l.unlock();
      FlushSynced();
      l.lock();
    }
  });
}

void SyncEngine::DestinationRun::StopFlusher() {
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> l(synced_mu_);
      stop_flusher_ = true;
    }
    synced_cv_.notify_all();
    flusher_.join();
  }
  FlushSynced();
}

Status SyncEngine::DestinationRun::UploadSmall(const std::string& key, ReadableFile* file,
                                               const FileStat& st, SyncedInfo* info) {
  std::string data;
  data.resize(st.size);
  uint64_t off = 0;
  while (off < st.size) {
    CK_ASSIGN_OR_RETURN(size_t n, file->ReadAt(off, data.data() + off, st.size - off));
    if (n == 0) return Status(ErrorKind::kChanged, "file shrank while being read");
    off += n;
  }
  char extra;
  CK_ASSIGN_OR_RETURN(size_t more, file->ReadAt(st.size, &extra, 1));
  if (more != 0) return Status(ErrorKind::kChanged, "file grew while being read");

  Digests dg{Md5(data), "", Sha256(data)};
  if (caps_.verified_digest == DigestAlgo::kSha1) dg.sha1 = Sha1(data);
  MemoryBody body(data);
  PutRequest req{.key = key,
                 .body = &body,
                 .md5 = dg.md5,
                 .sha1 = dg.sha1,
                 .sha256 = dg.sha256,
                 .metadata = {{"sha256", HexEncode(dg.sha256)}, {"mtime", MtimeMeta(st.mtime_ns)}}};
  CK_ASSIGN_OR_RETURN(PutResult put, d_.dest->Put(req));
  std::string md5_hex = HexEncode(dg.md5);
  if (caps_.etag_is_md5 && put.etag != md5_hex)
    return Status(ErrorKind::kChecksumMismatch,
                  "server returned ETag \"" + put.etag + "\", expected the content MD5 " + md5_hex);
  progress_->bytes_done.fetch_add(st.size);
  *info = SyncedInfo{.key = key,
                     .etag = put.etag,
                     .remote_id = put.version_id,
                     .size = st.size,
                     .mtime_ns = st.mtime_ns,
                     .inode = st.inode,
                     .md5_hex = md5_hex,
                     .sha256_hex = HexEncode(dg.sha256),
                     .sha1_hex = dg.sha1.empty() ? "" : HexEncode(dg.sha1)};
  return Status::OK();
}

Status SyncEngine::DestinationRun::UploadMultipart(const WorkItem& item, const std::string& key,
                                                   ReadableFile* file, const FileStat& st,
                                                   SyncedInfo* info) {
  StateStore* store = e_->store_;
  uint64_t part_size = std::max<uint64_t>(d_.part_size, caps_.min_part_size);
  if (caps_.max_parts > 0) {
    // grow the part size until the file fits in max_parts
    while ((st.size + part_size - 1) / part_size > static_cast<uint64_t>(caps_.max_parts))
      part_size *= 2;
  }
  if (caps_.max_part_size > 0 && part_size > caps_.max_part_size)
    return Status(ErrorKind::kPermanent, "file too large for this destination");
  const int nparts = static_cast<int>(std::max<uint64_t>(1, (st.size + part_size - 1) / part_size));
  const bool sha1_parts = caps_.verified_digest == DigestAlgo::kSha1;
  // Once per run, before the first large upload: clean up uploads a crash orphaned.
  std::call_once(stale_checked_, [&] {
    if (Status s = AbortStaleUploads(); !s.ok())
      spdlog::warn("destination={} could not list unfinished uploads: {}", d_.name, s.ToString());
  });

  // Resume an upload recorded earlier if it is for this very file version.
  std::string upload_id;
  std::map<int, PartInfo> server_parts;
  CK_ASSIGN_OR_RETURN(auto recorded, store->GetMultipart(item.file_id, d_.name));
  if (recorded) {
    bool same = recorded->key == key && recorded->size == st.size &&
                recorded->mtime_ns == st.mtime_ns && recorded->part_size == part_size;
    if (same) {
      auto listed = d_.dest->ListParts(key, recorded->upload_id);
      if (listed.ok()) {
        upload_id = recorded->upload_id;
        for (auto& p : *listed) server_parts[p.part_number] = p;
        std::lock_guard<std::mutex> l(mu_);
        report_.resumed_uploads++;
        spdlog::info("destination={} resuming upload of \"{}\": {} of {} parts on the server",
                     d_.name, PrintableName(key), server_parts.size(), nparts);
      } else if (listed.status().kind() == ErrorKind::kPermanent) {
        // The server cannot list parts (some S3 implementations): start over.
        spdlog::info("destination={} cannot list the parts of \"{}\" ({}); uploading it anew",
                     d_.name, PrintableName(key), listed.status().message());
      } else if (listed.status().kind() != ErrorKind::kNotFound) {
        return listed.status();
      }
    }
    if (upload_id.empty()) {
      // Best effort: a server that cannot abort keeps the parts until its own expiry.
      Status ab = d_.dest->AbortMultipart(recorded->key, recorded->upload_id);
      if (!ab.ok() && ab.kind() != ErrorKind::kNotFound)
        spdlog::warn("destination={} could not abort the outdated upload of \"{}\": {}", d_.name,
                     PrintableName(recorded->key), ab.ToString());
      CK_RETURN_IF_ERROR(store->DeleteMultipart(item.file_id, d_.name));
    }
  }
  if (upload_id.empty()) {
    std::map<std::string, std::string> meta = {{"mtime", MtimeMeta(st.mtime_ns)}};
    if (sha1_parts) {
      // B2 records the whole file's SHA-1 (large_file_sha1) when the upload
      // starts, so it must be known first: one extra read pass, B2 only.
      CK_ASSIGN_OR_RETURN(std::string sha1, WholeFileSha1(file, st.size));
      meta["large_file_sha1"] = HexEncode(sha1);
    }
    CK_ASSIGN_OR_RETURN(upload_id, d_.dest->StartMultipart(key, meta, "application/octet-stream"));
    CK_RETURN_IF_ERROR(store->SaveMultipart(item.file_id, d_.name,
                                            MultipartState{.upload_id = upload_id,
                                                           .key = key,
                                                           .part_size = part_size,
                                                           .size = st.size,
                                                           .mtime_ns = st.mtime_ns,
                                                           .created_us = e_->env_->NowMicros()}));
  }

  // Read the file once, in order: whole-file digests and part digests on the
  // same pass; parts the server lacks are uploaded by the part pool. No
  // whole-file MD5: the part MD5s and the multipart ETag already prove the
  // bytes, and a second MD5 pass cost ~1.2 s of CPU per GiB (the SHA-256 in
  // the state DB identifies the content).
  Hasher whole_sha256(DigestAlgo::kSha256), whole_sha1(DigestAlgo::kSha1);
  std::vector<PartInfo> parts(static_cast<size_t>(nparts));
  std::string part_md5s;  // raw concatenation, for the multipart ETag
  std::mutex err_mu;
  Status first_error;
  std::atomic<int> outstanding{0};
  std::mutex done_mu;
  std::condition_variable done_cv;

  for (int n = 1; n <= nparts; ++n) {
    {
      std::lock_guard<std::mutex> l(err_mu);
      if (!first_error.ok()) break;
    }
    if (Cancelled()) {
      std::lock_guard<std::mutex> l(err_mu);
      first_error = Status(ErrorKind::kCancelled, "sync interrupted");
      break;
    }
    uint64_t off = static_cast<uint64_t>(n - 1) * part_size;
    uint64_t len = std::min<uint64_t>(part_size, st.size - off);
    part_slots_.Acquire();
    auto buf = std::make_shared<std::string>(len, '\0');
    uint64_t got = 0;
    Status rs;
    while (got < len) {
      auto r = file->ReadAt(off + got, buf->data() + got, len - got);
      if (!r.ok()) {
        rs = r.status();
        break;
      }
      if (*r == 0) {
        rs = Status(ErrorKind::kChanged, "file shrank while being read");
        break;
      }
      got += *r;
    }
    if (!rs.ok()) {
      part_slots_.Release();
      std::lock_guard<std::mutex> l(err_mu);
      first_error = rs;
      break;
    }
    std::string md5 = Md5(*buf);
    std::string sha1 = sha1_parts ? Sha1(*buf) : std::string();
    whole_sha256.Update(*buf);
    if (sha1_parts) whole_sha1.Update(*buf);
    part_md5s += md5;
    std::string checksum = sha1_parts ? HexEncode(sha1) : HexEncode(md5);

    auto sp = server_parts.find(n);
    if (sp != server_parts.end() && sp->second.size == len &&
        (sp->second.checksum == checksum || (!sha1_parts && sp->second.etag == checksum))) {
      // Already on the server with exactly these bytes.
      parts[static_cast<size_t>(n - 1)] = sp->second;
      if (parts[static_cast<size_t>(n - 1)].checksum.empty())
        parts[static_cast<size_t>(n - 1)].checksum = checksum;
      progress_->bytes_done.fetch_add(len);
      part_slots_.Release();
      continue;
    }
    outstanding.fetch_add(1);
    part_pool_->Submit([&, n, buf, md5, sha1, checksum, len] {
      MemoryBody body(*buf);
      PartUpload pu{.part_number = n, .body = &body, .md5 = md5, .sha1 = sha1, .sha256 = ""};
      auto r = d_.dest->UploadPart(key, upload_id, pu);
      Status st2;
      if (!r.ok()) {
        st2 = r.status();
      } else if (!sha1_parts && caps_.etag_is_md5 && r->etag != checksum) {
        st2 = Status(ErrorKind::kChecksumMismatch, "part " + std::to_string(n) + ": ETag \"" +
                                                       r->etag + "\" is not the part MD5");
      } else {
        PartInfo p = *r;
        p.part_number = n;
        p.size = len;
        p.checksum = checksum;
        if (p.etag.empty() && !sha1_parts) p.etag = checksum;
        parts[static_cast<size_t>(n - 1)] = p;
        st2 = e_->store_->SavePart(
            item.file_id, d_.name,
            PartRecord{.number = n, .size = len, .etag = p.etag, .checksum = checksum});
        progress_->bytes_done.fetch_add(len);
      }
      part_slots_.Release();
      if (!st2.ok()) {
        std::lock_guard<std::mutex> l(err_mu);
        if (first_error.ok()) first_error = st2;
      }
      if (outstanding.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> l(done_mu);
        done_cv.notify_all();
      }
    });
  }
  {
    std::unique_lock<std::mutex> l(done_mu);
    done_cv.wait(l, [&] { return outstanding.load() == 0; });
  }
  if (!first_error.ok()) {
    // Keep the upload for a later resume unless it can never succeed.
    if (first_error.kind() == ErrorKind::kPermanent || first_error.kind() == ErrorKind::kChanged) {
      (void)d_.dest->AbortMultipart(key, upload_id);
      (void)store->DeleteMultipart(item.file_id, d_.name);
    }
    return first_error;
  }
  // The file must still be the version we read.
  CK_ASSIGN_OR_RETURN(FileStat after, file->Stat());
  if (after.size != st.size || after.mtime_ns != st.mtime_ns)
    return Status(ErrorKind::kChanged, "file changed while being uploaded");

  std::string expected_etag = HexEncode(Md5(part_md5s)) + "-" + std::to_string(nparts);
  auto done = d_.dest->CompleteMultipart(key, upload_id, parts);
  std::string etag;
  std::string version;
  if (done.ok()) {
    etag = done->etag;
    version = done->version_id;
  } else if (done.status().kind() == ErrorKind::kNotFound) {
    // A retried Complete whose first attempt succeeded: the object tells.
    spdlog::info("destination={} upload {} gone after Complete; checking the object", d_.name,
                 upload_id);
  } else {
    return done.status();
  }
  std::string sha1_hex;
  if (sha1_parts) sha1_hex = HexEncode(whole_sha1.Finish());
  const bool md5_dest = caps_.verified_digest == DigestAlgo::kMd5;
  if (!done.ok() || (md5_dest && etag.empty())) {
    // Ask the object itself: after a lost Complete reply, or when the server
    // returned an empty ETag (Ceph RGW 16).
    CK_ASSIGN_OR_RETURN(ObjectInfo head, d_.dest->Head(key));
    if (head.size != st.size)
      return Status(ErrorKind::kChecksumMismatch, "object has " + std::to_string(head.size) +
                                                      " bytes after upload, expected " +
                                                      std::to_string(st.size));
    if (!md5_dest && head.sha1_hex != sha1_hex)
      return Status(ErrorKind::kChecksumMismatch,
                    "object SHA-1 \"" + head.sha1_hex + "\" differs from the file's " + sha1_hex);
    if (md5_dest) etag = head.etag;
    if (version.empty()) version = head.version_id;
  }
  if (caps_.multipart_etag_md5_of_md5s && etag.find('-') != std::string::npos &&
      etag != expected_etag)
    return Status(ErrorKind::kChecksumMismatch,
                  "multipart ETag \"" + etag + "\" differs from the expected " + expected_etag);
  CK_RETURN_IF_ERROR(store->DeleteMultipart(item.file_id, d_.name));
  *info = SyncedInfo{.key = key,
                     .etag = etag,
                     .remote_id = version,
                     .size = st.size,
                     .mtime_ns = st.mtime_ns,
                     .inode = st.inode,
                     .md5_hex = "",
                     .sha256_hex = HexEncode(whole_sha256.Finish()),
                     .sha1_hex = sha1_hex};
  return Status::OK();
}

SyncEngine::DestinationRun::Outcome SyncEngine::DestinationRun::UploadOnce(const WorkItem& item,
                                                                           const std::string& key,
                                                                           ReadableFile* file,
                                                                           const FileStat& st,
                                                                           Status* error) {
  SyncedInfo info;
  bool multipart =
      caps_.multipart && st.size >= d_.multipart_threshold && st.size > caps_.min_part_size;
  if (!multipart && caps_.max_single_put != 0 && st.size > caps_.max_single_put) {
    *error = Status(ErrorKind::kPermanent, "file is larger than this destination accepts");
    return Outcome::kFailed;
  }
  // Only a multipart upload is marked `uploading` (its parts are recorded as
  // they go); a single request needs no mark: a crash leaves the row as it was.
  if (multipart) (void)e_->store_->MarkUploading(item.file_id, d_.name);
  Status s =
      multipart ? UploadMultipart(item, key, file, st, &info) : UploadSmall(key, file, st, &info);
  if (!s.ok()) {
    *error = s;
    if (s.kind() == ErrorKind::kChanged) return Outcome::kChanged;
    if (s.kind() == ErrorKind::kVanished) return Outcome::kVanished;
    return Outcome::kFailed;
  }
  // Confirm the file is still the version we sent: the open file (rewritten in
  // place?) and the path (replaced by another file?). A path that is gone now
  // is fine: what we sent was a complete, consistent version. A path that is a
  // symlink (followed sources only) is judged by the open file alone.
  auto after = file->Stat();
  bool same_open = after.ok() && after->size == st.size && after->mtime_ns == st.mtime_ns;
  auto by_path = e_->env_->Lstat(item.source + "/" + item.rel_path);
  bool same_path = by_path.ok() ? (by_path->type == EntryType::kSymlink ||
                                   (by_path->inode == st.inode && by_path->size == st.size &&
                                    by_path->mtime_ns == st.mtime_ns))
                                : by_path.status().kind() == ErrorKind::kNotFound;
  if (!same_open || !same_path) {
    *error = Status(ErrorKind::kChanged, "file changed while being uploaded");
    return Outcome::kChanged;
  }
  RecordSynced(Confirmed{.record = SyncedRecord{.file_id = item.file_id, .info = std::move(info)},
                         .event = UploadEvent{.destination = d_.name,
                                              .key = key,
                                              .size = st.size,
                                              .replaced_key = item.prev_remote_key,
                                              .replaced_size = item.prev_synced_size}});
  return Outcome::kSynced;
}

SyncEngine::DestinationRun::Outcome SyncEngine::DestinationRun::UploadFile(const WorkItem& item) {
  StateStore* store = e_->store_;
  auto pit = source_prefix_.find(item.source);
  if (pit == source_prefix_.end()) return Outcome::kSkipped;  // source no longer configured
  const std::string key = ObjectKey(d_.prefix, pit->second, item.rel_path);
  const std::string path = item.source + "/" + item.rel_path;

  if (!IsValidUtf8(item.rel_path)) {
    Fail(item, Status(ErrorKind::kInvalidName,
                      "file name is not valid UTF-8 (" + PrintableName(item.rel_path) +
                          "); object keys must be UTF-8, rename the file to back it up"));
    return Outcome::kFailed;
  }
  if (key.size() > caps_.max_key_bytes) {
    Fail(item, Status(ErrorKind::kInvalidName, "object key would be " + std::to_string(key.size()) +
                                                   " bytes; the limit is " +
                                                   std::to_string(caps_.max_key_bytes)));
    return Outcome::kFailed;
  }

  for (int attempt = 0;; ++attempt) {
    auto file = e_->env_->OpenForRead(path, follow_.count(item.source) != 0);
    if (!file.ok()) {
      if (file.status().kind() == ErrorKind::kVanished ||
          file.status().kind() == ErrorKind::kNotFound) {
        (void)store->MarkVanished(item.file_id);
        return Outcome::kVanished;
      }
      Fail(item, file.status());
      return Outcome::kFailed;
    }
    auto st = (*file)->Stat();
    if (!st.ok()) {
      Fail(item, st.status());
      return Outcome::kFailed;
    }
    if (st->size != item.size || st->mtime_ns != item.mtime_ns || st->inode != item.inode) {
      // Changed since the scan: record the new version first, then send it.
      Status m = store->MarkChanged(item.file_id, st->size, st->mtime_ns, st->inode);
      if (!m.ok()) {
        Fail(item, m);
        return Outcome::kFailed;
      }
    }
    Status err;
    Outcome o = UploadOnce(item, key, file->get(), *st, &err);
    if (o == Outcome::kChanged) {
      auto now = e_->env_->Lstat(path);
      if (now.ok()) (void)store->MarkChanged(item.file_id, now->size, now->mtime_ns, now->inode);
      if (attempt < e_->opts_.max_change_retries && !Cancelled()) continue;
      spdlog::warn("destination={} file=\"{}\" kept changing while being uploaded; left pending",
                   d_.name, PrintableName(path));
      return Outcome::kChanged;
    }
    if (o == Outcome::kVanished) {
      (void)store->MarkVanished(item.file_id);
      return o;
    }
    if (o == Outcome::kFailed) {
      if (err.kind() == ErrorKind::kCancelled) {
        // interrupted: leave it pending for the next run
        (void)store->MarkChanged(item.file_id, st->size, st->mtime_ns, st->inode);
        return Outcome::kSkipped;
      }
      Fail(item, err);
    }
    return o;
  }
}

Status SyncEngine::DestinationRun::AbortStaleUploads() {
  // Multipart uploads under our prefix that the state store does not know are
  // leftovers of a crash between "start upload" and "record it": abort them.
  CK_ASSIGN_OR_RETURN(auto recorded, e_->store_->ListMultipart(d_.name));
  std::map<std::string, bool> known;
  for (const auto& [id, st] : recorded) known[st.upload_id] = true;
  CK_ASSIGN_OR_RETURN(auto uploads, d_.dest->ListMultipartUploads(d_.prefix));
  for (const auto& u : uploads) {
    if (known.count(u.upload_id) != 0) continue;
    Status s = d_.dest->AbortMultipart(u.key, u.upload_id);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      report_.aborted_stale_uploads++;
      spdlog::info("destination={} aborted unrecorded multipart upload of \"{}\"", d_.name,
                   PrintableName(u.key));
    }
  }
  return Status::OK();
}

DestinationReport SyncEngine::DestinationRun::Run() {
  auto t0 = std::chrono::steady_clock::now();
  report_.name = d_.name;
  StateStore* store = e_->store_;
  auto finish = [&]() {
    report_.seconds = Since(t0);
    auto counts = store->Counts();
    if (counts.ok()) {
      for (const auto& c : *counts) {
        if (c.destination != d_.name) continue;
        report_.synced_files = c.synced_files;
        report_.synced_bytes = c.synced_bytes;
        report_.pending_files = c.pending_files;
        report_.failed_total = c.failed_files;
      }
    }
    return report_;
  };
  if (!d_.unavailable.ok()) {
    report_.fatal = d_.unavailable;
    return finish();
  }
  // Upload() has created this destination's rows (EnsureDestination) already.
  // Is there anything to do? (A no-op run must not send a single request.)
  auto first = store->ListWork(d_.name, e_->opts_.max_attempts, 0, 1);
  if (!first.ok()) {
    report_.fatal = first.status();
    return finish();
  }
  bool has_multipart_state = false;
  if (auto mp = store->ListMultipart(d_.name); mp.ok()) has_multipart_state = !mp->empty();
  if (first->empty() && !has_multipart_state) return finish();

  if (Status c = d_.dest->Check(); !c.ok()) {
    report_.fatal = c;
    return finish();
  }

  int transfers = std::max(1, d_.transfers);
  part_pool_ = std::make_unique<ThreadPool>(transfers, static_cast<size_t>(transfers));
  StartFlusher();
  {
    ThreadPool files(transfers, static_cast<size_t>(transfers) * 4);
    int64_t after = 0;
    while (!Cancelled()) {
      auto page = store->ListWork(d_.name, e_->opts_.max_attempts, after, 1000);
      if (!page.ok()) {
        std::lock_guard<std::mutex> l(mu_);
        report_.fatal = page.status();
        break;
      }
      if (page->empty()) break;
      after = page->back().file_id;
      for (auto& item : *page) {
        if (Cancelled()) break;
        files.Submit([this, item] {
          if (Cancelled()) return;
          Outcome o = UploadFile(item);
          std::lock_guard<std::mutex> l(mu_);
          switch (o) {
            case Outcome::kSynced:
              report_.uploaded_files++;
              report_.uploaded_bytes += item.size;
              progress_->files_done.fetch_add(1);
              break;
            case Outcome::kFailed:
              report_.failed_files++;
              progress_->files_done.fetch_add(1);
              progress_->files_failed.fetch_add(1);
              break;
            case Outcome::kChanged:
              report_.changed_during_upload++;
              break;
            case Outcome::kVanished:
              report_.vanished++;
              progress_->files_done.fetch_add(1);
              break;
            case Outcome::kSkipped:
              break;
          }
        });
      }
    }
    files.Wait();
  }
  part_pool_.reset();
  StopFlusher();
  return finish();
}

// ---------------------------------------------------------------------------

SyncEngine::SyncEngine(StateStore* store, Env* env, std::vector<SourceConfig> sources,
                       std::vector<EngineDestination> destinations, EngineOptions options)
    : store_(store),
      env_(env),
      sources_(std::move(sources)),
      dests_(std::move(destinations)),
      opts_(options) {}

SyncEngine::~SyncEngine() = default;

Result<std::vector<std::pair<std::string, ScanStats>>> SyncEngine::Scan(SyncProgress* progress) {
  std::vector<std::pair<std::string, ScanStats>> out;
  if (progress != nullptr) progress->scanning.store(true);
  for (const auto& src : sources_) {
    CK_ASSIGN_OR_RETURN(auto batch, store_->BeginScan(src.path));
    ScanOptions so;
    so.cancel = opts_.cancel;
    if (progress != nullptr) {
      so.progress = [progress](const ScanProgress& p) {
        progress->scanned_entries.store(p.entries);
      };
      so.progress_every = 1000;
    }
    auto walked = ScanSource(src, env_, batch.get(), so);
    if (!walked.ok()) return walked.status().WithContext("scan of " + src.path);
    CK_ASSIGN_OR_RETURN(ScanStats stats, batch->Commit());
    out.emplace_back(src.path, stats);
  }
  if (progress != nullptr) progress->scanning.store(false);
  return out;
}

Result<SyncReport> SyncEngine::Upload(SyncProgress* progress) {
  SyncProgress local;
  if (progress == nullptr) progress = &local;
  SyncReport report;
  CK_ASSIGN_OR_RETURN(uint64_t reset, store_->ResetInterrupted());
  if (reset > 0) spdlog::info("{} uploads interrupted by an earlier run will be redone", reset);

  // Totals for progress: what is pending now across destinations. Every
  // destination gets its rows here, once per run (a pass over every file).
  for (const auto& d : dests_) {
    if (auto s = store_->EnsureDestination(d.name); !s.ok()) return s.status();
  }
  if (auto counts = store_->Counts(); counts.ok()) {
    for (const auto& c : *counts) {
      for (const auto& d : dests_) {
        if (d.name != c.destination || !d.unavailable.ok()) continue;
        progress->files_total.fetch_add(c.pending_files + c.failed_files);
        progress->bytes_total.fetch_add(c.pending_bytes + c.failed_bytes);
      }
    }
  }

  std::vector<std::unique_ptr<DestinationRun>> runs;
  for (const auto& d : dests_) runs.push_back(std::make_unique<DestinationRun>(this, d, progress));
  std::vector<DestinationReport> reports(runs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runs.size(); ++i)
    threads.emplace_back([&, i] { reports[i] = runs[i]->Run(); });
  for (auto& t : threads) t.join();
  report.destinations = std::move(reports);
  return report;
}

Result<SyncReport> SyncEngine::Run(SyncProgress* progress) {
  auto t0 = std::chrono::steady_clock::now();
  CK_ASSIGN_OR_RETURN(auto scans, Scan(progress));
  double scan_s = Since(t0);
  CK_ASSIGN_OR_RETURN(SyncReport report, Upload(progress));
  report.scans = std::move(scans);
  report.scan_seconds = scan_s;
  return report;
}

}  // namespace ck
