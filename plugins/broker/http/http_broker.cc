#include "http_broker.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "endpoint.h"
#include "http_client.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "micro/plugin/broker_state.h"
#include "micro/plugin/net.h"
#include "micro/plugin/query.h"
#include "micro/registry/cache.h"

namespace micro::httpbroker {
namespace {

using Clock = std::chrono::steady_clock;

// One subscription: its registration, its queue and the thread that runs its handler.
struct Sub {
  std::string id, topic;
  broker::SubscribeOptions options;
  broker::Handler handler;
  registry::Service service;
  std::size_t capacity = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<broker::Message> queue;
  bool stopping = false;
  std::uint64_t dropped_in_episode = 0;
  std::atomic<std::uint64_t> dropped{0};
  std::thread worker;

  void Run() {
    std::unique_lock<std::mutex> l(mu);
    for (;;) {
      cv.wait(l, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and every message it accepted handled
      broker::Event event{topic, std::move(queue.front())};
      queue.pop_front();
      l.unlock();
      absl::Status s;
      try {
        s = handler(event);
      } catch (const std::exception& e) {
        s = absl::InternalError(absl::StrCat("handler threw: ", e.what()));
      } catch (...) {
        s = absl::InternalError("handler threw");
      }
      if (!s.ok()) {
        log::Warn(absl::StrCat("http broker: subscriber of ", topic, ": ", s.message(),
                               " (the message is not redelivered)"));
      }
      l.lock();
    }
  }

  // Queues a message; ResourceExhausted (and counted, logged once per episode) when full.
  // NotFound once stopping: a publisher that raced the unsubscribe hears 404, as for any
  // subscriber not here.
  absl::Status Offer(broker::Message message) {
    std::lock_guard<std::mutex> l(mu);
    if (stopping) return absl::NotFoundError(absl::StrCat("the subscriber of ", topic, " left"));
    if (queue.size() >= capacity) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      if (dropped_in_episode++ == 0) {
        log::Warn(absl::StrCat("http broker: subscriber of ", topic, " is slow: its queue of ",
                               capacity,
                               " messages is full; dropping messages until it drains "
                               "(logged once; counted in micro_broker_dropped_total)"));
      }
      return absl::ResourceExhaustedError(
          absl::StrCat("the subscriber's queue (", capacity, " messages) is full"));
    }
    if (dropped_in_episode > 0) {
      log::Info(absl::StrCat("http broker: subscriber of ", topic, " takes messages again after ",
                             dropped_in_episode, " dropped"));
      dropped_in_episode = 0;
    }
    queue.push_back(std::move(message));
    cv.notify_one();
    return absl::OkStatus();
  }

  // Takes no more messages; the handler thread ends once it has handled those already accepted
  // (their publishers were answered 200), and Stop waits for that. A handler that unsubscribes
  // itself cannot wait for its own thread: what is still queued then is dropped (counted and
  // logged), since nothing may reach the handler after Unsubscribe returns (broker.h).
  void Stop() {
    const bool own_thread = worker.joinable() && worker.get_id() == std::this_thread::get_id();
    std::size_t left = 0;
    {
      std::lock_guard<std::mutex> l(mu);
      stopping = true;
      if (own_thread) {
        left = queue.size();
        queue.clear();
      }
    }
    cv.notify_all();
    if (left > 0) {
      dropped.fetch_add(left, std::memory_order_relaxed);
      log::Warn(absl::StrCat("http broker: subscriber of ", topic,
                             " unsubscribed from its handler; ", left, " queued messages dropped"));
    }
    if (!worker.joinable()) return;
    if (own_thread) {
      worker.detach();
    } else {
      worker.join();
    }
  }
};

class State : public std::enable_shared_from_this<State> {
 public:
  explicit State(HttpBrokerOptions options) : options_(std::move(options)) {}

  absl::Status Connect() {
    std::lock_guard<std::mutex> l(mu_);
    if (connected_) return absl::OkStatus();
    if (options_.registry == nullptr)
      return absl::FailedPreconditionError("http broker: no registry to find subscribers in");
    std::weak_ptr<State> weak = weak_from_this();
    if (cache_ == nullptr) cache_ = std::make_unique<registry::Cache>(options_.registry);
    connected_ = true;
    stop_ = false;
    refresher_ = std::thread([this] { Refresh(); });
    collector_ = metrics::AddCollector([weak](std::vector<metrics::Sample>* out) {
      if (auto self = weak.lock()) self->Collect(out);
    });
    return absl::OkStatus();
  }

