// Internal: a fixed pool of threads running queued tasks, for handlers that may block.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace micro::internal {

class ThreadPool {
 public:
  // `name` (at most 15 characters) names the threads, as top -H and debuggers show them.
  explicit ThreadPool(int threads, const char* name = "micro-pool") {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, name] {
        pthread_setname_np(pthread_self(), name);
        Work();
      });
    }
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();  // drains what is queued first
  }
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> l(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return closing_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool closing_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace micro::internal
