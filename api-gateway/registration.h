// The gateway in the registry (api-gateway --register): one node under a service name of its
// own ("go.micro.api" by default, as `micro api` registers) whose address is the gateway's
// HTTP(S) port, with protocol=http metadata and the gateway's /health as its health URL, so
// Consul (?check=http) polls it and Consul DNS or another balancer can find gateways. Kept
// registered like a service's node: heartbeats every interval, retries with backoff, and a
// deregistration before the gateway drains.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "micro/registry/registry.h"

namespace micro::api {

struct RegistrationOptions {
  std::string name = "go.micro.api";
  std::string id;         // empty: "<name>-<uuid>"
  std::string advertise;  // host:port to register; empty: this machine's address and the port
  std::chrono::milliseconds ttl{std::chrono::seconds(90)};
  std::chrono::milliseconds interval{std::chrono::seconds(30)};
  bool https = false;  // the gateway serves HTTPS: secure=true and an https health URL
};

class SelfRegistration {
 public:
  // Registers the node (a failure is logged and retried, as a service's is) and starts the
  // heartbeats. InvalidArgument for a bad name or advertise address.
  static absl::StatusOr<std::unique_ptr<SelfRegistration>> Start(
      RegistrationOptions options, std::shared_ptr<registry::Registry> registry, int port);
  ~SelfRegistration();  // Stop()
  // Stops the heartbeats and deregisters; the status of the deregistration. Once.
  absl::Status Stop();
  std::string address() const;  // what it registered

 private:
  struct State;
  explicit SelfRegistration(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace micro::api
