// Events: publish typed messages to a topic and subscribe to them, over the service's broker
// (micro/broker/broker.h), as go-micro's micro.NewEvent and micro.RegisterSubscriber do.
//
//   // Publisher
//   micro::Event searched("hotel.searched", *service);
//   absl::Status s = searched.Publish(msg);                          // or, inside a handler,
//   s = searched.Publish(msg, micro::client::FromContext(ctx));      // its metadata and trace
//
//   // Subscriber (a queue: one node of the service gets each message)
//   micro::RegisterSubscriber<hotel::Searched>(
//       "hotel.searched", *service,
//       [](micro::server::Context& ctx, const hotel::Searched& m) { ...; return absl::OkStatus();
//       },
//       {/*queue=*/"hotel-stats"});
//
// On the wire, as go-micro: the body is the message encoded by its Content-Type (default: the
// client's, application/grpc+proto; application/json and application/grpc+json give proto JSON,
// as go-micro's json codec); headers are the call metadata, Content-Type, Micro-Topic and
// Micro-ID (a uuid), plus traceparent when the publish has a trace. A subscriber decodes by the
// message's Content-Type (none: proto), so Go and C++ publishers and subscribers mix freely.
//
// Delivery is at most once (the broker's), without a queue to every subscriber, with one to one
// subscriber of the queue. A message that does not decode, or a subscriber that returns an
// error or throws, is logged and counted (micro_broker_*_total{topic}); it is not redelivered.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "micro/client/options.h"
#include "micro/server/handler.h"
#include "micro/service.h"

namespace google::protobuf {
class Message;
}

namespace micro {

class Event {
 public:
  // `service` must outlive the Event.
  Event(std::string topic, Service& service) : topic_(std::move(topic)), service_(&service) {}

  // Encodes and hands `message` to the broker. From `options` it takes metadata (headers),
  // content_type and parent (the trace). The broker is made and connected on first use.
  // Thread-safe. Blocks until the broker has handed the message on: the http broker, until each
  // chosen subscriber has queued it (a registry lookup first when its cache has nothing); nats,
  // until it is written or buffered. A handler that must not wait publishes from a queue of its
  // own (services/hotel-lib/events.h does).
  absl::Status Publish(const google::protobuf::Message& message,
                       const client::CallOptions& options = {}) const;

  const std::string& topic() const { return topic_; }

 private:
  std::string topic_;
  Service* service_;
};

// Subscribes `handler`, called as handler(server::Context&, const T&), to `topic`. The handler
// runs on a thread of the broker's (one message at a time per subscription for http and nats)
// and may be called from several subscriptions at once: it must be thread-safe.
template <typename T, typename F>
absl::Status RegisterSubscriber(std::string topic, Service& service, F handler,
                                server::SubscriberOptions options = {}) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>, "T must be a proto message");
  return service.Subscribe(
      std::move(topic), T::default_instance(),
      [handler = std::move(handler)](server::Context& ctx, const google::protobuf::Message& m) {
        return handler(ctx, static_cast<const T&>(m));
      },
      std::move(options));
}

}  // namespace micro
