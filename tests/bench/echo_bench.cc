// Unary echo, measured fairly. Every server of the same helloworld proto runs in a child process of
// its own; the same load (the generated raw gRPC C++ sync stub, one call in flight per client
// thread, one channel per server) is put on each in turn, configurations interleaved round by round
// (A B C ... A B C ...), and each figure is the median of the rounds with their min-max.
//
// Servers: raw gRPC C++ in its three forms (sync, callback, and the asynchronous completion-queue
// API with one queue and thread per core), micro-cpp (the default: adaptive handler placement;
// handlers always on its pool; always inline), and, when tests/bench/echo_bench.sh gives their
// paths (MICRO_BENCH_GOMICRO, MICRO_BENCH_GRPCGO), go-micro v4's gRPC server and a plain grpc-go
// server. One more configuration calls the micro-cpp server through the micro client (selector,
// pool, codec). For each: requests/s, p50, p99 and the server process's CPU seconds (user + system)
// per 100k requests over the run. Ratios against the cheapest raw C++ server and go-micro close the
// table. Asserts nothing.
//
//   build/tests/bench/echo_bench [client threads=16] [seconds per run=3] [rounds=3] [payload=64]
//   bash tests/bench/echo_bench.sh          # builds the Go servers, runs 16 and 64 in flight
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
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

// Raw gRPC, the asynchronous API in its classic fastest form: one completion queue and one thread
// per core, each queue with calls requested ahead so a burst never waits for a new request.
class AsyncCall {
 public:
  AsyncCall(helloworld::Greeter::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), writer_(&ctx_) {
    service_->RequestHello(&ctx_, &req_, &writer_, cq_, cq_, this);
  }
  // The tag came back: a call arrived (answer it, request the next) or its answer is sent.
  void Proceed(bool ok) {
    if (!answered_ && ok) {
      new AsyncCall(service_, cq_);
      rsp_.set_msg(req_.name());
      answered_ = true;
      writer_.Finish(rsp_, grpc::Status::OK, this);
      return;
    }
    delete this;
  }

 private:
  helloworld::Greeter::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  helloworld::Request req_;
  helloworld::Response rsp_;
  grpc::ServerAsyncResponseWriter<helloworld::Response> writer_;
  bool answered_ = false;
};

int ServeRawAsync(const std::string& address) {
  helloworld::Greeter::AsyncService service;
  grpc::ServerBuilder b;
  b.AddListeningPort(address, grpc::InsecureServerCredentials());
  b.RegisterService(&service);
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  for (int i = 0; i < cores; ++i) cqs.push_back(b.AddCompletionQueue());
  auto server = b.BuildAndStart();
  if (!server) return 1;
  std::vector<std::thread> threads;
  for (auto& cq : cqs) {
    for (int i = 0; i < 64; ++i) new AsyncCall(&service, cq.get());
    threads.emplace_back([q = cq.get()] {
      void* tag;
      bool ok;
      while (q->Next(&tag, &ok)) static_cast<AsyncCall*>(tag)->Proceed(ok);
    });
  }
  for (auto& t : threads) t.join();  // until killed
  return 0;
}

