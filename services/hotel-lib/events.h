// Publishes events off the request path: a bounded queue and one thread that hands each event
// to the service's broker. A handler that announces something does not wait for the broker (a
// registry lookup, a POST to each subscriber); when the queue is full, or publishing fails, the
// event is dropped (at most once, as any broker delivery) and the episode logged once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "google/protobuf/message.h"
#include "micro/micro.h"

namespace hotel_example {

class EventQueue {
 public:
  EventQueue(micro::Service& service, std::string topic, std::size_t capacity = 1024);
  ~EventQueue();  // publishes what is queued, then stops
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Queues a copy of `message` with `options` (metadata, trace); false when it was dropped.
  bool Publish(const google::protobuf::Message& message, micro::client::CallOptions options = {});

 private:
  struct Item {
    std::unique_ptr<google::protobuf::Message> message;
    micro::client::CallOptions options;
  };
  void Run();

  micro::Event event_;
  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  bool failing_ = false;  // an episode of drops or failures is going on (logged once)
  std::thread thread_;
};

}  // namespace hotel_example
