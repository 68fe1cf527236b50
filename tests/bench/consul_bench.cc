// Consul: watch propagation (register on one registry instance, event seen on
// another's watch) and the time to register 1,000 nodes, for micro-cpp's Consul
// plugin and, in the same run against the same agent, Go's official Consul
// client (github.com/hashicorp/consul/api, what go-micro's plugin uses).
//
//   build/tests/bench/consul_bench [samples, default 200] [registrations, default 1000]
//
// Starts its own dev agent on free loopback ports. Prints figures; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "consul_agent.h"
#include "consul_registry.h"
#include "micro/log.h"

namespace reg = micro::registry;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::unique_ptr<reg::Registry> Registry(const std::string& address) {
  micro::consul::ConsulOptions o;
  o.addresses = {address};
  auto r = micro::consul::NewConsulRegistry(o);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

reg::Service Node(const std::string& name, const std::string& id, int port) {
  reg::Service s;
  s.name = name;
  s.version = "latest";
  reg::Endpoint e;
  e.name = "Bench.Call";
  s.endpoints = {e};
  s.nodes.push_back(reg::Node{id, "127.0.0.1:" + std::to_string(port), {{"protocol", "grpc"}}});
  return s;
}

// Runs the Go baseline and reads its two lines.
bool GoBaseline(const std::string& address, int samples, int regs, double* p50, double* p99,
                double* reg_ms) {
  std::string cmd = std::string(CONSULBENCH_BIN) + " -addr " + address + " -samples " +
                    std::to_string(samples) + " -regs " + std::to_string(regs);
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return false;
  int found = 0;
  char line[256];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "propagation_ms %lf %lf", p50, p99) == 2) ++found;
    if (std::sscanf(line, "register_ms %lf", reg_ms) == 1) ++found;
  }
  return pclose(f) == 0 && found == 2;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("MICRO_LOG_LEVEL", "warn", 1);
  int samples = argc > 1 ? std::atoi(argv[1]) : 200;
  int regs = argc > 2 ? std::atoi(argv[2]) : 1000;
  micro::testing::ConsulAgent agent;
  if (!agent.WaitReady()) return 1;
  auto writer = Registry(agent.http_address());
  auto reader = Registry(agent.http_address());

  auto w = reader->Watch(reg::WatchOptions{"bench"});
  if (!w.ok()) return 1;
  std::vector<double> lat;
  for (int i = 0; i < samples; ++i) {
    std::string id = "cpp-" + std::to_string(i);
    auto t0 = Clock::now();
    if (!writer->Register(Node("bench", id, 10000 + i), reg::RegisterOptions{30s}).ok()) return 1;
    while (true) {
      auto ev = (*w)->Next();
      if (!ev.ok()) return 1;
      if (ev->action == reg::Action::kCreate && ev->service.nodes.at(0).id == id) break;
    }
    lat.push_back(Ms(Clock::now() - t0));
  }
  std::sort(lat.begin(), lat.end());
  double p50 = lat[lat.size() / 2], p99 = lat[lat.size() * 99 / 100];

  auto t0 = Clock::now();
  for (int i = 0; i < regs; ++i) {
    if (!writer
             ->Register(Node("bench-many", "many-" + std::to_string(i), 20000 + i),
                        reg::RegisterOptions{30s})
             .ok())
      return 1;
  }
  double reg_ms = Ms(Clock::now() - t0);
  // Heartbeats of the same 1,000 (what Register does every interval once registered).
  t0 = Clock::now();
  for (int i = 0; i < regs; ++i) {
    if (!writer
             ->Register(Node("bench-many", "many-" + std::to_string(i), 20000 + i),
                        reg::RegisterOptions{30s})
             .ok())
      return 1;
  }
  double beat_ms = Ms(Clock::now() - t0);
  for (int i = 0; i < samples; ++i)
    (void)writer->Deregister(Node("bench", "cpp-" + std::to_string(i), 10000 + i));
  for (int i = 0; i < regs; ++i)
    (void)writer->Deregister(Node("bench-many", "many-" + std::to_string(i), 20000 + i));

  double go_p50 = 0, go_p99 = 0, go_reg = 0;
  bool go = GoBaseline(agent.http_address(), samples, regs, &go_p50, &go_p99, &go_reg);
  std::printf("consul 1.8.7 dev agent on loopback, %d propagation samples, %d registrations\n",
              samples, regs);
  std::printf("%-34s %12s %12s %18s\n", "", "prop p50 ms", "prop p99 ms", "register N ms");
  std::printf("%-34s %12.2f %12.2f %18.1f\n", "micro-cpp consul registry", p50, p99, reg_ms);
  if (go) {
    std::printf("%-34s %12.2f %12.2f %18.1f\n", "Go hashicorp/consul/api", go_p50, go_p99, go_reg);
    std::printf("%-34s %12.2f %12.2f %18.2f\n", "ratio (micro-cpp / Go)", p50 / go_p50,
                p99 / go_p99, reg_ms / go_reg);
  } else {
    std::printf("(Go baseline not available)\n");
  }
  std::printf("micro-cpp heartbeat of %d registered nodes (one check/pass each): %.1f ms\n", regs,
              beat_ms);
  return 0;
}
