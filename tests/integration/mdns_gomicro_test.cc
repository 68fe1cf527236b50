// A real go-micro v4 node (tests/interop/gofixtures/peer, go-micro's own mDNS
// registry) and micro-cpp on one multicast network: each finds the other.
// Runs in a network namespace of its own (netns-run.sh).
#include <catch2/catch.hpp>

#include <cstdio>

#include "mdns_registry.h"
#include "process.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::Eventually;
using micro::testing::Process;

using micro::testing::RunOutput;

TEST_CASE("a go-micro node and micro-cpp processes find each other over mDNS") {
  REQUIRE(micro::testing::InPrivateNetwork());
  auto made = micro::mdns::NewMdnsRegistry();
  REQUIRE(made.ok());
  std::unique_ptr<reg::Registry> r = std::move(*made);
  auto w = r->Watch({"go.peer"});
  REQUIRE(w.ok());

  // go-micro registers; micro-cpp finds it with go-micro's data.
  auto go = std::make_unique<Process>(
      std::vector<std::string>{GOPEER_BIN, "register", "go.peer", "go-node-1", "127.0.0.1:40001"});
  REQUIRE(Eventually([&] { return r->GetService("go.peer").ok(); }));
  auto found = r->GetService("go.peer");
  REQUIRE(found.ok());
  const reg::Service& s = found->at(0);
  CHECK(s.version == "1.2.3");
  REQUIRE(s.nodes.size() == 1);
  CHECK(s.nodes[0].id == "go-node-1");
  CHECK(s.nodes[0].address == "127.0.0.1:40001");
  CHECK(s.nodes[0].metadata.at("lang") == "go");
  REQUIRE(s.endpoints.size() == 1);
  CHECK(s.endpoints[0].name == "Peer.Echo");
  CHECK(s.endpoints[0].request->name == "Request");

  // A micro-cpp service registers; go-micro finds it.
  Process greeter({GREETER_BIN, "--registry", "mdns", "--server_address", "127.0.0.1:0",
                   "--server_id", "cpp-node-1"});
  std::string seen;
  CHECK(Eventually([&] {
    seen = RunOutput(std::string(GOPEER_BIN) + " lookup helloworld 2>&1");
    return seen.find("cpp-node-1") != std::string::npos;
  }));
  INFO(seen);
  CHECK(seen.find("\"name\":\"Greeter.Hello\"") != std::string::npos);
  CHECK(seen.find("\"protocol\":\"grpc\"") != std::string::npos);
  CHECK(Eventually([&] {
    return RunOutput(std::string(GOPEER_BIN) + " list").find("helloworld") != std::string::npos;
  }));

  // go-micro's goodbye reaches micro-cpp's watch.
  go->Signal(SIGTERM);
  CHECK(WIFEXITED(go->Wait()));
  bool deleted = false;
  std::thread stopper([&] {
    for (int i = 0; i < 300 && !deleted; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*w)->Stop();
  });
  while (!deleted) {
    auto ev = (*w)->Next();
    if (!ev.ok()) break;
    deleted = ev->action == reg::Action::kDelete && ev->service.nodes.at(0).id == "go-node-1";
  }
  (*w)->Stop();
  stopper.join();
  CHECK(deleted);
  CHECK(Eventually([&] { return !r->GetService("go.peer").ok(); }));
}
