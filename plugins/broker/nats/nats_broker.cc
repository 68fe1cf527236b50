#include "nats_broker.h"

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "micro/plugin/broker_state.h"
#include "micro/plugin/net.h"
#include "micro/plugin/query.h"

namespace micro::natsbroker {
namespace {

absl::Status FromNats(natsStatus s, absl::string_view what) {
  std::string detail = natsStatus_GetText(s);
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  if (s == NATS_INVALID_ARG || s == NATS_INVALID_SUBJECT || s == NATS_MAX_PAYLOAD) {
    code = absl::StatusCode::kInvalidArgument;
  } else if (s == NATS_TIMEOUT) {
    code = absl::StatusCode::kDeadlineExceeded;
  }
  return absl::Status(code, absl::StrCat("nats broker: ", what, ": ", detail));
}

// One subscription. Shared with the NATS client, which holds a reference until its dispatcher
// has returned from the last call (the on-complete callback drops it).
struct Sub {
  std::string topic;
  broker::SubscribeOptions options;
  broker::Handler handler;
  natsSubscription* sub = nullptr;
  std::atomic<bool> slow{false};
  std::atomic<std::int64_t> dropped_before{0};  // dropped when the last episode ended
};

void OnMessage(natsConnection*, natsSubscription* ns, natsMsg* msg, void* closure) {
  Sub& s = **static_cast<std::shared_ptr<Sub>*>(closure);
  absl::StatusOr<broker::Message> m = broker::DecodeMessage(absl::string_view(
      natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))));
  broker::Event event{natsMsg_GetSubject(msg), {}};
  natsMsg_Destroy(msg);
  absl::Status st;
  if (!m.ok()) {
    st = absl::InvalidArgumentError(absl::StrCat("not a go-micro message: ", m.status().message()));
  } else {
    event.message = *std::move(m);
    try {
      st = s.handler(event);
    } catch (const std::exception& e) {
      st = absl::InternalError(absl::StrCat("handler threw: ", e.what()));
    } catch (...) {
      st = absl::InternalError("handler threw");
    }
  }
  if (!st.ok()) {
    log::Warn(absl::StrCat("nats broker: subscriber of ", s.topic, ": ", st.message(),
                           " (the message is not redelivered)"));
  }
  // A slow-consumer episode ends once the subscriber has caught up.
  if (s.slow.load(std::memory_order_relaxed)) {
    int pending = 0, bytes = 0;
    if (natsSubscription_GetPending(ns, &pending, &bytes) == NATS_OK && pending == 0 &&
        s.slow.exchange(false)) {
      std::int64_t dropped = 0;
      (void)natsSubscription_GetDropped(ns, &dropped);
      log::Info(absl::StrCat("nats broker: subscriber of ", s.topic, " caught up after ",
                             dropped - s.dropped_before.exchange(dropped), " dropped messages"));
    }
  }
}

void OnComplete(void* closure) { delete static_cast<std::shared_ptr<Sub>*>(closure); }

class State;

// What the connection's callbacks reach: the broker while it lives. Freed by the closed
// callback, the client's last call on a connection.
struct Callbacks {
  std::weak_ptr<State> state;
  std::atomic<bool> closing{false};
};

class State : public std::enable_shared_from_this<State> {
 public:
  explicit State(NatsBrokerOptions options) : options_(std::move(options)) {}

  ~State() { (void)Disconnect(); }

