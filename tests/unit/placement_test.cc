// Where unary handlers run (server/placement.h): on the handler pool (threads named
// "micro-handler") until a handler has shown it does not block, then inline on gRPC's threads;
// back to the pool when it blocks.
#include <catch2/catch.hpp>

#include <pthread.h>

#include <mutex>
#include <string>
#include <thread>

#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

namespace reg = micro::registry;
using namespace std::chrono_literals;

namespace {

std::string ThreadName() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// Hello's request name says what the handler does: "fast", "sleep" (1 ms), "call" (calls
// this same service's Hello with "fast"). It records the name of the thread it ran on.
class Greeter : public helloworld::GreeterHandler {
 public:
  std::shared_ptr<micro::client::Client> client;
  absl::Status Hello(micro::server::Context&, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      last_thread_ = ThreadName();
    }
    if (req.name() == "sleep") std::this_thread::sleep_for(1ms);
    if (req.name() == "call") {
      helloworld::GreeterService self("placement", client);
      helloworld::Request inner;
      inner.set_name("fast");
      auto r = self.Hello(inner);
      if (!r.ok()) return r.status();
    }
    rsp->set_msg(req.name());
    return absl::OkStatus();
  }
  std::string last_thread() {
    std::lock_guard<std::mutex> l(mu_);
    return last_thread_;
  }

 private:
  std::mutex mu_;
  std::string last_thread_;
};

struct Fixture {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::shared_ptr<Greeter> handler = std::make_shared<Greeter>();
  std::unique_ptr<micro::server::Server> server;
  std::shared_ptr<micro::client::Client> client;
  std::unique_ptr<helloworld::GreeterService> greeter;

  explicit Fixture(bool adaptive = true) {
    micro::server::ServerOptions o;
    o.name = "placement";
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    o.adaptive_handlers = adaptive;
    server = std::make_unique<micro::server::Server>(o);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, handler).ok());
    REQUIRE(server->Start().ok());
    micro::client::ClientOptions co;
    co.registry = registry;
    client = std::make_shared<micro::client::Client>(co);
    handler->client = client;
    greeter = std::make_unique<helloworld::GreeterService>("placement", client);
  }

  // Calls Hello(name) n times, one after another; returns how many ran on the handler pool.
  int OnPool(const std::string& name, int n) {
    helloworld::Request req;
    req.set_name(name);
    int pooled = 0;
    for (int i = 0; i < n; ++i) {
      auto r = greeter->Hello(req);
      REQUIRE(r.ok());
      if (handler->last_thread() == "micro-handler") ++pooled;
    }
    return pooled;
  }
};

}  // namespace

TEST_CASE("a handler that does not block moves from the pool to gRPC's thread") {
  Fixture f;
  CHECK(f.OnPool("fast", 10) == 10);   // learning: on the pool
  CHECK(f.OnPool("fast", 200) < 200);  // 128 calls in a row that did not block: inline
  CHECK(f.OnPool("fast", 50) == 0);
}

TEST_CASE("a handler that calls another service stays on the pool for good") {
  Fixture f;
  CHECK(f.OnPool("call", 300) == 300);
}

TEST_CASE("a handler that sleeps stays on the pool") {
  Fixture f;
  CHECK(f.OnPool("sleep", 200) == 200);
}

TEST_CASE("an inline handler that starts blocking goes back to the pool") {
  Fixture f;
  f.OnPool("fast", 200);
  REQUIRE(f.OnPool("fast", 20) == 0);
  // Sleeping is seen on one inline call in 16 per gRPC thread; calling another service at once.
  f.OnPool("sleep", 200);
  CHECK(f.OnPool("sleep", 20) == 20);
  f.OnPool("fast", 200);  // twice the streak is needed now: 256
  f.OnPool("fast", 100);
  CHECK(f.OnPool("fast", 20) == 0);
  f.OnPool("call", 1);  // a call to another service: on the pool for good
  CHECK(f.OnPool("fast", 600) == 600);
}

TEST_CASE("adaptive_handlers false keeps every handler on the pool") {
  Fixture f(false);
  CHECK(f.OnPool("fast", 300) == 300);
}
