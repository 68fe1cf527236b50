// Real greeter processes and one client, finding each other over mDNS in a
// network namespace of their own (see tests/integration/netns-run.sh).
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "greeter.micro.h"
#include "mdns_registry.h"
#include "micro/micro.h"
#include "process.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::Process;
using namespace std::chrono_literals;

namespace {

struct Node {
  std::string id, address;
  std::unique_ptr<Process> process;
};

Node StartGreeter(const std::string& id) {
  REQUIRE(micro::testing::InPrivateNetwork());  // real multicast: see netns-run.sh
  std::string address = "127.0.0.1:" + std::to_string(micro::testing::FreePort());
  auto p = std::make_unique<Process>(std::vector<std::string>{
      GREETER_BIN, "--server_address", address, "--server_id", id, "--registry", "mdns"});
  return Node{id, address, std::move(p)};
}

struct Cluster {
  std::shared_ptr<reg::Registry> registry;
  std::vector<Node> nodes;
  std::shared_ptr<micro::client::Client> client;

  explicit Cluster(int n) {
    auto made = micro::mdns::NewMdnsRegistry();
    REQUIRE(made.ok());
    registry = std::move(*made);
    for (int i = 0; i < n; ++i) nodes.push_back(StartGreeter("greeter-" + std::to_string(i)));
    micro::client::ClientOptions co;
    co.registry = registry;
    co.selector.strategy = micro::selector::Strategy::kRoundRobin;
    co.backoff = [](int) { return 20ms; };
    co.request_timeout = 5s;
    client = std::make_shared<micro::client::Client>(co);
    // Ready once the client itself sees every node. A lookup can miss a node
    // that answers late (its cache then learns it from the next announcement),
    // so wait on the client's view, not on a lookup of our own.
    REQUIRE(micro::testing::Eventually([&] {
      auto next = client->selector().Select("helloworld");
      return next.ok() && next->size() == static_cast<std::size_t>(n);
    }));
  }
};

// Calls from `threads` threads until `stop`; counts results.
struct Load {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> threads;
  Load(std::shared_ptr<micro::client::Client> client, int n) {
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([this, client] {
        helloworld::GreeterService g("helloworld", client);
        helloworld::Request req;
        req.set_name("load");
        while (!stop) {
          auto r = g.Hello(req);
          if (r.ok()) {
            ++ok;
          } else {
            ++failed;
            std::lock_guard<std::mutex> l(mu);
            if (first_error.empty()) first_error = r.status().ToString();
          }
        }
      });
    }
  }
  void WaitFor(int calls) {
    micro::testing::Eventually([&] { return ok + failed >= calls; }, 60s);
  }
  void Stop() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

}  // namespace

TEST_CASE("round robin reaches both server processes") {
  Cluster c(2);
  helloworld::GreeterService g("helloworld", c.client);
  helloworld::Request req;
  req.set_name("rr");
  for (int i = 0; i < 100; ++i) REQUIRE(g.Hello(req).ok());
  CHECK(c.client->selector().Stats("helloworld", "greeter-0").successes == 50);
  CHECK(c.client->selector().Stats("helloworld", "greeter-1").successes == 50);
}

TEST_CASE("SIGKILL of one server mid-stream: calls keep succeeding through retries") {
  Cluster c(2);
  Load load(c.client, 4);
  load.WaitFor(200);
  c.nodes[0].process->Signal(SIGKILL);
  c.nodes[0].process->Wait();
  int at_kill = load.ok + load.failed;
  load.WaitFor(at_kill + 500);
  load.Stop();
  INFO(load.first_error);
  CHECK(load.failed == 0);
  CHECK(load.ok >= at_kill + 500);
  CHECK(c.client->selector().Stats("helloworld", "greeter-0").failures >
        0);  // it was tried, and skipped
}

TEST_CASE("graceful stop of a server under load: zero failed calls, clean exit") {
  Cluster c(2);
  Load load(c.client, 4);
  load.WaitFor(200);
  c.nodes[1].process->Signal(SIGTERM);
  int status = c.nodes[1].process->Wait();
  int at_exit = load.ok + load.failed;
  load.WaitFor(at_exit + 300);
  load.Stop();
  INFO(load.first_error);
  CHECK(load.failed == 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
