#include "micro/broker/memory.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "micro/log.h"
#include "micro/plugin/broker_state.h"

namespace micro::broker {
namespace {

struct Sub {
  std::string topic;
  SubscribeOptions options;
  Handler handler;
  std::atomic<bool> active{true};
};

class MemoryBroker;

class MemorySubscriber : public Subscriber {
 public:
  MemorySubscriber(std::shared_ptr<MemoryBroker> broker, std::shared_ptr<Sub> sub)
      : broker_(std::move(broker)), sub_(std::move(sub)) {}
  ~MemorySubscriber() override { (void)Unsubscribe(); }
  const std::string& topic() const override { return sub_->topic; }
  const SubscribeOptions& options() const override { return sub_->options; }
  absl::Status Unsubscribe() override;

 private:
  std::shared_ptr<MemoryBroker> broker_;
  std::shared_ptr<Sub> sub_;
};

class MemoryBroker : public Broker, public std::enable_shared_from_this<MemoryBroker> {
 public:
  absl::Status Connect() override {
    connected_ = true;
    return absl::OkStatus();
  }
  absl::Status Disconnect() override {
    connected_ = false;
    return absl::OkStatus();
  }

  absl::Status Publish(absl::string_view topic, const Message& message) override {
    if (absl::Status s = plugin::CheckPublish(topic); !s.ok()) return s;
    if (!connected_) return absl::FailedPreconditionError("publish: the broker is not connected");
    std::vector<std::shared_ptr<Sub>> everyone;
    std::map<std::string, std::vector<std::shared_ptr<Sub>>> groups;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = topics_.find(topic);
      if (it == topics_.end()) return absl::OkStatus();
      for (const auto& s : it->second) {
        if (s->options.queue.empty()) {
          everyone.push_back(s);
        } else {
          groups[s->options.queue].push_back(s);
        }
      }
    }
    thread_local std::minstd_rand rng{std::random_device{}()};
    for (auto& [queue, members] : groups) everyone.push_back(members[rng() % members.size()]);
    Event event{std::string(topic), message};
    for (const auto& s : everyone) {
      if (!s->active.load()) continue;
      absl::Status st = s->handler(event);
      if (!st.ok())
        log::Warn(absl::StrCat("broker: a subscriber of ", topic, " failed: ", st.ToString()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Subscriber>> Subscribe(absl::string_view topic, Handler handler,
                                                        SubscribeOptions options) override {
    if (absl::Status s = plugin::CheckSubscribe(topic, handler); !s.ok()) return s;
    auto sub = std::make_shared<Sub>();
    sub->topic = std::string(topic);
    sub->options = std::move(options);
    sub->handler = std::move(handler);
    {
      std::lock_guard<std::mutex> l(mu_);
      topics_[sub->topic].push_back(sub);
    }
    return std::unique_ptr<Subscriber>(new MemorySubscriber(shared_from_this(), sub));
  }

  std::string Address() const override { return ""; }
  std::string Name() const override { return "memory"; }

  void Remove(const std::shared_ptr<Sub>& sub) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = topics_.find(sub->topic);
    if (it == topics_.end()) return;
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), sub), v.end());
    if (v.empty()) topics_.erase(it);
  }

 private:
  std::atomic<bool> connected_{false};
  std::mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<Sub>>, std::less<>> topics_;
};

absl::Status MemorySubscriber::Unsubscribe() {
  if (sub_->active.exchange(false)) broker_->Remove(sub_);
  return absl::OkStatus();
}

// Owns the broker through a shared_ptr so that subscribers may outlive the handle.
class Handle : public Broker {
 public:
  Handle() : b_(std::make_shared<MemoryBroker>()) {}
  absl::Status Connect() override { return b_->Connect(); }
  absl::Status Disconnect() override { return b_->Disconnect(); }
  absl::Status Publish(absl::string_view topic, const Message& message) override {
    return b_->Publish(topic, message);
  }
  absl::StatusOr<std::unique_ptr<Subscriber>> Subscribe(absl::string_view topic, Handler handler,
                                                        SubscribeOptions options) override {
    return b_->Subscribe(topic, std::move(handler), std::move(options));
  }
  std::string Address() const override { return b_->Address(); }
  std::string Name() const override { return b_->Name(); }

 private:
  std::shared_ptr<MemoryBroker> b_;
};

}  // namespace

std::unique_ptr<Broker> NewMemoryBroker() { return std::make_unique<Handle>(); }

}  // namespace micro::broker
