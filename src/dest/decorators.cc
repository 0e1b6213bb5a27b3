#include "dest/decorators.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "util/encoding.h"

namespace ck {

// ---------------------------------------------------------------- call wrapping

template <typename T, typename F>
Result<T> CallWrappingDestination::Wrap(DestOp op, const std::string& key, uint64_t bytes, F&& f) {
  std::optional<Result<T>> out;
  Status st = Around(op, key, bytes, [&] {
    out.emplace(f());
    return out->status();
  });
  if (!out) return st;  // Around did not call at all
  return std::move(*out);
}

static uint64_t BodySize(const BodySource* b) {
  return b != nullptr ? b->size() : 0;
}

Status CallWrappingDestination::Check() {
  return Around(DestOp::kCheck, "", 0, [&] { return inner()->Check(); });
}

Status CallWrappingDestination::Probe() {
  return Around(DestOp::kCheck, "", 0, [&] { return inner()->Probe(); });
}
Result<PutResult> CallWrappingDestination::Put(const PutRequest& r) {
  return Wrap<PutResult>(DestOp::kPut, r.key, BodySize(r.body), [&] { return inner()->Put(r); });
}
Result<ObjectInfo> CallWrappingDestination::Head(const std::string& k) {
  return Wrap<ObjectInfo>(DestOp::kHead, k, 0, [&] { return inner()->Head(k); });
}
Result<ListPage> CallWrappingDestination::List(const ListOptions& o) {
  return Wrap<ListPage>(DestOp::kList, o.prefix, 0, [&] { return inner()->List(o); });
}
Status CallWrappingDestination::Get(const std::string& k, const GetOptions& o,
                                    const std::function<bool(std::string_view)>& s) {
  return Around(DestOp::kGet, k, 0, [&] { return inner()->Get(k, o, s); });
}
Status CallWrappingDestination::Delete(const std::string& k) {
  return Around(DestOp::kDelete, k, 0, [&] { return inner()->Delete(k); });
}
Result<std::string> CallWrappingDestination::StartMultipart(
    const std::string& k, const std::map<std::string, std::string>& m, const std::string& ct) {
  return Wrap<std::string>(DestOp::kStartMultipart, k, 0,
                           [&] { return inner()->StartMultipart(k, m, ct); });
}
Result<PartInfo> CallWrappingDestination::UploadPart(const std::string& k, const std::string& id,
                                                     const PartUpload& p) {
  return Wrap<PartInfo>(DestOp::kUploadPart, k, BodySize(p.body),
                        [&] { return inner()->UploadPart(k, id, p); });
}
Result<std::vector<PartInfo>> CallWrappingDestination::ListParts(const std::string& k,
                                                                 const std::string& id) {
  return Wrap<std::vector<PartInfo>>(DestOp::kListParts, k, 0,
                                     [&] { return inner()->ListParts(k, id); });
}
Result<PutResult> CallWrappingDestination::CompleteMultipart(const std::string& k,
                                                             const std::string& id,
                                                             const std::vector<PartInfo>& p) {
  return Wrap<PutResult>(DestOp::kCompleteMultipart, k, 0,
                         [&] { return inner()->CompleteMultipart(k, id, p); });
}
Status CallWrappingDestination::AbortMultipart(const std::string& k, const std::string& id) {
  return Around(DestOp::kAbortMultipart, k, 0, [&] { return inner()->AbortMultipart(k, id); });
}
Result<std::vector<MultipartUploadInfo>> CallWrappingDestination::ListMultipartUploads(
    const std::string& p) {
  return Wrap<std::vector<MultipartUploadInfo>>(DestOp::kListMultipartUploads, p, 0,
                                                [&] { return inner()->ListMultipartUploads(p); });
}

// ---------------------------------------------------------------- retry

bool IsRetryable(ErrorKind kind) {
  return kind == ErrorKind::kTransient || kind == ErrorKind::kThrottled ||
         kind == ErrorKind::kChecksumMismatch;
}

std::chrono::milliseconds RetryPolicy::Delay(int retry, const Status& error,
                                             uint64_t random) const {
  int shift = std::min(retry, 30);
  int64_t cap = std::min<int64_t>(max_delay.count(), base_delay.count() << shift);
  if (cap < 0) cap = max_delay.count();
  int64_t d = cap > 0 ? static_cast<int64_t>(random % static_cast<uint64_t>(cap + 1)) : 0;
  if (auto ra = error.retry_after())
    d = std::max<int64_t>(d, std::min<int64_t>(ra->count(), 300000));
  return std::chrono::milliseconds(d);
}

Status RetryingDestination::Around(DestOp op, const std::string& /*key*/, uint64_t /*bytes*/,
                                   const std::function<Status()>& call) {
  for (int attempt = 0;; ++attempt) {
    Status st = call();
    if (st.ok() || op == DestOp::kGet || !IsRetryable(st.kind()) || attempt >= policy_.max_retries)
      return st;
    auto d = policy_.Delay(attempt, st, env_->Random());
    spdlog::debug("destination={} op={} retry={} delay_ms={} after=\"{}\"", name(), DestOpName(op),
                  attempt + 1, d.count(), st.ToString());
    retries_.fetch_add(1);
    env_->SleepFor(d);
  }
}

// ---------------------------------------------------------------- concurrency

Status ConcurrencyLimitedDestination::Around(DestOp, const std::string&, uint64_t,
                                             const std::function<Status()>& call) {
  sem_.acquire();
  struct Release {
    std::counting_semaphore<1024>& s;
    ~Release() { s.release(); }
  } release{sem_};
  return call();
}

// ---------------------------------------------------------------- metrics

std::string_view DestOpName(DestOp op) {
  static constexpr std::array<std::string_view, DestinationMetrics::kOps> kNames = {
      "check",
      "put",
      "head",
      "list",
      "get",
      "delete",
      "start_multipart",
      "upload_part",
      "list_parts",
      "complete_multipart",
      "abort_multipart",
      "list_multipart_uploads"};
  auto i = static_cast<size_t>(op);
  return i < kNames.size() ? kNames[i] : "unknown";
}

uint64_t DestinationMetrics::ListCalls() const {
  return Calls(DestOp::kList) + Calls(DestOp::kListParts) + Calls(DestOp::kListMultipartUploads);
}

Status InstrumentedDestination::Around(DestOp op, const std::string& key, uint64_t bytes,
                                       const std::function<Status()>& call) {
  auto t0 = std::chrono::steady_clock::now();
  Status st = call();
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  auto i = static_cast<size_t>(op);
  auto& m = *metrics_;
  m.calls[i].fetch_add(1);
  m.latency_us_sum[i].fetch_add(static_cast<uint64_t>(us));
  double secs = static_cast<double>(us) / 1e6;
  size_t b = 0;
  while (b < DestinationMetrics::kBuckets.size() && secs > DestinationMetrics::kBuckets[b]) ++b;
  m.latency_buckets[i][b].fetch_add(1);
  double ms = static_cast<double>(us) / 1000.0;
  if (st.ok()) {
    if (bytes > 0) m.bytes_uploaded.fetch_add(bytes);
    spdlog::debug("destination={} op={} key=\"{}\" ms={:.1f} outcome=ok", name(), DestOpName(op),
                  PrintableName(key), ms);
  } else {
    m.errors[i][static_cast<size_t>(st.kind())].fetch_add(1);
    // not_found on Head is routine (probing): debug level
    auto level = st.kind() == ErrorKind::kNotFound ? spdlog::level::debug : spdlog::level::warn;
    spdlog::log(level, "destination={} op={} key=\"{}\" ms={:.1f} outcome={} error=\"{}\"", name(),
                DestOpName(op), PrintableName(key), ms, ErrorKindName(st.kind()), st.message());
  }
  return st;
}

}  // namespace ck
