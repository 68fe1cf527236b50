// The echo service the benchmarks measure: helloworld.Greeter answering with the name it was
// given, as a micro handler and as a raw gRPC C++ callback service, and a micro echo server
// started on 127.0.0.1 in one call.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "greeter.grpc.pb.h"
#include "greeter.micro.h"
#include "micro/micro.h"

namespace micro::bench {

// Answers `prefix` + the request's name.
class EchoGreeter : public helloworld::GreeterHandler {
 public:
  explicit EchoGreeter(std::string prefix = "") : prefix_(std::move(prefix)) {}
  absl::Status Hello(micro::server::Context&, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    rsp->set_msg(prefix_ + req.name());
    return absl::OkStatus();
  }

 private:
  std::string prefix_;
};

// Raw gRPC: the generated callback service, the API micro's server is built on.
class RawCallbackGreeter final : public helloworld::Greeter::CallbackService {
  grpc::ServerUnaryReactor* Hello(grpc::CallbackServerContext* ctx, const helloworld::Request* req,
                                  helloworld::Response* rsp) override {
    rsp->set_msg(req->name());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// An echo server registered as `name` in `registry` on 127.0.0.1 (any port), with `tweak` applied
// to its options; a benchmark that cannot start one exits.
inline std::unique_ptr<micro::server::Server> ServeEcho(
    const std::string& name, std::shared_ptr<micro::registry::Registry> registry,
    const std::function<void(micro::server::ServerOptions&)>& tweak = {},
    const std::string& prefix = "") {
  micro::server::ServerOptions o;
  o.name = name;
  o.address = "127.0.0.1:0";
  o.registry = std::move(registry);
  o.drain_grace = std::chrono::milliseconds(0);
  if (tweak) tweak(o);
  auto s = std::make_unique<micro::server::Server>(o);
  if (!helloworld::RegisterGreeterHandler(*s, std::make_shared<EchoGreeter>(prefix)).ok() ||
      !s->Start().ok()) {
    std::fprintf(stderr, "cannot start the echo server %s\n", name.c_str());
    std::exit(1);
  }
  return s;
}

}  // namespace micro::bench
