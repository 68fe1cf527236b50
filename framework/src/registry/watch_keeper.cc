#include "registry/watch_keeper.h"

#include "micro/plugin/backoff.h"

namespace micro::registry::internal {

WatchKeeper::WatchKeeper(Registry& registry, Duration backoff_min, Duration backoff_max,
                         std::function<void()> on_epoch,
                         std::function<void(const Result&)> on_event)
    : registry_(registry),
      backoff_min_(backoff_min),
      backoff_max_(backoff_max),
      on_epoch_(std::move(on_epoch)),
      on_event_(std::move(on_event)) {}

WatchKeeper::~WatchKeeper() { Stop(); }

void WatchKeeper::Start() {
  std::call_once(started_, [this] {
    absl::StatusOr<std::unique_ptr<Watcher>> w = registry_.Watch({});
    std::unique_ptr<Watcher> first = w.ok() ? std::move(*w) : nullptr;
    if (first != nullptr) Established();
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    thread_ = std::thread([this, f = std::move(first)]() mutable { Loop(std::move(f)); });
  });
}

void WatchKeeper::Stop() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (watcher_ != nullptr) watcher_->Stop();
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

void WatchKeeper::Established() {
  watches_.fetch_add(1, std::memory_order_relaxed);
  on_epoch_();
  healthy_.store(true, std::memory_order_release);
}

void WatchKeeper::Loop(std::unique_ptr<Watcher> w) {
  Duration backoff = backoff_min_;
  while (true) {
    if (w == nullptr) {
      absl::StatusOr<std::unique_ptr<Watcher>> made = registry_.Watch({});
      if (made.ok()) {
        w = std::move(*made);
        Established();
        backoff = backoff_min_;
      }
    }
    if (w != nullptr && Publish(w.get())) {
      while (true) {
        absl::StatusOr<Result> r = w->Next();
        if (!r.ok()) break;
        on_event_(*r);
      }
    }
    healthy_.store(false, std::memory_order_release);
    if (!Publish(nullptr)) return;
    w.reset();
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, plugin::Jittered(backoff), [this] { return stopping_; })) return;
    backoff = std::min<Duration>(backoff * 2, backoff_max_);
  }
}

bool WatchKeeper::Publish(Watcher* w) {
  std::lock_guard<std::mutex> lock(mu_);
  watcher_ = w;
  if (stopping_ && w != nullptr) w->Stop();
  return !stopping_;
}

}  // namespace micro::registry::internal