  absl::Status Connect() {
    std::lock_guard<std::mutex> l(mu_);
    if (conn_ != nullptr) return absl::OkStatus();
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    std::vector<std::string> urls;
    for (const std::string& h : options_.servers) urls.push_back(absl::StrCat("nats://", h));
    std::vector<const char*> raw;
    for (const auto& u : urls) raw.push_back(u.c_str());
    if (s == NATS_OK) s = natsOptions_SetServers(opts, raw.data(), static_cast<int>(raw.size()));
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options_.connect_timeout.count());
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, options_.reconnect_wait.count());
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, options_.reconnect_buffer);
    if (s == NATS_OK) s = natsOptions_SetMaxPendingMsgs(opts, options_.queue);
    if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, options_.send_asap);
    if (s == NATS_OK && !options_.name.empty())
      s = natsOptions_SetName(opts, options_.name.c_str());
    auto* cb = new Callbacks;
    cb->state = weak_from_this();
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, &State::OnAsyncError, cb);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, &State::OnDisconnected, cb);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, &State::OnReconnected, cb);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, &State::OnClosed, cb);
    natsConnection* conn = nullptr;
    if (s == NATS_OK) s = natsConnection_Connect(&conn, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
      if (conn == nullptr) delete cb;  // no connection: no callback will come
      return FromNats(s, absl::StrCat("connecting to ", absl::StrJoin(urls, ",")));
    }
    conn_ = conn;
    callbacks_ = cb;
    collector_ =
        metrics::AddCollector([weak = weak_from_this()](std::vector<metrics::Sample>* out) {
          if (auto self = weak.lock()) self->Collect(out);
        });
    return absl::OkStatus();
  }

  absl::Status Disconnect() {
    natsConnection* conn;
    std::map<natsSubscription*, std::shared_ptr<Sub>> subs;
    {
      std::lock_guard<std::mutex> l(mu_);
      conn = conn_;
      conn_ = nullptr;
      subs.swap(subs_);
      if (callbacks_ != nullptr) callbacks_->closing = true;
      callbacks_ = nullptr;
    }
    if (conn == nullptr) return absl::OkStatus();
    metrics::RemoveCollector(collector_);
    for (auto& [ns, sub] : subs) {
      (void)natsSubscription_Unsubscribe(ns);
      natsSubscription_Destroy(ns);
      sub->sub = nullptr;
    }
    // Sends what is buffered, then closes; the client's threads end with it.
    (void)natsConnection_FlushTimeout(conn, 1000);
    natsConnection_Close(conn);
    natsConnection_Destroy(conn);
    return absl::OkStatus();
  }

  absl::Status Publish(absl::string_view topic, const broker::Message& message) {
    const std::string payload = broker::EncodeMessage(message);
    const std::string subject(topic);
    std::lock_guard<std::mutex> l(mu_);
    if (conn_ == nullptr)
      return absl::FailedPreconditionError("publish: the nats broker is not connected");
    natsStatus s = natsConnection_Publish(conn_, subject.c_str(), payload.data(),
                                          static_cast<int>(payload.size()));
    if (s == NATS_INSUFFICIENT_BUFFER) {
      return absl::UnavailableError(
          absl::StrCat("publish to ", topic, ": disconnected from NATS and its reconnect buffer (",
                       options_.reconnect_buffer, " bytes) is full"));
    }
    if (s != NATS_OK) return FromNats(s, absl::StrCat("publish to ", topic));
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<Sub>> Subscribe(absl::string_view topic, broker::Handler handler,
                                                 broker::SubscribeOptions options) {
    auto sub = std::make_shared<Sub>();
    sub->topic = std::string(topic);
    sub->options = std::move(options);
    sub->handler = std::move(handler);
    std::lock_guard<std::mutex> l(mu_);
    if (conn_ == nullptr)
      return absl::FailedPreconditionError("subscribe: the nats broker is not connected");
    auto* closure = new std::shared_ptr<Sub>(sub);
    natsSubscription* ns = nullptr;
    natsStatus s =
        sub->options.queue.empty()
            ? natsConnection_Subscribe(&ns, conn_, sub->topic.c_str(), OnMessage, closure)
            : natsConnection_QueueSubscribe(&ns, conn_, sub->topic.c_str(),
                                            sub->options.queue.c_str(), OnMessage, closure);
    if (s != NATS_OK) {
      delete closure;
      return FromNats(s, absl::StrCat("subscribe to ", topic));
    }
    if (natsSubscription_SetOnCompleteCB(ns, OnComplete, closure) != NATS_OK) {
      // Cannot happen on a fresh asynchronous subscription; keep the closure rather than risk
      // a dispatcher reading freed memory.
      log::Warn("nats broker: cannot watch the subscription's end; its state is kept");
    }
    (void)natsSubscription_SetPendingLimits(ns, options_.queue, -1);
    sub->sub = ns;
    subs_.emplace(ns, sub);
    return sub;
  }

  absl::Status Remove(const std::shared_ptr<Sub>& sub) {
    natsSubscription* ns = nullptr;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = subs_.find(sub->sub);
      if (it == subs_.end()) return absl::OkStatus();
      ns = it->first;
      subs_.erase(it);
    }
    natsStatus s = natsSubscription_Unsubscribe(ns);
    natsSubscription_Destroy(ns);
    if (s != NATS_OK && s != NATS_CONNECTION_CLOSED && s != NATS_INVALID_SUBSCRIPTION)
      return FromNats(s, absl::StrCat("unsubscribe from ", sub->topic));
    return absl::OkStatus();
  }

  std::string Address() const {
    std::lock_guard<std::mutex> l(mu_);
    if (conn_ == nullptr) return "";
    char url[256] = {0};
    if (natsConnection_GetConnectedUrl(conn_, url, sizeof(url)) != NATS_OK) return "";
    return url;
  }

 private:
  static void OnAsyncError(natsConnection*, natsSubscription* ns, natsStatus err, void* closure) {
    auto* cb = static_cast<Callbacks*>(closure);
    std::shared_ptr<State> self = cb->state.lock();
    if (self == nullptr || cb->closing) return;
    if (err == NATS_SLOW_CONSUMER && ns != nullptr) {
      std::shared_ptr<Sub> sub;
      {
        std::lock_guard<std::mutex> l(self->mu_);
        auto it = self->subs_.find(ns);
        if (it != self->subs_.end()) sub = it->second;
      }
      if (sub != nullptr && !sub->slow.exchange(true)) {
        log::Warn(absl::StrCat("nats broker: subscriber of ", sub->topic,
                               " is slow: ", self->options_.queue,
                               " messages wait; dropping messages until it catches up (logged "
                               "once; counted in micro_broker_dropped_total)"));
      }
      return;
    }
    log::Warn(absl::StrCat("nats broker: ", natsStatus_GetText(err)));
  }

  static void OnDisconnected(natsConnection*, void* closure) {
    if (static_cast<Callbacks*>(closure)->closing) return;
    log::Warn("nats broker: disconnected; reconnecting (publishes are buffered meanwhile)");
  }

  static void OnClosed(natsConnection*, void* closure) { delete static_cast<Callbacks*>(closure); }

  static void OnReconnected(natsConnection* nc, void*) {
    char url[256] = {0};
    (void)natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    log::Info(absl::StrCat("nats broker: reconnected to ", url));
  }

  void Collect(std::vector<metrics::Sample>* out) {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [ns, sub] : subs_) {
      std::int64_t dropped = 0;
      (void)natsSubscription_GetDropped(ns, &dropped);
      out->push_back(
          {"micro_broker_dropped_total", "counter", "Messages a subscriber's full queue dropped",
           absl::StrCat("broker=\"nats\",topic=\"", metrics::EscapeLabel(sub->topic), "\""),
           static_cast<double>(dropped)});
    }
  }

  const NatsBrokerOptions options_;
  mutable std::mutex mu_;
  natsConnection* conn_ = nullptr;
  Callbacks* callbacks_ = nullptr;  // owned by the connection (freed by OnClosed)
  std::map<natsSubscription*, std::shared_ptr<Sub>> subs_;
  std::uint64_t collector_ = 0;
};

}  // namespace

