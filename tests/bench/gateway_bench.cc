// The API gateway under wrk: Hotel.Rates (the hotel curl) and a trivial echo
// (Greeter.Hello registered as go.micro.api.greeter), each beside a direct
// gRPC call of the same endpoint through the micro client, same concurrency,
// same run; and the gateway's memory under that load. Services use mDNS, so:
//
//   tests/integration/netns-run.sh build/tests/bench/gateway_bench [seconds] [connections] [rounds]
//
// The four configurations run interleaved, round by round (default 3 rounds); medians and min-max
// are printed. Prints figures; asserts nothing.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "greeter.micro.h"
#include "hotel.micro.h"
#include "load.h"
#include "mdns_registry.h"
#include "micro/micro.h"
#include "process.h"

using namespace std::chrono_literals;
using micro::testing::Process;

namespace {

struct Wrk {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  long errors = 0;
  micro::bench::Memory gateway;
};

double ToMs(const char* text) {
  double v = std::atof(text);
  std::string s(text);
  if (s.find("us") != std::string::npos) return v / 1000;
  if (s.find("ms") != std::string::npos) return v;
  return v * 1000;  // "1.2s"
}

// Runs wrk against `url` with a POST `body`; samples the gateway's memory halfway.
Wrk RunWrk(const std::string& url, const std::string& body, double seconds, int connections,
           pid_t gateway) {
  std::string script = "/tmp/gateway-bench.lua", out = "/tmp/gateway-bench.out";
  std::ofstream(script) << "wrk.method = \"POST\"\nwrk.body = '" << body
                        << "'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
                           "wrk.headers[\"Authorization\"] = \"Bearer VALID_TOKEN\"\n";
  std::string cmd = "wrk -t2 -c" + std::to_string(connections) + " -d" +
                    std::to_string(static_cast<int>(seconds)) + "s --timeout 10s --latency -s " +
                    script + " " + url + " > " + out + " 2>&1";
  Wrk w;
  std::thread sampler([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds / 2));
    w.gateway = micro::bench::MemoryOf(gateway);
  });
  int rc = std::system(cmd.c_str());
  sampler.join();
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    char v[32];
    long a = 0, b = 0, c = 0, d = 0;
    if (std::sscanf(line.c_str(), " 50%% %31s", v) == 1) w.p50_ms = ToMs(v);
    if (std::sscanf(line.c_str(), " 99%% %31s", v) == 1) w.p99_ms = ToMs(v);
    if (std::sscanf(line.c_str(), "Requests/sec: %31s", v) == 1) w.rps = std::atof(v);
    if (std::sscanf(line.c_str(), " Non-2xx or 3xx responses: %ld", &a) == 1) w.errors += a;
    if (std::sscanf(line.c_str(), " Socket errors: connect %ld, read %ld, write %ld, timeout %ld",
                    &a, &b, &c, &d) == 4)
      w.errors += a + b + c + d;
  }
  if (rc != 0) w.errors = -1;
  return w;
}

// One configuration's figures over the rounds.
struct Series {
  std::vector<double> rps, p50, p99;
  long errors = 0;
  void Add(double r, double a, double b, long e) {
    rps.push_back(r);
    p50.push_back(a);
    p99.push_back(b);
    errors = (errors < 0 || e < 0) ? -1 : errors + e;
  }
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string Range(const std::vector<double>& v, const char* format) {
  char buf[128], lo[32], hi[32], mid[32];
  std::snprintf(mid, sizeof mid, format, Median(v));
  std::snprintf(lo, sizeof lo, format, *std::min_element(v.begin(), v.end()));
  std::snprintf(hi, sizeof hi, format, *std::max_element(v.begin(), v.end()));
  std::snprintf(buf, sizeof buf, "%s [%s-%s]", mid, lo, hi);
  return buf;
}

void Row(const char* what, const Series& s) {
  std::printf("  %-34s %26s req/s   p50 %8.2f ms   p99 %24s ms   errors %ld\n", what,
              Range(s.rps, "%.0f").c_str(), Median(s.p50), Range(s.p99, "%.2f").c_str(), s.errors);
}

// Gateway / direct, of the medians.
void Ratio(const Series& gateway, const Series& direct) {
  std::printf("  gateway / direct: throughput %.2fx, p99 %.2fx\n",
              Median(gateway.rps) / Median(direct.rps), Median(gateway.p99) / Median(direct.p99));
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("MICRO_TEST_NETNS") == nullptr) {
    std::fprintf(stderr, "run me through tests/integration/netns-run.sh: the services use mDNS\n");
    return 2;
  }
  setenv("MICRO_LOG_LEVEL", "warn", 1);
  double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  int connections = argc > 2 ? std::atoi(argv[2]) : 8;
  int rounds = std::max(1, argc > 3 ? std::atoi(argv[3]) : 3);
  std::vector<std::unique_ptr<Process>> procs;
  for (const char* n : {"auth", "geo", "profile", "rate", "hotel"}) {
    procs.push_back(std::make_unique<Process>(
        std::vector<std::string>{std::string(BIN_DIR) + "/services/hotel-" + n, "--registry",
                                 "mdns", "--server_address", "127.0.0.1:0"}));
  }
  procs.push_back(std::make_unique<Process>(std::vector<std::string>{
      std::string(BIN_DIR) + "/services/greeter/greeter", "--registry", "mdns", "--server_address",
      "127.0.0.1:0", "--server_name", "go.micro.api.greeter"}));
  int port = micro::testing::FreePort();
  Process gateway({GATEWAY_BIN, "--registry", "mdns", "--address",
                   "127.0.0.1:" + std::to_string(port), "--admin_address", "127.0.0.1:0"});

