#include "micro/selector/selector.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace micro::selector {
namespace {

constexpr char kNoneAvailableUrl[] = "type.micro/selector.none_available";

// splitmix64 over a per-thread state: no shared cache line, no lock.
std::uint64_t NextRandom() {
  thread_local std::uint64_t state = 0;
  if (state == 0) {
    state = reinterpret_cast<std::uintptr_t>(&state) ^
            static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    state |= 1;
  }
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [0, n) without a division (Lemire's multiply-shift).
std::size_t RandomIndex(std::size_t n) {
  return static_cast<std::size_t>((static_cast<unsigned __int128>(NextRandom()) * n) >> 64);
}

absl::Status NoneAvailableError(absl::string_view service, std::size_t total) {
  absl::Status s = absl::UnavailableError(
      total == 0 ? absl::StrCat("no node available for service ", service, ": it has no nodes")
                 : absl::StrCat("no node available for service ", service, ": none of its ", total,
                                " nodes passed the filters"));
  s.SetPayload(kNoneAvailableUrl, absl::Cord("1"));
  return s;
}

}  // namespace

const char* StrategyName(Strategy strategy) {
  return strategy == Strategy::kRoundRobin ? "roundrobin" : "random";
}

const registry::Node& Next::operator()() {
  std::size_t i = strategy_ == Strategy::kRoundRobin
                      ? snapshot_->counter->fetch_add(1, std::memory_order_relaxed) % size_
                      : RandomIndex(size_);
  last_ = nodes_[i];
  return *last_.node;
}

struct Selector::Marks {
  mutable absl::Mutex mu;
  // service -> node id -> outcomes
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, NodeStats>> by_service
      ABSL_GUARDED_BY(mu);
};

Selector::Selector(std::shared_ptr<registry::Registry> registry, SelectorOptions options)
    : strategy_(options.strategy),
      cache_(std::move(registry), options.cache),
      marks_(std::make_unique<Marks>()) {}

Selector::~Selector() = default;

absl::StatusOr<Next> Selector::Select(absl::string_view service, const SelectOptions& options) {
  absl::StatusOr<std::shared_ptr<const registry::Snapshot>> snap = cache_.Get(service);
  if (!snap.ok()) return snap.status();
  if ((*snap)->services.empty()) return registry::ServiceNotFoundError(service);
  Next next;
  next.strategy_ = strategy_;
  next.snapshot_ = std::move(*snap);
  const std::vector<registry::NodeRef>& all = next.snapshot_->nodes;
  if (options.filters.empty()) {
    next.nodes_ = all.data();
    next.size_ = all.size();
  } else {
    for (const registry::NodeRef& ref : all) {
      bool keep = std::all_of(options.filters.begin(), options.filters.end(),
                              [&](const Filter& f) { return f(*ref.service, *ref.node); });
      if (keep) next.filtered_.push_back(ref);
    }
    next.nodes_ = next.filtered_.data();
    next.size_ = next.filtered_.size();
  }
  if (next.size_ == 0) return NoneAvailableError(service, all.size());
  next.last_ = next.nodes_[0];
  return next;
}

void Selector::Mark(absl::string_view service, const registry::Node& node,
                    const absl::Status& result) {
  absl::MutexLock lock(&marks_->mu);
  auto& nodes = marks_->by_service[service];
  // Nodes come and go; forget old ones rather than grow without bound.
  if (nodes.size() > 4096 && !nodes.contains(node.id)) nodes.clear();
  NodeStats& s = nodes[node.id];
  if (result.ok()) {
    ++s.successes;
    s.consecutive_failures = 0;
  } else {
    ++s.failures;
    ++s.consecutive_failures;
  }
}

NodeStats Selector::Stats(absl::string_view service, absl::string_view node_id) const {
  absl::MutexLock lock(&marks_->mu);
  auto sit = marks_->by_service.find(service);
  if (sit == marks_->by_service.end()) return {};
  auto nit = sit->second.find(node_id);
  return nit == sit->second.end() ? NodeStats{} : nit->second;
}

bool IsServiceNotFound(const absl::Status& status) { return absl::IsNotFound(status); }

bool IsNoneAvailable(const absl::Status& status) {
  return absl::IsUnavailable(status) && status.GetPayload(kNoneAvailableUrl).has_value();
}

}  // namespace micro::selector
