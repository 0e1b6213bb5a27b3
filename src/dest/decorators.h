// Decorators around a Destination: retry policy, concurrency limit, metrics and
// logging. They are assembled in one place (factory.h); backends stay policy-free.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <semaphore>
#include <string>

#include "dest/destination.h"
#include "util/env.h"

namespace ck {

// The operations a destination serves, for metrics and logs.
enum class DestOp {
  kCheck,
  kPut,
  kHead,
  kList,
  kGet,
  kDelete,
  kStartMultipart,
  kUploadPart,
  kListParts,
  kCompleteMultipart,
  kAbortMultipart,
  kListMultipartUploads,
  kCount_
};
std::string_view DestOpName(DestOp op);

// Forwards every call to an inner destination (owned). Subclasses override what they change.
class ForwardingDestination : public Destination {
 public:
  explicit ForwardingDestination(std::unique_ptr<Destination> inner) : inner_(std::move(inner)) {}
  Destination* inner() const { return inner_.get(); }

  const std::string& name() const override { return inner_->name(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  Status Check() override { return inner_->Check(); }
  Status Probe() override { return inner_->Probe(); }
  Result<PutResult> Put(const PutRequest& r) override { return inner_->Put(r); }
  Result<ObjectInfo> Head(const std::string& k) override { return inner_->Head(k); }
  Result<ListPage> List(const ListOptions& o) override { return inner_->List(o); }
  Status Get(const std::string& k, const GetOptions& o,
             const std::function<bool(std::string_view)>& s) override {
    return inner_->Get(k, o, s);
  }
  Status Delete(const std::string& k) override { return inner_->Delete(k); }
  Result<std::string> StartMultipart(const std::string& k,
                                     const std::map<std::string, std::string>& m,
                                     const std::string& ct) override {
    return inner_->StartMultipart(k, m, ct);
  }
  Result<PartInfo> UploadPart(const std::string& k, const std::string& id,
                              const PartUpload& p) override {
    return inner_->UploadPart(k, id, p);
  }
  Result<std::vector<PartInfo>> ListParts(const std::string& k, const std::string& id) override {
    return inner_->ListParts(k, id);
  }
  Result<PutResult> CompleteMultipart(const std::string& k, const std::string& id,
                                      const std::vector<PartInfo>& p) override {
    return inner_->CompleteMultipart(k, id, p);
  }
  Status AbortMultipart(const std::string& k, const std::string& id) override {
    return inner_->AbortMultipart(k, id);
  }
  Result<std::vector<MultipartUploadInfo>> ListMultipartUploads(const std::string& p) override {
    return inner_->ListMultipartUploads(p);
  }

 private:
  std::unique_ptr<Destination> inner_;
};

// Base for decorators that wrap every call the same way: each operation runs
// through Around(), which may repeat, delay, time or gate the call.
class CallWrappingDestination : public ForwardingDestination {
 public:
  using ForwardingDestination::ForwardingDestination;

  Status Check() override;
  Status Probe() override;
  Result<PutResult> Put(const PutRequest& r) override;
  Result<ObjectInfo> Head(const std::string& k) override;
  Result<ListPage> List(const ListOptions& o) override;
  Status Get(const std::string& k, const GetOptions& o,
             const std::function<bool(std::string_view)>& s) override;
  Status Delete(const std::string& k) override;
  Result<std::string> StartMultipart(const std::string& k,
                                     const std::map<std::string, std::string>& m,
                                     const std::string& ct) override;
  Result<PartInfo> UploadPart(const std::string& k, const std::string& id,
                              const PartUpload& p) override;
  Result<std::vector<PartInfo>> ListParts(const std::string& k, const std::string& id) override;
  Result<PutResult> CompleteMultipart(const std::string& k, const std::string& id,
                                      const std::vector<PartInfo>& p) override;
  Status AbortMultipart(const std::string& k, const std::string& id) override;
  Result<std::vector<MultipartUploadInfo>> ListMultipartUploads(const std::string& p) override;

 protected:
  // Performs the operation by invoking `call` (one attempt against the inner
  // destination, returning its status) zero or more times; returns the status
  // of the last attempt. `bytes` is the request body size (0 if none).
  virtual Status Around(DestOp op, const std::string& key, uint64_t bytes,
                        const std::function<Status()>& call) = 0;

 private:
  template <typename T, typename F>
  Result<T> Wrap(DestOp op, const std::string& key, uint64_t bytes, F&& f);
};

// True for error kinds worth another attempt of the same request:
// kTransient, kThrottled and kChecksumMismatch (bytes damaged in transit).
bool IsRetryable(ErrorKind kind);

struct RetryPolicy {
  int max_retries = 5;  // attempts after the first one
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{20000};

  // Delay before retry number `retry` (0-based): full jitter, uniform in
  // [0, min(max_delay, base_delay * 2^retry)], and at least the server's
  // Retry-After when the error carries one (capped at 5 minutes).
  std::chrono::milliseconds Delay(int retry, const Status& error, uint64_t random) const;
};

// Retries retryable errors with exponential backoff and full jitter, using the
// Env's clock and sleep (so tests run instantly with a fake Env). Get is not
// retried here (the sink would see the bytes twice); callers retry downloads.
class RetryingDestination : public CallWrappingDestination {
 public:
  RetryingDestination(std::unique_ptr<Destination> inner, RetryPolicy policy, Env* env)
      : CallWrappingDestination(std::move(inner)), policy_(policy), env_(env) {}
  uint64_t retries() const { return retries_.load(); }

 protected:
  Status Around(DestOp op, const std::string& key, uint64_t bytes,
                const std::function<Status()>& call) override;

 private:
  RetryPolicy policy_;
  Env* env_;
  std::atomic<uint64_t> retries_{0};
};

// At most `limit` calls in flight at once; further callers wait.
class ConcurrencyLimitedDestination : public CallWrappingDestination {
 public:
  ConcurrencyLimitedDestination(std::unique_ptr<Destination> inner, int limit)
      : CallWrappingDestination(std::move(inner)), sem_(limit) {}

 protected:
  Status Around(DestOp op, const std::string& key, uint64_t bytes,
                const std::function<Status()>& call) override;

 private:
  std::counting_semaphore<1024> sem_;
};

// Counters for one destination. All fields are safe to read while being updated.
struct DestinationMetrics {
  static constexpr size_t kOps = static_cast<size_t>(DestOp::kCount_);
  static constexpr size_t kKinds = static_cast<size_t>(ErrorKind::kInternal) + 1;
  // Latency histogram bucket upper bounds, seconds (Prometheus style; last is +Inf).
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10,  30};
  std::array<std::atomic<uint64_t>, kOps> calls{};
  std::array<std::array<std::atomic<uint64_t>, kKinds>, kOps> errors{};
  std::array<std::array<std::atomic<uint64_t>, kBuckets.size() + 1>, kOps> latency_buckets{};
  std::array<std::atomic<uint64_t>, kOps> latency_us_sum{};
  std::atomic<uint64_t> bytes_uploaded{0};

  uint64_t Calls(DestOp op) const { return calls[static_cast<size_t>(op)].load(); }
  // Calls of List + ListParts + ListMultipartUploads (billed as list requests).
  uint64_t ListCalls() const;
};

// Records every attempt (count, outcome kind, latency, bytes) into metrics and
// logs it (debug for successes, warn for failures) with destination, operation,
// key, duration and outcome. Never logs bodies or credentials. Placed inside
// the retry layer, it sees every request actually sent.
class InstrumentedDestination : public CallWrappingDestination {
 public:
  InstrumentedDestination(std::unique_ptr<Destination> inner,
                          std::shared_ptr<DestinationMetrics> metrics)
      : CallWrappingDestination(std::move(inner)), metrics_(std::move(metrics)) {}
  const std::shared_ptr<DestinationMetrics>& metrics() const { return metrics_; }

 protected:
  Status Around(DestOp op, const std::string& key, uint64_t bytes,
                const std::function<Status()>& call) override;

 private:
  std::shared_ptr<DestinationMetrics> metrics_;
};

}  // namespace ck
