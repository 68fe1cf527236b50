// How the cache stays correct:
// - One watcher on all services feeds events to cached entries. Events that
//   arrive while an entry's lookup is in flight are queued on the entry and
//   applied on top of the lookup's answer, so a lookup racing a change never
//   loses it (replaying an event the answer already reflects is harmless).
// - Every (re)established watch starts a new epoch: entries loaded earlier may
//   have missed events, so they expire at once (and stay usable as stale).
// - Lookups are single-flight per entry: the first miss queues a job for the
//   lookup threads (marking the entry loading); every caller that misses
//   meanwhile becomes a waiter on the entry. The lookup's answer goes to all
//   waiters; a timer thread answers those whose deadline passes first (with a
//   stale entry, or DeadlineExceeded). A waiter is answered exactly once.
// - The warm path shares no written memory between threads: each thread keeps
//   its own slot per service (registry/thread_slots.h), valid while the cache's
//   generation (bumped by every change) is unchanged.
#include "micro/registry/cache.h"

#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "micro/log.h"
#include "micro/plugin/backoff.h"
#include "registry/persist.h"
#include "registry/snapshot.h"
#include "registry/thread_slots.h"
#include "registry/watch_keeper.h"

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

using namespace internal;  // NOLINT: thread_slots.h, this file's own per-thread state

}  // namespace

class Cache::Impl : public std::enable_shared_from_this<Cache::Impl> {
 public:
  Impl(std::shared_ptr<Registry> registry, CacheOptions options)
      : registry_(std::move(registry)), options_(options) {}