  auto made = micro::mdns::NewMdnsRegistry();
  if (!made.ok()) return 1;
  micro::client::ClientOptions co;
  co.registry = std::shared_ptr<micro::registry::Registry>(std::move(*made));
  auto client = std::make_shared<micro::client::Client>(co);
  hotel::HotelService hotel("go.micro.api.hotel", client);
  helloworld::GreeterService greeter("go.micro.api.greeter", client);
  hotel::Request hreq;
  hreq.set_indate("2015-04-09");
  hreq.set_outdate("2015-04-10");
  helloworld::Request greq;
  greq.set_name("bench");
  micro::client::CallOptions opts;
  opts.metadata = {{"authorization", "Bearer VALID_TOKEN"}};
  for (int i = 0; i < 600 && !(hotel.Rates(hreq, opts).ok() && greeter.Hello(greq).ok()); ++i) {
    std::this_thread::sleep_for(100ms);
  }
  micro::bench::Memory idle = micro::bench::MemoryOf(gateway.pid());
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  // The gateway must be ready too.
  for (int i = 0; i < 100; ++i) {
    if (std::system(("curl -sf -o /dev/null " + base + "/health").c_str()) == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  // Warm the gateway's own cache and connections: the first call of each route waits for a lookup.
  std::system(("curl -s -o /dev/null -d '{\"name\":\"w\"}' " + base + "/greeter/hello").c_str());
  std::system(("curl -s -o /dev/null -H 'Authorization: Bearer VALID_TOKEN' -d "
               "'{\"inDate\":\"2015-04-09\",\"outDate\":\"2015-04-10\"}' " +
               base + "/hotel/rates")
                  .c_str());
  std::this_thread::sleep_for(1s);

  // Four configurations, interleaved round by round: echo via the gateway, echo direct, Hotel.Rates
  // via the gateway, Hotel.Rates direct.
  std::vector<Series> series(4);
  micro::bench::Memory echo_mem, rates_mem;
  for (int r = 0; r < rounds; ++r) {
    Wrk echo =
        RunWrk(base + "/greeter/hello", R"({"name":"bench"})", seconds, connections, gateway.pid());
    series[0].Add(echo.rps, echo.p50_ms, echo.p99_ms, echo.errors);
    echo_mem = echo.gateway;
    auto d = micro::bench::Measure(connections, seconds, [&] { return greeter.Hello(greq).ok(); });
    series[1].Add(d.rps, d.p50_us / 1000, d.p99_us / 1000, d.errors);
    Wrk rates = RunWrk(base + "/hotel/rates", R"({"inDate":"2015-04-09","outDate":"2015-04-10"})",
                       seconds, connections, gateway.pid());
    series[2].Add(rates.rps, rates.p50_ms, rates.p99_ms, rates.errors);
    rates_mem = rates.gateway;
    d = micro::bench::Measure(connections, seconds, [&] { return hotel.Rates(hreq, opts).ok(); });
    series[3].Add(d.rps, d.p50_us / 1000, d.p99_us / 1000, d.errors);
  }

  std::printf(
      "API gateway, %d connections (wrk -t2) / %d client threads, %d interleaved rounds of %.0f s, "
      "2 cores; medians [min-max]\n",
      connections, connections, rounds, seconds);
  std::printf("echo (Greeter.Hello as go.micro.api.greeter):\n");
  Row("wrk -> gateway -> greeter (JSON)", series[0]);
  Row("direct gRPC client (proto)", series[1]);
  Ratio(series[0], series[1]);
  std::printf("Hotel.Rates (the hotel curl):\n");
  Row("wrk -> gateway -> hotel (JSON)", series[2]);
  Row("direct gRPC client (proto)", series[3]);
  Ratio(series[2], series[3]);
  std::printf(
      "gateway memory (MB; target 30 MB): idle RSS %.1f (own %.1f); under echo load RSS "
      "%.1f (own %.1f); under Hotel.Rates load RSS %.1f (own %.1f) (last round)\n",
      idle.rss, idle.own, echo_mem.rss, echo_mem.own, rates_mem.rss, rates_mem.own);
  gateway.Signal(SIGTERM);
  gateway.Wait();
  for (auto& p : procs) p->Signal(SIGTERM);
  for (auto& p : procs) p->Wait();
  return 0;
}
