// Broker: asynchronous messaging in go-micro's vocabulary (go-micro.dev/v4/broker).
//
//   auto b = micro::broker::NewMemoryBroker();   // or a plugin chosen by URI
//   b->Connect();
//   auto sub = b->Subscribe("hotel.searched", [](const micro::broker::Event& e) {
//     ... e.topic, e.message.header, e.message.body ...
//     return absl::OkStatus();
//   }, {/*queue=*/"stats"});
//   b->Publish("hotel.searched", {{{"Content-Type", "application/json"}}, R"({"city":"SF"})"});
//
// Delivery is at most once, as go-micro's brokers: a message published while no one subscribes,
// or to a subscriber that is gone, is lost. Without a queue every subscriber of a topic gets each
// message; subscribers sharing a queue name form a group and one of them gets it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::broker {

// What travels: headers (go-micro's names: "Micro-Topic", "Content-Type", "Micro-ID", ...) and
// the body, the payload encoded by its Content-Type.
struct Message {
  std::map<std::string, std::string> header;
  std::string body;
};

// A message as a subscriber receives it.
struct Event {
  std::string topic;
  Message message;
};

// Returns an error to say the message was not handled (logged; at most once: not redelivered).
// It runs on a thread of the broker's choosing (each plugin's header says which; the memory
// broker's is the publisher's), possibly on several at once, and should not block long.
using Handler = std::function<absl::Status(const Event& event)>;

struct SubscribeOptions {
  // Subscribers with the same queue share the topic's messages, one of them per message. Empty:
  // this subscriber gets every message.
  std::string queue;
};

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual const std::string& topic() const = 0;
  virtual const SubscribeOptions& options() const = 0;
  // No message is handed to the handler after it returns (a call already in progress on another
  // thread may still finish); idempotent. The destructor does it too. It may block until the
  // handler has run on the messages the plugin already accepted for it (the http broker's queue);
  // called from the handler itself, it does not wait and those messages are dropped.
  virtual absl::Status Unsubscribe() = 0;
};

// All methods are thread-safe. Publish returns once the plugin has handed the message on; it may
// wait that long, never for a subscriber to finish unless the plugin says so (the memory broker
// does: it runs the handlers). A Subscriber keeps what it needs of its broker alive and may be
// destroyed after it, on any thread.
class Broker {
 public:
  virtual ~Broker() = default;
  virtual absl::Status Connect() = 0;
  virtual absl::Status Disconnect() = 0;
  // FailedPrecondition before Connect; InvalidArgument for an empty topic.
  virtual absl::Status Publish(absl::string_view topic, const Message& message) = 0;
  virtual absl::StatusOr<std::unique_ptr<Subscriber>> Subscribe(absl::string_view topic,
                                                                Handler handler,
                                                                SubscribeOptions options = {}) = 0;
  // Where subscribers are reached ("" when the broker has no address of its own).
  virtual std::string Address() const = 0;
  // The plugin's name: "memory", "http", "nats".
  virtual std::string Name() const = 0;
};

// go-micro's header names.
inline constexpr char kHeaderTopic[] = "Micro-Topic";
inline constexpr char kHeaderId[] = "Micro-ID";
inline constexpr char kHeaderContentType[] = "Content-Type";

// go-micro's wire form of a Message, as its http and nats brokers send it: the JSON of its Go
// struct, {"Header":{"k":"v",...},"Body":"<base64>"}.
std::string EncodeMessage(const Message& message);
// The reverse; InvalidArgument, saying what is wrong, for anything else. "Header" may be null or
// absent, "Body" null, absent or base64 (standard alphabet, padded, as Go writes it).
absl::StatusOr<Message> DecodeMessage(absl::string_view json);

}  // namespace micro::broker
