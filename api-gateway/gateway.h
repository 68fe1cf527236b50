// The API gateway: an HTTP/1.1 server (Boost.Beast, keep-alive, a few threads
// on one io_context) that turns requests into calls through a micro client
// (request.h) and answers with the service's JSON or go-micro error JSON.
//
// Calls are asynchronous: an Asio thread never waits on gRPC; the answer is
// posted back to the connection's strand. Start/Stop from one thread; the rest
// is internal. Beast stays in gateway.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "micro/client/client.h"
#include "micro/tls.h"
#include "request.h"

namespace micro::api {

struct GatewayOptions {
  std::string address = "127.0.0.1:8080";  // host:port; ":8080" = every interface
  Policy policy;      // namespace, /rpc, allow/deny lists, reserved header prefix (request.h)
  int threads = 2;    // io_context threads
  bool cors = false;  // answer CORS preflights, add headers
  std::vector<std::string> cors_origins{"*"};        // allowed origins ("*" = any)
  std::size_t max_body = 1 << 20;                    // larger bodies: 413
  std::size_t max_header = 16 << 10;                 // larger headers: 431
  std::chrono::milliseconds request_timeout{10000};  // the call, retries included: 504
  std::chrono::milliseconds read_timeout{15000};     // to read one request: 408
  std::chrono::milliseconds idle_timeout{60000};     // keep-alive connection without a request
  std::chrono::milliseconds drain_timeout{10000};    // Stop() waits this long for calls
  std::size_t max_connections = 10000;               // past it: 503 and close
  // /metrics and /health on their own listener (plain HTTP; keep it on loopback). Empty: no
  // admin listener, and /metrics is served nowhere. The main listener answers /health too
  // (ok or draining, nothing more) for load balancers, never /metrics.
  std::string admin_address;
  // Per client address: requests per second, with bursts of rate_burst (0: rate_limit, at
  // least 1). Past it: 429 with Retry-After. 0: off.
  double rate_limit = 0;
  double rate_burst = 0;
  // HTTPS on the main listener when it has a certificate and key; with client_auth, clients must
  // present certificates signed by tls.ca_file. (Calls to services use the client's own TLS.)
  tls::Options tls;
};

class Gateway {
 public:
  Gateway(GatewayOptions options, std::shared_ptr<client::Client> client);
  ~Gateway();

  // Binds and starts serving. InvalidArgument for a bad address, Unavailable
  // when it cannot bind.
  absl::Status Start();
  // The bound ports (after Start); admin_port is 0 without an admin listener.
  int port() const;
  int admin_port() const;
  // Stops accepting, lets calls in flight finish (up to drain_timeout), closes.
  void Stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace micro::api
