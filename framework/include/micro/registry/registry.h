// Registry: where services announce their nodes and find each other.
//
// Implementations (memory, mdns, consul, etcd) are chosen by URI scheme, see
// registry/plugin.h. Every method is thread-safe and may block on the network
// for up to the implementation's timeout; none throws. GetService returns one
// Service per version, each with its live nodes, or NotFound.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/service.h"
#include "micro/registry/watcher.h"

namespace micro::registry {

struct RegisterOptions {
  // How long the registration lives without a refresh; 0 = until deregistered.
  std::chrono::milliseconds ttl{0};
  // Where the node answers an HTTP GET with 200 while it is ready and 503 otherwise
  // ("http://10.0.0.5:9100/health"); empty = it serves none. Registries whose health
  // checks poll it (PollsHealthUrl) need it; the others ignore it.
  std::string health_url{};
};

struct WatchOptions {
  // Watch only this service; empty = every service.
  std::string service;
};

class Registry {
 public:
  virtual ~Registry() = default;

  // Adds or refreshes the nodes of `service`. Registering a node again with
  // the same id refreshes its TTL and replaces its data.
  virtual absl::Status Register(const Service& service, const RegisterOptions& options = {}) = 0;

  // Removes the nodes of `service`. Removing an unknown node is not an error.
  virtual absl::Status Deregister(const Service& service) = 0;

  // One Service per version with its nodes; NotFound when there is none.
  virtual absl::StatusOr<std::vector<Service>> GetService(absl::string_view name) = 0;

  // Every known service, by name and version (nodes may be left out).
  virtual absl::StatusOr<std::vector<Service>> ListServices() = 0;

  virtual absl::StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& options = {}) = 0;

  // The registry's URI form, for logs: "memory://", "consul://127.0.0.1:8500".
  virtual std::string String() const = 0;

  // True when Register needs RegisterOptions::health_url because the registry's own health
  // checks poll it (Consul with ?check=http). micro services then serve /health: on
  // --metrics_address, else on --health_address, else on a port of their own.
  virtual bool PollsHealthUrl() const { return false; }
};

// The error GetService returns for an unknown service.
absl::Status ServiceNotFoundError(absl::string_view name);

}  // namespace micro::registry
