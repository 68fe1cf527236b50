// micro::Event and micro::RegisterSubscriber on a Service, over the memory broker; the broker
// plugin table and the --broker flags.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "greeter.pb.h"
#include "micro/broker/memory.h"
#include "micro/broker/plugin.h"
#include "micro/event.h"
#include "micro/metrics.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

namespace br = micro::broker;

namespace {

std::unique_ptr<micro::Service> MemoryService(std::shared_ptr<br::Broker> b,
                                              std::vector<micro::Option> more = {}) {
  std::vector<micro::Option> o = {micro::Name("events"), micro::Address("127.0.0.1:0"),
                                  micro::Registry("memory://"), micro::Broker(std::move(b))};
  o.insert(o.end(), more.begin(), more.end());
  return micro::NewService(o);
}

}  // namespace

TEST_CASE("events: typed messages reach subscribers in proto and JSON with their metadata") {
  std::shared_ptr<br::Broker> b = br::NewMemoryBroker();
  std::vector<std::string> wrapped;
  auto svc = MemoryService(b, {micro::WrapSubscriber([&](micro::server::SubscriberFn next) {
                             return [&, next](micro::server::Context& ctx,
                                              const google::protobuf::Message& m) {
                               wrapped.push_back(ctx.endpoint);
                               return next(ctx, m);
                             };
                           })});
  std::mutex mu;
  std::vector<std::string> names, types, from;
  REQUIRE(micro::RegisterSubscriber<helloworld::Request>(
              "greetings", *svc,
              [&](micro::server::Context& ctx, const helloworld::Request& m) {
                std::lock_guard<std::mutex> l(mu);
                names.push_back(m.name());
                types.push_back(ctx.content_type);
                from.push_back(std::string(ctx.Metadata("X-From")));
                CHECK(ctx.service == "events");
                CHECK(ctx.endpoint == "greetings");
                CHECK(!ctx.Metadata("micro-id").empty());
                return absl::OkStatus();
              })
              .ok());
  // Not subscribed before the service starts.
  micro::Event event("greetings", *svc);
  helloworld::Request m;
  m.set_name("early");
  REQUIRE(event.Publish(m).ok());
  CHECK(names.empty());

  REQUIRE(svc->Start().ok());
  m.set_name("proto");
  micro::client::CallOptions o;
  o.metadata["X-From"] = "test";
  REQUIRE(event.Publish(m, o).ok());
  m.set_name("json");
  o.content_type = "application/json";
  REQUIRE(event.Publish(m, o).ok());
  o.content_type = "text/plain";
  absl::Status bad = event.Publish(m, o);
  CHECK(absl::IsInvalidArgument(bad));
  CHECK_THAT(std::string(bad.message()), Catch::Contains("unsupported content type"));
  CHECK(names == std::vector<std::string>{"proto", "json"});
  CHECK(types == std::vector<std::string>{"application/grpc+proto", "application/json"});
  CHECK(from == std::vector<std::string>{"test", "test"});
  CHECK(wrapped == std::vector<std::string>{"greetings", "greetings"});
  CHECK_THAT(micro::metrics::Text(),
             Catch::Contains("micro_broker_received_total{topic=\"greetings\"} 2"));

  // Stopped: unsubscribed.
  REQUIRE(svc->Stop().ok());
  REQUIRE(b->Connect().ok());
  REQUIRE(b->Publish("greetings", {{}, ""}).ok());
  CHECK(names.size() == 2);
}

