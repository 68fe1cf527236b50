// Internal: a Service's events: its broker, made on first use, and its subscriptions, which
// follow the service's life (subscribed at start, or at once while it runs; unsubscribed at
// stop). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "micro/broker/broker.h"
#include "micro/server/handler.h"

namespace google::protobuf {
class Message;
}

namespace micro::internal {

class PubSub {
 public:
  using MakeBroker = std::function<absl::StatusOr<std::shared_ptr<broker::Broker>>()>;

  // `make` builds the broker (not connected) the first time one is needed.
  PubSub(std::string service, MakeBroker make, std::vector<server::SubscriberWrapper> wrappers);
  ~PubSub();

  // The broker, connected.
  absl::StatusOr<std::shared_ptr<broker::Broker>> Broker();

  absl::Status Subscribe(std::string topic, const google::protobuf::Message& prototype,
                         server::SubscriberFn fn, server::SubscriberOptions options);
  // Subscribes what was registered before (the service starts); later ones subscribe at once.
  absl::Status Start();
  // Unsubscribes all (kept, for a later Start) and disconnects the broker.
  absl::Status Stop();

 private:
  struct Registration;
  absl::Status SubscribeNow(Registration& r);

  const std::string service_;
  const MakeBroker make_;
  const std::vector<server::SubscriberWrapper> wrappers_;
  std::mutex mu_;
  std::shared_ptr<broker::Broker> broker_;
  bool connected_ = false, running_ = false;
  std::vector<std::shared_ptr<Registration>> registrations_;
  std::uint64_t collector_ = 0;
};

// Publishes `message` on `broker` as go-micro does (see micro/event.h).
struct PublishParts {
  std::string content_type;  // default application/grpc+proto
  std::map<std::string, std::string> metadata;
  std::string traceparent;
};
absl::Status PublishMessage(broker::Broker& broker, const std::string& topic,
                            const google::protobuf::Message& message, const PublishParts& parts);

}  // namespace micro::internal
