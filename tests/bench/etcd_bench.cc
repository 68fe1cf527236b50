// etcd: watch propagation (register on one registry instance, event seen on
// another's watch), the time to register 1,000 nodes (a lease and a put each),
// and the cost of keeping their leases alive, for micro-cpp's etcd plugin and,
// in the same run against the same member, etcd's official Go client
// (go.etcd.io/etcd/client/v3, what go-micro's etcd plugin uses).
//
//   build/tests/bench/etcd_bench [samples, default 200] [registrations, default 1000]
//
// Starts its own etcd member on free loopback ports, its data on /dev/shm.
// Prints figures; asserts nothing.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "etcd_cluster.h"
#include "etcd_registry.h"

namespace reg = micro::registry;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr auto kKeepWindow = 10s;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double SelfCpuMs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

// utime + stime of another process, from /proc.
double ProcCpuMs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> f;
  std::string cur;
  for (char c : s.substr(close + 2)) {
    if (c == ' ') {
      f.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (f.size() < 13) return 0;
  return (std::stod(f[11]) + std::stod(f[12])) * 1000.0 / sysconf(_SC_CLK_TCK);
}

std::unique_ptr<reg::Registry> Registry(const std::string& endpoints) {
  micro::etcd::EtcdOptions o;
  o.endpoints = {endpoints};
  auto r = micro::etcd::NewEtcdRegistry(o);
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

struct Go {
  double p50 = 0, p99 = 0, reg_ms = 0, keep_cpu_ms = 0, etcd_cpu_ms = 0;
};

// Runs the Go baseline and reads its lines; measures etcd's CPU while it runs
// its keepalive window (the last kKeepWindow before it prints keepalive_cpu_ms).
bool GoBaseline(const std::string& endpoints, int samples, int regs, pid_t etcd, Go* go) {
  std::string cmd = std::string(ETCDBENCH_BIN) + " -endpoints " + endpoints + " -samples " +
                    std::to_string(samples) + " -regs " + std::to_string(regs) + " -keepalive " +
                    std::to_string(std::chrono::seconds(kKeepWindow).count()) + "s";
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return false;
  int found = 0;
  char line[256];
  double etcd0 = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "propagation_ms %lf %lf", &go->p50, &go->p99) == 2) ++found;
    if (std::sscanf(line, "register_ms %lf", &go->reg_ms) == 1) {
      ++found;
      etcd0 = ProcCpuMs(etcd);
    }
    if (std::sscanf(line, "keepalive_cpu_ms %lf", &go->keep_cpu_ms) == 1) {
      ++found;
      go->etcd_cpu_ms = ProcCpuMs(etcd) - etcd0;
    }
  }
  return pclose(f) == 0 && found == 3;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("MICRO_LOG_LEVEL", "warn", 1);
  int samples = argc > 1 ? std::atoi(argv[1]) : 200;
  int regs = argc > 2 ? std::atoi(argv[2]) : 1000;
  // Data on tmpfs: with it on this machine's disk, fsync times swing the
  // registration figures of both sides by 3x from run to run.
  micro::testing::EtcdCluster etcd(1, {}, "/dev/shm");
  if (!etcd.WaitReady()) return 1;
  auto writer = Registry(etcd.endpoint(0));
  auto reader = Registry(etcd.endpoint(0));

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

  // 1,000 nodes with a 6 s TTL: a lease and a put each.
  auto many = [&](int i) { return Node("bench-many", "many-" + std::to_string(i), 20000 + i); };
  auto t0 = Clock::now();
  for (int i = 0; i < regs; ++i) {
    if (!writer->Register(many(i), reg::RegisterOptions{6s}).ok()) return 1;
  }
  double reg_ms = Ms(Clock::now() - t0);
  // Keeping them alive: one stream, a request per lease every 2 s.
  double cpu0 = SelfCpuMs(), etcd0 = ProcCpuMs(etcd.pid(0));
  std::this_thread::sleep_for(kKeepWindow);
  double keep_cpu = SelfCpuMs() - cpu0, keep_etcd = ProcCpuMs(etcd.pid(0)) - etcd0;
  // A heartbeat of the same 1,000 (Register every interval): nothing changed, nothing sent.
  t0 = Clock::now();
  for (int i = 0; i < regs; ++i) {
    if (!writer->Register(many(i), reg::RegisterOptions{6s}).ok()) return 1;
  }
  double beat_ms = Ms(Clock::now() - t0);
  auto alive = reader->GetService("bench-many");
  std::size_t alive_n = alive.ok() ? (*alive)[0].nodes.size() : 0;
  for (int i = 0; i < samples; ++i)
    (void)writer->Deregister(Node("bench", "cpp-" + std::to_string(i), 10000 + i));
  for (int i = 0; i < regs; ++i) (void)writer->Deregister(many(i));

  Go go;
  bool have_go = GoBaseline(etcd.endpoint(0), samples, regs, etcd.pid(0), &go);
  std::printf(
      "etcd 3.4.23, one member on loopback (data on tmpfs), %d propagation samples, %d "
      "registrations\n",
      samples, regs);
  std::printf("%-32s %11s %11s %14s %14s %14s\n", "", "prop p50 ms", "prop p99 ms", "register N ms",
              "keep cpu ms", "etcd cpu ms");
  std::printf("%-32s %11.2f %11.2f %14.1f %14.1f %14.1f\n", "micro-cpp etcd registry", p50, p99,
              reg_ms, keep_cpu, keep_etcd);
  if (have_go) {
    std::printf("%-32s %11.2f %11.2f %14.1f %14.1f %14.1f\n", "Go go.etcd.io/etcd/client/v3",
                go.p50, go.p99, go.reg_ms, go.keep_cpu_ms, go.etcd_cpu_ms);
    std::printf("%-32s %11.2f %11.2f %14.2f %14.2f %14.2f\n", "ratio (micro-cpp / Go)",
                p50 / go.p50, p99 / go.p99, reg_ms / go.reg_ms, keep_cpu / go.keep_cpu_ms,
                keep_etcd / go.etcd_cpu_ms);
  } else {
    std::printf("(Go baseline not available)\n");
  }
  std::printf("keep cpu / etcd cpu: CPU time over %lld s keeping %d leases (TTL 6 s) alive\n",
              static_cast<long long>(std::chrono::seconds(kKeepWindow).count()), regs);
  std::printf(
      "micro-cpp heartbeat of %d registered nodes (unchanged: nothing sent): %.2f ms; "
      "%zu of %d nodes alive after the window\n",
      regs, beat_ms, alive_n, regs);
  return 0;
}
