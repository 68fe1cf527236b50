#include "micro/cancel.h"

#include <condition_variable>
#include <utility>

namespace micro {

std::uint64_t Cancellation::OnCancel(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!cancelled()) {
      std::uint64_t id = next_++;
      callbacks_.emplace(id, std::move(fn));
      return id;
    }
  }
  fn();
  return 0;
}

void Cancellation::Remove(std::uint64_t handle) {
  if (handle == 0) return;
  std::unique_lock<std::mutex> l(mu_);
  callbacks_.erase(handle);
  if (canceller_ == std::this_thread::get_id()) return;
  done_.wait(l, [&] { return running_ != handle; });
}

void Cancellation::Cancel() {
  std::unique_lock<std::mutex> l(mu_);
  if (cancelled()) return;
  cancelled_.store(true, std::memory_order_release);
  canceller_ = std::this_thread::get_id();
  while (!callbacks_.empty()) {
    auto it = callbacks_.begin();
    std::function<void()> fn = std::move(it->second);
    running_ = it->first;
    callbacks_.erase(it);
    l.unlock();
    fn();
    l.lock();
    running_ = 0;
    done_.notify_all();
  }
  canceller_ = std::thread::id();
}

}  // namespace micro
