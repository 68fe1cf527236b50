// Selector: picks a node of a named service for each call.
//
//   auto next = selector.Select("go.micro.srv.geo");
//   if (!next.ok()) return next.status();   // IsServiceNotFound / IsNoneAvailable
//   const registry::Node& node = (*next)();  // call it again for the next try
//   ...
//   next->Mark(call_status);                  // feeds outlier ejection, no lock
//
// Select reads the registry cache (registry/cache.h) and applies filters;
// picking with Next takes no lock and allocates nothing: it reads an
// immutable snapshot it holds.
//
// Round robin is per thread: each thread keeps its own position per service
// and every pick (from any Next of that service on that thread) is the node
// after its last one, so each thread's picks go round all nodes in turn. A
// thread's first pick of a service starts where a per-service shared counter
// says, so threads start at different nodes (a thread using many services may
// lose a service's position to another and resume from that counter). Over k
// full rounds per thread every node gets exactly k picks from each; a node's
// total is within about one pick per thread of the mean. No pick writes
// memory another thread reads.
//
// Passive outlier ejection: a node whose calls fail `consecutive_failures`
// times in a row (the client marks only failures that mean "this node cannot
// serve": refused connections, Unavailable) leaves the rotation for
// base_ejection, doubling with each ejection in a row up to max_ejection;
// then the next call to it is the probe: a success keeps it, a failure ejects
// it again for longer. Successes shorten the next ejection again. At most
// max_ejected_percent of a service's nodes are out at once, and never its
// only node: when every node is ejected, Next picks among all of them. A Next stays valid after the
// registry changes (it keeps the nodes it was given) and must not outlive its Selector. The
// Selector is thread-safe; one Next is for one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/cache.h"
#include "micro/selector/filter.h"
#include "micro/selector/strategy.h"

namespace micro::selector {

struct OutlierOptions {
  bool enabled = true;
  std::uint32_t consecutive_failures = 2;
  std::chrono::milliseconds base_ejection{1000};
  std::chrono::milliseconds max_ejection{30000};
  int max_ejected_percent = 50;
};

struct SelectorOptions {
  Strategy strategy = Strategy::kRandom;  // go-micro's default
  registry::CacheOptions cache;
  OutlierOptions outlier;
};

struct SelectOptions {
  std::vector<Filter> filters;  // all must keep a node
};

// Outcomes recorded by Mark, per node.
struct NodeStats {
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::uint64_t consecutive_failures = 0;
  std::uint64_t ejections = 0;  // in a row
  bool ejected = false;         // out of rotation now
  std::int64_t in_flight = 0;   // kLeastInFlight only
};

class Next {
 public:
  Next() = default;
  Next(Next&&) = default;
  Next& operator=(Next&&) = default;
  Next(const Next&) = delete;  // the node list may point into this object
  Next& operator=(const Next&) = delete;

  // The next node by strategy. Lock-free, allocation-free.
  const registry::Node& operator()();
  // The same, but not one of the nodes `avoid` names (by id) while another is
  // left: retries go to nodes not yet tried. Ejected nodes stay skipped.
  const registry::Node& Avoiding(const std::vector<std::string>& avoid);
  // The service (version) the last picked node belongs to.
  const registry::Service& service() const { return *last_.service; }
  // How many nodes this Next chooses among (at least 1).
  std::size_t size() const { return size_; }
  // Records the outcome of the call to the node picked last: success, or a
  // failure that says the node cannot serve (any other error is the caller's
  // or the handler's, and counts as the node answering: mark OkStatus). Lock-
  // free; call it once per pick.
  void Mark(const absl::Status& result);
  // Ends the last pick without a call to it: nothing is recorded.
  void Skip();

 private:
  friend class Selector;
  std::shared_ptr<const registry::Snapshot> snapshot_;
  std::size_t Pick();
  bool Ejected(std::size_t i, std::int64_t now) const;
  std::vector<registry::NodeRef> filtered_;  // used when filters dropped nodes
  std::vector<registry::NodeHealth*> filtered_health_;
  const registry::NodeRef* nodes_ = nullptr;
  registry::NodeHealth* const* health_ = nullptr;
  std::size_t size_ = 0;
  Strategy strategy_ = Strategy::kRandom;
  const OutlierOptions* outlier_ = nullptr;
  registry::NodeRef last_{};
  registry::NodeHealth* last_health_ = nullptr;
  bool last_counted_ = false;  // in_flight was raised for the last pick
};

class Selector {
 public:
  Selector(std::shared_ptr<registry::Registry> registry, SelectorOptions options = {});
  ~Selector();

  using Deadline = registry::Cache::Deadline;

  // NotFound ("service not found") when the registry has no such service;
  // Unavailable ("no node available") when it has, but no node passes the
  // filters; the registry's own error when it fails and nothing is cached;
  // DeadlineExceeded when a registry lookup has not answered by `deadline`
  // (the lookup runs on a cache thread, see registry/cache.h).
  absl::StatusOr<Next> Select(absl::string_view service, const SelectOptions& options = {},
                              Deadline deadline = Deadline::max());

  // Select when the service is fresh in the cache (no lock, no registry);
  // false when SelectAsync would have to wait for a lookup.
  bool SelectCached(absl::string_view service, const SelectOptions& options,
                    absl::StatusOr<Next>* out);

  // Select without waiting for the registry: `done` runs at once on this
  // thread when the service is cached, else on a cache thread when the lookup
  // answers or `deadline` passes. Exactly once; it must not block long.
  void SelectAsync(absl::string_view service, SelectOptions options, Deadline deadline,
                   std::function<void(absl::StatusOr<Next>)> done);

  // Records the outcome of a call to `node`, as Next::Mark does, looking the
  // node up first (Next::Mark is cheaper). Thread-safe.
  void Mark(absl::string_view service, const registry::Node& node, const absl::Status& result);
  NodeStats Stats(absl::string_view service, absl::string_view node_id) const;

  registry::Cache& cache() { return cache_; }
  Strategy strategy() const { return strategy_; }

 private:
  const Strategy strategy_;
  const OutlierOptions outlier_;
  absl::StatusOr<Next> Make(registry::Cache::Answer snap, absl::string_view service,
                            const SelectOptions& options) const;

  registry::Cache cache_;
};

bool IsServiceNotFound(const absl::Status& status);
bool IsNoneAvailable(const absl::Status& status);

// Nodes ejected (taken out of rotation after failures) by every selector of this process.
std::uint64_t EjectionCount();

}  // namespace micro::selector
