#include "service/pubsub.h"

#include <google/protobuf/message.h>

#include <atomic>
#include <exception>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/net.h"
#include "core/wire.h"
#include "micro/event.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "micro/trace.h"

namespace micro::internal {
namespace {

enum class BodyCodec { kProto, kJson, kUnknown };

// go-micro's codec names for a broker message (its codec table, both spellings of each).
BodyCodec CodecOf(absl::string_view content_type) {
  std::string ct = absl::AsciiStrToLower(absl::StripAsciiWhitespace(content_type));
  if (std::size_t semi = ct.find(';'); semi != std::string::npos) {
    ct = std::string(absl::StripAsciiWhitespace(ct.substr(0, semi)));
  }
  for (const char* proto : {"", "application/grpc", "application/grpc+proto",
                            "application/protobuf", "application/x-protobuf", "application/proto",
                            "application/proto-rpc", "application/octet-stream"}) {
    if (ct == proto) return BodyCodec::kProto;
  }
  if (ct == "application/json" || ct == "application/grpc+json" || ct == "application/json-rpc")
    return BodyCodec::kJson;
  return BodyCodec::kUnknown;
}

// Counters per topic, for /metrics: published here, received, failed (undecodable or an error
// from the subscriber).
struct TopicCounters {
  std::atomic<std::uint64_t> published{0}, received{0}, failed{0};
};

struct CounterTable {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<TopicCounters>> topics;
  std::uint64_t collector = 0;
};

TopicCounters& CountersFor(const std::string& topic) {
  static CounterTable* table = [] {
    auto* t = new CounterTable;  // never destroyed: read by the metrics collector at any time
    t->collector = metrics::AddCollector([t](std::vector<metrics::Sample>* out) {
      std::lock_guard<std::mutex> l(t->mu);
      for (const auto& [topic, c] : t->topics) {
        std::string labels = absl::StrCat("topic=\"", metrics::EscapeLabel(topic), "\"");
        out->push_back({"micro_broker_published_total", "counter",
                        "Messages this process published", labels,
                        static_cast<double>(c->published.load())});
        out->push_back({"micro_broker_received_total", "counter",
                        "Messages this process's subscribers were given", labels,
                        static_cast<double>(c->received.load())});
        out->push_back({"micro_broker_failed_total", "counter",
                        "Messages that did not decode or whose subscriber failed", labels,
                        static_cast<double>(c->failed.load())});
      }
    });
    return t;
  }();
  std::lock_guard<std::mutex> l(table->mu);
  auto& slot = table->topics[topic];
  if (slot == nullptr) slot = std::make_unique<TopicCounters>();
  return *slot;
}

}  // namespace

struct PubSub::Registration {
  std::string topic;
  server::SubscriberOptions options;
  const google::protobuf::Message* prototype = nullptr;
  server::SubscriberFn fn;  // wrapped
  std::unique_ptr<broker::Subscriber> subscriber;
};

PubSub::PubSub(std::string service, MakeBroker make, std::vector<server::SubscriberWrapper> w)
    : service_(std::move(service)), make_(std::move(make)), wrappers_(std::move(w)) {}

PubSub::~PubSub() { (void)Stop(); }

absl::StatusOr<std::shared_ptr<broker::Broker>> PubSub::Broker() {
  std::lock_guard<std::mutex> l(mu_);
  if (broker_ == nullptr) {
    auto made = make_();
    if (!made.ok()) return made.status();
    broker_ = *std::move(made);
  }
  if (!connected_) {
    if (absl::Status s = broker_->Connect(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(broker_->Name(), " broker: ", s.message()));
    }
    connected_ = true;
  }
  return broker_;
}

absl::Status PubSub::Subscribe(std::string topic, const google::protobuf::Message& prototype,
                               server::SubscriberFn fn, server::SubscriberOptions options) {
  if (topic.empty()) return absl::InvalidArgumentError("subscribe: the topic is empty");
  if (!fn) return absl::InvalidArgumentError(absl::StrCat("subscribe to ", topic, ": no handler"));
  auto r = std::make_shared<Registration>();
  r->topic = std::move(topic);
  r->options = std::move(options);
  r->prototype = &prototype;
  for (auto it = wrappers_.rbegin(); it != wrappers_.rend(); ++it) fn = (*it)(std::move(fn));
  r->fn = std::move(fn);
  bool now;
  {
    std::lock_guard<std::mutex> l(mu_);
    registrations_.push_back(r);
    now = running_;
  }
  return now ? SubscribeNow(*r) : absl::OkStatus();
}

absl::Status PubSub::SubscribeNow(Registration& r) {
  auto b = Broker();
  if (!b.ok()) {
    return absl::Status(b.status().code(),
                        absl::StrCat("subscribe to ", r.topic, ": ", b.status().message()));
  }
  const std::string service = service_;
  Registration* reg = &r;
  TopicCounters* counters = &CountersFor(r.topic);
  auto handler = [service, reg, counters](const broker::Event& e) -> absl::Status {
    counters->received.fetch_add(1, std::memory_order_relaxed);
    server::Context ctx;
    ctx.service = service;
    ctx.endpoint = e.topic;
    for (const auto& [k, v] : e.message.header) {
      if (absl::EqualsIgnoreCase(k, broker::kHeaderContentType)) {
        ctx.content_type = v;
      } else {
        ctx.metadata[absl::AsciiStrToLower(k)] = v;
      }
    }
    if (auto it = ctx.metadata.find("x-request-id"); it != ctx.metadata.end())
      ctx.request_id = it->second;
    if (auto it = ctx.metadata.find("traceparent"); it != ctx.metadata.end()) {
      if (trace::SpanContext::Parse(it->second, &ctx.span)) ctx.span.span_id = trace::NewSpanId();
    }
    std::unique_ptr<google::protobuf::Message> m(reg->prototype->New());
    absl::Status s;
    switch (CodecOf(ctx.content_type)) {
      case BodyCodec::kProto:
        if (!m->ParseFromString(e.message.body))
          s = absl::InvalidArgumentError(absl::StrCat("the body is not a ", m->GetTypeName()));
        break;
      case BodyCodec::kJson:
        s = DecodeJson(e.message.body, m.get());
        break;
      case BodyCodec::kUnknown:
        s = absl::InvalidArgumentError(
            absl::StrCat("unsupported content type \"", ctx.content_type, "\""));
        break;
    }
    if (s.ok()) {
      try {
        s = reg->fn(ctx, *m);
      } catch (const std::exception& ex) {
        s = absl::InternalError(absl::StrCat("subscriber threw: ", ex.what()));
      } catch (...) {
        s = absl::InternalError("subscriber threw");
      }
    }
    if (!s.ok()) {
      counters->failed.fetch_add(1, std::memory_order_relaxed);
      log::Warn(absl::StrCat("service ", service, ": subscriber of ", e.topic, ": ", s.message()));
    }
    return s;
  };
  broker::SubscribeOptions options;
  options.queue = r.options.queue;
  auto sub = (*b)->Subscribe(r.topic, std::move(handler), options);
  if (!sub.ok()) return sub.status();
  std::lock_guard<std::mutex> l(mu_);
  r.subscriber = *std::move(sub);
  return absl::OkStatus();
}

absl::Status PubSub::Start() {
  std::vector<std::shared_ptr<Registration>> pending;
  {
    std::lock_guard<std::mutex> l(mu_);
    running_ = true;
    for (const auto& r : registrations_) {
      if (r->subscriber == nullptr) pending.push_back(r);
    }
  }
  for (const auto& r : pending) {
    if (absl::Status s = SubscribeNow(*r); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PubSub::Stop() {
  std::vector<std::unique_ptr<broker::Subscriber>> subscribers;
  std::shared_ptr<broker::Broker> broker;
  {
    std::lock_guard<std::mutex> l(mu_);
    running_ = false;
    for (const auto& r : registrations_) {
      if (r->subscriber != nullptr) subscribers.push_back(std::move(r->subscriber));
    }
    if (connected_) broker = broker_;
    connected_ = false;
  }
  std::vector<std::string> errors;
  for (auto& s : subscribers) {
    if (absl::Status st = s->Unsubscribe(); !st.ok())
      errors.push_back(absl::StrCat("unsubscribe ", s->topic(), ": ", st.message()));
  }
  subscribers.clear();
  if (broker != nullptr) {
    if (absl::Status st = broker->Disconnect(); !st.ok()) errors.emplace_back(st.message());
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(errors, "; "));
}

absl::Status PublishMessage(broker::Broker& b, const std::string& topic,
                            const google::protobuf::Message& message, const PublishParts& parts) {
  if (topic.empty()) return absl::InvalidArgumentError("publish: the topic is empty");
  broker::Message m;
  const std::string& ct = parts.content_type.empty() ? kContentTypeProto : parts.content_type;
  switch (CodecOf(ct)) {
    case BodyCodec::kProto:
      if (!message.SerializeToString(&m.body))
        return absl::InvalidArgumentError(
            absl::StrCat("publish to ", topic, ": cannot encode ", message.GetTypeName()));
      break;
    case BodyCodec::kJson:
      if (absl::Status s = EncodeJson(message, &m.body); !s.ok()) return s;
      break;
    case BodyCodec::kUnknown:
      return absl::InvalidArgumentError(absl::StrCat(
          "publish to ", topic, ": unsupported content type \"", ct,
          "\" (use application/grpc+proto, application/protobuf or application/json)"));
  }
  for (const auto& [k, v] : parts.metadata) m.header[k] = v;
  if (!parts.traceparent.empty()) m.header["traceparent"] = parts.traceparent;
  m.header[broker::kHeaderContentType] = ct;
  m.header[broker::kHeaderTopic] = topic;
  m.header[broker::kHeaderId] = NewUuid();
  absl::Status s = b.Publish(topic, m);
  if (s.ok()) CountersFor(topic).published.fetch_add(1, std::memory_order_relaxed);
  return s;
}

}  // namespace micro::internal

namespace micro {

absl::Status Event::Publish(const google::protobuf::Message& message,
                            const client::CallOptions& options) const {
  auto b = service_->broker();
  if (!b.ok()) {
    return absl::Status(b.status().code(),
                        absl::StrCat("publish to ", topic_, ": ", b.status().message()));
  }
  internal::PublishParts parts;
  parts.content_type =
      options.content_type.empty() ? service_->options().client.content_type : options.content_type;
  parts.metadata = options.metadata;
  if (options.parent.valid()) {
    trace::SpanContext child = options.parent;
    child.span_id = trace::NewSpanId();
    parts.traceparent = child.Traceparent();
  }
  return internal::PublishMessage(**b, topic_, message, parts);
}

}  // namespace micro
