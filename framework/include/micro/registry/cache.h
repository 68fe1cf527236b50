// Cache: a registry front that keeps per-service snapshots current.
//
// Get(name) answers from memory while the entry is fresh. One watch on the
// registry (one thread, started by the first Get) applies create, update and
// delete events to cached entries. A miss or an expired entry asks the
// registry once, however many callers miss together; they all share that
// answer. The registry is asked on the cache's own lookup threads, never on
// the caller's (a gateway's or a callback's thread must not stall on a slow
// registry): at most `lookup_threads` lookups run at once and at most
// `max_pending_lookups` services wait for one. A caller waits for a lookup
// only until its own deadline (GetAsync does not wait at all), and one that
// could be served a stale entry waits `stale_wait` at most. While the
// registry fails, the last known entry is served (stale beats nothing) and
// the registry is asked again only after a jittered backoff. A broken watch
// is re-created with jittered backoff; until it is back, entries count as
// fresh for `unwatched_ttl` only, and every entry is re-read once it is back,
// since events may have been missed.
//
// Snapshots are immutable and shared: a reader keeps its shared_ptr as long
// as it likes and never sees a change under it. All methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/registry.h"

namespace micro::registry {

struct CacheOptions {
  // How long an entry is trusted after a lookup when the watch is healthy (go-micro: 1 min).
  std::chrono::milliseconds ttl{std::chrono::minutes(1)};
  // How long a "no such service" answer is trusted: a service may be starting,
  // or the registry may have been empty for a while (a restarted agent).
  std::chrono::milliseconds negative_ttl{std::chrono::seconds(5)};
  // How long an entry is trusted while the watch is down.
  std::chrono::milliseconds unwatched_ttl{std::chrono::seconds(1)};
  // Backoff bounds for re-asking a failing registry and for re-creating the watch.
  std::chrono::milliseconds backoff_min{std::chrono::milliseconds(100)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(10)};
  // Entries kept before expired ones are swept out.
  std::size_t max_entries = 4096;
  // Registry lookups running at once at most (each on a cache thread).
  std::size_t lookup_threads = 4;
  // Services waiting for a lookup at most; past it a miss fails at once (Unavailable).
  std::size_t max_pending_lookups = 1024;
  // How long a registry that says a service has no nodes, when nodes of it
  // were known and no event removed them, is not believed: a restarted
  // registry forgets services until they register again. The known nodes are
  // served meanwhile and the registry is asked again about every second.
  std::chrono::milliseconds empty_grace{std::chrono::seconds(30)};
  // How long a caller that could be served a stale entry waits for its refresh.
  std::chrono::milliseconds stale_wait{500};
  // Last-known-good: a directory where the cache keeps what it learnt of each
  // service, one small file per registry and service, rewritten when it
  // changes. A service not in memory whose lookup fails, or has not answered
  // within 2 s (registry down at start), is served from its file, stale, and
  // the log says so, until the registry answers. Empty: off.
  // DefaultCacheDir() is a good place.
  std::string persist_dir;
};

// $XDG_CACHE_HOME/micro/registry, else $HOME/.cache/micro/registry, else "".
std::string DefaultCacheDir();

// One node with the service (version) it belongs to; pointers into the owning Snapshot.
struct NodeRef {
  const Service* service;
  const Node* node;
};

// What a selector has learnt of one node from calls to it (Selector::Mark):
// outcome counts, outlier ejection, calls in flight. Atomics, no lock: one is
// shared by every snapshot that holds the node, so it survives registry
// updates while the node stays.
struct NodeHealth {
  std::atomic<std::uint64_t> successes{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint32_t> consecutive_failures{0};
  std::atomic<std::uint32_t> ejections{0};        // in a row; decays with successes
  std::atomic<std::int64_t> ejected_until_ns{0};  // steady clock; 0 = in rotation
  std::atomic<std::int32_t> in_flight{0};
};

// The NodeHealth of one cache entry's nodes, by node id. Index() keeps it to
// the nodes of the newest snapshot.
struct HealthTable {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<NodeHealth>, std::less<>> by_id;
  // The latest end of any node's ejection: before it, pickers look for ejected nodes.
  std::atomic<std::int64_t> any_ejected_until_ns{0};
};

// What the cache knows of one service: every version, and all nodes flattened.
// An empty `services` means the registry knows no such service.
struct Snapshot {
  std::vector<Service> services;
  std::vector<NodeRef> nodes;
  // Shared by all snapshots of one entry, so round robin survives updates.
  std::shared_ptr<std::atomic<std::uint64_t>> counter;
  // Parallel to `nodes`, from `health_table` (shared by the entry's snapshots);
  // `health_refs` keeps them alive.
  std::vector<NodeHealth*> health;
  std::vector<std::shared_ptr<NodeHealth>> health_refs;
  std::shared_ptr<HealthTable> health_table;

  // Builds `nodes` and `health` from `services`; `counter` and `health_table` are kept.
  void Index();
};

struct CacheStats {
  std::uint64_t lookups = 0;       // registry GetService calls made
  std::uint64_t stale_served = 0;  // answers given from an expired entry after a failed lookup
  std::uint64_t events = 0;        // watch events applied to cached entries
  std::uint64_t watches = 0;       // watches created (1 + recoveries)
  std::uint64_t entries = 0;       // services cached now
  double oldest_seconds = 0;       // age of the least recently loaded entry (0: none)
};

class Cache {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  using Answer = absl::StatusOr<std::shared_ptr<const Snapshot>>;

  explicit Cache(std::shared_ptr<Registry> registry, CacheOptions options = {});
  // Stops the watch and the lookup threads (a lookup in progress is waited
  // for); callers still waiting get Cancelled. Snapshots handed out stay valid.
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // The service's snapshot; NotFound (from the registry) has an empty snapshot,
  // not an error. Errors when the registry fails and nothing is cached, when
  // `deadline` passes first with nothing cached (DeadlineExceeded), and when
  // too many lookups wait already (Unavailable).
  Answer Get(absl::string_view service, Deadline deadline = Deadline::max());

  // The service's snapshot when it is fresh in memory (Get's fast path: no
  // lock taken, nothing allocated); false when Get would need the registry.
  bool Peek(absl::string_view service, Answer* out);

  // Get without waiting: `done` runs at once on this thread when no lookup is
  // needed, else on a cache thread when the lookup ends or `deadline` passes
  // (then with a stale entry or DeadlineExceeded). Exactly once, and it must
  // not block long.
  void GetAsync(absl::string_view service, Deadline deadline, std::function<void(Answer)> done);

  // Drops every entry; the next Get asks the registry.
  void Clear();

  CacheStats Stats() const;
  Registry& registry() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;  // shared with the cache's threads
};

}  // namespace micro::registry
