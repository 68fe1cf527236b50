// Internal to the mDNS registry: turning DNS messages into registry nodes, and
// one-shot queries from an ephemeral port.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dns.h"
#include "mdns_registry.h"
#include "micro/registry/service.h"
#include "txt.h"

namespace micro::mdns {

// A node found in a message: SRV, TXT and an address, under our domain.
struct Found {
  std::string key;  // lower-case instance name
  TxtPayload txt;
  std::string node_id;
  std::string address;  // "ip:port"; empty for a goodbye without an address record
  std::uint32_t ttl = 0;
};

// The complete nodes in `m` under `domain`; names of instances seen but
// incomplete go to `incomplete` (when given), to be asked for again.
std::vector<Found> Assemble(const Message& m, const std::string& domain,
                            std::set<std::string>* incomplete);

// The node as a one-node registry Service.
registry::Service ServiceOf(const Found& f);

// Asks `name` (PTR) from an ephemeral port and hands every response to
// `on_response` until the query timeout; names it puts in its second argument
// are asked (ANY) once each.
absl::Status Query(const MdnsOptions& o, const std::string& name,
                   const std::function<void(const Message&, std::set<std::string>*)>& on_response);

}  // namespace micro::mdns
