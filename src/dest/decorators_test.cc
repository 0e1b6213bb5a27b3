#include "dest/decorators.h"

#include <gtest/gtest.h>

#include <thread>

#include "dest/factory.h"
#include "dest/memory_destination.h"

namespace ck {
namespace {

class NoSleepEnv : public EnvWrapper {
 public:
  NoSleepEnv() : EnvWrapper(Env::Default()) {}
  void SleepFor(std::chrono::milliseconds d) override { sleeps.push_back(d.count()); }
  uint64_t Random() override { return 0xFFFFFFFFFFFFull; }
  std::vector<int64_t> sleeps;
};

TEST(RetryPolicyTest, FullJitterWithinExponentialCap) {
  RetryPolicy p{.max_retries = 5,
                .base_delay = std::chrono::milliseconds(100),
                .max_delay = std::chrono::milliseconds(1000)};
  Status err(ErrorKind::kTransient, "x");
  for (uint64_t r : {0ull, 7ull, 123456789ull, ~0ull}) {
    EXPECT_LE(p.Delay(0, err, r).count(), 100);
    EXPECT_LE(p.Delay(2, err, r).count(), 400);
    EXPECT_LE(p.Delay(10, err, r).count(), 1000);
  }
  // full jitter can be zero, and reaches the cap
  EXPECT_EQ(p.Delay(3, err, 0).count(), 0);
  EXPECT_EQ(p.Delay(3, err, 800).count(), 800);
}

TEST(RetryPolicyTest, HonoursRetryAfter) {
  RetryPolicy p;
  Status err(ErrorKind::kThrottled, "SlowDown");
  err.set_retry_after(std::chrono::milliseconds(7000));
  EXPECT_GE(p.Delay(0, err, 0).count(), 7000);
  err.set_retry_after(std::chrono::hours(5));
  EXPECT_EQ(p.Delay(0, err, 0).count(), 300000) << "capped at 5 minutes";
}

TEST(RetryingDestinationTest, RetriesOnlyRetryableKinds) {
  NoSleepEnv env;
  auto mem = std::make_unique<MemoryDestination>();
  auto* raw = mem.get();
  int fails = 2;
  ErrorKind kind = ErrorKind::kTransient;
  raw->set_fault_hook([&](std::string_view, const std::string&) {
    if (fails > 0) {
      --fails;
      return Status(kind, "scripted");
    }
    return Status::OK();
  });
  RetryingDestination r(std::move(mem), RetryPolicy{}, &env);
  EXPECT_TRUE(r.Head("x").status().kind() == ErrorKind::kNotFound);  // reached the store
  EXPECT_EQ(raw->calls("Head"), 3u);
  EXPECT_EQ(env.sleeps.size(), 2u);

  for (ErrorKind k : {ErrorKind::kAuth, ErrorKind::kNotFound, ErrorKind::kPermanent,
                      ErrorKind::kInvalidArgument}) {
    kind = k;
    fails = 1;
    uint64_t before = raw->calls("Check");
    EXPECT_EQ(r.Check().kind(), k);
    EXPECT_EQ(raw->calls("Check"), before + 1) << ErrorKindName(k) << " must not be retried";
  }
}

TEST(RetryingDestinationTest, GivesUpAfterMaxRetries) {
  NoSleepEnv env;
  auto mem = std::make_unique<MemoryDestination>();
  auto* raw = mem.get();
  raw->set_fault_hook(
      [](std::string_view, const std::string&) { return Status(ErrorKind::kThrottled, "429"); });
  RetryingDestination r(std::move(mem), RetryPolicy{.max_retries = 3}, &env);
  EXPECT_EQ(r.Check().kind(), ErrorKind::kThrottled);
  EXPECT_EQ(raw->calls("Check"), 4u);
  EXPECT_EQ(r.retries(), 3u);
}

TEST(InstrumentedDestinationTest, CountsCallsErrorsAndBytes) {
  auto metrics = std::make_shared<DestinationMetrics>();
  InstrumentedDestination d(std::make_unique<MemoryDestination>(), metrics);
  std::string data(1234, 'z');
  MemoryBody body(data);
  ASSERT_TRUE(d.Put({.key = "k", .body = &body, .md5 = Md5(data)}).ok());
  EXPECT_FALSE(d.Head("missing").ok());
  ASSERT_TRUE(d.List({}).ok());
  EXPECT_EQ(metrics->Calls(DestOp::kPut), 1u);
  EXPECT_EQ(metrics->Calls(DestOp::kHead), 1u);
  EXPECT_EQ(metrics->ListCalls(), 1u);
  EXPECT_EQ(metrics->bytes_uploaded.load(), 1234u);
  EXPECT_EQ(
      metrics->errors[static_cast<size_t>(DestOp::kHead)][static_cast<size_t>(ErrorKind::kNotFound)]
          .load(),
      1u);
  uint64_t in_buckets = 0;
  for (auto& b : metrics->latency_buckets[static_cast<size_t>(DestOp::kPut)])
    in_buckets += b.load();
  EXPECT_EQ(in_buckets, 1u);
}

TEST(ConcurrencyLimitedDestinationTest, NeverExceedsLimit) {
  auto mem = std::make_unique<MemoryDestination>();
  auto* raw = mem.get();
  std::atomic<int> in_flight{0}, peak{0};
  raw->set_fault_hook([&](std::string_view, const std::string&) {
    int now = ++in_flight;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --in_flight;
    return Status::OK();
  });
  ConcurrencyLimitedDestination d(std::move(mem), 3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 12; ++i) ts.emplace_back([&] { (void)d.Check(); });
  for (auto& t : ts) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 2);
  EXPECT_EQ(raw->calls("Check"), 12u);
}

// Every decorator passes ListOptions on whole (start_after included), even
// when a retry repeats the request.
TEST(DecoratorStackTest, ForwardsEveryListOption) {
  NoSleepEnv env;
  auto mem = std::make_unique<MemoryDestination>();
  auto* raw = mem.get();
  for (const char* k : {"p/a", "p/b", "p/c", "p/d", "q/a"}) {
    MemoryBody body("x");
    ASSERT_TRUE(raw->Put({.key = k, .body = &body, .md5 = Md5("x")}).ok());
  }
  int fails = 1;
  raw->set_fault_hook([&](std::string_view op, const std::string&) {
    if (op == "List" && fails > 0) {
      --fails;
      return Status(ErrorKind::kTransient, "scripted");
    }
    return Status::OK();
  });
  auto metrics = std::make_shared<DestinationMetrics>();
  auto d = Decorate(std::move(mem), metrics, RetryPolicy{}, 2, &env, nullptr);
  auto page = d->List({.prefix = "p/", .max_keys = 2, .start_after = "p/a"});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/b");
  EXPECT_EQ(page->objects[1].key, "p/c");
  EXPECT_EQ(page->next_continuation_token, "p/c");
  EXPECT_EQ(raw->calls("List"), 2u) << "retried once";
  EXPECT_EQ(metrics->Calls(DestOp::kList), 2u);
}

}  // namespace
}  // namespace ck
