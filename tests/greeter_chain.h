// A two-hop chain for tests of what passes between hops: "front<suffix>"
// calls "back<suffix>" with its handler's context. Real gRPC on 127.0.0.1,
// the memory registry.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

namespace micro::testing {

using namespace std::chrono_literals;

// The last hop: records what it was given; "wait" blocks until the call is cancelled.
class Back : public helloworld::GreeterHandler {
 public:
  std::mutex mu;
  micro::server::Context seen;
  std::atomic<bool> saw_cancel{false}, waiting{false};
  std::atomic<long long> left_when_cancelled_ms{0};

  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    {
      std::lock_guard<std::mutex> l(mu);
      seen = ctx;
    }
    if (req.name() == "wait") {
      waiting = true;
      std::promise<void> cancelled;
      auto handle = ctx.cancel->OnCancel([&] { cancelled.set_value(); });
      if (cancelled.get_future().wait_for(60s) == std::future_status::ready) {
        left_when_cancelled_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     ctx.deadline - std::chrono::system_clock::now())
                                     .count();
        saw_cancel = true;
      }
      ctx.cancel->Remove(handle);
      return micro::errors::Timeout("back", "gave up");
    }
    if (req.name() == "conflict") return micro::errors::Conflict("back", "already taken");
    rsp->set_msg("back " + req.name());
    return absl::OkStatus();
  }
};

// The first hop: calls "back" with its own context (and, for "short", a shorter timeout).
class Front : public helloworld::GreeterHandler {
 public:
  Front(std::string back, std::shared_ptr<micro::client::Client> c)
      : back_(std::move(back), std::move(c)) {}
  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    micro::client::CallOptions o;
    if (req.name() == "short") o.timeout = 200ms;
    if (req.name() == "own") o.metadata["X-Tenant"] = "own";
    if (req.name() == "async") {
      std::promise<absl::StatusOr<helloworld::Response>> p;
      back_.HelloAsync(ctx, req,
                       [&](absl::StatusOr<helloworld::Response> r) { p.set_value(std::move(r)); });
      auto r = p.get_future().get();
      if (!r.ok()) return r.status();
      *rsp = *r;
      return absl::OkStatus();
    }
    return back_.Hello(ctx, req, rsp, o);
  }

 private:
  helloworld::GreeterService back_;
};

struct Chain {
  std::shared_ptr<registry::Registry> registry = registry::NewMemoryRegistry();
  std::shared_ptr<Back> back = std::make_shared<Back>();
  std::unique_ptr<micro::server::Server> front_server, back_server;
  std::shared_ptr<micro::client::Client> client;

  // Services "front<suffix>" and "back<suffix>" (metrics are per process: tests that count
  // use names of their own).
  explicit Chain(const std::string& suffix = "") {
    micro::client::ClientOptions co;
    co.registry = registry;
    co.backoff = [](int) { return 1ms; };
    client = std::make_shared<micro::client::Client>(co);
    back_server = Start("back" + suffix, back);
    front_server = Start("front" + suffix, std::make_shared<Front>("back" + suffix, client));
  }

  std::unique_ptr<micro::server::Server> Start(const std::string& name,
                                               std::shared_ptr<helloworld::GreeterHandler> h) {
    micro::server::ServerOptions o;
    o.name = name;
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    auto s = std::make_unique<micro::server::Server>(o);
    REQUIRE(helloworld::RegisterGreeterHandler(*s, h).ok());
    REQUIRE(s->Start().ok());
    return s;
  }

  micro::server::Context Seen() {
    std::lock_guard<std::mutex> l(back->mu);
    return back->seen;
  }
};

inline helloworld::Request Named(const std::string& n) {
  helloworld::Request r;
  r.set_name(n);
  return r;
}

}  // namespace micro::testing