TEST_CASE("events: a message that does not decode or a failing subscriber is counted and logged") {
  std::shared_ptr<br::Broker> b = br::NewMemoryBroker();
  auto svc = MemoryService(b);
  int calls = 0;
  REQUIRE(micro::RegisterSubscriber<helloworld::Request>(
              "flaky", *svc,
              [&](micro::server::Context&, const helloworld::Request& m) -> absl::Status {
                ++calls;
                if (m.name() == "throw") throw std::runtime_error("boom");
                if (m.name() == "fail") return absl::InternalError("no");
                return absl::OkStatus();
              })
              .ok());
  REQUIRE(svc->Start().ok());
  REQUIRE(b->Publish("flaky", {{{"Content-Type", "application/json"}}, "{not json"}).ok());
  REQUIRE(b->Publish("flaky", {{{"Content-Type", "application/grpc+proto"}}, "\xff\xff\xff"}).ok());
  REQUIRE(b->Publish("flaky", {{{"Content-Type", "image/png"}}, ""}).ok());
  CHECK(calls == 0);
  micro::Event e("flaky", *svc);
  helloworld::Request m;
  for (const char* name : {"throw", "fail", "fine"}) {
    m.set_name(name);
    REQUIRE(e.Publish(m).ok());
  }
  CHECK(calls == 3);
  std::string text = micro::metrics::Text();
  CHECK_THAT(text, Catch::Contains("micro_broker_failed_total{topic=\"flaky\"} 5"));
  CHECK_THAT(text, Catch::Contains("micro_broker_received_total{topic=\"flaky\"} 6"));
  CHECK_THAT(text, Catch::Contains("micro_broker_published_total{topic=\"flaky\"} 3"));
  REQUIRE(svc->Stop().ok());
}

TEST_CASE("events: queue groups on a service and subscribing while it runs") {
  std::shared_ptr<br::Broker> b = br::NewMemoryBroker();
  auto svc = MemoryService(b);
  REQUIRE(svc->Start().ok());
  std::atomic<int> q1{0}, q2{0}, all{0};
  auto sub = [&](std::atomic<int>* n, std::string queue) {
    return micro::RegisterSubscriber<helloworld::Request>(
        "jobs", *svc,
        [n](micro::server::Context&, const helloworld::Request&) {
          ++*n;
          return absl::OkStatus();
        },
        {std::move(queue)});
  };
  REQUIRE(sub(&q1, "workers").ok());
  REQUIRE(sub(&q2, "workers").ok());
  REQUIRE(sub(&all, "").ok());
  micro::Event e("jobs", *svc);
  for (int i = 0; i < 100; ++i) REQUIRE(e.Publish(helloworld::Request()).ok());
  CHECK(q1 + q2 == 100);
  CHECK(all == 100);
  CHECK(absl::IsInvalidArgument(micro::RegisterSubscriber<helloworld::Request>(
      "", *svc,
      [](micro::server::Context&, const helloworld::Request&) { return absl::OkStatus(); })));
  REQUIRE(svc->Stop().ok());
}

TEST_CASE("broker plugins: schemes and URIs and errors") {
  auto m = br::NewBroker("memory://");
  REQUIRE(m.ok());
  CHECK((*m)->Name() == "memory");
  CHECK(absl::IsInvalidArgument(br::NewBroker("memory://host:1").status()));
  auto unknown = br::NewBroker("kafka://k:9092");
  CHECK(absl::IsInvalidArgument(unknown.status()));
  CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("unknown broker \"kafka\""));
  CHECK_THAT(std::string(unknown.status().message()), Catch::Contains("http"));
  CHECK(br::BrokerUri("http", "0.0.0.0:0").value() == "http://0.0.0.0:0");
  CHECK(br::BrokerUri("http://a:1", "").value() == "http://a:1");
  CHECK(!br::BrokerUri("http://a:1", "b:2").ok());
  CHECK(!br::BrokerUri("", "b:2").ok());
  auto parsed = br::ParseBrokerAddress("nats://a:4222,b:4222?token=secret");
  REQUIRE(parsed.ok());
  CHECK(parsed->hosts == std::vector<std::string>{"a:4222", "b:4222"});
  CHECK(parsed->uri.find("secret") == std::string::npos);
  auto bad = br::ParseBrokerAddress("http://a:99999");
  CHECK_THAT(std::string(bad.status().message()), Catch::StartsWith("broker address"));
  CHECK(br::RegisterBrokerPlugin(
            "memory",
            [](const br::BrokerAddress&, const br::BrokerContext&)
                -> absl::StatusOr<std::unique_ptr<br::Broker>> { return br::NewMemoryBroker(); })
            .code() == absl::StatusCode::kAlreadyExists);
  // The http broker needs a registry, and says so at Connect.
  auto h = br::NewBroker("http://127.0.0.1:0");
  REQUIRE(h.ok());
  CHECK(absl::IsFailedPrecondition((*h)->Connect()));
  CHECK(!br::NewBroker("http://127.0.0.1:0?bogus=1").ok());
  CHECK(!br::NewBroker("http://a:1,b:2").ok());
}