int ServeMicro(const std::string& address, int handler_threads, bool adaptive = true) {
  micro::server::ServerOptions o;
  o.handler_threads = handler_threads;
  o.adaptive_handlers = adaptive;
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

pid_t Spawn(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // "ready" and start-up logs would interleave with the table; a server that fails does not answer.
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// CPU seconds (user + system) a process has used: /proc/<pid>/stat fields 14 and 15.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::atof(f.c_str());
    if (i == 15) stime = std::atof(f.c_str());
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// One configuration: a server process and the call that loads it.
struct Config {
  std::string name;
  pid_t server = -1;
  std::function<bool()> call;
  micro::bench::Stats stats;
  std::vector<double> cpu;  // server CPU seconds per 100k requests, per round
  double CpuMedian() const { return micro::bench::Median(cpu); }
};

std::unique_ptr<helloworld::Greeter::Stub> RawStub(const std::string& address) {
  return helloworld::Greeter::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3) {
    std::string mode = argv[1];
    if (mode == "serve-raw") return ServeRaw<RawGreeter>(argv[2]);
    if (mode == "serve-raw-callback") return ServeRaw<micro::bench::RawCallbackGreeter>(argv[2]);
    if (mode == "serve-raw-callback-nodd") {
      // Debian builds Abseil without NDEBUG, so every absl::Mutex (gRPC's mutexes) keeps a
      // deadlock-detection graph unless told not to, as micro-cpp's server and client do.
      absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
      return ServeRaw<micro::bench::RawCallbackGreeter>(argv[2]);
    }
    if (mode == "serve-raw-async") return ServeRawAsync(argv[2]);
    if (mode == "serve-micro") return ServeMicro(argv[2], 0);
    if (mode == "serve-micro-inline") return ServeMicro(argv[2], -1);
    if (mode == "serve-micro-pool") return ServeMicro(argv[2], 0, false);
  }
  micro::bench::RunArgs args = micro::bench::ParseRunArgs(argc, argv);
  if (argc <= 1) args.threads = 16;
  const int payload = argc > 4 ? std::atoi(argv[4]) : 64;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  self[n > 0 ? n : 0] = '\0';

  helloworld::Request req;
  req.set_name(std::string(payload, 'x'));
  std::vector<std::unique_ptr<Config>> configs;
  std::vector<std::unique_ptr<helloworld::Greeter::Stub>> stubs;
  // A server process and the raw stub that loads it.
  auto add = [&](const std::string& name, std::vector<std::string> server_argv,
                 const std::string& address) -> Config* {
    auto c = std::make_unique<Config>();
    c->name = name;
    c->server = Spawn(std::move(server_argv));
    if (c->server < 0) {
      std::fprintf(stderr, "cannot start the server of \"%s\"\n", name.c_str());
      return nullptr;
    }
    stubs.push_back(RawStub(address));
    helloworld::Greeter::Stub* stub = stubs.back().get();
    c->call = [stub, &req] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + 10s);
      helloworld::Response rsp;
      return stub->Hello(&ctx, req, &rsp).ok();
    };
    configs.push_back(std::move(c));
    return configs.back().get();
  };
  auto address = [] { return "127.0.0.1:" + std::to_string(micro::testing::FreePort()); };
  // This binary re-executed as one of its servers.
  auto own = [&](const std::string& name, const char* mode, std::string* where = nullptr) {
    std::string a = address();
    if (where != nullptr) *where = a;
    return add(name, {self, mode, a}, a);
  };
  own("raw gRPC C++ sync", "serve-raw");
  own("raw gRPC C++ callback", "serve-raw-callback");
  own("raw gRPC C++ async (CQ per core)", "serve-raw-async");
  own("raw callback, absl deadlock off", "serve-raw-callback-nodd");
  std::string micro_address;
  Config* micro_pool = own("micro-cpp (default, adaptive)", "serve-micro", &micro_address);
  own("micro-cpp (handler pool)", "serve-micro-pool");
  own("micro-cpp (inline handlers)", "serve-micro-inline");
  Config* gomicro = nullptr;
  if (const char* go = std::getenv("MICRO_BENCH_GOMICRO")) {
    std::string a = address();
    gomicro = add(
        "go-micro v4 (gRPC server)",
        {go, "serve", "-registry", "memory", "-name", "helloworld", "-address", a, "-quiet"}, a);
  }
  if (const char* go = std::getenv("MICRO_BENCH_GRPCGO")) {
    std::string a = address();
    add("grpc-go", {go, a}, a);
  }

  // The micro client to the micro-cpp server (pool): the client path on top of the server's.
  std::shared_ptr<micro::registry::Registry> reg = micro::registry::NewMemoryRegistry();
  (void)reg->Register({"helloworld", "latest", {}, {}, {{"bench-1", micro_address, {}}}});
  micro::client::ClientOptions co;
  co.registry = reg;
  auto client = std::make_shared<micro::client::Client>(co);
  auto micro_stub = std::make_shared<helloworld::GreeterService>("helloworld", client);
  if (micro_pool != nullptr) {
    auto c = std::make_unique<Config>();
    c->name = "micro client -> micro-cpp (default)";
    c->server = micro_pool->server;
    c->call = [micro_stub, &req] {
      helloworld::Response rsp;
      return micro_stub->Hello(req, &rsp).ok();
    };
    configs.push_back(std::move(c));
  }

  // Every server answers; its memory after that one call (idle); then one short warm-up run each.
  std::vector<std::pair<std::string, micro::bench::Memory>> idle;
  for (auto& c : configs) {
    bool up = false;
    for (int i = 0; i < 200 && !(up = c->call()); ++i) std::this_thread::sleep_for(50ms);
    if (!up) {
      std::fprintf(stderr, "\"%s\" does not answer\n", c->name.c_str());
      return 1;
    }
    if (c->name.rfind("micro client", 0) != 0)
      idle.emplace_back(c->name, micro::bench::MemoryOf(c->server));
  }
  for (auto& c : configs) micro::bench::Measure(args.threads, 0.5, c->call);

  std::printf(
      "unary echo, %d-byte payload, %d calls in flight (client threads), %.0f s per run, %d rounds "
      "interleaved; medians (min-max); servers in child processes, 2 cores shared with the "
      "client\n",
      payload, args.threads, args.seconds, args.rounds);
  for (int round = 0; round < args.rounds; ++round) {
    for (auto& c : configs) {
      double cpu0 = CpuSeconds(c->server);
      micro::bench::Result r = micro::bench::Measure(args.threads, args.seconds, c->call);
      double cpu = CpuSeconds(c->server) - cpu0;
      c->stats.Add(r);
      c->cpu.push_back(r.rps > 0 ? cpu / (r.rps * args.seconds) * 1e5 : 0);
    }
  }
  std::printf("  %-34s %22s %8s %18s %24s %6s\n", "", "requests/s", "p50 us", "p99 us",
              "server CPU s per 100k", "errors");
  for (auto& c : configs) {
    const micro::bench::Stats& s = c->stats;
    auto [rmin, rmax] = std::minmax_element(s.rps.begin(), s.rps.end());
    auto [pmin, pmax] = std::minmax_element(s.p99.begin(), s.p99.end());
    auto [cmin, cmax] = std::minmax_element(c->cpu.begin(), c->cpu.end());
    std::printf("  %-34s %7.0f (%5.0f-%5.0f) %8.0f %6.0f (%4.0f-%4.0f) %10.2f (%4.2f-%4.2f) %6ld\n",
                c->name.c_str(), micro::bench::Median(s.rps), *rmin, *rmax,
                micro::bench::Median(s.p50), micro::bench::Median(s.p99), *pmin, *pmax,
                c->CpuMedian(), *cmin, *cmax, s.errors);
  }

  // Ratios of medians: the micro-cpp servers against the cheapest raw C++ server and go-micro.
  const Config* cheapest = nullptr;
  for (auto& c : configs)
    if (c->name.rfind("raw", 0) == 0 &&
        (cheapest == nullptr || c->CpuMedian() < cheapest->CpuMedian()))
      cheapest = c.get();
  for (auto& c : configs) {
    if (c->name.rfind("micro-cpp", 0) != 0 || cheapest == nullptr) continue;
    std::printf("  %-28s CPU/request %.2fx %s", c->name.c_str(),
                c->CpuMedian() / cheapest->CpuMedian(), cheapest->name.c_str());
    if (gomicro != nullptr) {
      std::printf(", %.2fx go-micro; throughput %.2fx go-micro",
                  c->CpuMedian() / gomicro->CpuMedian(),
                  micro::bench::Median(c->stats.rps) / micro::bench::Median(gomicro->stats.rps));
    }
    std::printf("\n");
  }
  std::printf("  idle memory after one call, MB: RSS / PSS / private dirty\n");
  for (auto& [name, m] : idle)
    std::printf("    %-34s %5.1f / %5.1f / %5.1f\n", name.c_str(), m.rss, m.pss, m.own);
  std::printf(
      "  goals (issue 20): CPU/request <= 1.05x the cheapest raw C++ server and <= 0.85x go-micro; "
      "throughput >= 1.3x go-micro\n");
  std::fflush(stdout);
  std::set<pid_t> servers;
  for (auto& c : configs) servers.insert(c->server);
  for (pid_t pid : servers) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return 0;
}
