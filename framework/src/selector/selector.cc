#include "micro/selector/selector.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

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

// Round robin without a shared write on the hot path: each thread keeps its
// own position per service (per cache entry: `shared` is the entry's counter,
// the same object in every snapshot of it) in a small direct-mapped table.
// A thread's first pick of a service, and its first after another service
// took its way of the table, starts from the shared counter, so threads start
// at different nodes and a thread switching between two services that share a
// way is still served in rotation. From there each pick is the next node.
std::size_t RoundRobinIndex(std::atomic<std::uint64_t>* shared, std::size_t size) {
  struct Way {
    const void* key = nullptr;
    std::size_t next = 0;
  };
  constexpr int kWayBits = 6;
  thread_local Way ways[1 << kWayBits];
  auto h =
      static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(shared)) * 0x9e3779b97f4a7c15ULL;
  Way& way = ways[h >> (64 - kWayBits)];
  if (way.key != shared) {
    way.key = shared;
    way.next = static_cast<std::size_t>(shared->fetch_add(1, std::memory_order_relaxed));
  }
  // No division while the size is what it was (a Next with filters may see fewer nodes).
  std::size_t i = way.next < size ? way.next : way.next % size;
  way.next = i + 1 == size ? 0 : i + 1;
  return i;
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
  switch (strategy) {
    case Strategy::kRoundRobin:
      return "roundrobin";
    case Strategy::kLeastInFlight:
      return "leastinflight";
    case Strategy::kRandom:
      break;
  }
  return "random";
}

bool StrategyFromName(const std::string& name, Strategy* strategy) {
  for (Strategy s : {Strategy::kRandom, Strategy::kRoundRobin, Strategy::kLeastInFlight}) {
    if (name == StrategyName(s)) {
      *strategy = s;
      return true;
    }
  }
  return false;
}

namespace {

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::atomic<std::uint64_t> g_ejections{0};

// Records `result` for node `h` of a service whose nodes are `all`; ejects it
// when it failed often enough and the share of ejected nodes allows.
void Record(registry::NodeHealth& h, registry::NodeHealth* const* all, std::size_t total,
            registry::HealthTable* table, const OutlierOptions& o, const absl::Status& result) {
  if (result.ok()) {
    h.successes.fetch_add(1, std::memory_order_relaxed);
    h.consecutive_failures.store(0, std::memory_order_relaxed);
    // A success shortens the next ejection again.
    std::uint32_t e = h.ejections.load(std::memory_order_relaxed);
    while (e > 0 && !h.ejections.compare_exchange_weak(e, e - 1, std::memory_order_relaxed)) {
    }
    return;
  }
  h.failures.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t run = h.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!o.enabled || run < o.consecutive_failures || table == nullptr) return;
  std::int64_t now = NowNs();
  if (h.ejected_until_ns.load(std::memory_order_relaxed) > now) return;  // out already
  std::size_t out = 0;
  for (std::size_t i = 0; i < total; ++i) {
    if (all[i]->ejected_until_ns.load(std::memory_order_relaxed) > now) ++out;
  }
  // Never the only node, and at most max_ejected_percent of them.
  if ((out + 1) * 100 > total * static_cast<std::size_t>(std::max(0, o.max_ejected_percent)))
    return;
  std::uint32_t n =
      std::min<std::uint32_t>(h.ejections.fetch_add(1, std::memory_order_relaxed), 16);
  auto d = std::min<std::chrono::milliseconds>(o.base_ejection * (1LL << n), o.max_ejection);
  std::int64_t until = now + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  h.ejected_until_ns.store(until, std::memory_order_relaxed);
  h.consecutive_failures.store(0, std::memory_order_relaxed);
  g_ejections.fetch_add(1, std::memory_order_relaxed);
  std::int64_t any = table->any_ejected_until_ns.load(std::memory_order_relaxed);
  while (any < until && !table->any_ejected_until_ns.compare_exchange_weak(
                            any, until, std::memory_order_relaxed)) {
  }
}

}  // namespace

std::uint64_t EjectionCount() { return g_ejections.load(std::memory_order_relaxed); }

bool Next::Ejected(std::size_t i, std::int64_t now) const {
  return health_[i]->ejected_until_ns.load(std::memory_order_relaxed) > now;
}