TEST_CASE("broker flags: --broker and --broker_address with clear errors") {
  auto run = [](std::vector<std::string> args, std::string* broker) {
    auto svc = micro::NewService(micro::Name("f"), micro::Registry("memory://"));
    std::vector<char*> argv = {const_cast<char*>("f")};
    for (auto& a : args) argv.push_back(a.data());
    absl::Status s = svc->Init(static_cast<int>(argv.size()), argv.data());
    *broker = svc->options().broker;
    return s;
  };
  std::string broker;
  REQUIRE(run({}, &broker).ok());
  CHECK(broker == "http://");
  REQUIRE(run({"--broker", "memory"}, &broker).ok());
  CHECK(broker == "memory://");
  REQUIRE(run({"--broker_address", "0.0.0.0:0"}, &broker).ok());
  CHECK(broker == "http://0.0.0.0:0");
  absl::Status s = run({"--broker", "kafka"}, &broker);
  CHECK_THAT(std::string(s.message()), Catch::Contains("--broker"));
  CHECK_THAT(std::string(s.message()), Catch::Contains("unknown broker \"kafka\""));
  s = run({"--broker", "http://a:1", "--broker_address", "b:2"}, &broker);
  CHECK_THAT(std::string(s.message()), Catch::Contains("already holds an address"));
}

TEST_CASE("http broker in one process: publish and queues and a slow subscriber dropping") {
  std::shared_ptr<micro::registry::Registry> reg = micro::registry::NewMemoryRegistry();
  auto made = br::NewBroker("http://127.0.0.1:0?queue=2", {reg});
  REQUIRE(made.ok());
  std::shared_ptr<br::Broker> b = std::move(*made);
  REQUIRE(b->Connect().ok());
  CHECK(b->Address().empty());  // nothing served before a subscription
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<std::string> got;
  auto sub = b->Subscribe("slow", [&](const br::Event& e) {
    std::unique_lock<std::mutex> l(mu);
    got.push_back(e.message.body);
    cv.notify_all();
    cv.wait(l, [&] { return release; });
    return absl::OkStatus();
  });
  REQUIRE(sub.ok());
  CHECK(!b->Address().empty());
  auto services = reg->GetService("micro.http.broker");
  REQUIRE(services.ok());
  REQUIRE(services->size() == 1);
  CHECK(services->front().version == "ff.http.broadcast");
  CHECK(services->front().nodes.at(0).address == b->Address());
  // The first message is taken by the handler (which waits), two more fill the queue of 2,
  // the fourth is dropped: Publish says so, and the metric counts it.
  REQUIRE(b->Publish("slow", {{}, "m0"}).ok());
  {
    std::unique_lock<std::mutex> l(mu);
    REQUIRE(cv.wait_for(l, std::chrono::seconds(10), [&] { return got.size() == 1; }));
  }
  REQUIRE(b->Publish("slow", {{}, "m1"}).ok());
  REQUIRE(b->Publish("slow", {{}, "m2"}).ok());
  absl::Status dropped = b->Publish("slow", {{}, "m3"});
  CHECK(absl::IsUnavailable(dropped));
  CHECK_THAT(std::string(dropped.message()), Catch::Contains("503"));
  CHECK_THAT(micro::metrics::Text(),
             Catch::Contains("micro_broker_dropped_total{broker=\"http\",topic=\"slow\"} 1"));
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  // No subscriber for a topic: nothing to do (at most once).
  CHECK(b->Publish("nobody", {{}, "x"}).ok());
  CHECK(absl::IsInvalidArgument(b->Publish("", {{}, "x"})));
  REQUIRE((*sub)->Unsubscribe().ok());
  {
    std::lock_guard<std::mutex> l(mu);
    CHECK(got == std::vector<std::string>{"m0", "m1", "m2"});
  }
  // Deregistered with the subscription.
  auto after = reg->GetService("micro.http.broker");
  CHECK((!after.ok() || after->empty() || after->front().nodes.empty()));
  REQUIRE(b->Disconnect().ok());
  CHECK(absl::IsFailedPrecondition(b->Publish("slow", {{}, "x"})));
}
