// The memory registry keeps services as name -> version -> node id -> record.
// One mutex guards everything; events are queued to watchers while it is held,
// so every watcher sees changes in the order they were made. A sweeper thread
// sleeps until the earliest TTL deadline and turns lapsed nodes into deletes.
#include "micro/registry/memory.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "micro/plugin/queue_watcher.h"
#include "micro/plugin/registration.h"

namespace micro::registry {
namespace {

using Clock = std::chrono::steady_clock;

struct NodeRecord {
  Node node;
  Clock::time_point deadline = Clock::time_point::max();  // max = no TTL
};

struct VersionRecord {
  Metadata metadata;
  std::vector<Endpoint> endpoints;
  std::map<std::string, NodeRecord> nodes;  // by node id
};

Service ServiceOf(const std::string& name, const std::string& version, const VersionRecord& rec) {
  Service s;
  s.name = name;
  s.version = version;
  s.metadata = rec.metadata;
  s.endpoints = rec.endpoints;
  return s;
}

class MemoryRegistry : public Registry {
 public:
  explicit MemoryRegistry(const MemoryOptions& options)
      : options_(options), sweeper_([this] { Sweep(); }) {}

  ~MemoryRegistry() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    sweep_cv_.notify_all();
    sweeper_.join();
    for (auto& w : watchers_) w->Stop();
  }

  absl::Status Register(const Service& service, const RegisterOptions& options) override {
    if (absl::Status s = plugin::CheckRegistration("memory", service); !s.ok()) return s;
    Clock::time_point deadline =
        options.ttl.count() > 0 ? Clock::now() + options.ttl : Clock::time_point::max();
    std::lock_guard<std::mutex> lock(mu_);
    VersionRecord& rec = services_[service.name][service.version];
    bool service_changed = rec.metadata != service.metadata || rec.endpoints != service.endpoints;
    rec.metadata = service.metadata;
    rec.endpoints = service.endpoints;

    Service created = ServiceOf(service.name, service.version, rec);
    Service updated = created;
    for (const Node& n : service.nodes) {
      auto [it, inserted] = rec.nodes.try_emplace(n.id);
      if (inserted) {
        created.nodes.push_back(n);
      } else if (service_changed || it->second.node != n) {
        updated.nodes.push_back(n);
      }
      it->second.node = n;
      it->second.deadline = deadline;
    }
    if (!created.nodes.empty()) Publish({Action::kCreate, std::move(created)});
    if (!updated.nodes.empty()) Publish({Action::kUpdate, std::move(updated)});
    // Refreshes only push deadlines later; wake the sweeper only for an earlier one.
    if (deadline < next_deadline_) sweep_cv_.notify_all();
    return absl::OkStatus();
  }

  absl::Status Deregister(const Service& service) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto sit = services_.find(service.name);
    if (sit == services_.end()) return absl::OkStatus();
    auto vit = sit->second.find(service.version);
    if (vit == sit->second.end()) return absl::OkStatus();
    Service gone = ServiceOf(service.name, service.version, vit->second);
    for (const Node& n : service.nodes) {
      auto nit = vit->second.nodes.find(n.id);
      if (nit == vit->second.nodes.end()) continue;
      gone.nodes.push_back(std::move(nit->second.node));
      vit->second.nodes.erase(nit);
    }
    if (vit->second.nodes.empty()) sit->second.erase(vit);
    if (sit->second.empty()) services_.erase(sit);
    if (!gone.nodes.empty()) Publish({Action::kDelete, std::move(gone)});
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Service>> GetService(absl::string_view name) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Service> out;
    auto sit = services_.find(std::string(name));
    if (sit != services_.end()) {
      Clock::time_point now = Clock::now();
      for (const auto& [version, rec] : sit->second) {
        Service s = ServiceOf(sit->first, version, rec);
        for (const auto& [id, n] : rec.nodes) {
          if (n.deadline > now) s.nodes.push_back(n.node);
        }
        if (!s.nodes.empty()) out.push_back(std::move(s));
      }
    }
    if (out.empty()) return ServiceNotFoundError(name);
    return out;
  }

  absl::StatusOr<std::vector<Service>> ListServices() override {
    std::vector<Service> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, versions] : services_) {
        for (const auto& [version, rec] : versions) out.push_back(ServiceOf(name, version, rec));
      }
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& options) override {
    auto w = std::make_shared<plugin::QueueWatcher>(options.service, options_.max_queued_events,
                                                    "memory registry");
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.push_back(w);
    return plugin::QueueWatcher::Handle(std::move(w));
  }

  std::string String() const override { return "memory://"; }

 private:
  // Requires mu_. Drops watchers that were stopped.
  void Publish(const Result& r) {
    std::vector<std::shared_ptr<plugin::QueueWatcher>> live;
    live.reserve(watchers_.size());
    for (auto& w : watchers_) {
      if (w->stopped()) continue;
      w->Push(r);
      live.push_back(std::move(w));
    }
    watchers_.swap(live);
  }

  void Sweep() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!closing_) {
      Clock::time_point now = Clock::now();
      Clock::time_point next = Clock::time_point::max();
      for (auto sit = services_.begin(); sit != services_.end();) {
        for (auto vit = sit->second.begin(); vit != sit->second.end();) {
          Service gone = ServiceOf(sit->first, vit->first, vit->second);
          auto& nodes = vit->second.nodes;
          for (auto nit = nodes.begin(); nit != nodes.end();) {
            if (nit->second.deadline <= now) {
              gone.nodes.push_back(std::move(nit->second.node));
              nit = nodes.erase(nit);
            } else {
              next = std::min(next, nit->second.deadline);
              ++nit;
            }
          }
          if (!gone.nodes.empty()) Publish({Action::kDelete, std::move(gone)});
          vit = nodes.empty() ? sit->second.erase(vit) : std::next(vit);
        }
        sit = sit->second.empty() ? services_.erase(sit) : std::next(sit);
      }
      next_deadline_ = next;
      if (next == Clock::time_point::max()) {
        sweep_cv_.wait(lock);
      } else {
        sweep_cv_.wait_until(lock, next);
      }
    }
  }

  const MemoryOptions options_;
  std::mutex mu_;
  std::condition_variable sweep_cv_;
  bool closing_ = false;
  Clock::time_point next_deadline_ = Clock::time_point::max();  // the sweeper's next wake-up
  std::map<std::string, std::map<std::string, VersionRecord>> services_;
  std::vector<std::shared_ptr<plugin::QueueWatcher>> watchers_;
  std::thread sweeper_;  // last: starts after everything it uses exists
};

}  // namespace

std::unique_ptr<Registry> NewMemoryRegistry(const MemoryOptions& options) {
  return std::make_unique<MemoryRegistry>(options);
}

}  // namespace micro::registry
