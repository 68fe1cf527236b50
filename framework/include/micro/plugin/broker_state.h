// Plugin kit: a Broker whose work is done by one shared state object, and the Subscribers it hands
// out, which keep that state alive (broker.h: a Subscriber may outlive its broker). The http and
// nats plugins are built this way; a plugin writes only its State:
//
//   class State {
//    public:
//     absl::Status Connect();
//     absl::Status Disconnect();                   // idempotent; the broker's destructor calls it
//     absl::Status Publish(absl::string_view topic, const broker::Message& message);
//     absl::StatusOr<std::shared_ptr<Sub>> Subscribe(absl::string_view topic,
//                                                    broker::Handler handler,
//                                                    broker::SubscribeOptions options);
//     absl::Status Remove(const std::shared_ptr<Sub>& sub);   // Unsubscribe; idempotent
//     std::string Address() const;
//   };
//   struct Sub { std::string topic; broker::SubscribeOptions options; ... };
//
//   return std::make_unique<plugin::StateBroker<State, Sub>>(std::make_shared<State>(...), "nats");
//
// StateBroker checks the arguments (CheckPublish, CheckSubscribe) before the State sees them.
// The State's methods are called from any thread, concurrently: it does its own locking. The broker
// and each Subscriber hold it by shared_ptr; it goes when the last of them does.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "micro/broker/broker.h"

namespace micro::plugin {

// The argument checks every broker owes (broker.h): InvalidArgument for an empty topic or handler.
inline absl::Status CheckPublish(absl::string_view topic) {
  if (topic.empty()) return absl::InvalidArgumentError("publish: the topic is empty");
  return absl::OkStatus();
}
inline absl::Status CheckSubscribe(absl::string_view topic, const broker::Handler& handler) {
  if (topic.empty()) return absl::InvalidArgumentError("subscribe: the topic is empty");
  if (!handler) return absl::InvalidArgumentError("subscribe: no handler");
  return absl::OkStatus();
}

template <typename State, typename Sub>
class StateSubscriber : public broker::Subscriber {
 public:
  StateSubscriber(std::shared_ptr<State> state, std::shared_ptr<Sub> sub)
      : state_(std::move(state)), sub_(std::move(sub)) {}
  ~StateSubscriber() override { (void)Unsubscribe(); }
  const std::string& topic() const override { return sub_->topic; }
  const broker::SubscribeOptions& options() const override { return sub_->options; }
  absl::Status Unsubscribe() override { return state_->Remove(sub_); }

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<Sub> sub_;
};

template <typename State, typename Sub>
class StateBroker : public broker::Broker {
 public:
  StateBroker(std::shared_ptr<State> state, std::string name)
      : state_(std::move(state)), name_(std::move(name)) {}
  ~StateBroker() override { (void)state_->Disconnect(); }
  absl::Status Connect() override { return state_->Connect(); }
  absl::Status Disconnect() override { return state_->Disconnect(); }
  absl::Status Publish(absl::string_view topic, const broker::Message& message) override {
    if (absl::Status s = CheckPublish(topic); !s.ok()) return s;
    return state_->Publish(topic, message);
  }
  absl::StatusOr<std::unique_ptr<broker::Subscriber>> Subscribe(
      absl::string_view topic, broker::Handler handler, broker::SubscribeOptions options) override {
    if (absl::Status s = CheckSubscribe(topic, handler); !s.ok()) return s;
    auto sub = state_->Subscribe(topic, std::move(handler), std::move(options));
    if (!sub.ok()) return sub.status();
    return std::unique_ptr<broker::Subscriber>(
        new StateSubscriber<State, Sub>(state_, *std::move(sub)));
  }
  std::string Address() const override { return state_->Address(); }
  std::string Name() const override { return name_; }

 private:
  std::shared_ptr<State> state_;
  const std::string name_;
};

}  // namespace micro::plugin
