// Server: a gRPC server that serves go-micro style endpoints and keeps them registered.
//
// Calls reach a handler by the last two parts of their path, as go-micro's
// server does: "/helloworld.Greeter/Hello", "/go.micro.srv.greeter.Greeter/Hello"
// and "/anything.Greeter/Hello" all call endpoint "Greeter.Hello". The request
// codec follows the `x-content-type` metadata: protobuf by default, JSON for
// "application/grpc+json" (the response is then JSON too). Streaming endpoints
// (Method::stream; generated from `stream` methods) run their handler on a thread of
// its own per open stream: docs/streaming.md.
//
// Start() listens, then registers, then re-registers every register_interval.
// Stop() deregisters, keeps serving for drain_grace, then stops accepting and
// waits up to drain_timeout for calls and open streams (then cancels them).
// Handle() before Start().
// Thread-safe after Start(); Start and Stop are for one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "micro/registry/service.h"
#include "micro/server/handler.h"
#include "micro/server/options.h"
#include "micro/server/stream.h"

namespace micro::server {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // stops if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds endpoints. AlreadyExists for a duplicate endpoint; FailedPrecondition once started.
  absl::Status Handle(std::vector<Method> methods);

  absl::Status Start();
  absl::Status Stop();

  // The address it listens on (after Start) and the one it registers.
  std::string listen_address() const;
  std::string advertised_address() const;

  // What it registers: name, version, its node and endpoints.
  registry::Service Registration() const;

  // Marks the node (not) serving while it stays registered: grpc.health.v1 then answers
  // NOT_SERVING and Ready() is false, so active health checks (Consul ?check=grpc|http)
  // turn critical and clients stop selecting it. Serving by default; for a dependency that
  // is down for a while (a register_check that fails deregisters the node instead).
  // Any thread, before or after Start (a value set before Start holds from it); it waits
  // only for a Start or Stop in progress on another thread.
  void SetServing(bool serving);
  // Started, registered (its last registration or heartbeat worked), serving and not
  // stopping: what the HTTP health endpoint answers 200 for. Any thread; waits only for a
  // Start in progress.
  bool Ready() const;

  ServerOptions& options();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace micro::server
