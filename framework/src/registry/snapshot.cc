#include "registry/snapshot.h"

#include <algorithm>

namespace micro::registry {

void Snapshot::Index() {
  nodes.clear();
  health.clear();
  health_refs.clear();
  for (const Service& s : services) {
    for (const Node& n : s.nodes) nodes.push_back(NodeRef{&s, &n});
  }
  if (health_table == nullptr) health_table = std::make_shared<HealthTable>();
  std::lock_guard<std::mutex> l(health_table->mu);
  std::map<std::string, std::shared_ptr<NodeHealth>, std::less<>> kept;
  for (const NodeRef& ref : nodes) {
    auto it = health_table->by_id.find(ref.node->id);
    std::shared_ptr<NodeHealth> h =
        it != health_table->by_id.end() ? it->second : std::make_shared<NodeHealth>();
    kept.emplace(ref.node->id, h);
    health.push_back(h.get());
    health_refs.push_back(std::move(h));
  }
  // Nodes that left take their record with them (older snapshots keep theirs alive).
  health_table->by_id.swap(kept);
}

namespace internal {
namespace {

void Merge(Service* into, const Service& event) {
  into->metadata = event.metadata;
  into->endpoints = event.endpoints;
  for (const Node& n : event.nodes) {
    auto it = std::find_if(into->nodes.begin(), into->nodes.end(),
                           [&](const Node& cur) { return cur.id == n.id; });
    if (it == into->nodes.end()) {
      into->nodes.push_back(n);
    } else {
      *it = n;
    }
  }
}

void Remove(Service* from, const Service& event) {
  auto gone = [&](const Node& cur) {
    return std::any_of(event.nodes.begin(), event.nodes.end(),
                       [&](const Node& n) { return n.id == cur.id; });
  };
  from->nodes.erase(std::remove_if(from->nodes.begin(), from->nodes.end(), gone),
                    from->nodes.end());
}

}  // namespace

std::shared_ptr<Snapshot> Apply(const Snapshot& old, const Result& r) {
  auto next = std::make_shared<Snapshot>();
  next->services = old.services;
  next->counter = old.counter;
  next->health_table = old.health_table;
  auto it = std::find_if(next->services.begin(), next->services.end(),
                         [&](const Service& s) { return s.version == r.service.version; });
  if (r.action == Action::kDelete) {
    if (it != next->services.end()) {
      Remove(&*it, r.service);
      if (it->nodes.empty()) next->services.erase(it);
    }
  } else if (it == next->services.end()) {
    if (!r.service.nodes.empty()) next->services.push_back(r.service);
  } else {
    Merge(&*it, r.service);
  }
  next->Index();
  return next;
}

}  // namespace internal
}  // namespace micro::registry
