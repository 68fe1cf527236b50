// The NATS broker against real nats-server processes (Debian's nats-server) on loopback ports:
// one server; a 3-member cluster with a member killed; go-micro v4's NATS broker plugin on the
// other side of the wire; the bounded reconnect buffer; a slow subscriber's drops.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "greeter.pb.h"
#include "micro/broker/plugin.h"
#include "micro/event.h"
#include "micro/metrics.h"
#include "micro/micro.h"
#include "nats_server.h"
#include "process.h"
#include "test_util.h"

namespace br = micro::broker;
using micro::testing::NatsServer;
using micro::testing::Process;
using namespace std::chrono_literals;

namespace {

bool Until(const std::function<bool()>& done) {
  return micro::testing::Eventually(done, 30s, 20ms);
}

std::unique_ptr<br::Broker> Connected(const std::string& uri) {
  micro::RegisterBuiltinPlugins();
  auto b = br::NewBroker(uri);
  REQUIRE(b.ok());
  REQUIRE((*b)->Connect().ok());
  return std::move(*b);
}

// Collects what a subscriber gets.
struct Inbox {
  std::mutex mu;
  std::multiset<std::string> bodies;
  br::Handler handler() {
    return [this](const br::Event& e) {
      std::lock_guard<std::mutex> l(mu);
      bodies.insert(e.message.body);
      return absl::OkStatus();
    };
  }
  std::multiset<std::string> get() {
    std::lock_guard<std::mutex> l(mu);
    return bodies;
  }
  std::size_t size() { return get().size(); }
};

std::multiset<std::string> Range(const std::string& prefix, int from, int to) {
  std::multiset<std::string> out;
  for (int i = from; i < to; ++i) out.insert(absl::StrCat(prefix, i));
  return out;
}

}  // namespace

TEST_CASE("nats broker: publish and queue groups and a typed service on one server", "[nats]") {
  micro::testing::ScratchDir dir;
  NatsServer server(dir.path() + "/nats.log");
  REQUIRE(server.WaitReady());
  const std::string uri = "nats://" + server.address();
  auto pub = Connected(uri);
  auto a = Connected(uri), b = Connected(uri);
  Inbox all, qa, qb;
  auto s_all = a->Subscribe("orders", all.handler());
  auto s_qa = a->Subscribe("orders", qa.handler(), {"workers"});
  auto s_qb = b->Subscribe("orders", qb.handler(), {"workers"});
  REQUIRE(s_all.ok());
  REQUIRE(s_qa.ok());
  REQUIRE(s_qb.ok());
  CHECK(absl::StartsWith(a->Address(), "nats://127.0.0.1:"));
  // Subscriptions reach the server before the first publish: a round trip on each connection.
  REQUIRE(Until([&] {
    REQUIRE(pub->Publish("orders", {{}, "probe"}).ok());
    return all.size() > 0;
  }));
  for (int i = 0; i < 200; ++i)
    REQUIRE(pub->Publish("orders", {{{"K", "v"}}, absl::StrCat("o", i)}).ok());
  REQUIRE(Until([&] {
    auto got = all.get();
    got.erase("probe");
    return got == Range("o", 0, 200);
  }));
  // The queue group: each message to exactly one of its two members.
  auto group = qa.get();
  REQUIRE(Until([&] {
    group = qa.get();
    group.merge(qb.get());
    std::multiset<std::string> real;
    for (const auto& g : group)
      if (g != "probe") real.insert(g);
    return real == Range("o", 0, 200);
  }));
  CHECK(qa.size() > 0);
  CHECK(qb.size() > 0);
  // Unsubscribed: nothing more.
  REQUIRE((*s_all)->Unsubscribe().ok());
  REQUIRE(pub->Publish("orders", {{}, "late"}).ok());
  REQUIRE(Until([&] { return qa.get().count("late") + qb.get().count("late") == 1; }));
  CHECK(all.get().count("late") == 0);

  // A Service on the nats broker: typed events, subscribed at start.
  auto svc = micro::NewService(micro::Name("nats.events"), micro::Address("127.0.0.1:0"),
                               micro::Registry("memory://"), micro::Broker(uri));
  std::mutex mu;
  std::vector<std::string> names;
  REQUIRE(micro::RegisterSubscriber<helloworld::Request>(
              "greetings", *svc,
              [&](micro::server::Context& ctx, const helloworld::Request& m) {
                std::lock_guard<std::mutex> l(mu);
                names.push_back(m.name() + "/" + std::string(ctx.Metadata("micro-topic")));
                return absl::OkStatus();
              })
              .ok());
  REQUIRE(svc->Start().ok());
  micro::Event e("greetings", *svc);
  helloworld::Request m;
  m.set_name("n1");
  REQUIRE(Until([&] {
    REQUIRE(e.Publish(m).ok());
    std::lock_guard<std::mutex> l(mu);
    return !names.empty();
  }));
  {
    std::lock_guard<std::mutex> l(mu);
    CHECK(names.front() == "n1/greetings");
  }
  REQUIRE(svc->Stop().ok());
}

