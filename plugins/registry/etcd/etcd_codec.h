// Internal: go-micro's etcd layout (shared/reference/wire.md) and the watch
// bookkeeping, free of gRPC so they can be unit-tested and fuzzed.
//
//   key    /micro/registry/<service>/<node id>   ('/' inside either becomes '-')
//   value  go-micro's JSON of the service holding just that one node
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/plugin/backoff.h"
#include "micro/registry/service.h"
#include "micro/registry/watcher.h"

namespace micro::etcd {

inline constexpr absl::string_view kPrefix = "/micro/registry/";

std::string NodeKey(absl::string_view service, absl::string_view node_id);
// "/micro/registry/<service>/", or kPrefix for an empty name.
std::string ServicePrefix(absl::string_view service);
// The range_end that makes [prefix, end) every key starting with prefix.
std::string PrefixEnd(absl::string_view prefix);

// The value stored for one node: `service` with only `node` in it.
std::string NodeValue(const registry::Service& service, const registry::Node& node);

// A stored value back into a Service with exactly one node; `key` names it in
// errors and must have the layout above.
absl::StatusOr<registry::Service> DecodeNode(absl::string_view key, absl::string_view value);

// The live registrations under a prefix, as the watch last saw them, turning
// etcd's key events into go-micro's create/update/delete and recovering from a
// fresh range (after compaction or a reset store) with exactly the differences.
// Bad values are skipped with one warning per key (through `warn`).
class WatchState {
 public:
  struct Kv {
    std::string key;
    std::string value;
  };
  using Warn = std::function<void(const std::string&)>;

  explicit WatchState(Warn warn);

  // A put of `kv`: create for a key not known, update for a known key whose
  // value changed, nothing for the same value again. A known key overwritten
  // by bad data is reported deleted.
  std::vector<registry::Result> Put(const Kv& kv);
  // A delete: the known node reported deleted; nothing for an unknown key.
  std::vector<registry::Result> Delete(absl::string_view key);
  // Replaces what is known with a full range; returns the differences (none
  // when `report` is false, for the first range).
  std::vector<registry::Result> Reset(const std::vector<Kv>& kvs, bool report);

  std::size_t size() const { return known_.size(); }

 private:
  struct Entry {
    std::string value;
    registry::Service service;
  };
  bool Decode(const Kv& kv, Entry* entry);

  Warn warn_;
  std::map<std::string, Entry> known_;
  plugin::Reported bad_{10000};  // keys already warned about
};

}  // namespace micro::etcd
