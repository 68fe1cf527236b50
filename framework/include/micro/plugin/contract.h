// Plugin kit: the registry contract, as a check any registry plugin can run
// against a real backend. Every plugin of ours runs it (tests/unit for memory,
// tests/integration for consul, etcd and mdns); an outside plugin author runs
// it the same way, from any test framework:
//
//   micro::plugin::RegistryContract c;
//   c.make = [&] { return MyRegistry(backend_address); };  // StatusOr<shared_ptr<Registry>>
//   for (const std::string& f : micro::plugin::CheckRegistryContract(c)) ADD_FAILURE() << f;
//
// The clauses, each on two instances (one writes, the other reads, as two
// processes would): register then get (nodes, metadata, endpoints intact);
// one Service per version; list; watch create, update and delete in order;
// a service watch sees only its service; deregister (an unknown node is no
// error; the last node gone means NotFound); a registration refreshed within
// its TTL stays; one not refreshed goes (when the plugin leaves refreshing to
// its caller, as go-micro's servers do); Stop unblocks Next; bad input is
// InvalidArgument. It blocks for up to a minute or so; link micro::registry_contract.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "micro/registry/registry.h"

namespace micro::plugin {

struct RegistryContract {
  // Makes an instance of the registry under test; called twice. A registry
  // without a shared backend (memory) returns the same instance each time.
  std::function<absl::StatusOr<std::shared_ptr<registry::Registry>>()> make;
  // The longest a change may take to reach the other instance.
  std::chrono::milliseconds propagation = std::chrono::seconds(10);
  // The TTL the TTL clauses register with.
  std::chrono::milliseconds ttl = std::chrono::seconds(3);
  // False for a plugin that keeps a live registration alive by itself (etcd's
  // lease keep-alive, mDNS re-announcing): its own tests show expiry by
  // killing the owning process.
  bool expires_without_refresh = true;
  // Service names are "<prefix>.a" and "<prefix>.b": use one the backend does
  // not hold already.
  std::string prefix = "contract";
  // Called with each clause's name as it starts (progress for slow backends).
  std::function<void(const std::string&)> log;
};

// Runs every clause and returns what failed, "clause: what" each; empty when
// the registry keeps the contract. Cleans up what it registered.
std::vector<std::string> CheckRegistryContract(const RegistryContract& contract);

}  // namespace micro::plugin
