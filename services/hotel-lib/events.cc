#include "events.h"

#include "absl/strings/str_cat.h"

namespace hotel_example {

EventQueue::EventQueue(micro::Service& service, std::string topic, std::size_t capacity)
    : event_(std::move(topic), service), capacity_(capacity), thread_([this] { Run(); }) {}

EventQueue::~EventQueue() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool EventQueue::Publish(const google::protobuf::Message& message,
                         micro::client::CallOptions options) {
  std::unique_ptr<google::protobuf::Message> copy(message.New());
  copy->CopyFrom(message);
  std::lock_guard<std::mutex> l(mu_);
  if (queue_.size() >= capacity_) {
    if (!failing_) {
      micro::log::Warn(
          absl::StrCat("events: ", event_.topic(), ": ", capacity_,
                       " events wait for the broker; dropping new ones (logged once)"));
    }
    failing_ = true;
    return false;
  }
  queue_.push_back({std::move(copy), std::move(options)});
  cv_.notify_one();
  return true;
}

void EventQueue::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, everything sent
    Item item = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    // An announcement outlives the call that made it: keep its trace and metadata, not its
    // deadline or cancellation.
    item.options.deadline = std::chrono::system_clock::time_point::max();
    item.options.cancel = nullptr;
    absl::Status s = event_.Publish(*item.message, item.options);
    l.lock();
    if (!s.ok() && !failing_) {
      micro::log::Warn(absl::StrCat("events: ", event_.topic(), ": ", s.message(),
                                    " (the event is dropped; logged once until one succeeds)"));
    }
    if (s.ok() && failing_)
      micro::log::Info(absl::StrCat("events: ", event_.topic(), ": publishing again"));
    failing_ = !s.ok();
  }
}

}  // namespace hotel_example
