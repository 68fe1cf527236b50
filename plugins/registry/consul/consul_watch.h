// Internal: the Consul watcher (blocking queries turned into per-node events).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "consul_registry.h"
#include "http_client.h"
#include "micro/registry/watcher.h"

namespace micro::consul {

// What a watch needs from its registry; the watch keeps it alive.
struct WatchContext {
  std::shared_ptr<HttpClient> http;
  ConsulOptions options;
  std::vector<std::pair<std::string, std::string>> headers;  // token
  std::string read_query;                                    // "&dc=..&stale", may be empty
};

// Watches one service (`service` non-empty) or all of them.
std::unique_ptr<registry::Watcher> NewConsulWatcher(WatchContext context, std::string service);

}  // namespace micro::consul
