#include "util/thread_pool.h"

namespace ck {

ThreadPool::ThreadPool(int threads, size_t queue_capacity)
    : capacity_(queue_capacity < 1 ? 1 : queue_capacity), low_water_((capacity_ - 1) / 2) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

ThreadPool::~ThreadPool() {
  Wait();
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  has_work_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Submit(std::function<void()> task) {
  std::unique_lock<std::mutex> l(mu_);
  if (queue_.size() >= capacity_) {
    ++waiting_producers_;
    has_room_.wait(l, [&] { return queue_.size() <= low_water_; });
    --waiting_producers_;
  }
  queue_.push_back(std::move(task));
  l.unlock();
  has_work_.notify_one();
}

void ThreadPool::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  idle_.wait(l, [&] { return queue_.empty() && running_ == 0; });
}

void ThreadPool::Loop() {
  for (;;) {
    std::function<void()> task;
    bool wake_producer;
    {
      std::unique_lock<std::mutex> l(mu_);
      has_work_.wait(l, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
      wake_producer = waiting_producers_ > 0 && queue_.size() <= low_water_;
    }
    if (wake_producer) has_room_.notify_all();
    task();
    {
      std::lock_guard<std::mutex> l(mu_);
      --running_;
      if (queue_.empty() && running_ == 0) idle_.notify_all();
    }
  }
}

}  // namespace ck
