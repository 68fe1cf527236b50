// Helpers for tests against real registries: node ids of a service, waiting
// for a watch event, and a deadline that stops a watch so no test can hang.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "micro/registry/registry.h"

namespace micro::testing {

inline std::set<std::string> NodeIds(registry::Registry& r, const std::string& name) {
  std::set<std::string> ids;
  auto s = r.GetService(name);
  if (!s.ok()) return ids;
  for (auto& svc : *s) {
    for (auto& n : svc.nodes) ids.insert(n.id);
  }
  return ids;
}

// Waits for an event `action` about node `id`; false if the watch ends first.
// The event's service is stored in `*seen` when given.
inline bool WaitFor(registry::Watcher& w, registry::Action action, const std::string& id,
                    registry::Service* seen = nullptr) {
  while (true) {
    auto ev = w.Next();
    if (!ev.ok()) return false;
    if (ev->action != action) continue;
    for (auto& n : ev->service.nodes) {
      if (n.id == id) {
        if (seen != nullptr) *seen = ev->service;
        return true;
      }
    }
  }
}

// Stops `w` after `d` unless destroyed first, so a test waiting for an event cannot hang.
class Deadline {
 public:
  Deadline(registry::Watcher& w, std::chrono::seconds d)
      : thread_([this, &w, d] {
          std::unique_lock<std::mutex> l(mu_);
          if (!cv_.wait_for(l, d, [this] { return done_; })) w.Stop();
        }) {}
  ~Deadline() {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace micro::testing
