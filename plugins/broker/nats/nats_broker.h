// The NATS broker, wire compatible with go-micro's (github.com/go-micro/plugins/v4/broker/nats):
// a message is published on the subject named by its topic, its payload go-micro's JSON message
// ({"Header":{...},"Body":"<base64>"}); a queue is a NATS queue subscription. Over the NATS C
// client (Debian's libnats-dev).
//
// Delivery is at most once (core NATS). The connection reconnects by itself, forever, to any
// server of the list or of the cluster (servers a cluster announces are used too); while it is
// disconnected, publishes are buffered up to `reconnect_buffer` bytes and then fail with
// Unavailable. Each subscription runs its handler on a thread of its own (the NATS client's
// dispatcher), one message at a time in order; when `queue` messages wait, the client drops the
// next ones (a slow consumer): counted in micro_broker_dropped_total{broker="nats",topic} and
// logged once per episode. A handler's error or exception is logged; the message is not
// redelivered.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "micro/broker/broker.h"
#include "micro/broker/plugin.h"

namespace micro::natsbroker {

struct NatsBrokerOptions {
  std::vector<std::string> servers = {"127.0.0.1:4222"};  // host:port
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{500};
  int reconnect_buffer = 8 << 20;  // bytes published while disconnected, at most
  int queue = 65536;               // messages waiting for one subscriber, at most
  std::string name;                // the connection's name, as servers show it
  // Write each publish at once (true) rather than let the client's flusher batch them: the
  // C client's flusher waits about a millisecond, which a lone publisher pays per message.
  bool send_asap = true;
};

// From a URI: nats://host:port[,host:port...][?queue=N&reconnect_buffer=BYTES&
// connect_timeout=2s&reconnect_wait=500ms&name=...&send_asap=true]; nats:// alone: 127.0.0.1:4222.
absl::StatusOr<NatsBrokerOptions> NatsBrokerOptionsFrom(const broker::BrokerAddress& address);

std::unique_ptr<broker::Broker> NewNatsBroker(NatsBrokerOptions options);

}  // namespace micro::natsbroker