  // The subscriber endpoint, started with the first subscription: a broker that only publishes
  // listens on nothing. Under mu_.
  absl::Status Listen() {
    if (endpoint_ != nullptr) return absl::OkStatus();
    std::weak_ptr<State> weak = weak_from_this();
    auto endpoint = std::make_unique<Endpoint>(
        options_.max_body, [weak](const std::string& id, broker::Message m) {
          auto self = weak.lock();
          if (self == nullptr) return absl::UnavailableError("the broker is gone");
          return self->Deliver(id, std::move(m));
        });
    if (absl::Status s = endpoint->Start(options_.address); !s.ok()) return s;
    endpoint_ = std::move(endpoint);
    advertise_ = options_.advertise;
    if (advertise_.empty()) {
      std::string host;
      int port = 0;
      (void)plugin::SplitHostPort(endpoint_->address(), &host, &port);
      if (host.empty() || host == "0.0.0.0" || host == "::") host = plugin::ReachableHost();
      advertise_ = plugin::JoinHostPort(host, port);
    }
    log::Info(absl::StrCat(
        "http broker: subscribers served on http://", endpoint_->address(),
        advertise_ == endpoint_->address() ? "" : " (registered as " + advertise_ + ")"));
    return absl::OkStatus();
  }

  absl::Status Disconnect() {
    std::vector<std::shared_ptr<Sub>> subs;
    std::thread refresher;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!connected_) return absl::OkStatus();
      connected_ = false;
      stop_ = true;
      refresher = std::move(refresher_);
      for (auto& [id, s] : subs_) subs.push_back(s);
    }
    cv_.notify_all();
    if (refresher.joinable()) refresher.join();
    std::vector<std::string> errors;
    for (const auto& s : subs) {
      if (absl::Status st = options_.registry->Deregister(s->service); !st.ok())
        errors.push_back(absl::StrCat(s->topic, ": ", st.message()));
    }
    std::unique_ptr<Endpoint> endpoint;
    {
      std::lock_guard<std::mutex> l(mu_);
      endpoint = std::move(endpoint_);
    }
    if (endpoint != nullptr) endpoint->Stop();
    metrics::RemoveCollector(collector_);
    if (errors.empty()) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("http broker: deregistering: ", absl::StrJoin(errors, "; ")));
  }

  absl::Status Publish(absl::string_view topic, const broker::Message& message) {
    registry::Cache* cache;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!connected_)
        return absl::FailedPreconditionError("publish: the http broker is not connected");
      cache = cache_.get();
    }
    broker::Message m = message;
    m.header[broker::kHeaderTopic] = std::string(topic);
    const std::string body = broker::EncodeMessage(m);
    if (body.size() > options_.max_body) {
      return absl::InvalidArgumentError(absl::StrCat("publish to ", topic, ": the message is ",
                                                     body.size(), " bytes, over the limit of ",
                                                     options_.max_body));
    }
    auto answer = cache->Get(kServiceName, Clock::now() + options_.timeout);
    if (!answer.ok()) {
      return absl::UnavailableError(
          absl::StrCat("publish to ", topic, ": finding subscribers: ", answer.status().message()));
    }
    std::vector<std::string> errors;
    for (const registry::Service& service : (*answer)->services) {
      std::vector<const registry::Node*> nodes;
      for (const registry::Node& n : service.nodes) {
        auto b = n.metadata.find("broker"), t = n.metadata.find("topic");
        if (b != n.metadata.end() && b->second == "http" && t != n.metadata.end() &&
            t->second == topic) {
          nodes.push_back(&n);
        }
      }
      if (nodes.empty()) continue;
      if (service.version == kBroadcastVersion) {
        for (const registry::Node* n : nodes) {
          if (absl::Status s = Post(*n, body); !s.ok()) errors.emplace_back(s.message());
        }
        continue;
      }
      // A queue group: one node at random; another only when the chosen one cannot be reached
      // at all (nothing was sent, so nothing is delivered twice).
      thread_local std::mt19937 rng{std::random_device{}()};
      std::shuffle(nodes.begin(), nodes.end(), rng);
      absl::Status s;
      for (const registry::Node* n : nodes) {
        s = Post(*n, body);
        if (!absl::IsUnavailable(s) || s.message().find("no agent reachable") == std::string::npos)
          break;
      }
      if (!s.ok()) errors.emplace_back(s.message());
    }
    if (errors.empty()) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("publish to ", topic, ": ", absl::StrJoin(errors, "; ")));
  }

  absl::StatusOr<std::shared_ptr<Sub>> Subscribe(absl::string_view topic, broker::Handler handler,
                                                 broker::SubscribeOptions options) {
    auto sub = std::make_shared<Sub>();
    sub->topic = std::string(topic);
    sub->id = absl::StrCat(topic, "-", plugin::NewUuid());
    sub->options = std::move(options);
    sub->handler = std::move(handler);
    sub->capacity = options_.queue;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!connected_)
        return absl::FailedPreconditionError("subscribe: the http broker is not connected");
      if (absl::Status s = Listen(); !s.ok()) return s;
      registry::Node node;
      node.id = sub->id;
      node.address = advertise_;
      node.metadata = {{"secure", "false"}, {"broker", "http"}, {"topic", sub->topic}};
      sub->service.name = kServiceName;
      sub->service.version = sub->options.queue.empty() ? kBroadcastVersion : sub->options.queue;
      sub->service.nodes.push_back(std::move(node));
    }
    // The thread holds the subscription: a handler that unsubscribes itself detaches it.
    sub->worker = std::thread([s = sub] { s->Run(); });
    {
      std::lock_guard<std::mutex> l(mu_);
      subs_.emplace(sub->id, sub);
    }
    if (absl::Status s = options_.registry->Register(sub->service, {options_.register_ttl});
        !s.ok()) {
      (void)Remove(sub);
      return absl::UnavailableError(
          absl::StrCat("subscribe to ", topic, ": registering: ", s.message()));
    }
    return sub;
  }

  // Takes the subscription out: no more deliveries, deregistered, its thread ended.
  absl::Status Remove(const std::shared_ptr<Sub>& sub) {
    bool registered;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (subs_.erase(sub->id) == 0) return absl::OkStatus();
      registered = connected_;
    }
    absl::Status s = registered ? options_.registry->Deregister(sub->service) : absl::OkStatus();
    sub->Stop();
    return s;
  }

  std::string Address() const {
    std::lock_guard<std::mutex> l(mu_);
    return connected_ && endpoint_ != nullptr ? advertise_ : "";
  }

  ~State() {
    (void)Disconnect();
    std::vector<std::shared_ptr<Sub>> subs;
    for (auto& [id, s] : subs_) subs.push_back(s);
    for (const auto& s : subs) s->Stop();
  }

 private:
  absl::Status Deliver(const std::string& id, broker::Message message) {
    std::shared_ptr<Sub> sub;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = subs_.find(id);
      if (it != subs_.end()) sub = it->second;
    }
    const std::string& topic = message.header[broker::kHeaderTopic];
    if (sub == nullptr || sub->topic != topic) {
      return absl::NotFoundError(
          absl::StrCat("no subscriber \"", id, "\" of topic \"", topic, "\" here"));
    }
    return sub->Offer(std::move(message));
  }

  absl::Status Post(const registry::Node& node, const std::string& body) {
    std::shared_ptr<consul::HttpClient> client = ClientFor(node.address);
    if (client == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("subscriber ", node.id, ": bad address \"", node.address, "\""));
    }
    auto rsp = client->Do("POST", absl::StrCat("/?id=", consul::UrlEscape(node.id)), body,
                          {{"Content-Type", "application/json"}}, options_.timeout);
    if (!rsp.ok()) {
      return absl::Status(
          rsp.status().code(),
          absl::StrCat("subscriber ", node.id, " at ", node.address, ": ", rsp.status().message()));
    }
    if (rsp->status == 200) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("subscriber ", node.id, " at ", node.address,
                                               " answered ", rsp->status, ": ", rsp->body));
  }

  // One keep-alive client per subscriber address (thread-safe, reused).
  std::shared_ptr<consul::HttpClient> ClientFor(const std::string& address) {
    std::lock_guard<std::mutex> l(clients_mu_);
    auto it = clients_.find(address);
    if (it != clients_.end()) return it->second;
    if (clients_.size() >= 1024) clients_.clear();  // addresses come and go; keep it bounded
    consul::HttpOptions o;
    o.addresses = {address};
    o.connect_timeout = options_.timeout;
    o.max_body = 64 * 1024;
    o.max_idle = 8;
    auto made = consul::HttpClient::New(std::move(o));
    if (!made.ok()) return nullptr;
    return clients_.emplace(address, std::shared_ptr<consul::HttpClient>(std::move(*made)))
        .first->second;
  }

  // Re-registers every subscription each register_interval, so their TTLs never run out.
  void Refresh() {
    std::unique_lock<std::mutex> l(mu_);
    while (!cv_.wait_for(l, options_.register_interval, [&] { return stop_; })) {
      std::vector<std::shared_ptr<Sub>> subs;
      for (auto& [id, s] : subs_) subs.push_back(s);
      l.unlock();
      for (const auto& s : subs) {
        absl::Status st = options_.registry->Register(s->service, {options_.register_ttl});
        if (!st.ok())
          log::Warn(absl::StrCat("http broker: re-registering ", s->id, ": ", st.message()));
      }
      l.lock();
    }
  }

  void Collect(std::vector<metrics::Sample>* out) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [id, s] : subs_) {
      out->push_back(
          {"micro_broker_dropped_total", "counter", "Messages a subscriber's full queue dropped",
           absl::StrCat("broker=\"http\",topic=\"", metrics::EscapeLabel(s->topic), "\""),
           static_cast<double>(s->dropped.load(std::memory_order_relaxed))});
    }
  }

  const HttpBrokerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false, stop_ = false;
  std::unique_ptr<Endpoint> endpoint_;
  std::string advertise_;
  std::unique_ptr<registry::Cache> cache_;
  std::map<std::string, std::shared_ptr<Sub>> subs_;
  std::thread refresher_;
  std::uint64_t collector_ = 0;
  std::mutex clients_mu_;
  std::map<std::string, std::shared_ptr<consul::HttpClient>> clients_;  // in use while dropped
};

}  // namespace

