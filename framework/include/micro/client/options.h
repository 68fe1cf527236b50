// Client options: a plain struct; every field has a default and a purpose.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "micro/cancel.h"
#include "micro/registry/registry.h"
#include "micro/selector/selector.h"
#include "micro/tls.h"
#include "micro/trace.h"

namespace google::protobuf {
class Message;
}

namespace micro::client {

// Per call; a zero or negative value means "the client's default". Inside a
// handler, client::FromContext(ctx, options) fills in what the incoming call
// passes on: its deadline, metadata, cancellation and trace.
struct CallOptions {
  std::chrono::milliseconds timeout{0};         // whole call, retries included
  int retries = -1;                             // extra attempts on another node
  std::map<std::string, std::string> metadata;  // sent lower-cased
  std::string content_type;                     // default: the client's
  std::vector<selector::Filter> filters;        // which nodes may be picked
  // The call ends by this time at the latest, whatever `timeout` says (the
  // earlier of the two wins): an incoming call's deadline.
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
  // When it is cancelled the call ends with CANCELLED and is not retried.
  std::shared_ptr<Cancellation> cancel;
  // The span this call is a child of (an incoming call's); none: a new trace.
  trace::SpanContext parent;
};

// Describes one call to wrappers.
struct Request {
  std::string service;   // registered name
  std::string endpoint;  // "Greeter.Hello"
  const CallOptions* options;
};

using CallFn = std::function<absl::Status(
    const Request& request, const google::protobuf::Message& in, google::protobuf::Message* out)>;
// Middleware around every synchronous call: takes the next CallFn, returns one that wraps it.
using CallWrapper = std::function<CallFn(CallFn next)>;

struct ClientOptions {
  std::shared_ptr<registry::Registry> registry;  // where to find services (required)
  selector::SelectorOptions selector;            // strategy, cache
  int retries = 5;                               // go-micro's default: up to 6 attempts
  // Also retry calls that ran out of their per-attempt time (go-micro retries only those).
  bool retry_on_timeout = false;
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  // Streams' deadline when the call gives none; 0 = none (a stream may stay open for good).
  std::chrono::milliseconds stream_timeout{0};
  // Wait before attempt n (n >= 1); default go-micro's 100 ms x n^e.
  std::function<std::chrono::milliseconds(int attempt)> backoff;
  std::string content_type = "application/grpc+proto";
  std::size_t pool_size = 100;  // channels kept (one per node address)
  std::chrono::milliseconds pool_ttl{std::chrono::minutes(1)};  // idle channels close after this
  std::vector<CallWrapper> wrappers;                            // outermost first
  // Count calls per target for micro::metrics (lock-free counters; off only to measure them).
  bool metrics = true;
  // TLS towards nodes: used when tls has a CA or a certificate; which nodes get it, see
  // micro/tls.h.
  tls::Options tls;
};

}  // namespace micro::client