absl::StatusOr<NatsBrokerOptions> NatsBrokerOptionsFrom(const broker::BrokerAddress& address) {
  NatsBrokerOptions o;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("broker \"", address.uri, "\": ", why));
  };
  if (!address.hosts.empty()) {
    o.servers.clear();
    for (const std::string& h : address.hosts) {
      std::string host;
      int port = 0;
      if (!plugin::SplitHostPort(h, 4222, &host, &port).ok() || host.empty() || port == 0)
        return bad(absl::StrCat("\"", h, "\" is not host:port"));
      o.servers.push_back(plugin::JoinHostPort(host, port));
    }
  }
  for (const auto& [key, value] : address.params) {
    if (key == "queue" || key == "reconnect_buffer") {
      int n = 0;
      if (!absl::SimpleAtoi(value, &n) || n <= 0)
        return bad(absl::StrCat(key, "=", value, " is not a positive number"));
      (key == "queue" ? o.queue : o.reconnect_buffer) = n;
    } else if (key == "connect_timeout" || key == "reconnect_wait") {
      auto d = plugin::ParseDurationParam(key, value);
      if (!d.ok()) return bad(d.status().message());
      (key == "connect_timeout" ? o.connect_timeout : o.reconnect_wait) = *d;
    } else if (key == "name") {
      o.name = value;
    } else if (key == "send_asap") {
      auto b = plugin::ParseBoolParam("send_asap", value);
      if (!b.ok()) return bad(b.status().message());
      o.send_asap = *b;
    } else {
      return bad(absl::StrCat("unknown parameter \"", key,
                              "\" (the nats broker takes queue, reconnect_buffer, connect_timeout, "
                              "reconnect_wait, name, send_asap)"));
    }
  }
  return o;
}

std::unique_ptr<broker::Broker> NewNatsBroker(NatsBrokerOptions options) {
  return std::make_unique<plugin::StateBroker<State, Sub>>(
      std::make_shared<State>(std::move(options)), "nats");
}

}  // namespace micro::natsbroker
