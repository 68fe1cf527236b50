// Internal: one thread running functions after a delay (the client's retries, and releasing
// channels off gRPC's callback threads). The thread starts on first use. A function may destroy
// the Timer itself (dropping the client's last reference): the thread then ends on its own.
// Functions not yet due when the Timer goes are dropped, not run.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace micro::client::detail {

class Timer {
  using Clock = std::chrono::steady_clock;

 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  ~Timer() {
    std::multimap<Clock::time_point, std::function<void()>> dropped;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      state_->closing = true;
      dropped.swap(state_->due);
    }
    state_->cv.notify_all();
    if (!thread_.joinable()) return;
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }

  void After(std::chrono::milliseconds wait, std::function<void()> fn) {
    std::lock_guard<std::mutex> l(state_->mu);
    if (state_->closing) return;
    if (!thread_.joinable()) thread_ = std::thread([s = state_] { Loop(s); });
    state_->due.emplace(Clock::now() + wait, std::move(fn));
    state_->cv.notify_all();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::multimap<Clock::time_point, std::function<void()>> due;
    bool closing = false;
  };

  static void Loop(std::shared_ptr<State> s) {
    std::unique_lock<std::mutex> l(s->mu);
    while (!s->closing) {
      if (s->due.empty()) {
        s->cv.wait(l);
        continue;
      }
      auto first = s->due.begin();
      if (Clock::now() < first->first) {
        s->cv.wait_until(l, first->first);
        continue;
      }
      std::function<void()> fn = std::move(first->second);
      s->due.erase(first);
      l.unlock();
      fn();
      fn = nullptr;  // what it held goes here, unlocked
      l.lock();
    }
  }

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::thread thread_;
};

}  // namespace micro::client::detail
