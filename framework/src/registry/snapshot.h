// Internal: applying watch events to immutable snapshots.
#pragma once

#include <memory>

#include "micro/registry/cache.h"

namespace micro::registry::internal {

// A new snapshot: `old` with event `r` applied as go-micro's cache does.
// create/update: the event's version replaces the service data and its nodes
// replace (by id) or join the cached ones. delete: the event's nodes leave;
// a version with no nodes left goes. The counter is shared with `old`.
std::shared_ptr<Snapshot> Apply(const Snapshot& old, const Result& r);

}  // namespace micro::registry::internal
