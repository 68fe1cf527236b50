// Streams between real processes over mDNS, in a network namespace of their own
// (tests/integration/netns-run.sh): a greeter SIGKILLed mid-stream, and the micro CLI's `stream`.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdio>

#include "greeter.micro.h"
#include "mdns_registry.h"
#include "micro/micro.h"
#include "process.h"
#include "test_util.h"

using micro::testing::Process;
using namespace std::chrono_literals;

namespace {

struct Greeters {
  std::shared_ptr<micro::registry::Registry> registry;
  std::map<std::string, std::unique_ptr<Process>> by_address;
  std::shared_ptr<micro::client::Client> client;

  explicit Greeters(int n) {
    REQUIRE(micro::testing::InPrivateNetwork());
    auto made = micro::mdns::NewMdnsRegistry();
    REQUIRE(made.ok());
    registry = std::move(*made);
    for (int i = 0; i < n; ++i) {
      std::string address = "127.0.0.1:" + std::to_string(micro::testing::FreePort());
      by_address[address] = std::make_unique<Process>(
          std::vector<std::string>{GREETER_BIN, "--server_address", address, "--server_id",
                                   "g-" + std::to_string(i), "--registry", "mdns"});
    }
    micro::client::ClientOptions co;
    co.registry = registry;
    co.backoff = [](int) { return 20ms; };
    client = std::make_shared<micro::client::Client>(co);
    REQUIRE(micro::testing::Eventually([&] {
      auto next = client->selector().Select("helloworld");
      return next.ok() && next->size() == static_cast<std::size_t>(n);
    }));
  }
};

}  // namespace

TEST_CASE(
    "a node SIGKILLed mid-stream: the client's Recv fails (Unavailable), the next stream "
    "goes to the other node",
    "[stream]") {
  Greeters g(2);
  helloworld::GreeterService greeter("helloworld", g.client);
  helloworld::StreamRequest req;
  req.set_name("k");
  req.set_count(10000);
  auto reader = greeter.Stream(req);
  REQUIRE(reader.ok());
  helloworld::Response r;
  REQUIRE(reader->Recv(&r).ok());
  std::string victim = reader->stream().peer();
  REQUIRE(g.by_address.count(victim) == 1);
  g.by_address[victim]->Signal(SIGKILL);
  g.by_address[victim]->Wait();
  // What was already in flight may still arrive; then the end, which is not a clean one.
  absl::Status s;
  int more = 0;
  while ((s = reader->Recv(&r)).ok()) ++more;
  CHECK(more < 10000);
  INFO(s.ToString());
  CHECK(absl::IsUnavailable(s));

  // A new stream: the killed node fails to connect (before any answer), so it moves on.
  for (int i = 0; i < 5; ++i) {
    req.set_count(3);
    auto again = greeter.Stream(req);
    REQUIRE(again.ok());
    int got = 0;
    while ((s = again->Recv(&r)).ok()) ++got;
    CHECK(micro::IsEndOfStream(s));
    CHECK(got == 3);
    CHECK(again->stream().peer() != victim);
  }
}

TEST_CASE("micro stream: a server stream, and a bidirectional one fed from stdin", "[stream]") {
  Greeters g(1);
  int rc = -1;
  std::string out =
      micro::testing::RunOutput(std::string(MICRO_BIN) +
                                    " --registry mdns stream helloworld Greeter.Stream "
                                    "'{\"name\":\"cli\",\"count\":3}' < /dev/null",
                                &rc);
  CHECK(rc == 0);
  CHECK(out == "{\"msg\":\"Hello cli 1\"}\n{\"msg\":\"Hello cli 2\"}\n{\"msg\":\"Hello cli 3\"}\n");

  out = micro::testing::RunOutput("printf '{\"name\":\"a\"}\\n{\"name\":\"b\"}\\n' | " +
                                      std::string(MICRO_BIN) +
                                      " --registry mdns stream helloworld Greeter.Chat",
                                  &rc);
  CHECK(rc == 0);
  CHECK(out == "{\"msg\":\"Hello a\"}\n{\"msg\":\"Hello b\"}\n");

  out = micro::testing::RunOutput("printf '{\"name\":\"a\"}\\n{\"name\":\"\"}\\n' | " +
                                      std::string(MICRO_BIN) +
                                      " --registry mdns stream helloworld Greeter.Chat 2>&1",
                                  &rc);
  CHECK(rc == 1);
  CHECK_THAT(out, Catch::Contains("{\"msg\":\"Hello a\"}"));
  CHECK_THAT(out, Catch::Contains("\"code\":400"));
}
