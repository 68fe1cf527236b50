// Unary echo: the micro client calling a micro server, against a raw gRPC C++
// stub calling a raw gRPC server (generated sync service), same payload,
// concurrency and process layout, in the same run. Both servers run in a child
// process each (this binary re-executed), the clients here. Prints requests/s,
// p50 and p99 for both and their ratios; asserts nothing.
//
//   build/tests/bench/echo_bench [seconds per run] [client threads] [payload bytes]
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "echo.h"
#include "greeter.grpc.pb.h"
#include "greeter.micro.h"
#include "load.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "process.h"

using namespace std::chrono_literals;

namespace {

// Raw gRPC: the generated sync service, default thread model.
class RawGreeter final : public helloworld::Greeter::Service {
  grpc::Status Hello(grpc::ServerContext*, const helloworld::Request* req,
                     helloworld::Response* rsp) override {
    rsp->set_msg(req->name());
    return grpc::Status::OK;
  }
};

template <typename ServiceT>
int ServeRaw(const std::string& address) {
  ServiceT service;
  grpc::ServerBuilder b;
  b.AddListeningPort(address, grpc::InsecureServerCredentials());
  b.RegisterService(&service);
  auto server = b.BuildAndStart();
  if (!server) return 1;
  server->Wait();
  return 0;
}

int ServeMicro(const std::string& address, int handler_threads) {
  micro::server::ServerOptions o;
  o.handler_threads = handler_threads;
  o.name = "helloworld";
  o.address = address;
  o.registry = micro::registry::NewMemoryRegistry();
  micro::server::Server server(o);
  if (!helloworld::RegisterGreeterHandler(server, std::make_shared<micro::bench::EchoGreeter>())
           .ok())
    return 1;
  if (!server.Start().ok()) return 1;
  pause();
  return 0;
}

pid_t Spawn(const char* self, const char* mode, const std::string& address) {
  std::string m = mode, a = address;
  char* argv[] = {const_cast<char*>(self), m.data(), a.data(), nullptr};
  pid_t pid;
  posix_spawn(&pid, self, nullptr, nullptr, argv, environ);
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "serve-raw") return ServeRaw<RawGreeter>(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "serve-raw-callback")
    return ServeRaw<micro::bench::RawCallbackGreeter>(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "serve-micro") return ServeMicro(argv[2], 0);
  if (argc == 3 && std::string(argv[1]) == "serve-micro-inline") return ServeMicro(argv[2], -1);
  setenv("MICRO_LOG_LEVEL", "warn", 1);  // keep the servers' start-up lines out of the table
  double seconds = argc > 1 ? std::atof(argv[1]) : 5;
  int threads = argc > 2 ? std::atoi(argv[2]) : 4;
  int payload = argc > 3 ? std::atoi(argv[3]) : 64;

  std::string raw_addr = "127.0.0.1:" + std::to_string(micro::testing::FreePort());
  std::string micro_addr = "127.0.0.1:" + std::to_string(micro::testing::FreePort());
  std::string inline_addr = "127.0.0.1:" + std::to_string(micro::testing::FreePort());
  std::string rawcb_addr = "127.0.0.1:" + std::to_string(micro::testing::FreePort());
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  self[n > 0 ? n : 0] = '\0';
  pid_t raw_pid = Spawn(self, "serve-raw", raw_addr);
  pid_t micro_pid = Spawn(self, "serve-micro", micro_addr);
  pid_t inline_pid = Spawn(self, "serve-micro-inline", inline_addr);
  pid_t rawcb_pid = Spawn(self, "serve-raw-callback", rawcb_addr);

  helloworld::Request req;
  req.set_name(std::string(payload, 'x'));

