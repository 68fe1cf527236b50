// The mDNS registry with real multicast between real processes. Each test
// runs in a network namespace of its own (netns-run.sh), so nothing leaves it.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <set>

#include "greeter.micro.h"
#include "mdns_registry.h"
#include "micro/micro.h"
#include "micro/plugin/contract.h"
#include "process.h"
#include "registry_test_util.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::Deadline;
using micro::testing::Eventually;
using micro::testing::NodeIds;
using micro::testing::Process;
using micro::testing::WaitFor;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<reg::Registry> Mdns() {
  REQUIRE(micro::testing::InPrivateNetwork());  // see netns-run.sh
  auto r = micro::mdns::NewMdnsRegistry();
  REQUIRE(r.ok());
  return std::move(*r);
}

std::unique_ptr<Process> Greeter(const std::string& id, std::vector<std::string> extra = {}) {
  REQUIRE(micro::testing::InPrivateNetwork());  // see netns-run.sh
  std::vector<std::string> args{GREETER_BIN,   "--registry",  "mdns", "--server_address",
                                "127.0.0.1:0", "--server_id", id};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(args);
}

}  // namespace

TEST_CASE("the registry contract (micro/plugin/contract.h) over real multicast") {
  micro::plugin::RegistryContract c;
  c.make = []() -> absl::StatusOr<std::shared_ptr<reg::Registry>> {
    return std::shared_ptr<reg::Registry>(Mdns());
  };
  c.log = [](const std::string& clause) { std::printf("mdns contract: %s\n", clause.c_str()); };
  std::vector<std::string> failures = micro::plugin::CheckRegistryContract(c);
  for (const std::string& failure : failures) FAIL_CHECK(failure);
  CHECK(failures.empty());
}

TEST_CASE("several real processes register and find each other") {
  auto a = Greeter("greeter-a");
  auto b = Greeter("greeter-b");
  auto c = Greeter("greeter-c");
  auto r = Mdns();
  REQUIRE(Eventually([&] { return NodeIds(*r, "helloworld").size() == 3; }));
  CHECK(NodeIds(*r, "helloworld") == std::set<std::string>{"greeter-a", "greeter-b", "greeter-c"});

  auto listed = r->ListServices();
  REQUIRE(listed.ok());
  bool found = false;
  for (auto& s : *listed) found = found || s.name == "helloworld";
  CHECK(found);

  // Found nodes carry go-micro's data and can be called.
  auto svc = r->GetService("helloworld");
  REQUIRE(svc.ok());
  CHECK(svc->at(0).version == "latest");
  bool hello = false;  // beside the greeter's three streams
  for (const auto& e : svc->at(0).endpoints) hello = hello || e.name == "Greeter.Hello";
  CHECK(hello);
  CHECK(svc->at(0).nodes.at(0).metadata.at("registry") == "mdns");
  micro::client::ClientOptions co;
  co.registry = std::shared_ptr<reg::Registry>(std::move(r));
  co.selector.strategy = micro::selector::Strategy::kRoundRobin;
  auto client = std::make_shared<micro::client::Client>(co);
  helloworld::GreeterService greeter("helloworld", client);
  helloworld::Request req;
  req.set_name("mdns");
  for (int i = 0; i < 30; ++i) {
    auto rsp = greeter.Hello(req);
    REQUIRE(rsp.ok());
    CHECK(rsp->msg() == "Hello mdns");
  }
  for (const char* id : {"greeter-a", "greeter-b", "greeter-c"}) {
    CHECK(client->selector().Stats("helloworld", id).successes == 10);
  }
}

TEST_CASE("graceful stop: the goodbye removes the node from other processes' watches") {
  auto r = Mdns();
  auto w = r->Watch({"helloworld"});
  REQUIRE(w.ok());
  // A TTL far above this test's deadline: only a goodbye can explain a delete.
  auto g = Greeter("greeter-bye", {"--register_ttl", "600s"});
  bool created = false, deleted = false;
  {
    Deadline deadline(**w, std::chrono::seconds(60));
    created = WaitFor(**w, reg::Action::kCreate, "greeter-bye");
    g->Signal(SIGTERM);
    deleted = created && WaitFor(**w, reg::Action::kDelete, "greeter-bye");
  }
  REQUIRE(created);
  CHECK(deleted);
  int status = g->Wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(NodeIds(*r, "helloworld").count("greeter-bye") == 0);
}

TEST_CASE("SIGKILL: with no goodbye the node goes when its TTL lapses") {
  auto r = Mdns();
  auto w = r->Watch({"helloworld"});
  REQUIRE(w.ok());
  auto g = Greeter("greeter-killed", {"--register_ttl", "3s", "--register_interval", "1s"});
  bool created = false, deleted = false;
  {
    Deadline deadline(**w, std::chrono::seconds(60));
    created = WaitFor(**w, reg::Action::kCreate, "greeter-killed");
    g->Signal(SIGKILL);
    g->Wait();
    deleted = created && WaitFor(**w, reg::Action::kDelete, "greeter-killed");
  }
  REQUIRE(created);
  CHECK(deleted);
  CHECK(Eventually([&] { return NodeIds(*r, "helloworld").empty(); }));
}

TEST_CASE("garbage datagrams sent to the group break nothing") {
  auto g = Greeter("greeter-sturdy");
  auto r = Mdns();
  REQUIRE(Eventually([&] { return NodeIds(*r, "helloworld").size() == 1; }));

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in group{};
  group.sin_family = AF_INET;
  group.sin_port = htons(5353);
  group.sin_addr.s_addr = htonl(0xe00000fb);  // 224.0.0.251
  std::mt19937 rng(42);
  std::vector<std::string> packets;
  for (int i = 0; i < 2000; ++i) {
    std::string p(rng() % 600, '\0');
    for (char& c : p) c = static_cast<char>(rng());
    packets.push_back(p);
  }
  // Headers that promise more than they hold, pointer loops, queries for us with junk after them.
  packets.push_back(std::string("\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff", 12));
  packets.push_back(
      std::string("\x00\x00\x84\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x0c\x00\x01", 18));
  packets.push_back(std::string("\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12) +
                    "\x0ahelloworld\x05micro" + std::string("\x00\x00\x0c\x00\x01", 5) +
                    std::string(100, '\xff'));
  for (const auto& p : packets) {
    sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&group), sizeof(group));
  }
  close(fd);

  // Still alive, and still answering once it has read through the flood.
  CHECK(kill(g->pid(), 0) == 0);
  std::set<std::string> want{"greeter-sturdy"};
  CHECK(Eventually([&] { return NodeIds(*r, "helloworld") == want; }));
  auto other = Mdns();  // a new registry still works beside them
  CHECK(Eventually([&] { return NodeIds(*other, "helloworld") == want; }));
  CHECK(kill(g->pid(), 0) == 0);
}
