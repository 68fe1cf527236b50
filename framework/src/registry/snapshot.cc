#include "registry/snapshot.h"

#include <algorithm>

namespace micro::registry {

void Snapshot::Index() {
  nodes.clear();
  for (const Service& s : services) {
    for (const Node& n : s.nodes) nodes.push_back(NodeRef{&s, &n});
  }
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
