#include "pubsub.h"

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "micro/broker/plugin.h"
#include "micro/plugin/net.h"

namespace micro::tools {
namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "micro: %s\n", std::string(message).c_str());
  return code;
}

absl::StatusOr<std::unique_ptr<broker::Broker>> Connected(const BrokerCommand& c) {
  auto b = broker::NewBroker(c.broker_uri, broker::BrokerContext{c.registry});
  if (!b.ok()) return b.status();
  if (absl::Status s = (*b)->Connect(); !s.ok()) return s;
  return b;
}

std::mutex g_mu;
std::condition_variable g_cv;
std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

}  // namespace

int Publish(const BrokerCommand& c, const std::string& topic, const std::string& json) {
  if (!nlohmann::json::accept(json)) {
    return Fail(kUsage, "the message is not JSON (micro publish TOPIC '{\"key\": \"value\"}')");
  }
  auto b = Connected(c);
  if (!b.ok())
    return Fail(absl::IsInvalidArgument(b.status()) ? kUsage : kFailed, b.status().message());
  broker::Message m;
  m.header = c.headers;
  m.header[broker::kHeaderContentType] = "application/json";
  m.header[broker::kHeaderTopic] = topic;
  m.header[broker::kHeaderId] = plugin::NewUuid();
  m.body = json;
  absl::Status s = (*b)->Publish(topic, m);
  (void)(*b)->Disconnect();
  if (!s.ok()) return Fail(kFailed, s.message());
  return kOk;
}

int Subscribe(const BrokerCommand& c, const std::string& topic, const std::string& queue,
              int count) {
  auto b = Connected(c);
  if (!b.ok())
    return Fail(absl::IsInvalidArgument(b.status()) ? kUsage : kFailed, b.status().message());
  int seen = 0;
  auto sub = (*b)->Subscribe(topic,
                             [&](const broker::Event& e) {
                               nlohmann::ordered_json line;
                               line["topic"] = e.topic;
                               line["header"] = e.message.header;
                               auto body = nlohmann::json::parse(e.message.body, nullptr, false);
                               if (!body.is_discarded()) {
                                 line["body"] = body;
                               } else {
                                 line["body_base64"] = absl::Base64Escape(e.message.body);
                               }
                               std::lock_guard<std::mutex> l(g_mu);
                               std::printf("%s\n", line.dump().c_str());
                               std::fflush(stdout);
                               if (count > 0 && ++seen >= count) g_stop = true;
                               g_cv.notify_all();
                               return absl::OkStatus();
                             },
                             {queue});
  if (!sub.ok()) return Fail(kFailed, sub.status().message());
  std::fprintf(stderr, "micro: subscribed to %s%s; Ctrl-C ends\n", topic.c_str(),
               queue.empty() ? "" : absl::StrCat(" in queue ", queue).c_str());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  {
    std::unique_lock<std::mutex> l(g_mu);
    while (!g_stop) g_cv.wait_for(l, std::chrono::milliseconds(100));
  }
  absl::Status s = (*sub)->Unsubscribe();
  sub->reset();
  (void)(*b)->Disconnect();
  return s.ok() ? kOk : Fail(kFailed, s.message());
}

}  // namespace micro::tools