  auto raw_stub = helloworld::Greeter::NewStub(
      grpc::CreateChannel(raw_addr, grpc::InsecureChannelCredentials()));
  auto raw_call = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    helloworld::Response rsp;
    return raw_stub->Hello(&ctx, req, &rsp).ok();
  };
  auto rawcb_stub = helloworld::Greeter::NewStub(
      grpc::CreateChannel(rawcb_addr, grpc::InsecureChannelCredentials()));
  auto rawcb_call = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    helloworld::Response rsp;
    return rawcb_stub->Hello(&ctx, req, &rsp).ok();
  };
  std::shared_ptr<micro::registry::Registry> reg = micro::registry::NewMemoryRegistry();
  (void)reg->Register({"helloworld", "latest", {}, {}, {{"bench-1", micro_addr, {}}}});
  (void)reg->Register({"helloworld.inline", "latest", {}, {}, {{"bench-2", inline_addr, {}}}});
  micro::client::ClientOptions co;
  co.registry = reg;
  auto client = std::make_shared<micro::client::Client>(co);
  helloworld::GreeterService micro_stub("helloworld", client);
  auto micro_call = [&] {
    helloworld::Response rsp;
    return micro_stub.Hello(req, &rsp).ok();
  };
  helloworld::GreeterService inline_stub("helloworld.inline", client);
  auto inline_call = [&] {
    helloworld::Response rsp;
    return inline_stub.Hello(req, &rsp).ok();
  };
  // Wait for both servers, and warm up.
  for (int i = 0; i < 200 && !(raw_call() && rawcb_call() && micro_call() && inline_call()); ++i) {
    std::this_thread::sleep_for(50ms);
  }
  micro::bench::Measure(threads, 1, raw_call);
  micro::bench::Measure(threads, 1, rawcb_call);
  micro::bench::Measure(threads, 1, micro_call);
  micro::bench::Measure(threads, 1, inline_call);

  std::printf(
      "unary echo, %d-byte payload, %d client threads, %.0f s per run, servers in child "
      "processes\n",
      payload, threads, seconds);
  std::printf("%-22s %12s %10s %10s %8s\n", "", "requests/s", "p50 us", "p99 us", "errors");
  micro::bench::Result raw = micro::bench::Measure(threads, seconds, raw_call);
  micro::bench::Result rcb = micro::bench::Measure(threads, seconds, rawcb_call);
  micro::bench::Result mic = micro::bench::Measure(threads, seconds, micro_call);
  micro::bench::Result inl = micro::bench::Measure(threads, seconds, inline_call);
  std::printf("%-22s %12.0f %10.1f %10.1f %8ld\n", "raw gRPC sync server", raw.rps, raw.p50_us,
              raw.p99_us, raw.errors);
  std::printf("%-22s %12.0f %10.1f %10.1f %8ld\n", "raw gRPC callback srv", rcb.rps, rcb.p50_us,
              rcb.p99_us, rcb.errors);
  std::printf("%-22s %12.0f %10.1f %10.1f %8ld\n", "micro client+server", mic.rps, mic.p50_us,
              mic.p99_us, mic.errors);
  std::printf("%-22s %12.0f %10.1f %10.1f %8ld\n", "micro, inline handlers", inl.rps, inl.p50_us,
              inl.p99_us, inl.errors);
  auto ratio = [](const char* what, const micro::bench::Result& m, const micro::bench::Result& r) {
    std::printf("%-44s throughput %.2fx, p50 %.2fx, p99 %.2fx\n", what, m.rps / r.rps,
                m.p50_us / r.p50_us, m.p99_us / r.p99_us);
  };
  ratio("micro (handler pool) / raw sync server:", mic, raw);
  ratio("micro (handler pool) / raw callback server:", mic, rcb);
  ratio("micro (inline) / raw callback server:", inl, rcb);
  std::printf("target: throughput >= 0.90x, p99 <= 1.20x\n");
  std::fflush(stdout);
  kill(raw_pid, SIGKILL);
  kill(micro_pid, SIGKILL);
  kill(inline_pid, SIGKILL);
  kill(rawcb_pid, SIGKILL);
  waitpid(rawcb_pid, nullptr, 0);
  waitpid(inline_pid, nullptr, 0);
  waitpid(raw_pid, nullptr, 0);
  waitpid(micro_pid, nullptr, 0);
  return 0;
}