TEST_CASE("nats broker: a cluster member dies - clients move on and queue groups stay exact",
          "[nats]") {
  micro::testing::ScratchDir dir;
  int c1 = micro::testing::StablePort(), c2 = micro::testing::StablePort(),
      c3 = micro::testing::StablePort();
  NatsServer n1(dir.path() + "/n1.log", c1, {c2, c3});
  NatsServer n2(dir.path() + "/n2.log", c2, {c1, c3});
  NatsServer n3(dir.path() + "/n3.log", c3, {c1, c2});
  for (NatsServer* n : {&n1, &n2, &n3}) REQUIRE(n->WaitReady());
  // Routes up: each member logs its two routes.
  REQUIRE(Until([&] {
    for (const char* f : {"/n1.log", "/n2.log", "/n3.log"}) {
      std::string log = micro::testing::ReadFile(dir.path() + f);
      std::size_t routes = 0;
      for (std::size_t at = 0; (at = log.find("Route connection created", at)) != std::string::npos;
           ++at)
        ++routes;
      if (routes < 2) return false;
    }
    return true;
  }));
  // Each client is given one member; it learns the others from the cluster (INFO).
  const std::string on_n1 = "nats://" + n1.address() + "?reconnect_wait=100ms";
  const std::string on_n2 = "nats://" + n2.address() + "?reconnect_wait=100ms";
  auto sub1 = Connected(on_n1), sub2 = Connected(on_n2), bcast = Connected(on_n1);
  auto pub = Connected(on_n2);
  Inbox q1, q2, all;
  auto s1 = sub1->Subscribe("jobs", q1.handler(), {"workers"});
  auto s2 = sub2->Subscribe("jobs", q2.handler(), {"workers"});
  auto s3 = bcast->Subscribe("jobs", all.handler());
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  REQUIRE(s3.ok());
  // Interest has spread through the cluster once a message from n2 reaches n1's subscriber.
  int probe = 0;
  REQUIRE(Until([&] {
    REQUIRE(pub->Publish("jobs", {{}, absl::StrCat("probe", probe++)}).ok());
    return all.size() > 0;
  }));
  // (Probes sent before the interest reached n2 were lost: at most once.)
  for (int i = 0; i < 100; ++i) REQUIRE(pub->Publish("jobs", {{}, absl::StrCat("a", i)}).ok());
  REQUIRE(Until([&] { return all.get().count("a99") == 1; }));

  // n1 dies: its clients reconnect to n2 or n3 (learnt from the cluster) and get messages again.
  n1.Kill();
  const std::size_t before = all.size();
  int more = 0;
  REQUIRE(Until([&] {
    REQUIRE(pub->Publish("jobs", {{}, absl::StrCat("probe-after", more++)}).ok());
    return all.size() > before;
  }));
  CHECK_THAT(sub1->Address(), !Catch::Contains(n1.address()));
  for (int i = 0; i < 100; ++i) REQUIRE(pub->Publish("jobs", {{}, absl::StrCat("b", i)}).ok());
  REQUIRE(Until([&] { return all.get().count("b99") == 1; }));
  // Everything published after reconnection arrived, once, at the broadcast subscriber ...
  auto got = all.get();
  for (int i = 0; i < 100; ++i) CHECK(got.count(absl::StrCat("b", i)) == 1);
  // ... and at exactly one member of the queue group, none twice.
  std::multiset<std::string> group;
  REQUIRE(Until([&] {
    group = q1.get();
    group.merge(q2.get());
    std::size_t b = 0;
    for (const auto& g : group) b += absl::StartsWith(g, "b") ? 1 : 0;
    return b >= 100;
  }));
  for (int i = 0; i < 100; ++i) CHECK(group.count(absl::StrCat("b", i)) == 1);
  for (int i = 0; i < 100; ++i) CHECK(group.count(absl::StrCat("a", i)) <= 1);
}

TEST_CASE("nats broker: publishes while disconnected are buffered up to a bound", "[nats]") {
  micro::testing::ScratchDir dir;
  auto server = std::make_unique<NatsServer>(dir.path() + "/nats.log");
  REQUIRE(server->WaitReady());
  const std::string uri =
      "nats://" + server->address() + "?reconnect_buffer=4096&reconnect_wait=100ms";
  auto pub = Connected(uri);
  auto sub = Connected(uri);
  Inbox in;
  auto s = sub->Subscribe("buffered", in.handler());
  REQUIRE(s.ok());
  REQUIRE(Until([&] {
    REQUIRE(pub->Publish("buffered", {{}, "probe"}).ok());
    return in.size() > 0;
  }));
  server->Kill();
  // Disconnected (the client notices the closed socket): a few small messages fit the buffer,
  // then publishing fails with a clear error instead of growing without bound.
  // (A publish written before the client noticed may fail with the socket's error instead.)
  absl::Status full;
  REQUIRE(Until([&] {
    for (int i = 0; i < 100; ++i) {
      full = pub->Publish("buffered", {{}, std::string(200, 'x')});
      if (!full.ok()) {
        CHECK(absl::IsUnavailable(full));
        if (absl::StrContains(full.message(), "reconnect buffer")) return true;
      }
    }
    return false;
  }));
  CHECK_THAT(std::string(full.message()), Catch::Contains("reconnect buffer"));
}

