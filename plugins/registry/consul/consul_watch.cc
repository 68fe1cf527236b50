#include "consul_watch.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "codec.h"
#include "micro/log.h"
#include "micro/plugin/backoff.h"
#include "micro/plugin/queue_watcher.h"

namespace micro::consul {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxQueued = 10000;

// Consul answers at once when the index moves, and some agents move it with
// nothing changed for us, so a loop could spin. Queries that follow an answer
// with a change go at once (that is the watch's job); the others draw on a
// token bucket (bursts of 20, then 20 a second).
class RateLimit {
 public:
  // When the next query may start, given whether the last answer changed anything.
  Clock::time_point Next(bool changed) {
    Clock::time_point now = Clock::now();
    tokens_ =
        std::min(kBurst, tokens_ + std::chrono::duration<double>(now - last_).count() * kRate);
    last_ = now;
    if (changed) return now;
    tokens_ -= 1;
    if (tokens_ >= 0) return now;
    return now + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(-tokens_ / kRate));
  }

 private:
  static constexpr double kBurst = 20, kRate = 20;
  double tokens_ = kBurst;
  Clock::time_point last_ = Clock::now();
};

// Shared by a watcher and its loops: the event queue and the stop signal.
struct Shared {
  WatchContext ctx;
  std::shared_ptr<plugin::QueueWatcher> queue;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;  // guarded by mu

  bool Stopped() {
    std::lock_guard<std::mutex> lock(mu);
    return stopped;
  }
  // One blocking query of `path` (with its own '?') from `index`, waiting up
  // to `wait`. An answer other than 200 is an error, so callers see one kind.
  absl::StatusOr<HttpResponse> Blocking(absl::string_view path, uint64_t index, milliseconds wait,
                                        consul::Cancel* cancel) {
    std::string target =
        absl::StrCat(path, "index=", index, "&wait=", wait.count(), "ms", ctx.read_query);
    absl::StatusOr<HttpResponse> res = ctx.http->Do(
        "GET", target, "", ctx.headers, wait + wait / 16 + ctx.options.request_timeout, cancel);
    if (res.ok() && res->status != 200) {
      return absl::UnavailableError(
          absl::StrCat("HTTP ", res->status, ": ", res->body.substr(0, 200)));
    }
    return res;
  }

  // Whether Consul holds `agent` (a Consul node) alive: its serfHealth check passing. An agent
  // that left (gone from the catalog), failed, or cannot be asked about counts as not alive.
  bool AgentAlive(const std::string& agent, consul::Cancel* cancel) {
    std::string target = absl::StrCat("/v1/health/node/", UrlEscape(agent), "?",
                                      ctx.read_query.empty() ? "" : ctx.read_query.substr(1));
    absl::StatusOr<HttpResponse> res =
        ctx.http->Do("GET", target, "", ctx.headers, ctx.options.request_timeout, cancel);
    if (!res.ok() || res->status != 200) return false;
    absl::StatusOr<bool> alive = ParseAgentAlive(res->body);
    return alive.ok() && *alive;
  }

  // Sleeps until `until` or Stop; false once stopped.
  bool SleepUntil(Clock::time_point until) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_until(lock, until, [&] { return stopped; });
    return !stopped;
  }
};

bool SameNode(const HealthNode& a, const HealthNode& b) {
  return a.node == b.node && a.version == b.version && a.endpoints == b.endpoints;
}

