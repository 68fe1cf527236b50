// The cost of observability on unary echo: the micro client calling a micro
// server in this process (127.0.0.1), with metrics and tracing off, metrics
// on, metrics on + tracing sampled at 1 %, and at 100 %, interleaved A B C D
// for `rounds` rounds; medians with min-max, and ratios against "off".
// Spans go over OTLP/HTTP to a sink in this process that reads each request
// and answers 200 (a collector's own cost is not ours). Asserts nothing.
//
//   build/tests/bench/observability_bench [threads=8] [seconds per run=3] [rounds=3]
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

#include "bench/echo.h"
#include "bench/load.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "micro/trace.h"

using micro::bench::Median;
using micro::bench::Print;
using micro::bench::Stats;

namespace {

// An OTLP/HTTP sink: reads each request (headers, then Content-Length bytes) and answers 200.
class Sink {
 public:
  Sink() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 64);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Sink() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  long requests() const { return requests_; }

 private:
  void Loop() {
    while (true) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string buf;
      char chunk[65536];
      std::size_t need = std::string::npos;
      while (true) {
        ssize_t n = read(c, chunk, sizeof(chunk));
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        std::size_t end = buf.find("\r\n\r\n");
        if (need == std::string::npos && end != std::string::npos) {
          std::size_t cl = buf.find("Content-Length: ");
          if (cl == std::string::npos) cl = buf.find("content-length: ");
          need = end + 4 + (cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16)));
        }
        if (need != std::string::npos && buf.size() >= need) break;
      }
      static const char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!write(c, kOk, sizeof(kOk) - 1);
      close(c);
      ++requests_;
    }
  }
  int fd_ = -1, port_ = 0;
  std::atomic<long> requests_{0};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  const micro::bench::RunArgs run = micro::bench::ParseRunArgs(argc, argv);

  Sink sink;
  std::shared_ptr<micro::registry::Registry> registry = micro::registry::NewMemoryRegistry();
  auto serve = [&](const std::string& name, bool metrics) {
    return micro::bench::ServeEcho(name, registry,
                                   [&](micro::server::ServerOptions& o) { o.metrics = metrics; });
  };
  auto plain = serve("echo.plain", false);
  auto counted = serve("echo.counted", true);
  auto client_for = [&](bool metrics) {
    micro::client::ClientOptions co;
    co.registry = registry;
    co.metrics = metrics;
    return std::make_shared<micro::client::Client>(co);
  };
  auto plain_client = client_for(false), counted_client = client_for(true);
  helloworld::GreeterService plain_stub("echo.plain", plain_client);
  helloworld::GreeterService counted_stub("echo.counted", counted_client);
  helloworld::Request req;
  req.set_name(std::string(64, 'x'));

  auto tracing = [&](double ratio) {
    if (ratio < 0) {
      micro::trace::Shutdown();
      return;
    }
    micro::trace::Options t;
    t.endpoint = "http://127.0.0.1:" + std::to_string(sink.port()) + "/v1/traces";
    t.service = "echo";
    t.sample_ratio = ratio;
    if (!micro::trace::Configure(t).ok()) std::exit(1);
  };
  struct Config {
    const char* name;
    bool metrics;
    double trace;  // < 0: off
  };
  const Config configs[] = {{"off (no metrics, no tracing)", false, -1},
                            {"metrics", true, -1},
                            {"metrics + tracing 1 %", true, 0.01},
                            {"metrics + tracing 100 %", true, 1.0}};
  auto call = [&](bool metrics) {
    helloworld::Response rsp;
    return (metrics ? counted_stub : plain_stub).Hello(req, &rsp).ok();
  };
  for (const Config& c : configs) {  // warm up
    tracing(c.trace);
    micro::bench::Measure(run.threads, 0.5, [&] { return call(c.metrics); });
  }
  std::map<std::string, Stats> stats;
  for (int r = 0; r < run.rounds; ++r) {
    for (const Config& c : configs) {
      tracing(c.trace);
      stats[c.name].Add(
          micro::bench::Measure(run.threads, run.seconds, [&] { return call(c.metrics); }));
    }
  }
  tracing(-1);
  micro::trace::Stats ts = micro::trace::GetStats();
  std::printf(
      "unary echo, 64-byte payload, client and server in one process, %d threads, %d rounds of "
      "%.0f s, interleaved\n",
      run.threads, run.rounds, run.seconds);
  for (const Config& c : configs) Print(c.name, stats[c.name]);
  const Stats& off = stats[configs[0].name];
  for (int i = 1; i < 4; ++i) {
    const Stats& s = stats[configs[i].name];
    std::printf("  %-44s throughput %.3fx, p99 %.2fx\n",
                (std::string(configs[i].name) + " / off:").c_str(), Median(s.rps) / Median(off.rps),
                Median(s.p99) / Median(off.p99));
  }
  std::printf("  spans exported %llu, dropped %llu (queue full or sink slow), OTLP requests %ld\n",
              static_cast<unsigned long long>(ts.exported),
              static_cast<unsigned long long>(ts.dropped), sink.requests());
  std::printf("goal: metrics + tracing 1 %% costs at most 5 %% of throughput\n");
  return 0;
}
