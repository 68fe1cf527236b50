// Consul's active health checks (consul://...?check=grpc|http|tcp) against a real Consul agent:
// Consul itself probes the node; a node that stops answering turns critical in Consul within
// about one interval, lookups and clients leave it at once, it comes back when it answers again,
// and with deregister_after Consul's reaper removes it. Times are printed, never asserted.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "greeter.micro.h"
#include "http_util.h"
#include "micro/micro.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/plugin.h"
#include "process.h"
#include "registry_test_util.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::ConsulAgent;
using micro::testing::NodeIds;
using micro::testing::Process;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<reg::Registry> Consul(const std::string& uri) {
  micro::RegisterBuiltinPlugins();
  auto r = reg::NewRegistry(uri);
  INFO(uri << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return std::shared_ptr<reg::Registry>(std::move(*r));
}

// Polls every 100 ms (Consul is a real process); the deadline only keeps a broken test from
// hanging.
bool Until(const std::function<bool()>& done, std::chrono::seconds deadline = 30s) {
  return micro::testing::Eventually(done, deadline, 100ms);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

bool AllChecks(ConsulAgent& agent, const std::string& id, const std::string& status) {
  auto checks = agent.Checks(id);
  if (checks.empty()) return false;
  for (auto& [check_id, c] : checks)
    if (c.value("Status", "") != status) return false;
  return true;
}

// A TCP listener on 127.0.0.1:port that the test opens and closes.
class Listener {
 public:
  explicit Listener(int port) : port_(port) { Open(); }
  ~Listener() { Close(); }
  void Open() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(listen(fd_, 64) == 0);
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int port_;
  int fd_ = -1;
};

// Answers with the node it runs on.
class Named : public helloworld::GreeterHandler {
 public:
  explicit Named(std::string name) : name_(std::move(name)) {}
  absl::Status Hello(micro::server::Context&, const helloworld::Request&,
                     helloworld::Response* rsp) override {
    rsp->set_msg(name_);
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

std::unique_ptr<micro::Service> Node(const std::string& uri, const std::string& id) {
  auto svc =
      micro::NewService(micro::Name("checks.greeter"), micro::Id(id), micro::Address("127.0.0.1:0"),
                        micro::Registry(uri), micro::RegisterTTL(30s), micro::RegisterInterval(1s),
                        micro::DrainGrace(0ms));
  REQUIRE(helloworld::RegisterGreeterHandler(svc->server(), std::make_shared<Named>(id)).ok());
  REQUIRE(svc->Start().ok());
  return svc;
}

}  // namespace

TEST_CASE(
    "check=tcp: a closed port turns the node critical and an open one passing - deregister_after "
    "removes it") {
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  auto r =
      Consul(agent.uri() + "?check=tcp&check_interval=1s&check_timeout=1s&deregister_after=1m");
  int port = micro::testing::FreePort();
  Listener listener(port);
  reg::Service s;
  s.name = "checks.tcp";
  s.nodes.push_back(reg::Node{"tcp-1", absl::StrCat("127.0.0.1:", port), {}});
  REQUIRE(r->Register(s, {30s}).ok());  // a TTL, and still no TTL check: check=tcp alone

  auto checks = agent.Checks("tcp-1");
  REQUIRE(checks.size() == 1);
  CHECK(checks.begin()->first == "service:tcp-1");  // go-micro's ID for its one check
  CHECK(checks.begin()->second["Type"] == "tcp");
  REQUIRE(Until([&] { return AllChecks(agent, "tcp-1", "passing"); }));
  REQUIRE(NodeIds(*r, "checks.tcp") == std::set<std::string>{"tcp-1"});
  // A heartbeat without a TTL check asks the agent whether it still has the node.
  REQUIRE(r->Register(s, {30s}).ok());

  listener.Close();
  auto closed = Clock::now();
  REQUIRE(Until([&] { return NodeIds(*r, "checks.tcp").empty(); }));
  double gone = Seconds(Clock::now() - closed);
  CHECK(AllChecks(agent, "tcp-1", "critical"));
  CHECK(agent.HasService("tcp-1"));  // critical, not deregistered: still in the agent

  listener.Open();
  auto opened = Clock::now();
  REQUIRE(Until([&] { return NodeIds(*r, "checks.tcp") == std::set<std::string>{"tcp-1"}; }));
  double back = Seconds(Clock::now() - opened);

  listener.Close();
  closed = Clock::now();
  REQUIRE(Until([&] { return !agent.HasService("tcp-1"); }, 240s));
  double reaped = Seconds(Clock::now() - closed);
  std::printf(
      "consul check=tcp (interval 1 s): critical and out of lookups %.1f s after the port closed, "
      "back %.1f s after it reopened; deregister_after=1m: removed by Consul's reaper %.1f s after "
      "the port closed\n",
      gone, back, reaped);
}

TEST_CASE("check=grpc+http: a node marked not serving turns critical and clients stop calling it") {
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  const std::string uri = agent.uri() + "?check=grpc,http&check_interval=1s&check_timeout=1s";
  auto a = Node(uri, "node-a");
  auto b = Node(uri, "node-b");
  auto r = Consul(uri);

  // Two active checks each, no TTL check (check= names none), all passing.
  auto checks = agent.Checks("node-a");
  REQUIRE(checks.size() == 2);
  REQUIRE(checks.count("service:node-a:grpc") == 1);
  REQUIRE(checks.count("service:node-a:http") == 1);
  // Every check starts passing; the http one polls the service's own /health (on a port of its
  // own, as there is no --metrics_address).
  std::string output;
  REQUIRE(Until([&] {
    output = agent.Checks("node-a")["service:node-a:http"].value("Output", "");
    return !output.empty();
  }));
  CHECK_THAT(output, Catch::Contains("http://127.0.0.1:") && Catch::Contains("/health: 200"));
  REQUIRE(Until([&] { return AllChecks(agent, "node-a", "passing"); }));
  REQUIRE(Until([&] { return AllChecks(agent, "node-b", "passing"); }));
  CHECK(a->server().Ready());

  micro::client::ClientOptions co;
  co.registry = r;
  auto client = std::make_shared<micro::client::Client>(co);
  helloworld::GreeterService greeter("checks.greeter", client);
  auto callers = [&] {
    std::set<std::string> who;
    for (int i = 0; i < 20; ++i) {
      helloworld::Request req;
      helloworld::Response rsp;
      req.set_name("x");
      if (greeter.Hello(req, &rsp).ok()) who.insert(rsp.msg());
    }
    return who;
  };
  REQUIRE(Until([&] { return callers() == std::set<std::string>{"node-a", "node-b"}; }));

  a->server().SetServing(false);
  auto marked = Clock::now();
  CHECK_FALSE(a->server().Ready());
  REQUIRE(Until([&] { return AllChecks(agent, "node-a", "critical"); }));
  double critical = Seconds(Clock::now() - marked);
  CHECK(AllChecks(agent, "node-b", "passing"));
  // Both checks say why: grpc.health.v1 NOT_SERVING, /health 503.
  auto sick = agent.Checks("node-a");
  CHECK_THAT(sick["service:node-a:http"].value("Output", ""), Catch::Contains("503"));
  // (Consul 1.8 words it "gRPC application didn't report service healthy").
  CHECK_THAT(sick["service:node-a:grpc"].value("Output", ""),
             Catch::Contains("NOT_SERVING") || Catch::Contains("didn't report service healthy"));
  // Lookups leave it at once; the client's cache follows its watch.
  REQUIRE(Until([&] { return NodeIds(*r, "checks.greeter") == std::set<std::string>{"node-b"}; }));
  REQUIRE(Until([&] { return callers() == std::set<std::string>{"node-b"}; }));
  CHECK(callers() == std::set<std::string>{"node-b"});

  a->server().SetServing(true);
  auto healthy = Clock::now();
  REQUIRE(Until([&] { return AllChecks(agent, "node-a", "passing"); }));
  double back = Seconds(Clock::now() - healthy);
  REQUIRE(Until([&] { return callers() == std::set<std::string>{"node-a", "node-b"}; }));
  std::printf(
      "consul check=grpc+http (interval 1 s): marked not serving -> critical in %.1f s, serving "
      "again -> passing in %.1f s; clients called only the healthy node meanwhile\n",
      critical, back);

  // Stopping deregisters (and /health answers 503 from the first moment of the drain).
  REQUIRE(a->Stop().ok());
  CHECK_FALSE(agent.HasService("node-a"));
  REQUIRE(b->Stop().ok());
}

TEST_CASE("check=grpc: a SIGSTOPped process turns critical and passing again on SIGCONT") {
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::ScratchDir dir;
  const std::string uri = agent.uri() + "?check=grpc&check_interval=1s&check_timeout=1s";
  Process g({GREETER_BIN, "--registry", uri, "--server_address", "127.0.0.1:0", "--server_id",
             "stopped-1", "--register_interval", "1s"},
            dir.path() + "/greeter.log");
  auto r = Consul(uri);
  REQUIRE(Until([&] { return NodeIds(*r, "helloworld") == std::set<std::string>{"stopped-1"}; }));
  REQUIRE(Until([&] { return AllChecks(agent, "stopped-1", "passing"); }));
  CHECK(agent.Checks("stopped-1").begin()->second["Type"] == "grpc");

  g.Signal(SIGSTOP);
  auto stopped = Clock::now();
  REQUIRE(Until([&] { return NodeIds(*r, "helloworld").empty(); }));
  double gone = Seconds(Clock::now() - stopped);
  CHECK(AllChecks(agent, "stopped-1", "critical"));
  g.Signal(SIGCONT);
  auto resumed = Clock::now();
  REQUIRE(Until([&] { return NodeIds(*r, "helloworld") == std::set<std::string>{"stopped-1"}; }));
  double back = Seconds(Clock::now() - resumed);
  std::printf(
      "consul check=grpc (interval 1 s, timeout 1 s): SIGSTOPped node out of lookups after %.1f s, "
      "back %.1f s after SIGCONT\n",
      gone, back);
  g.Signal(SIGTERM);
  g.Wait();
  CHECK_FALSE(agent.HasService("stopped-1"));
}

TEST_CASE("check=http without a health URL is refused with a clear error") {
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  auto r = Consul(agent.uri() + "?check=http");
  CHECK(r->PollsHealthUrl());
  reg::Service s;
  s.name = "checks.nourl";
  s.nodes.push_back(reg::Node{"nourl-1", "127.0.0.1:4321", {}});
  absl::Status st = r->Register(s, {30s});
  REQUIRE(absl::IsInvalidArgument(st));
  CHECK_THAT(std::string(st.message()), Catch::Contains("health URL"));
  CHECK_FALSE(agent.HasService("nourl-1"));
}

TEST_CASE("the api-gateway registers itself with an http check on its /health that passes") {
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::ScratchDir dir;
  int port = micro::testing::FreePort();
  const std::string uri = agent.uri() + "?check=http&check_interval=1s";
  const std::string address = absl::StrCat("127.0.0.1:", port);
  Process gw({GATEWAY_BIN, "--registry", uri, "--address", address, "--admin_address",
              "127.0.0.1:0", "--register", "--advertise", address, "--register_interval", "1s"},
             dir.path() + "/gateway.log");
  auto r = Consul(uri);
  std::string id;
  REQUIRE(Until([&] {
    auto found = r->GetService("go.micro.api");
    if (!found.ok() || found->empty() || found->front().nodes.empty()) return false;
    id = found->front().nodes.front().id;
    return true;
  }));
  auto node = r->GetService("go.micro.api")->front().nodes.front();
  CHECK(node.address == address);
  CHECK(node.metadata["protocol"] == "http");
  CHECK(node.metadata["secure"] == "false");
  auto checks = agent.Checks(id);
  REQUIRE(checks.size() == 1);
  CHECK(checks.begin()->second["Type"] == "http");
  std::string output;
  REQUIRE(Until([&] {
    output = agent.Checks(id).begin()->second.value("Output", "");
    return !output.empty();
  }));
  CHECK_THAT(output, Catch::Contains(absl::StrCat("http://", address, "/health: 200")));
  CHECK(AllChecks(agent, id, "passing"));
  CHECK(micro::testing::HttpDo(port, "GET", "/health").status == 200);

  gw.Signal(SIGTERM);
  gw.Wait();
  CHECK_FALSE(agent.HasService(id));  // deregistered before it drained
  std::printf(
      "api-gateway registered as go.micro.api (%s) with a passing http check, gone after SIGTERM\n",
      id.c_str());
}
