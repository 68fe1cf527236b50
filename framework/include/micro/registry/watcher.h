// Watch results and the Watcher that yields them.
//
// A Watcher is owned by whoever called Registry::Watch. Next() blocks until an
// event arrives, the watcher is stopped, or the registry fails. Stop() may be
// called from any thread, any number of times, and makes a blocked Next()
// return a Cancelled status. Next() itself is for one thread at a time.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "micro/registry/service.h"

namespace micro::registry {

// go-micro's action strings: "create", "update", "delete".
enum class Action { kCreate, kUpdate, kDelete };

const char* ActionName(Action action);

// One change. `service` holds the service's name, version, endpoints and the
// node(s) the change concerns: for kDelete, the nodes that went away.
struct Result {
  Action action = Action::kCreate;
  Service service;
};

class Watcher {
 public:
  virtual ~Watcher() = default;

  // Blocks for the next event. Cancelled once Stop() was called; any other
  // error means the watch is broken and the caller should make a new one.
  virtual absl::StatusOr<Result> Next() = 0;

  // Unblocks Next() for good. Thread-safe and idempotent.
  virtual void Stop() = 0;
};

}  // namespace micro::registry
