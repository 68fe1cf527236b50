// Internal: the etcd watcher (a prefix watch turned into node events).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "etcd_client.h"
#include "etcd_codec.h"
#include "micro/registry/watcher.h"

namespace micro::etcd {

// Watches one service (`service` non-empty) or all of them. Reads the prefix
// first, so only changes after this call are reported, and fails if no member
// answers that read.
absl::StatusOr<std::unique_ptr<registry::Watcher>> NewEtcdWatcher(
    std::shared_ptr<EtcdClient> client, std::string service);

// Ranges `prefix` (serializable, as go-micro does); fills `revision` when given.
absl::Status RangePrefix(EtcdClient& client, const std::string& prefix,
                         std::vector<WatchState::Kv>* out, int64_t* revision);

}  // namespace micro::etcd
