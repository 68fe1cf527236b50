// Internal: the registry cache's one watch on all services, kept open.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "micro/registry/registry.h"

namespace micro::registry::internal {

// Start() creates the watch on the calling thread (so no event falls between
// a lookup that follows and the watch), then a thread hands each event to
// `on_event`, and re-creates the watch with jittered backoff (min..max,
// doubling) when it breaks. `on_epoch` runs for every watch (re)established,
// before healthy() turns true: events may have been missed meanwhile.
// Thread-safe; the callbacks run on the caller of Start() or the keeper's thread.
class WatchKeeper {
 public:
  using Duration = std::chrono::steady_clock::duration;

  WatchKeeper(Registry& registry, Duration backoff_min, Duration backoff_max,
              std::function<void()> on_epoch, std::function<void(const Result&)> on_event);
  ~WatchKeeper();  // Stop()
  WatchKeeper(const WatchKeeper&) = delete;
  WatchKeeper& operator=(const WatchKeeper&) = delete;

  void Start();  // the first call starts it; later ones do nothing
  // Ends the watch and joins its thread; must not run on that thread.
  void Stop();

  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  std::uint64_t watches() const { return watches_.load(std::memory_order_relaxed); }

 private:
  void Loop(std::unique_ptr<Watcher> w);
  bool Publish(Watcher* w);  // makes `w` what Stop() interrupts; false once stopping
  void Established();

  Registry& registry_;
  const Duration backoff_min_, backoff_max_;
  const std::function<void()> on_epoch_;
  const std::function<void(const Result&)> on_event_;

  std::once_flag started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;       // guarded by mu_
  Watcher* watcher_ = nullptr;  // guarded by mu_
  std::thread thread_;
  std::atomic<bool> healthy_{false};
  std::atomic<std::uint64_t> watches_{0};
};

}  // namespace micro::registry::internal