  // Ends every thread but the calling one (which may be a cache thread
  // dropping the last reference in a callback: it is detached and ends on its
  // own), then answers callers still waiting.
  void Stop() {
    std::vector<std::thread> threads;
    watch_.Stop();
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
      for (auto& t : workers_) threads.push_back(std::move(t));
      workers_.clear();
    }
    {
      std::lock_guard<std::mutex> lock(timer_mu_);
      stopping_timers_ = true;
      if (timer_thread_.joinable()) threads.push_back(std::move(timer_thread_));
    }
    timer_cv_.notify_all();
    for (auto& t : threads) {
      if (t.get_id() == std::this_thread::get_id()) {
        t.detach();
      } else {
        t.join();
      }
    }
    std::vector<std::shared_ptr<Waiter>> left;
    {
      absl::MutexLock lock(&mu_);
      auto take = [&left](Entry& e) {
        for (auto& w : e.waiters) left.push_back(std::move(w));
        e.waiters.clear();
      };
      for (auto& [name, e] : entries_) take(*e);
      for (Job& job : jobs_) take(*job.entry);  // entries Clear() dropped may wait here
      jobs_.clear();
    }
    for (auto& w : left) w->Fire(absl::CancelledError("the registry cache was closed"));
  }

  Answer Get(absl::string_view name, Deadline deadline) {
    Answer quick;
    if (Quick(name, &quick)) return quick;
    struct Box {
      absl::Mutex mu;
      std::optional<Answer> answer;
    };
    auto box = std::make_shared<Box>();
    Slow(name, deadline, [box](Answer a) {
      absl::MutexLock lock(&box->mu);
      box->answer = std::move(a);
    });
    absl::MutexLock lock(&box->mu);
    box->mu.Await(absl::Condition(
        +[](std::optional<Answer>* a) { return a->has_value(); }, &box->answer));
    return std::move(*box->answer);
  }

  bool Peek(absl::string_view name, Answer* out) { return Quick(name, out); }

  void GetAsync(absl::string_view name, Deadline deadline, std::function<void(Answer)> done) {
    Answer quick;
    if (Quick(name, &quick)) return done(std::move(quick));
    Slow(name, deadline, std::move(done));
  }

  void Clear() {
    absl::MutexLock lock(&mu_);
    entries_.clear();
    Changed();
  }

  CacheStats Stats() const {
    CacheStats s{lookups_.load(), stale_served_.load(), events_.load(), watch_.watches()};
    Clock::time_point now = CoarseNow();
    absl::MutexLock lock(&mu_);
    s.entries = entries_.size();
    for (const auto& [name, e] : entries_) {
      if (e->loaded_at == Clock::time_point{}) continue;
      s.oldest_seconds =
          std::max(s.oldest_seconds, std::chrono::duration<double>(now - e->loaded_at).count());
    }
    return s;
  }

  Registry& registry() const { return *registry_; }

 private:
  // One caller waiting for a lookup.
  struct Waiter {
    std::atomic<bool> fired{false};
    std::function<void(Answer)> done;
    void Fire(Answer a) {
      if (fired.exchange(true)) return;
      auto fn = std::move(done);
      fn(std::move(a));
    }
  };

  struct Entry {
    std::string name;
    std::shared_ptr<const Snapshot> snapshot;  // null until a lookup succeeded
    Clock::time_point loaded_at{};
    Clock::time_point fresh_until{};
    Clock::time_point retry_at{};  // after a failed lookup, no new one before this
    Duration backoff{0};
    absl::Status error;           // of the last lookup
    bool loading = false;         // a lookup is queued or running
    std::vector<Result> pending;  // events that came while loading
    std::vector<std::shared_ptr<Waiter>> waiters;
    Clock::time_point emptied_at{};              // when the registry began to say "no nodes"
    bool disk_tried = false;                     // the last-known-good file was looked for
    bool from_disk = false;                      // `snapshot` came from it
    mutable std::atomic<bool> announced{false};  // the log said it is served from it
    std::shared_ptr<std::atomic<std::uint64_t>> counter;
    std::shared_ptr<HealthTable> health = std::make_shared<HealthTable>();
  };

  struct Job {
    std::shared_ptr<Entry> entry;
    std::string name;
  };

  struct Timer {
    std::weak_ptr<Waiter> waiter;
    std::weak_ptr<Entry> entry;
    std::string name;
  };

  // The answer from memory when the entry is fresh: this thread's slot, else the shared entry.
  bool Quick(absl::string_view name, Answer* out) {
    std::uint64_t generation = generation_.load(std::memory_order_acquire);
    Clock::time_point now = CoarseNow();
    ThreadState& state = ThreadSlots();
    Memo& memo = state.MemoFor(name);
    if (memo.cache_id == id_ && memo.slot->generation == generation && SameName(*memo.name, name) &&
        Fresh(memo.slot->loaded_at, memo.slot->fresh_until, now)) {
      *out = memo.slot->local;
      return true;
    }
    if (state.slots.size() > 64 && !state.slots.contains(id_)) state.Clear();  // caches come and go
    SlotMap& mine = state.slots[id_];
    auto it = mine.find(name);
    if (it != mine.end() && it->second.generation == generation &&
        Fresh(it->second.loaded_at, it->second.fresh_until, now)) {
      memo = Memo{id_, &it->first, &it->second};
      *out = it->second.local;
      return true;
    }
    absl::ReaderMutexLock lock(&mu_);
    auto e = entries_.find(name);
    if (e == entries_.end() || !Fresh(*e->second, now)) return false;
    if (it == mine.end()) {
      if (mine.size() >= ThreadState::kMaxSlots) {
        *out = e->second->snapshot;  // the shared reference: this thread uses many services
        return true;
      }
      it = mine.try_emplace(std::string(name)).first;
    }
    Slot& slot = it->second;
    auto holder = std::make_shared<Holder>(Holder{e->second->snapshot});
    slot.local = std::shared_ptr<const Snapshot>(holder, holder->snapshot.get());
    slot.generation = generation;
    slot.loaded_at = e->second->loaded_at;
    slot.fresh_until = e->second->fresh_until;
    memo = Memo{id_, &it->first, &slot};
    *out = slot.local;
    return true;
  }

  // A miss: answers at once when no lookup is needed (or none can be had),
  // else queues one if none is queued and makes `done` a waiter.
  void Slow(absl::string_view name, Deadline deadline, std::function<void(Answer)> done) {
    watch_.Start();
    std::optional<Answer> now_answer;
    std::shared_ptr<Waiter> waiter;
    std::weak_ptr<Entry> entry;
    Deadline until = Deadline::max();
    {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<Entry> e = FindOrAdd(name);
      Clock::time_point now = CoarseNow();
      if (Fresh(*e, now)) {
        now_answer = e->snapshot;
      } else if (closing_) {
        now_answer = absl::CancelledError("the registry cache was closed");
      } else if (!e->loading && now < e->retry_at) {
        now_answer = Stale(*e);
      } else if (!e->loading && jobs_.size() >= options_.max_pending_lookups) {
        now_answer = e->snapshot != nullptr ? Stale(*e)
                                            : Answer(absl::UnavailableError(absl::StrCat(
                                                  registry_->String(), ": ", jobs_.size(),
                                                  " registry lookups are waiting already; service ",
                                                  name, " was not looked up")));
      } else {
        if (!e->loading) {
          if (e->snapshot == nullptr) FromDisk(e.get(), name);
          e->loading = true;
          e->pending.clear();
          jobs_.push_back(Job{e, std::string(name)});
          if (idle_workers_ == 0 &&
              workers_.size() < std::max<std::size_t>(1, options_.lookup_threads)) {
            workers_.emplace_back([self = shared_from_this()] { self->WorkLoop(); });
          }
        }
        Deadline real_now = Clock::now();
        until = e->snapshot == nullptr ? deadline : std::min(deadline, real_now + StaleWait(*e));
        if (until <= real_now) {
          now_answer = Late(*e, name);
        } else {
          waiter = std::make_shared<Waiter>();
          waiter->done = std::move(done);
          if (e->waiters.size() >= 64) {
            e->waiters.erase(std::remove_if(e->waiters.begin(), e->waiters.end(),
                                            [](const auto& w) { return w->fired.load(); }),
                             e->waiters.end());
          }
          e->waiters.push_back(waiter);
          entry = e;
        }
      }
    }
    if (now_answer.has_value()) return done(std::move(*now_answer));
    if (until != Deadline::max()) AddTimer(until, Timer{waiter, entry, std::string(name)});
  }

  // How long a caller waits for a lookup before the entry's stale snapshot is
  // served. A file from an earlier run is older than anything in memory: the
  // registry gets longer before the first answer from it.
  Duration StaleWait(const Entry& e) const {
    if (!e.from_disk || e.announced.load()) return options_.stale_wait;
    return std::max<Duration>(options_.stale_wait, std::chrono::seconds(2));
  }

  // The answer for a waiter whose time is up: the stale entry, else DeadlineExceeded.
  Answer Late(const Entry& e, absl::string_view name) ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (e.snapshot != nullptr) return Stale(e);
    return absl::DeadlineExceededError(absl::StrCat(
        registry_->String(), ": no answer about service ", name, " before the deadline",
        e.error.ok() ? "" : absl::StrCat(" (the last lookup failed: ", e.error.message(), ")")));
  }

  void WorkLoop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      ++idle_workers_;
      mu_.Await(absl::Condition(
          +[](Impl* self) { return self->closing_ || !self->jobs_.empty(); }, this));
      --idle_workers_;
      if (closing_) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      Lookup(job.entry.get(), job.name);
      std::vector<std::shared_ptr<Waiter>> waiters;
      waiters.swap(job.entry->waiters);
      std::shared_ptr<const Snapshot> keep = job.entry->error.ok() ? job.entry->snapshot : nullptr;
      Answer answer = keep != nullptr || waiters.empty() ? Answer(keep) : Stale(*job.entry);
      mu_.Unlock();
      if (keep != nullptr) disk_.Write(job.name, keep->services);
      for (auto& w : waiters) w->Fire(answer);
      waiters.clear();
      job = Job{};
      mu_.Lock();
    }
  }

  void AddTimer(Deadline at, Timer t) {
    std::lock_guard<std::mutex> lock(timer_mu_);
    if (stopping_timers_) return;
    if (!timer_thread_.joinable()) {
      timer_thread_ = std::thread([self = shared_from_this()] { self->TimerLoop(); });
    }
    bool first = timers_.empty() || at < timers_.begin()->first;
    timers_.emplace(at, std::move(t));
    if (first) timer_cv_.notify_all();
  }

  void TimerLoop() {
    std::unique_lock<std::mutex> lock(timer_mu_);
    while (true) {
      if (stopping_timers_) return;
      if (timers_.empty()) {
        timer_cv_.wait_for(lock, std::chrono::seconds(1));
        continue;
      }
      auto first = timers_.begin();
      if (Clock::now() < first->first) {
        timer_cv_.wait_until(lock, std::min(first->first, Clock::now() + std::chrono::seconds(1)));
        continue;
      }
      Timer t = std::move(first->second);
      timers_.erase(first);
      lock.unlock();
      std::shared_ptr<Waiter> w = t.waiter.lock();
      if (w != nullptr && !w->fired.load()) {
        std::shared_ptr<Entry> e = t.entry.lock();
        Answer late = absl::DeadlineExceededError("the registry cache entry is gone");
        if (e != nullptr) {
          absl::ReaderMutexLock l(&mu_);
          late = Late(*e, t.name);
        }
        w->Fire(std::move(late));
      }
      lock.lock();
    }
  }

  bool Fresh(Clock::time_point loaded_at, Clock::time_point fresh_until,
             Clock::time_point now) const {
    if (now >= fresh_until) return false;
    return watch_.healthy() || now < loaded_at + options_.unwatched_ttl;
  }

  // Requires mu_ (reader or writer).
  bool Fresh(const Entry& e, Clock::time_point now) const {
    return e.snapshot != nullptr && Fresh(e.loaded_at, e.fresh_until, now);
  }

  // Requires mu_ held for writing, after any change to an entry: retires every thread's slots.
  void Changed() { generation_.fetch_add(1, std::memory_order_release); }

  // Asks the registry for a loading entry. Requires mu_; releases it meanwhile.
  void Lookup(Entry* e, const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::uint64_t epoch = epoch_;
    mu_.Unlock();
    absl::StatusOr<std::vector<Service>> found = registry_->GetService(name);
    lookups_.fetch_add(1, std::memory_order_relaxed);
    mu_.Lock();
    e->loading = false;
    Clock::time_point now = CoarseNow();
    if (found.ok()) e->emptied_at = Clock::time_point{};
    if (absl::IsNotFound(found.status()) && KeepThroughEmpty(e, name, now)) {
      e->pending.clear();
      Changed();
      return;
    }
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
      if (e->from_disk && e->announced.load()) {
        log::Info(absl::StrCat(registry_->String(), " answers: service ", name,
                               " is no longer served from its last-known-good file"));
      }
      e->from_disk = false;
    } else {
      e->error = absl::Status(found.status().code(),
                              absl::StrCat(registry_->String(), ": ", found.status().message()));
      e->backoff = std::clamp<Duration>(e->backoff * 2, options_.backoff_min, options_.backoff_max);
      e->retry_at = now + plugin::Jittered(e->backoff);
    }
    e->pending.clear();
    Changed();
  }

  // A registry that answers "no such service" for a service whose nodes were
  // known, without any event removing them, has most likely lost its state (a
  // restarted Consul dev agent, a wiped etcd): the services register again
  // within their interval. For empty_grace the known nodes stay (watch events
  // still apply) and the registry is asked again about every second.
  bool KeepThroughEmpty(Entry* e, const std::string& name, Clock::time_point now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (e->snapshot == nullptr || e->snapshot->services.empty()) return false;
    if (e->emptied_at == Clock::time_point{}) e->emptied_at = now;
    if (now - e->emptied_at >= options_.empty_grace) return false;
    std::shared_ptr<const Snapshot> keep = e->snapshot;
    for (const Result& r : e->pending) keep = internal::Apply(*keep, r);
    if (keep->services.empty()) return false;
    if (e->emptied_at == now) {
      log::Warn(absl::StrCat(
          registry_->String(), " says service ", name,
          " has no nodes, though no event removed them: serving the ", keep->nodes.size(),
          " it had for up to ",
          std::chrono::duration_cast<std::chrono::seconds>(options_.empty_grace).count(),
          " s while they register again"));
    }
    e->snapshot = std::move(keep);
    e->error = absl::NotFoundError(
        absl::StrCat(registry_->String(), ": service ", name, " has no nodes there (yet)"));
    e->backoff =
        std::clamp<Duration>(e->backoff * 2, options_.backoff_min,
                             std::min<Duration>(options_.backoff_max, std::chrono::seconds(1)));
    e->retry_at = now + plugin::Jittered(e->backoff);
    return true;
  }

  // The stale snapshot when there is one, else the last lookup's error.
  Answer Stale(const Entry& e) {
    if (e.snapshot == nullptr) return e.error;
    stale_served_.fetch_add(1, std::memory_order_relaxed);
    if (e.from_disk && !e.announced.exchange(true)) {
      log::Warn(absl::StrCat(registry_->String(), " has not answered about service ", e.name, " (",
                             e.error.ok() ? "no answer yet" : e.error.message(),
                             "): serving it from its last-known-good file in ",
                             options_.persist_dir, " until it does"));
    }
    return e.snapshot;
  }

  // Loads the entry's last-known-good file, if there is one, as an expired snapshot.
  void FromDisk(Entry* e, absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!disk_.enabled() || e->disk_tried) return;
    e->disk_tried = true;
    std::vector<Service> read = disk_.Read(name);
    if (read.empty()) return;
    auto snap = std::make_shared<Snapshot>();
    snap->services = std::move(read);
    snap->counter = e->counter;
    snap->health_table = e->health;
    snap->Index();
    e->snapshot = std::move(snap);
    e->from_disk = true;
    e->loaded_at = e->fresh_until = CoarseNow();  // never fresh: served only as stale
    Changed();
  }

  std::shared_ptr<Entry> FindOrAdd(absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = entries_.find(name);
    if (it != entries_.end()) return it->second;
    if (entries_.size() >= options_.max_entries) Sweep();
    auto e = std::make_shared<Entry>();
    e->name = std::string(name);
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
    std::shared_ptr<const Snapshot> changed;
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(r.service.name);
      if (it == entries_.end()) return;
      Entry& e = *it->second;
      if (e.loading) {
        e.pending.push_back(r);
      } else if (e.snapshot != nullptr) {
        e.snapshot = internal::Apply(*e.snapshot, r);
        if (!e.from_disk) changed = e.snapshot;
      } else {
        return;
      }
      Changed();
      events_.fetch_add(1, std::memory_order_relaxed);
    }
    if (changed != nullptr) disk_.Write(r.service.name, changed->services);
  }

  // A new watch may have missed events: expire everything loaded before it.
  void NewEpoch() {
    absl::MutexLock lock(&mu_);
    ++epoch_;
    Clock::time_point now = CoarseNow();
    for (auto& [name, e] : entries_) e->fresh_until = std::min(e->fresh_until, now);
    Changed();
  }

  const std::shared_ptr<Registry> registry_;
  const CacheOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::size_t idle_workers_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<std::uint64_t> generation_{1};  // slots of an older generation are not used
  const std::uint64_t id_ = next_cache_id.fetch_add(1);

  internal::LastKnownGood disk_{options_.persist_dir, registry_->String()};

  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  std::multimap<Deadline, Timer> timers_;  // guarded by timer_mu_
  bool stopping_timers_ = false;           // guarded by timer_mu_
  std::thread timer_thread_;

  std::atomic<std::uint64_t> lookups_{0}, stale_served_{0}, events_{0};

  // Last: its thread calls into the members above.
  internal::WatchKeeper watch_{*registry_, options_.backoff_min, options_.backoff_max,
                               [this] { NewEpoch(); }, [this](const Result& r) { ApplyEvent(r); }};
};

std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/micro/registry");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return absl::StrCat(home, "/.cache/micro/registry");
  return "";
}

Cache::Cache(std::shared_ptr<Registry> registry, CacheOptions options)
    : impl_(std::make_shared<Impl>(std::move(registry), options)) {}
Cache::~Cache() { impl_->Stop(); }

Cache::Answer Cache::Get(absl::string_view service, Deadline deadline) {
  return impl_->Get(service, deadline);
}
bool Cache::Peek(absl::string_view service, Answer* out) { return impl_->Peek(service, out); }
void Cache::GetAsync(absl::string_view service, Deadline deadline,
                     std::function<void(Answer)> done) {
  impl_->GetAsync(service, deadline, std::move(done));
}
void Cache::Clear() { impl_->Clear(); }
CacheStats Cache::Stats() const { return impl_->Stats(); }
Registry& Cache::registry() const { return impl_->registry(); }

}  // namespace micro::registry
