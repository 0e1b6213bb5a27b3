#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace ck {
namespace {

// Tasks that block until released one at a time, counting how many started.
class Gate {
 public:
  void Enter() {
    std::unique_lock<std::mutex> l(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(l, [&] { return released_ > 0; });
    --released_;
  }
  void Release(int n = 1) {
    std::lock_guard<std::mutex> l(mu_);
    released_ += n;
    cv_.notify_all();
  }
  // Waits until at least n tasks have started; false after 10 s.
  bool WaitStarted(int n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return started_ >= n; });
  }
  int started() {
    std::lock_guard<std::mutex> l(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  int released_ = 0;
};

TEST(ThreadPoolTest, RunsEveryTaskAndWaits) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(4, 3);
    for (int i = 0; i < 1000; ++i) pool.Submit([&] { done.fetch_add(1); });
    pool.Wait();
    EXPECT_EQ(done.load(), 1000);
    for (int i = 0; i < 10; ++i) pool.Submit([&] { done.fetch_add(1); });
  }  // the destructor waits too
  EXPECT_EQ(done.load(), 1010);
}

TEST(ThreadPoolTest, FullQueueBlocksTheProducerUntilHalfDrained) {
  Gate gate;
  ThreadPool pool(1, 4);
  pool.Submit([&] { gate.Enter(); });
  ASSERT_TRUE(gate.WaitStarted(1));                                // 1 running
  for (int i = 0; i < 4; ++i) pool.Submit([&] { gate.Enter(); });  // + 4 queued

  std::atomic<bool> submitted{false};
  std::atomic<int> started_at_return{-1};
  std::thread producer([&] {
    pool.Submit([&] { gate.Enter(); });
    started_at_return.store(gate.started());
    submitted.store(true);
  });
  // The queue holds 4 of 4: the producer blocks. It may go on once the queue
  // holds at most 1 (low water for capacity 4), not as soon as there is room.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(submitted.load());
  gate.Release();
  ASSERT_TRUE(gate.WaitStarted(2));
  gate.Release();
  ASSERT_TRUE(gate.WaitStarted(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(submitted.load()) << "woken while the queue still held 2 of 4";
  gate.Release();  // the 4th task starts: the queue holds 1, the producer goes on
  ASSERT_TRUE(gate.WaitStarted(4));
  producer.join();
  EXPECT_TRUE(submitted.load());
  // The worker wakes the producer as it takes the 4th task, before that task
  // runs: the producer saw at least the 3rd one started.
  EXPECT_GE(started_at_return.load(), 3);
  gate.Release(100);
  pool.Wait();
  EXPECT_EQ(gate.started(), 6);
}

TEST(ThreadPoolTest, CapacityOneStillMakesProgress) {
  std::atomic<int> done{0};
  ThreadPool pool(2, 1);
  for (int i = 0; i < 200; ++i) pool.Submit([&] { done.fetch_add(1); });
  pool.Wait();
  EXPECT_EQ(done.load(), 200);
}

}  // namespace
}  // namespace ck
