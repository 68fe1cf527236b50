// Losing a Consul client agent under load: a real Consul server and two real client agents on
// loopback, the hotel services registered through one agent or the other (as in
// deploy/docker-compose.yml), the gateway watching through agent1; bookings through the gateway
// from two threads while agent1 is stopped (SIGTERM, as `docker stop` does: it leaves the cluster
// and its services drop out of the catalog; now and then the leave does not get through before it
// exits and Consul holds it failed instead) or killed (SIGKILL: Consul holds it failed). The
// services must move to agent2 and no booking may fail meanwhile. Register interval and TTL are
// the compose file's (10 s, 30 s), longer than Consul takes to hold a killed agent failed. Loopback
// only.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "consul_agent.h"
#include "hotel_load.h"
#include "http_util.h"
#include "process.h"
#include "test_util.h"

using micro::testing::ConsulAgent;
using micro::testing::Eventually;
using micro::testing::Process;
using micro::testing::ScratchDir;
using micro::testing::StablePort;
using namespace std::chrono_literals;
using namespace micro::testing::hotel_load;

namespace {

class Cluster {
 public:
  Cluster() {
    ConsulAgent::Options s;
    s.dev = false;
    s.node = "server1";
    s.bootstrap_expect = 1;
    server = std::make_unique<ConsulAgent>(s);
    REQUIRE(server->WaitReady());
    for (const char* name : {"agent1", "agent2"}) {
      ConsulAgent::Options c;
      c.dev = false;
      c.server = false;
      c.node = name;
      c.join = {server->serf_address()};
      agents.push_back(std::make_unique<ConsulAgent>(c));
      REQUIRE(agents.back()->WaitReady());
    }
    const std::string a1 = agents[0]->http_address(), a2 = agents[1]->http_address();
    // As the compose file: auth, geo, hotel and the gateway through agent1 first; the others
    // through agent2 first.
    const std::map<std::string, std::string> order = {
        {"auth", a1 + "," + a2},    {"geo", a1 + "," + a2},  {"hotel", a1 + "," + a2},
        {"profile", a2 + "," + a1}, {"rate", a2 + "," + a1},
    };
    for (const auto& [name, list] : order) {
      procs_[name] = std::make_unique<Process>(
          std::vector<std::string>{std::string(HOTEL_BIN_DIR) + "/hotel-" + name, "--registry",
                                   "consul", "--registry_address", list, "--server_address",
                                   "127.0.0.1:0", "--register_ttl", "30s", "--register_interval",
                                   "10s"},
          dir.path() + "/" + name + ".log");
    }
    gateway_port = StablePort();
    procs_["gateway"] = std::make_unique<Process>(
        std::vector<std::string>{GATEWAY_BIN, "--registry", "consul", "--registry_address",
                                 a1 + "," + a2, "--address",
                                 "127.0.0.1:" + std::to_string(gateway_port), "--admin_address",
                                 "127.0.0.1:0", "--request_timeout", "5s"},
        dir.path() + "/gateway.log");
    if (!Eventually([&] { return BookAnswer(gateway_port).status == 200; }, 60s)) {
      FAIL("no booking answered 200; last answer: " << BookAnswer(gateway_port).body << "\n"
                                                    << Logs());
    }
  }

  // The Consul nodes (agents) each service's nodes are registered through, as agent2 sees them.
  std::map<std::string, std::set<std::string>> Placement() {
    std::map<std::string, std::set<std::string>> out;
    for (const char* s : kServices) {
      auto r = agents[1]->Http("GET", std::string("/v1/catalog/service/") + s);
      if (!r.ok() || r->status != 200) continue;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_array()) continue;
      for (const auto& e : j) out[s].insert(e.value("Node", ""));
    }
    return out;
  }

  // Every service has a node registered through agent2 (a SIGKILLed agent1's entries stay in the
  // catalog, its serfHealth critical, until Consul reaps the node).
  bool AllOnAgent2() {
    auto p = Placement();
    for (const char* s : kServices) {
      if (p[s].count("agent2") == 0) return false;
    }
    return true;
  }

  std::string Logs() {
    std::string out;
    for (const auto& [name, p] : procs_)
      out += name + ":\n" + Read(dir.path() + "/" + name + ".log");
    return out;
  }

  ScratchDir dir;
  std::unique_ptr<ConsulAgent> server;
  std::vector<std::unique_ptr<ConsulAgent>> agents;
  int gateway_port = 0;

 private:
  std::map<std::string, std::unique_ptr<Process>> procs_;
};

// Stops agent1 one way or the other while bookings run; at least 2,000 of them, and on until
// every service has moved to agent2 and 2 s more have passed.
void LoseAgent1(bool kill) {
  Cluster cluster;
  auto before = cluster.Placement();
  REQUIRE(before["go.micro.api.hotel"] == std::set<std::string>{"agent1"});
  REQUIRE(before["go.micro.srv.rate"] == std::set<std::string>{"agent2"});

  std::map<int, long> counts;          // every answer by status
  Load load(cluster.gateway_port, 2);  // two threads
  auto add = [&] {
    for (const auto& [status, n] : load.Take()) counts[status] += n;
    return Total(counts);
  };
  REQUIRE(Eventually([&] { return add() >= 200; }, 60s));
  auto t0 = std::chrono::steady_clock::now();
  if (kill) {
    cluster.agents[0]->Kill();
  } else {
    cluster.agents[0]->Terminate();
  }
  bool moved = Eventually([&] { return cluster.AllOnAgent2(); }, 60s);
  double moved_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(2s);
  Eventually([&] { return add() >= 2000; }, 120s);
  load.Stop();
  add();
  std::string failures = load.Failures();

  std::printf("agent1 %s: every service on agent2 after %.1f s; bookings %s\n",
              kill ? "SIGKILLed" : "stopped (SIGTERM)", moved_s, Show(counts).c_str());
  INFO("answers by status: " << Show(counts) << "\nfirst failures:\n" << failures);
  CHECK(moved);
  CHECK(Total(counts) >= 2000);
  CHECK(Failed(counts) == 0);
  if (!moved || Failed(counts) != 0) std::fprintf(stderr, "%s\n", cluster.Logs().c_str());
  // The stack still answers with agent1 gone.
  CHECK(Book(cluster.gateway_port) == 200);
}

}  // namespace

TEST_CASE(
    "a Consul client agent stopped under load: services move to the other and no booking fails") {
  LoseAgent1(false);
}

TEST_CASE(
    "a Consul client agent SIGKILLed under load: services move to the other and no booking fails") {
  LoseAgent1(true);
}
