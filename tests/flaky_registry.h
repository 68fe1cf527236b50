// A registry wrapper for tests of what sits on top of a registry: counts
// lookups, fails on demand, holds lookups at a gate, breaks watches.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "micro/registry/memory.h"

namespace micro::testing {

class FlakyRegistry : public registry::Registry {
 public:
  FlakyRegistry() : inner_(registry::NewMemoryRegistry()) {}

  std::atomic<int> get_calls{0};
  std::atomic<int> watch_calls{0};
  std::atomic<bool> fail_get{false};
  std::atomic<bool> fail_register{false};
  // GetService says "not found" for everything, as a registry that lost its state does.
  std::atomic<bool> forget{false};
  std::atomic<bool> fail_watch{false};

  // While closed, GetService reads the inner registry and then waits here.
  void CloseGate() {
    std::lock_guard<std::mutex> l(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard<std::mutex> l(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  int waiting_at_gate() {
    std::lock_guard<std::mutex> l(mu_);
    return waiting_;
  }

  // Every live watcher's Next fails with Unavailable.
  void BreakWatches() {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& w : watchers_) w->Break();
  }

  absl::Status Register(const registry::Service& s, const registry::RegisterOptions& o) override {
    if (fail_register) return absl::UnavailableError("flaky: registry down");
    return inner_->Register(s, o);
  }
  absl::Status Deregister(const registry::Service& s) override { return inner_->Deregister(s); }

  absl::StatusOr<std::vector<registry::Service>> GetService(absl::string_view name) override {
    ++get_calls;
    if (fail_get) return absl::UnavailableError("flaky: registry down");
    absl::StatusOr<std::vector<registry::Service>> r =
        forget ? absl::NotFoundError("flaky: forgot everything") : inner_->GetService(name);
    std::unique_lock<std::mutex> l(mu_);
    ++waiting_;
    cv_.wait(l, [&] { return gate_open_; });
    --waiting_;
    return r;
  }
  absl::StatusOr<std::vector<registry::Service>> ListServices() override {
    return inner_->ListServices();
  }
  absl::StatusOr<std::unique_ptr<registry::Watcher>> Watch(
      const registry::WatchOptions& o) override {
    ++watch_calls;
    if (fail_watch) return absl::UnavailableError("flaky: cannot watch");
    auto w = inner_->Watch(o);
    if (!w.ok()) return w.status();
    auto shared = std::make_shared<BreakableWatcher>(std::move(*w));
    std::lock_guard<std::mutex> l(mu_);
    watchers_.push_back(shared);
    return std::unique_ptr<registry::Watcher>(new Handle(shared));
  }
  std::string String() const override { return "flaky://"; }

 private:
  class BreakableWatcher {
   public:
    explicit BreakableWatcher(std::unique_ptr<registry::Watcher> w) : w_(std::move(w)) {}
    absl::StatusOr<registry::Result> Next() {
      auto r = w_->Next();
      if (broken_) return absl::UnavailableError("flaky: watch broken");
      return r;
    }
    void Stop() { w_->Stop(); }
    void Break() {
      broken_ = true;
      w_->Stop();
    }

   private:
    std::unique_ptr<registry::Watcher> w_;
    std::atomic<bool> broken_{false};
  };
  class Handle : public registry::Watcher {
   public:
    explicit Handle(std::shared_ptr<BreakableWatcher> w) : w_(std::move(w)) {}
    absl::StatusOr<registry::Result> Next() override { return w_->Next(); }
    void Stop() override { w_->Stop(); }

   private:
    std::shared_ptr<BreakableWatcher> w_;
  };

  std::unique_ptr<registry::Registry> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gate_open_ = true;
  int waiting_ = 0;
  std::vector<std::shared_ptr<BreakableWatcher>> watchers_;
};

}  // namespace micro::testing
