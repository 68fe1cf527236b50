// Selector: picks a node of a named service for each call.
//
//   auto next = selector.Select("go.micro.srv.geo");
//   if (!next.ok()) return next.status();   // IsServiceNotFound / IsNoneAvailable
//   const registry::Node& node = (*next)();  // call it again for the next try
//   ...
//   selector.Mark("go.micro.srv.geo", node, call_status);
//
// Select reads the registry cache (registry/cache.h) and applies filters;
// picking with Next takes no lock and allocates nothing: it reads an
// immutable snapshot it holds. A Next stays valid after the registry changes
// (it keeps the nodes it was given) and must not outlive its Selector. The
// Selector is thread-safe; one Next is for one caller at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/cache.h"
#include "micro/selector/filter.h"
#include "micro/selector/strategy.h"

namespace micro::selector {

struct SelectorOptions {
  Strategy strategy = Strategy::kRandom;  // go-micro's default
  registry::CacheOptions cache;
};

struct SelectOptions {
  std::vector<Filter> filters;  // all must keep a node
};

// Outcomes recorded by Mark, per node.
struct NodeStats {
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
  std::uint64_t consecutive_failures = 0;
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
  // The service (version) the last picked node belongs to.
  const registry::Service& service() const { return *last_.service; }
  // How many nodes this Next chooses among (at least 1).
  std::size_t size() const { return size_; }

 private:
  friend class Selector;
  std::shared_ptr<const registry::Snapshot> snapshot_;
  std::vector<registry::NodeRef> filtered_;  // used when filters dropped nodes
  const registry::NodeRef* nodes_ = nullptr;
  std::size_t size_ = 0;
  Strategy strategy_ = Strategy::kRandom;
  registry::NodeRef last_{};
};

class Selector {
 public:
  Selector(std::shared_ptr<registry::Registry> registry, SelectorOptions options = {});
  ~Selector();

  // NotFound ("service not found") when the registry has no such service;
  // Unavailable ("no node available") when it has, but no node passes the
  // filters; the registry's own error when it fails and nothing is cached.
  absl::StatusOr<Next> Select(absl::string_view service, const SelectOptions& options = {});

  // Records the outcome of a call to `node`. Thread-safe.
  void Mark(absl::string_view service, const registry::Node& node, const absl::Status& result);
  NodeStats Stats(absl::string_view service, absl::string_view node_id) const;

  registry::Cache& cache() { return cache_; }
  Strategy strategy() const { return strategy_; }

 private:
  struct Marks;
  const Strategy strategy_;
  registry::Cache cache_;
  std::unique_ptr<Marks> marks_;
};

bool IsServiceNotFound(const absl::Status& status);
bool IsNoneAvailable(const absl::Status& status);

}  // namespace micro::selector
