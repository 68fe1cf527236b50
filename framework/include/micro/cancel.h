// Cancellation shared by an incoming call and the calls its handler makes.
//
// The server cancels it when the caller cancels the call or its deadline
// passes; a client call made with it (CallOptions::cancel, which
// client::FromContext fills in) then ends with CANCELLED at once, and is not
// retried. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace micro {

class Cancellation {
 public:
  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // Runs `fn` once when cancelled: at once, on this thread, if it already is
  // (and then returns 0). Otherwise returns a handle for Remove.
  std::uint64_t OnCancel(std::function<void()> fn);

  // Forgets a callback. Once it returns the callback is not running (unless
  // it is this thread that runs it) and will not run.
  void Remove(std::uint64_t handle);

  // Cancels: runs the callbacks on this thread. Later calls do nothing.
  void Cancel();

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable done_;
  std::map<std::uint64_t, std::function<void()>> callbacks_;  // guarded by mu_
  std::uint64_t next_ = 1;                                    // guarded by mu_
  std::uint64_t running_ = 0;  // the callback Cancel runs now; guarded by mu_
  std::thread::id canceller_;  // guarded by mu_
};

}  // namespace micro
