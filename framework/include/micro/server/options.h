// Server options: a plain struct; every field has a default and a purpose.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "micro/registry/registry.h"
#include "micro/server/handler.h"
#include "micro/tls.h"

namespace micro::server {

struct ServerOptions {
  std::string name;                // registered service name (required)
  std::string version = "latest";  // registered version
  std::string id;                  // node id; empty = "<name>-<uuid>"
  std::string address = ":0";      // listen host:port; empty host = all interfaces, port 0 = any
  std::string advertise;           // host:port to register instead of the listen address
  registry::Metadata metadata;     // extra node metadata
  std::shared_ptr<registry::Registry> registry;  // where to register (required)
  std::chrono::milliseconds register_ttl{std::chrono::seconds(90)};
  std::chrono::milliseconds register_interval{std::chrono::seconds(30)};
  // When the first registration fails (registry unreachable, or the register
  // check fails): false (go-micro's way) = serve anyway, log it, and keep
  // trying (after 1 s, doubling up to register_interval); true = Start fails.
  bool register_required = false;
  // Optional health gate: while it fails the node is deregistered (and grpc.health.v1
  // answers NOT_SERVING).
  std::function<absl::Status()> register_check;
  // host:port of an HTTP endpoint answering GET /health from Ready() (the Service serves it
  // when the registry polls one); registered as RegisterOptions::health_url, with the node's
  // advertised host in place of an unspecified one. Empty = none.
  std::string health_address;
  // After deregistering, keep serving everything normally this long, so
  // clients whose caches still hold this node are served.
  std::chrono::milliseconds drain_grace{std::chrono::seconds(1)};
  // Then stop accepting calls and wait at most this long for in-flight ones.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  std::vector<HandlerWrapper> wrappers;        // outermost first
  std::vector<StreamWrapper> stream_wrappers;  // the same, for streaming endpoints
  // Threads running handlers: 0 = 4 x cores (at least 8). Negative = run them
  // inline on gRPC's own threads: faster, for handlers that never block.
  int handler_threads = 0;
  // With a pool: an endpoint whose handler is seen not to block (no call to
  // another service, no sleeping or waiting, for 128 calls in a row) runs
  // inline on gRPC's thread, and goes back to the pool when it is seen to
  // block (for good once it calls another service). False: always the pool.
  bool adaptive_handlers = true;
  int max_message_bytes = 4 << 20;  // largest request accepted
  // HTTP/2 streams (calls) one client connection may have open at once; more wait.
  int max_concurrent_streams = 1000;
  // Streaming calls open at once on the whole server (each holds a thread while open); more are
  // refused with RESOURCE_EXHAUSTED (go-micro 429).
  int max_open_streams = 1000;
  // A streaming call's messages queued towards a client before Send waits for it to read.
  int stream_send_window = 16;
  // Memory gRPC may use for this server's connections and calls (its resource
  // quota): past it, new calls are refused rather than the process growing.
  std::size_t memory_limit_bytes = std::size_t(512) << 20;
  // Every register_interval, give freed heap memory back to the system
  // (glibc malloc_trim), so a burst does not hold its peak for good.
  bool release_memory = true;
  // Count requests per endpoint for micro::metrics (lock-free counters; off only to measure them).
  bool metrics = true;
  // TLS: serve it when tls has a certificate and key; mutual with tls.client_auth (see
  // micro/tls.h). The node registers secure=true or secure=false accordingly.
  tls::Options tls;
  bool reflection = true;  // grpc.reflection.v1alpha
  bool health = true;      // grpc.health.v1
};

}  // namespace micro::server