TEST_CASE("nats broker: a slow subscriber drops past its queue - counted and logged once",
          "[nats]") {
  micro::testing::ScratchDir dir;
  NatsServer server(dir.path() + "/nats.log");
  REQUIRE(server.WaitReady());
  auto pub = Connected("nats://" + server.address());
  auto sub = Connected("nats://" + server.address() + "?queue=10");
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> handled{0}, seen{0};
  auto s = sub->Subscribe("slowpoke", [&](const br::Event&) {
    ++seen;
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return release; });
    ++handled;
    return absl::OkStatus();
  });
  REQUIRE(s.ok());
  // Probes until the subscription is live on the server (the handler then holds the first one).
  REQUIRE(Until([&] {
    REQUIRE(pub->Publish("slowpoke", {{}, "probe"}).ok());
    return seen > 0;
  }));
  for (int i = 0; i < 200; ++i) REQUIRE(pub->Publish("slowpoke", {{}, "m"}).ok());
  REQUIRE(Until([&] {
    return micro::metrics::Text().find(
               "micro_broker_dropped_total{broker=\"nats\",topic=\"slowpoke\"} 0") ==
           std::string::npos;
  }));
  // All but what the queue holds (10) and the one in the handler are dropped, and counted.
  auto dropped = [] {
    const std::string key = "micro_broker_dropped_total{broker=\"nats\",topic=\"slowpoke\"} ";
    std::string text = micro::metrics::Text();
    std::size_t at = text.find(key);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
  };
  CHECK(Until([&] { return dropped() >= 180; }));
  {
    std::lock_guard<std::mutex> l(mu);
    release = true;
  }
  cv.notify_all();
  REQUIRE(Until([&] { return handled > 0; }));
  CHECK(handled < 200);  // what the queue held, the one in the handler and stray probes
}

#ifdef GOBROKER4_BIN
TEST_CASE("nats broker: the go-micro v4 nats plugin and micro-cpp publish to each other",
          "[nats][interop]") {
  micro::testing::ScratchDir dir;
  NatsServer server(dir.path() + "/nats.log");
  REQUIRE(server.WaitReady());
  const std::string go_log = dir.path() + "/go-sub.log", cpp_log = dir.path() + "/cpp-sub.log";
  Process go_sub({GOBROKER4_BIN, "sub", "-typed", "-topic", "to.go", "-broker", "nats",
                  "-broker_address", server.address(), "-registry", "memory"},
                 go_log);
  Process cpp_sub({BROKER_PEER_BIN, "--mode", "sub", "--topic", "to.cpp", "--broker",
                   "nats://" + server.address(), "--registry", "memory"},
                  cpp_log);
  auto ready = [](const std::string& log) {
    return Until([&] { return absl::StrContains(micro::testing::ReadFile(log), "ready"); });
  };
  REQUIRE(ready(go_log));
  REQUIRE(ready(cpp_log));
  auto names = [](const std::string& log) {
    std::multiset<std::string> out;
    std::istringstream in(micro::testing::ReadFile(log));
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] != '{') continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("name")) out.insert(j["name"].get<std::string>());
    }
    return out;
  };
  auto expect = [](const std::string& prefix, int n) {
    std::multiset<std::string> out;
    for (int i = 0; i < n; ++i) out.insert(absl::StrCat(prefix, "-", i));
    return out;
  };
  for (const char* ct : {"application/grpc+proto", "application/json"}) {
    std::string prefix = absl::StrContains(ct, "json") ? "gojson" : "goproto";
    Process p({GOBROKER4_BIN, "pub", "-typed", "-topic", "to.cpp", "-count", "3", "-prefix", prefix,
               "-content_type", ct, "-broker", "nats", "-broker_address", server.address(),
               "-registry", "memory"},
              dir.path() + "/go-pub.log");
    REQUIRE(p.Wait() == 0);
    std::string cprefix = absl::StrContains(ct, "json") ? "cppjson" : "cppproto";
    Process q(
        {BROKER_PEER_BIN, "--mode", "pub", "--topic", "to.go", "--count", "3", "--prefix", cprefix,
         "--content_type", ct, "--broker", "nats://" + server.address(), "--registry", "memory"},
        dir.path() + "/cpp-pub.log");
    REQUIRE(q.Wait() == 0);
  }
  auto want_cpp = expect("goproto", 3);
  want_cpp.merge(expect("gojson", 3));
  auto want_go = expect("cppproto", 3);
  want_go.merge(expect("cppjson", 3));
  INFO(micro::testing::ReadFile(cpp_log));
  INFO(micro::testing::ReadFile(go_log));
  CHECK(Until([&] { return names(cpp_log) == want_cpp; }));
  CHECK(Until([&] { return names(go_log) == want_go; }));
}
#endif  // GOBROKER4_BIN
