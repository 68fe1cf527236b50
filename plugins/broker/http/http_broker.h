// go-micro's HTTP broker (go-micro.dev/v4 broker/http.go), wire compatible: Go and C++ nodes
// publish to each other's subscribers.
//
// A subscriber is served by this process: the broker listens on an HTTP address and registers
// each subscription in the registry as a node of the service "micro.http.broker" (version: the
// queue name, or "ff.http.broadcast" without one; metadata broker=http, topic, secure=false;
// TTL 1 min, refreshed every 30 s). A publisher finds the topic's nodes through a registry
// cache (watched) and POSTs go-micro's JSON message ({"Header":{...},"Body":"<base64>"}) to
// http://<node>/?id=<node id>: every broadcast node, and one node at random per queue.
//
// Delivery is at most once. Publish returns once every chosen subscriber has accepted the
// message (queued it, 200) or failed; a failed POST is not retried, except that a queue group
// whose chosen node cannot be reached at all is offered to another of its nodes. Each
// subscription has a bounded queue and a thread of its own that runs its handler, one message
// at a time in arrival order; when the queue is full the message is dropped, answered 503,
// counted (micro_broker_dropped_total{topic}) and logged once per episode. A handler that
// returns an error or throws is logged; the message is not redelivered.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "micro/broker/broker.h"
#include "micro/broker/plugin.h"
#include "micro/registry/registry.h"

namespace micro::httpbroker {

inline constexpr char kServiceName[] = "micro.http.broker";
inline constexpr char kBroadcastVersion[] = "ff.http.broadcast";

struct HttpBrokerOptions {
  // Where this process serves its subscribers, host:port (go-micro's default; a service that
  // subscribes across machines listens on 0.0.0.0:0 or a host's address).
  std::string address = "127.0.0.1:0";
  // host:port registered for subscribers; default: the listen address, with this machine's
  // reachable address for an unspecified host (0.0.0.0, ::, "").
  std::string advertise;
  std::size_t max_body = 4u << 20;          // a larger message is refused with 413
  std::size_t queue = 1024;                 // messages waiting for one subscriber's handler
  std::chrono::milliseconds timeout{5000};  // one POST to a subscriber
  std::chrono::milliseconds register_ttl{std::chrono::minutes(1)};
  std::chrono::milliseconds register_interval{std::chrono::seconds(30)};
  std::shared_ptr<registry::Registry> registry;  // required
};

// From a URI: http://[host:port][?advertise=host:port&max_body=BYTES&queue=N&timeout=5s].
absl::StatusOr<HttpBrokerOptions> HttpBrokerOptionsFrom(const broker::BrokerAddress& address,
                                                        const broker::BrokerContext& context);

std::unique_ptr<broker::Broker> NewHttpBroker(HttpBrokerOptions options);

}  // namespace micro::httpbroker