absl::StatusOr<HttpBrokerOptions> HttpBrokerOptionsFrom(const broker::BrokerAddress& address,
                                                        const broker::BrokerContext& context) {
  HttpBrokerOptions o;
  o.registry = context.registry;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("broker \"", address.uri, "\": ", why));
  };
  if (address.hosts.size() > 1) return bad("the http broker listens on one address");
  if (!address.hosts.empty()) {
    std::string host;
    int port = 0;
    if (!plugin::SplitHostPort(address.hosts[0], 0, &host, &port).ok())
      return bad("expected http://host:port (the address subscribers are served on)");
    o.address = plugin::JoinHostPort(host, port);
  }
  for (const auto& [key, value] : address.params) {
    if (key == "advertise") {
      std::string host;
      int port = 0;
      if (!plugin::SplitHostPort(value, &host, &port).ok() || host.empty() || port == 0)
        return bad(absl::StrCat("advertise=", value, " is not host:port"));
      o.advertise = value;
    } else if (key == "max_body" || key == "queue") {
      std::size_t n = 0;
      if (!absl::SimpleAtoi(value, &n) || n == 0)
        return bad(absl::StrCat(key, "=", value, " is not a positive number"));
      (key == "queue" ? o.queue : o.max_body) = n;
    } else if (key == "timeout") {
      auto d = plugin::ParseDurationParam("timeout", value);
      if (!d.ok()) return bad(d.status().message());
      o.timeout = *d;
    } else {
      return bad(absl::StrCat("unknown parameter \"", key,
                              "\" (the http broker takes advertise, max_body, queue, timeout)"));
    }
  }
  return o;
}

std::unique_ptr<broker::Broker> NewHttpBroker(HttpBrokerOptions options) {
  return std::make_unique<plugin::StateBroker<State, Sub>>(
      std::make_shared<State>(std::move(options)), "http");
}

}  // namespace micro::httpbroker