namespace {

// Whether some node of the table may be ejected now; `now` is set when it is
// read. The clock is read only while an ejection may be running, and the mark
// is cleared once every ejection has ended.
bool MayBeEjecting(registry::HealthTable* table, std::int64_t* now) {
  if (table == nullptr) return false;
  std::atomic<std::int64_t>& mark = table->any_ejected_until_ns;
  std::int64_t until = mark.load(std::memory_order_relaxed);
  if (until == 0) return false;
  *now = NowNs();
  if (until > *now) return true;
  // Every ejection has ended: clear the mark unless a new one raised it meanwhile.
  mark.compare_exchange_strong(until, 0, std::memory_order_relaxed);
  return false;
}

}  // namespace

std::size_t Next::Pick() {
  std::size_t i;
  if (size_ == 1) {
    i = 0;
  } else if (strategy_ == Strategy::kRoundRobin) {
    i = RoundRobinIndex(snapshot_->counter.get(), size_);
  } else {
    i = RandomIndex(size_);
  }
  // Ejected nodes are skipped; the check costs one load while nothing is ejected.
  std::int64_t now = 0;
  bool ejecting = size_ > 1 && MayBeEjecting(snapshot_->health_table.get(), &now);
  if (ejecting && Ejected(i, now)) {
    for (std::size_t k = 1; k < size_; ++k) {
      std::size_t j = (i + k) % size_;
      if (!Ejected(j, now)) {
        i = j;
        break;
      }
    }
  }
  if (strategy_ == Strategy::kLeastInFlight && size_ > 1) {
    // The second choice: another random node in rotation; the one with fewer calls in flight wins.
    std::size_t j = (i + 1 + RandomIndex(size_ - 1)) % size_;
    if (!(ejecting && Ejected(j, now)) &&
        health_[j]->in_flight.load(std::memory_order_relaxed) <
            health_[i]->in_flight.load(std::memory_order_relaxed)) {
      i = j;
    }
  }
  return i;
}

const registry::Node& Next::operator()() {
  std::size_t i = Pick();
  last_ = nodes_[i];
  last_health_ = health_[i];
  last_counted_ = strategy_ == Strategy::kLeastInFlight;
  if (last_counted_) last_health_->in_flight.fetch_add(1, std::memory_order_relaxed);
  return *last_.node;
}

const registry::Node& Next::Avoiding(const std::vector<std::string>& avoid) {
  auto avoided = [&](std::size_t i) {
    return std::find(avoid.begin(), avoid.end(), nodes_[i].node->id) != avoid.end();
  };
  std::size_t i = Pick();
  if (!avoid.empty() && avoided(i)) {
    // The first node after it that is neither avoided nor ejected, else one that is not avoided.
    std::int64_t now = NowNs();
    std::size_t fallback = i;
    for (std::size_t k = 1; k < size_; ++k) {
      std::size_t j = (i + k) % size_;
      if (avoided(j)) continue;
      if (!Ejected(j, now)) {
        fallback = j;
        break;
      }
      if (fallback == i) fallback = j;
    }
    i = fallback;
  }
  last_ = nodes_[i];
  last_health_ = health_[i];
  last_counted_ = strategy_ == Strategy::kLeastInFlight;
  if (last_counted_) last_health_->in_flight.fetch_add(1, std::memory_order_relaxed);
  return *last_.node;
}

void Next::Mark(const absl::Status& result) {
  if (last_health_ == nullptr) return;
  if (last_counted_) {
    last_health_->in_flight.fetch_sub(1, std::memory_order_relaxed);
    last_counted_ = false;
  }
  Record(*last_health_, snapshot_->health.data(), snapshot_->health.size(),
         snapshot_->health_table.get(), *outlier_, result);
}

void Next::Skip() {
  if (last_health_ != nullptr && last_counted_)
    last_health_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  last_counted_ = false;
}

Selector::Selector(std::shared_ptr<registry::Registry> registry, SelectorOptions options)
    : strategy_(options.strategy),
      outlier_(options.outlier),
      cache_(std::move(registry), options.cache) {}

Selector::~Selector() = default;

absl::StatusOr<Next> Selector::Select(absl::string_view service, const SelectOptions& options,
                                      Deadline deadline) {
  registry::Cache::Answer snap;
  if (!cache_.Peek(service, &snap)) snap = cache_.Get(service, deadline);
  return Make(std::move(snap), service, options);
}

