// How the cache stays correct:
// - One watcher on all services feeds events to cached entries. Events that
//   arrive while an entry's lookup is in flight are queued on the entry and
//   applied on top of the lookup's answer, so a lookup racing a change never
//   loses it (replaying an event the answer already reflects is harmless).
// - Every (re)established watch starts a new epoch: entries loaded earlier may
//   have missed events, so they expire at once (and stay usable as stale).
// - Lookups are single-flight per entry: the first thread to miss asks the
//   registry with the lock released; the others wait for its answer.
// - The warm path shares no written memory between threads: each thread keeps
//   its own slot per service holding an aliasing shared_ptr with a private
//   control block, valid while the cache's generation (bumped by every change)
//   is unchanged. Copying it touches only that thread's reference count.
#include "micro/registry/cache.h"

#include <time.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "micro/plugin/backoff.h"
#include "registry/snapshot.h"

namespace micro::registry {
namespace {

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;

// CLOCK_MONOTONIC at tick resolution: a few ns instead of a full clock read on
// the hot path; TTLs are seconds, so millisecond ticks are plenty.
Clock::time_point CoarseNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

std::atomic<std::uint64_t> next_cache_id{1};

// What one thread remembers of one entry.
struct Slot {
  std::uint64_t generation = 0;
  std::shared_ptr<const Snapshot> local;  // private control block, see above
  Clock::time_point loaded_at{}, fresh_until{};
};

// cache id -> service name -> slot, for the calling thread.
absl::flat_hash_map<std::uint64_t, absl::flat_hash_map<std::string, Slot>>& ThreadSlots() {
  thread_local absl::flat_hash_map<std::uint64_t, absl::flat_hash_map<std::string, Slot>> slots;
  return slots;
}

}  // namespace

class Cache::Impl {
 public:
  Impl(std::shared_ptr<Registry> registry, CacheOptions options)
      : registry_(std::move(registry)), options_(options) {}

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(watch_mu_);
      stopping_ = true;
      if (watcher_ != nullptr) watcher_->Stop();
    }
    watch_cv_.notify_all();
    if (watch_thread_.joinable()) watch_thread_.join();
  }

  absl::StatusOr<std::shared_ptr<const Snapshot>> Get(absl::string_view name) {
    std::uint64_t generation = generation_.load(std::memory_order_acquire);
    Clock::time_point now = CoarseNow();
    auto& slots = ThreadSlots();
    if (slots.size() > 64 && !slots.contains(id_)) slots.clear();  // caches come and go
    auto& mine = slots[id_];
    auto it = mine.find(name);
    if (it != mine.end() && it->second.generation == generation &&
        Fresh(it->second.loaded_at, it->second.fresh_until, now)) {
      return it->second.local;
    }
    {
      absl::ReaderMutexLock lock(&mu_);
      auto e = entries_.find(name);
      if (e != entries_.end() && Fresh(*e->second, now)) {
        if (mine.size() > 1024) mine.clear();
        Slot& slot = mine[name];
        auto holder = std::make_shared<std::shared_ptr<const Snapshot>>(e->second->snapshot);
        slot.local = std::shared_ptr<const Snapshot>(holder, holder->get());
        slot.generation = generation;
        slot.loaded_at = e->second->loaded_at;
        slot.fresh_until = e->second->fresh_until;
        return slot.local;
      }
    }
    return Load(name);
  }

  void Clear() {
    absl::MutexLock lock(&mu_);
    entries_.clear();
    Changed();
  }

  CacheStats Stats() const {
    return CacheStats{lookups_.load(), stale_served_.load(), events_.load(), watches_.load()};
  }

  Registry& registry() const { return *registry_; }

 private:
  struct Entry {
    std::shared_ptr<const Snapshot> snapshot;  // null until a lookup succeeded
    Clock::time_point loaded_at{};
    Clock::time_point fresh_until{};
    Clock::time_point retry_at{};  // after a failed lookup, no new one before this
    Duration backoff{0};
    absl::Status error;  // of the last lookup
    bool loading = false;
    std::vector<Result> pending;  // events that came while loading
    std::shared_ptr<std::atomic<std::uint64_t>> counter;
    std::shared_ptr<HealthTable> health = std::make_shared<HealthTable>();
  };

  bool Fresh(Clock::time_point loaded_at, Clock::time_point fresh_until,
             Clock::time_point now) const {
    if (now >= fresh_until) return false;
    return watch_healthy_.load(std::memory_order_acquire) ||
           now < loaded_at + options_.unwatched_ttl;
  }

  // Requires mu_ (reader or writer).
  bool Fresh(const Entry& e, Clock::time_point now) const {
    return e.snapshot != nullptr && Fresh(e.loaded_at, e.fresh_until, now);
  }

  // Requires mu_ held for writing, after any change to an entry: retires every thread's slots.
  void Changed() { generation_.fetch_add(1, std::memory_order_release); }

  absl::StatusOr<std::shared_ptr<const Snapshot>> Load(absl::string_view name) {
    StartWatch();
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Entry> e = FindOrAdd(name);
    while (true) {
      Clock::time_point now = CoarseNow();
      if (Fresh(*e, now)) return e->snapshot;
      if (e->loading) {
        mu_.Await(absl::Condition(
            +[](Entry* x) { return !x->loading; }, e.get()));
        continue;
      }
      if (now < e->retry_at) return Stale(*e);
      Lookup(e.get(), std::string(name));
      return e->error.ok() ? absl::StatusOr<std::shared_ptr<const Snapshot>>(e->snapshot)
                           : Stale(*e);
    }
  }

  // Requires mu_; releases it while the registry is asked.
  void Lookup(Entry* e, const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    e->loading = true;
    e->pending.clear();
    std::uint64_t epoch = epoch_;
    mu_.Unlock();
    absl::StatusOr<std::vector<Service>> found = registry_->GetService(name);
    lookups_.fetch_add(1, std::memory_order_relaxed);
    mu_.Lock();
    e->loading = false;
    Clock::time_point now = CoarseNow();
    if (found.ok() || absl::IsNotFound(found.status())) {
      auto snap = std::make_shared<Snapshot>();
      if (found.ok()) snap->services = std::move(*found);
      snap->counter = e->counter;
      snap->health_table = e->health;
      snap->Index();
      for (const Result& r : e->pending) snap = internal::Apply(*snap, r);
      e->snapshot = std::move(snap);
      e->loaded_at = now;
      Duration trust =
          found.ok() ? options_.ttl : std::min<Duration>(options_.ttl, options_.negative_ttl);
      e->fresh_until = epoch == epoch_ ? now + trust : now;
      e->error = absl::OkStatus();
      e->backoff = Duration(0);
      e->retry_at = Clock::time_point{};
    } else {
      e->error = absl::Status(found.status().code(),
                              absl::StrCat(registry_->String(), ": ", found.status().message()));
      e->backoff = std::clamp<Duration>(e->backoff * 2, options_.backoff_min, options_.backoff_max);
      e->retry_at = now + plugin::Jittered(e->backoff);
    }
    e->pending.clear();
    Changed();
  }

  // The stale snapshot when there is one, else the last lookup's error.
  absl::StatusOr<std::shared_ptr<const Snapshot>> Stale(const Entry& e) {
    if (e.snapshot == nullptr) return e.error;
    stale_served_.fetch_add(1, std::memory_order_relaxed);
    return e.snapshot;
  }

  std::shared_ptr<Entry> FindOrAdd(absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    if (entries_.size() >= options_.max_entries) Sweep();
    auto e = std::make_shared<Entry>();
    thread_local std::mt19937_64 rng{std::random_device{}()};
    // Start round robin at a random node, so clients do not all begin with the same one.
    e->counter = std::make_shared<std::atomic<std::uint64_t>>(rng() >> 1);
    entries_.emplace(std::string(name), e);
    return e;
  }

  // Drops entries that are neither fresh nor being loaded.
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Clock::time_point now = CoarseNow();
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto cur = it++;
      if (!cur->second->loading && !Fresh(*cur->second, now)) entries_.erase(cur);
    }
    Changed();
  }

  void ApplyEvent(const Result& r) {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(r.service.name);
    if (it == entries_.end()) return;
    Entry& e = *it->second;
    if (e.loading) {
      e.pending.push_back(r);
    } else if (e.snapshot != nullptr) {
      e.snapshot = internal::Apply(*e.snapshot, r);
    } else {
      return;
    }
    Changed();
    events_.fetch_add(1, std::memory_order_relaxed);
  }

  // A new watch may have missed events: expire everything loaded before it.
  void NewEpoch() {
    absl::MutexLock lock(&mu_);
    ++epoch_;
    Clock::time_point now = CoarseNow();
    for (auto& [name, e] : entries_) e->fresh_until = std::min(e->fresh_until, now);
    watch_healthy_.store(true, std::memory_order_release);
    Changed();
  }

  void StartWatch() {
    std::call_once(watch_started_, [this] {
      // Create the first watcher here, before any lookup, so no event falls
      // between a lookup and the watch; the thread retries if this fails.
      absl::StatusOr<std::unique_ptr<Watcher>> w = registry_->Watch({});
      std::unique_ptr<Watcher> first = w.ok() ? std::move(*w) : nullptr;
      if (first != nullptr) {
        watches_.fetch_add(1, std::memory_order_relaxed);
        NewEpoch();
      }
      watch_thread_ =
          std::thread([this, f = std::move(first)]() mutable { WatchLoop(std::move(f)); });
    });
  }

  void WatchLoop(std::unique_ptr<Watcher> w) {
    Duration backoff = options_.backoff_min;
    while (true) {
      if (w == nullptr) {
        absl::StatusOr<std::unique_ptr<Watcher>> made = registry_->Watch({});
        if (made.ok()) {
          w = std::move(*made);
          watches_.fetch_add(1, std::memory_order_relaxed);
          NewEpoch();
          backoff = options_.backoff_min;
        }
      }
      if (w != nullptr && Publish(w.get())) {
        while (true) {
          absl::StatusOr<Result> r = w->Next();
          if (!r.ok()) break;
          ApplyEvent(*r);
        }
      }
      watch_healthy_.store(false, std::memory_order_release);
      if (!Publish(nullptr)) return;
      w.reset();
      std::unique_lock<std::mutex> lock(watch_mu_);
      if (watch_cv_.wait_for(lock, plugin::Jittered(backoff), [this] { return stopping_; })) return;
      backoff = std::min<Duration>(backoff * 2, options_.backoff_max);
    }
  }

  // Makes `w` the watcher Stop() interrupts. False once stopping.
  bool Publish(Watcher* w) {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watcher_ = w;
    if (stopping_ && w != nullptr) w->Stop();
    return !stopping_;
  }

  const std::shared_ptr<Registry> registry_;
  const CacheOptions options_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> watch_healthy_{false};
  std::atomic<std::uint64_t> generation_{1};  // slots of an older generation are not used
  const std::uint64_t id_ = next_cache_id.fetch_add(1);

  std::once_flag watch_started_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;       // guarded by watch_mu_
  Watcher* watcher_ = nullptr;  // guarded by watch_mu_
  std::thread watch_thread_;

  std::atomic<std::uint64_t> lookups_{0}, stale_served_{0}, events_{0}, watches_{0};
};

Cache::Cache(std::shared_ptr<Registry> registry, CacheOptions options)
    : impl_(std::make_unique<Impl>(std::move(registry), options)) {}
Cache::~Cache() = default;

absl::StatusOr<std::shared_ptr<const Snapshot>> Cache::Get(absl::string_view service) {
  return impl_->Get(service);
}
void Cache::Clear() { impl_->Clear(); }
CacheStats Cache::Stats() const { return impl_->Stats(); }
Registry& Cache::registry() const { return impl_->registry(); }

}  // namespace micro::registry
