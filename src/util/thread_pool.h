// A fixed-size thread pool with a bounded queue: Submit blocks while the queue
// is full, so a fast producer cannot buffer unbounded work. A blocked producer
// is woken once the queue has drained to half its capacity, not after every
// task taken: one wake-up (and context switch) per capacity/2 tasks instead of
// one per task.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ck {

class ThreadPool {
 public:
  // threads >= 1; queue_capacity >= 1 tasks waiting (not counting running ones).
  ThreadPool(int threads, size_t queue_capacity);
  // Waits for every submitted task to finish, then joins the threads.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues a task; when the queue is full, blocks until it holds at most
  // capacity/2 tasks. Thread-safe.
  void Submit(std::function<void()> task);
  // Blocks until the queue is empty and no task is running. Thread-safe.
  void Wait();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable has_work_, has_room_, idle_;
  std::deque<std::function<void()>> queue_;
  size_t capacity_;
  size_t low_water_;  // a blocked Submit resumes at this queue length
  int waiting_producers_ = 0;
  int running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ck