bool Selector::SelectCached(absl::string_view service, const SelectOptions& options,
                            absl::StatusOr<Next>* out) {
  registry::Cache::Answer snap;
  if (!cache_.Peek(service, &snap)) return false;
  *out = Make(std::move(snap), service, options);
  return true;
}

void Selector::SelectAsync(absl::string_view service, SelectOptions options, Deadline deadline,
                           std::function<void(absl::StatusOr<Next>)> done) {
  cache_.GetAsync(
      service, deadline,
      [this, name = std::string(service), options = std::move(options), done = std::move(done)](
          registry::Cache::Answer snap) { done(Make(std::move(snap), name, options)); });
}

absl::StatusOr<Next> Selector::Make(registry::Cache::Answer snap, absl::string_view service,
                                    const SelectOptions& options) const {
  if (!snap.ok()) return snap.status();
  if ((*snap)->services.empty()) return registry::ServiceNotFoundError(service);
  absl::StatusOr<Next> out(absl::in_place);  // built in place: a Next is not cheap to move
  Next& next = *out;
  next.strategy_ = strategy_;
  next.outlier_ = &outlier_;
  next.snapshot_ = std::move(*snap);
  const std::vector<registry::NodeRef>& all = next.snapshot_->nodes;
  if (options.filters.empty()) {
    next.nodes_ = all.data();
    next.health_ = next.snapshot_->health.data();
    next.size_ = all.size();
  } else {
    for (std::size_t i = 0; i < all.size(); ++i) {
      const registry::NodeRef& ref = all[i];
      bool keep = std::all_of(options.filters.begin(), options.filters.end(),
                              [&](const Filter& f) { return f(*ref.service, *ref.node); });
      if (keep) {
        next.filtered_.push_back(ref);
        next.filtered_health_.push_back(next.snapshot_->health[i]);
      }
    }
    next.nodes_ = next.filtered_.data();
    next.health_ = next.filtered_health_.data();
    next.size_ = next.filtered_.size();
  }
  if (next.size_ == 0) return NoneAvailableError(service, all.size());
  next.last_ = next.nodes_[0];
  return out;
}

namespace {

// The snapshot's record of node `id`, or null.
registry::NodeHealth* Find(const registry::Snapshot& snap, absl::string_view id) {
  for (std::size_t i = 0; i < snap.nodes.size(); ++i) {
    if (snap.nodes[i].node->id == id) return snap.health[i];
  }
  return nullptr;
}

}  // namespace

void Selector::Mark(absl::string_view service, const registry::Node& node,
                    const absl::Status& result) {
  absl::StatusOr<std::shared_ptr<const registry::Snapshot>> snap = cache_.Get(service);
  if (!snap.ok()) return;
  registry::NodeHealth* h = Find(**snap, node.id);
  if (h == nullptr) return;  // the node has left
  Record(*h, (*snap)->health.data(), (*snap)->health.size(), (*snap)->health_table.get(), outlier_,
         result);
}

NodeStats Selector::Stats(absl::string_view service, absl::string_view node_id) const {
  absl::StatusOr<std::shared_ptr<const registry::Snapshot>> snap =
      const_cast<registry::Cache&>(cache_).Get(service);
  if (!snap.ok()) return {};
  const registry::NodeHealth* h = Find(**snap, node_id);
  if (h == nullptr) return {};
  NodeStats s;
  s.successes = h->successes.load(std::memory_order_relaxed);
  s.failures = h->failures.load(std::memory_order_relaxed);
  s.consecutive_failures = h->consecutive_failures.load(std::memory_order_relaxed);
  s.ejections = h->ejections.load(std::memory_order_relaxed);
  s.ejected = h->ejected_until_ns.load(std::memory_order_relaxed) > NowNs();
  s.in_flight = h->in_flight.load(std::memory_order_relaxed);
  return s;
}

bool IsServiceNotFound(const absl::Status& status) { return absl::IsNotFound(status); }

bool IsNoneAvailable(const absl::Status& status) {
  return absl::IsUnavailable(status) && status.GetPayload(kNoneAvailableUrl).has_value();
}

}  // namespace micro::selector
