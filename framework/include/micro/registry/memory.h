// The in-memory registry: complete and thread-safe, for unit tests and for
// services that only talk within one process. Nothing leaves the process.
//
// Nodes registered with a TTL disappear when it lapses without a refresh: they
// are left out of GetService at once, and a background thread sends the delete
// event to watchers at the deadline. Watch events are delivered in the order
// the changes were made. A watcher that falls more than `max_queued_events`
// behind fails with ResourceExhausted rather than growing without bound.
#pragma once

#include <cstddef>
#include <memory>

#include "micro/registry/registry.h"

namespace micro::registry {

struct MemoryOptions {
  // Events a watcher may have waiting before it is failed.
  std::size_t max_queued_events = 10000;
};

std::unique_ptr<Registry> NewMemoryRegistry(const MemoryOptions& options = {});

}  // namespace micro::registry