// Blocking queries on /v1/health/service/<name>, diffed into node events.
class ServiceLoop {
 public:
  ServiceLoop(std::shared_ptr<Shared> shared, std::string name)
      : shared_(std::move(shared)), name_(std::move(name)) {}

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Cancel() { cancel_.Fire(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // The catalog no longer lists the service: end once no node is left.
  void Retire() {
    std::lock_guard<std::mutex> lock(mu_);
    retired_ = true;
  }
  // The catalog lists it again. False when the loop has already ended.
  bool Revive() {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return false;
    retired_ = false;
    return true;
  }

 private:
  void Run() {
    uint64_t index = 0;
    bool first = true, resync = false;
    int failures = 0;
    RateLimit limit;
    bool changed = true;
    while (shared_->SleepUntil(limit.Next(changed))) {
      changed = false;
      Clock::time_point last_start = Clock::now();
      const WatchContext& ctx = shared_->ctx;
      milliseconds wait = ctx.options.watch_wait;
      if (!pending_.empty()) {
        Clock::time_point next = pending_.begin()->second.second;
        for (const auto& [id, p] : pending_) next = std::min(next, p.second);
        wait = std::clamp(std::chrono::duration_cast<milliseconds>(next - last_start),
                          milliseconds(100), wait);
      }
      absl::StatusOr<HttpResponse> res = shared_->Blocking(
          absl::StrCat("/v1/health/service/", UrlEscape(name_), "?"), index, wait, &cancel_);
      if (absl::IsCancelled(res.status())) break;
      absl::Status failure = res.status();
      absl::StatusOr<HealthAnswer> answer = absl::UnknownError("");
      uint64_t new_index = 0;
      if (failure.ok()) {
        if (!absl::SimpleAtoi(res->consul_index, &new_index)) new_index = 0;
        if (new_index < index) {
          resync = true;  // the agent lost its state (restart): index starts over
          new_index = 0;
        } else if (!first && !resync && new_index == index) {
          ExpirePending();
          if (ShouldEnd()) break;
          continue;  // the wait ran out, nothing changed
        }
        answer = ParseHealth(res->body, name_);
        if (!answer.ok()) failure = answer.status();
      }
      if (!failure.ok()) {
        if (failures++ == 0) {
          log::Warn(absl::StrCat("consul watch of \"", name_, "\": ", failure.message(),
                                 "; retrying, serving what it knew"));
        }
        resync = true;
        ExpirePending();
        if (!shared_->SleepUntil(Clock::now() + plugin::RetryBackoff(failures))) break;
        continue;
      }
      if (failures > 0) log::Info(absl::StrCat("consul watch of \"", name_, "\" is back"));
      failures = 0;
      changed = new_index != index;
      index = new_index;
      for (const std::string& why : answer->skipped) {
        std::string m = absl::StrCat("consul: service \"", name_, "\": skipped ", why);
        if (reported_.First(m)) log::Warn(m);
      }
      Diff(*answer, resync);
      ExpirePending();
      first = resync = false;
      if (ShouldEnd()) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }

  bool ShouldEnd() {
    std::lock_guard<std::mutex> lock(mu_);
    if (retired_ && known_.empty() && pending_.empty()) {
      done_ = true;
      return true;
    }
    return false;
  }

  void Emit(registry::Action action, const HealthNode& n) {
    registry::Result r;
    r.action = action;
    r.service.name = name_;
    r.service.version = n.version;
    r.service.endpoints = n.endpoints;
    r.service.nodes.push_back(n.node);
    shared_->queue->Push(r);
  }

  // Nodes missing from an answer are deleted, except when they may only have lost their
  // agent: after a resync, when Consul holds their agent for failed (orphans), or when the
  // agent they were registered through is no longer alive (it left: `docker stop` of a client
  // agent). Those get resync_grace to register through another agent (their heartbeat does
  // that) before a delete is reported.
  void Diff(const HealthAnswer& answer, bool resync) {
    std::map<std::string, const HealthNode*> fresh;
    for (const HealthNode& n : answer.nodes) fresh.emplace(n.node.id, &n);
    std::set<std::string> orphans;
    for (const HealthNode& n : answer.orphans) orphans.insert(n.node.id);
    std::map<std::string, bool> alive;  // agent -> alive, asked once per answer
    for (const auto& [id, n] : fresh) {
      auto known = known_.find(id);
      if (known != known_.end()) {
        if (!SameNode(known->second, *n)) Emit(registry::Action::kUpdate, *n);
        known->second = *n;
        continue;
      }
      auto pending = pending_.find(id);
      if (pending != pending_.end()) {
        // Back within its grace: watchers never heard it go, but a cache that looked the
        // service up meanwhile (and found nothing) must hear it is there.
        Emit(registry::Action::kUpdate, *n);
        pending_.erase(pending);
      } else {
        Emit(registry::Action::kCreate, *n);
      }
      known_.emplace(id, *n);
    }
    for (auto it = known_.begin(); it != known_.end();) {
      if (fresh.count(it->first) != 0) {
        ++it;
        continue;
      }
      bool grace = resync || orphans.count(it->first) != 0;
      if (!grace && !it->second.agent.empty()) {
        auto a = alive.find(it->second.agent);
        if (a == alive.end()) {
          a = alive.emplace(it->second.agent, shared_->AgentAlive(it->second.agent, &cancel_))
                  .first;
          if (!a->second) {
            log::Info(absl::StrCat("consul: agent ", a->first, " is gone; service ", name_,
                                   ": keeping its nodes there for up to ",
                                   shared_->ctx.options.resync_grace.count(),
                                   " ms while they register through another agent"));
          }
        }
        grace = !a->second;
      }
      if (grace) {
        pending_.emplace(
            it->first,
            std::make_pair(it->second, Clock::now() + shared_->ctx.options.resync_grace));
      } else {
        Emit(registry::Action::kDelete, it->second);
      }
      it = known_.erase(it);
    }
  }

  void ExpirePending() {
    Clock::time_point now = Clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.second <= now) {
        Emit(registry::Action::kDelete, it->second.first);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::shared_ptr<Shared> shared_;
  const std::string name_;
  consul::Cancel cancel_;
  std::thread thread_;
  plugin::Reported reported_;
  // Loop thread only:
  std::map<std::string, HealthNode> known_;
  std::map<std::string, std::pair<HealthNode, Clock::time_point>> pending_;
  std::mutex mu_;  // guards retired_, done_ (and known_/pending_ reads in ShouldEnd)
  bool retired_ = false;
  bool done_ = false;
};

class ConsulWatcher : public registry::Watcher {
 public:
  ConsulWatcher(WatchContext ctx, std::string service) : shared_(std::make_shared<Shared>()) {
    shared_->ctx = std::move(ctx);
    shared_->queue = std::make_shared<plugin::QueueWatcher>(service, kMaxQueued, "consul registry");
    if (!service.empty()) {
      AddLoop(service);
    } else {
      catalog_ = std::thread([this] { CatalogLoop(); });
    }
  }

  ~ConsulWatcher() override {
    Stop();
    if (catalog_.joinable()) catalog_.join();
    std::lock_guard<std::mutex> lock(loops_mu_);
    for (auto& [name, loop] : loops_) loop->Join();
  }

  absl::StatusOr<registry::Result> Next() override { return shared_->queue->Next(); }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->stopped = true;
    }
    shared_->cv.notify_all();
    catalog_cancel_.Fire();
    {
      std::lock_guard<std::mutex> lock(loops_mu_);
      for (auto& [name, loop] : loops_) loop->Cancel();
    }
    shared_->queue->Stop();
  }

 private:
  void AddLoop(const std::string& name) {
    std::lock_guard<std::mutex> lock(loops_mu_);
    if (shared_->Stopped()) return;
    auto it = loops_.find(name);
    if (it != loops_.end()) {
      if (it->second->Revive()) return;
      it->second->Join();
      loops_.erase(it);
    }
    auto loop = std::make_unique<ServiceLoop>(shared_, name);
    loop->Start();
    loops_.emplace(name, std::move(loop));
  }

  void CatalogLoop() {
    const WatchContext& ctx = shared_->ctx;
    uint64_t index = 0;
    int failures = 0;
    RateLimit limit;
    bool changed = true;
    while (shared_->SleepUntil(limit.Next(changed))) {
      changed = false;
      milliseconds wait = ctx.options.watch_wait;
      absl::StatusOr<HttpResponse> res =
          shared_->Blocking("/v1/catalog/services?", index, wait, &catalog_cancel_);
      if (absl::IsCancelled(res.status())) break;
      absl::Status failure = res.status();
      absl::StatusOr<std::vector<std::string>> names = absl::UnknownError("");
      if (failure.ok()) {
        names = ParseCatalogServices(res->body);
        if (!names.ok()) failure = names.status();
      }
      if (!failure.ok()) {
        if (failures++ == 0) {
          log::Warn(absl::StrCat("consul watch of the catalog: ", failure.message(), "; retrying"));
        }
        if (!shared_->SleepUntil(Clock::now() + plugin::RetryBackoff(failures))) break;
        continue;
      }
      if (failures > 0) log::Info("consul watch of the catalog is back");
      failures = 0;
      uint64_t new_index = 0;
      if (!absl::SimpleAtoi(res->consul_index, &new_index)) new_index = 0;
      changed = new_index > index;
      index = new_index < index ? 0 : new_index;
      std::set<std::string> listed(names->begin(), names->end());
      for (const std::string& name : listed) AddLoop(name);
      std::lock_guard<std::mutex> lock(loops_mu_);
      for (auto& [name, loop] : loops_) {
        if (listed.count(name) == 0) loop->Retire();
      }
    }
  }

  std::shared_ptr<Shared> shared_;
  consul::Cancel catalog_cancel_;
  std::thread catalog_;
  std::mutex loops_mu_;
  std::map<std::string, std::unique_ptr<ServiceLoop>> loops_;  // guarded by loops_mu_
};

}  // namespace

std::unique_ptr<registry::Watcher> NewConsulWatcher(WatchContext context, std::string service) {
  return std::make_unique<ConsulWatcher>(std::move(context), std::move(service));
}

}  // namespace micro::consul
