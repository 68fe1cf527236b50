// Times node picks from a warm selector cache against baselines measured in the same run,
// configurations interleaved round by round (A B C A B C ...), medians with min-max:
// - ours: Next() from a Next already held; Next()+Mark (what a client pays per call); and
//   Select+Next (a Select of the service and one pick, what a client does per call);
// - baseline(lock): the same nodes in a vector behind a mutex, round robin;
// - go-micro: go-micro v4's selector (memory registry, its cache), Select+Next, run by the peer
//   tests/interop/gomicro/cmd/selbench when MICRO_BENCH_GOMICRO_SELECTOR names its binary
//   (tests/bench/selector_bench.sh builds it).
// Prints figures; asserts nothing.
//
//   build/tests/bench/selector_bench [rounds=3] [milliseconds per measurement=40]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "micro/registry/memory.h"
#include "micro/selector/selector.h"

namespace reg = micro::registry;
namespace sel = micro::selector;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<std::uint64_t> sink{0};  // keeps the optimiser from dropping the picks

// Runs body(n) in batches on `threads` threads at once until `ms` pass; ns per call per thread.
template <typename Body>
double Time(int threads, int ms, Body body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  std::vector<double> ns(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ++ready;
      while (!go) {
      }
      auto start = Clock::now();
      auto until = start + std::chrono::milliseconds(ms);
      long calls = 0;
      do {
        body(256);
        calls += 256;
      } while (Clock::now() < until);
      ns[t] = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / calls;
    });
  }
  while (ready < threads) {
  }
  go = true;
  for (auto& th : pool) th.join();
  double sum = 0;
  for (double v : ns) sum += v;
  return sum / threads;
}

std::shared_ptr<reg::Registry> RegistryWith(int nodes) {
  std::shared_ptr<reg::Registry> r = reg::NewMemoryRegistry();
  reg::Service s{"bench", "1", {}, {}, {}};
  for (int i = 0; i < nodes; ++i) {
    s.nodes.push_back(
        reg::Node{"bench-" + std::to_string(i), "10.0.0.1:" + std::to_string(1000 + i), {}});
  }
  (void)r->Register(s);
  return r;
}

// go-micro's Select+Next in ns, from the peer binary; negative when it is not there or fails.
double GoMicro(const char* peer, int nodes, int threads, sel::Strategy strategy, int ms) {
  if (peer == nullptr || strategy == sel::Strategy::kLeastInFlight) return -1;
  std::string cmd = std::string(peer) + " -nodes " + std::to_string(nodes) + " -threads " +
                    std::to_string(threads) + " -strategy " + sel::StrategyName(strategy) +
                    " -ms " + std::to_string(ms * 2);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  double ns = -1;
  if (std::fscanf(p, "ns %lf", &ns) != 1) ns = -1;
  return pclose(p) == 0 ? ns : -1;
}

struct Series {
  std::vector<double> v;
  double Median() const {
    std::vector<double> s = v;
    std::sort(s.begin(), s.end());
    return s.empty() ? -1 : s[s.size() / 2];
  }
  std::string Range() const {
    if (v.empty() || *std::min_element(v.begin(), v.end()) < 0) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f [%.1f-%.1f]", Median(),
                  *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
    return buf;
  }
};

struct Config {
  int nodes;
  int threads;
  sel::Strategy strategy;
  std::shared_ptr<reg::Registry> registry;
  std::unique_ptr<sel::Selector> selector;
  std::vector<reg::Node> plain;
  Series next, mark, select, lock, gomicro;
};

void Measure(Config& c, int ms, const char* peer) {
  sel::Selector& selector = *c.selector;
  const bool must_mark = c.strategy == sel::Strategy::kLeastInFlight;
  c.next.v.push_back(Time(c.threads, ms, [&](long n) {
    auto next = selector.Select("bench");
    std::uint64_t acc = 0;
    for (long i = 0; i < n; ++i) {
      acc += (*next)().address.size();
      if (must_mark) next->Skip();
    }
    sink += acc;
  }));
  c.mark.v.push_back(Time(c.threads, ms, [&](long n) {
    auto next = selector.Select("bench");
    std::uint64_t acc = 0;
    for (long i = 0; i < n; ++i) {
      acc += (*next)().address.size();
      next->Mark(absl::OkStatus());
    }
    sink += acc;
  }));
  c.select.v.push_back(Time(c.threads, ms, [&](long n) {
    std::uint64_t acc = 0;
    for (long i = 0; i < n; ++i) {
      auto next = selector.Select("bench");
      acc += (*next)().address.size();
      if (must_mark) next->Skip();
    }
    sink += acc;
  }));
  std::mutex mu;
  std::size_t cursor = 0;
  c.lock.v.push_back(Time(c.threads, ms, [&](long n) {
    std::uint64_t acc = 0;
    for (long i = 0; i < n; ++i) {
      std::lock_guard<std::mutex> l(mu);
      acc += c.plain[cursor++ % c.plain.size()].address.size();
    }
    sink += acc;
  }));
  double go = GoMicro(peer, c.nodes, c.threads, c.strategy, ms);
  if (go >= 0) c.gomicro.v.push_back(go);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  int ms = argc > 2 ? std::atoi(argv[2]) : 40;
  const char* peer = std::getenv("MICRO_BENCH_GOMICRO_SELECTOR");
  std::vector<Config> configs;
  for (int nodes : {1, 10, 100, 1000}) {
    auto registry = RegistryWith(nodes);
    for (sel::Strategy strategy :
         {sel::Strategy::kRandom, sel::Strategy::kRoundRobin, sel::Strategy::kLeastInFlight}) {
      for (int threads : {1, 2}) {
        Config c{nodes, threads, strategy, registry, nullptr, {}, {}, {}, {}, {}, {}};
        c.selector =
            std::make_unique<sel::Selector>(registry, sel::SelectorOptions{strategy, {}, {}});
        auto warm = c.selector->Select("bench");
        if (!warm.ok()) {
          std::fprintf(stderr, "select failed: %s\n", warm.status().ToString().c_str());
          return 1;
        }
        c.plain = (*registry->GetService("bench"))[0].nodes;
        configs.push_back(std::move(c));
      }
    }
  }
  for (int r = 0; r < rounds; ++r) {
    for (Config& c : configs) Measure(c, ms, peer);
  }
  std::printf(
      "selector pick, warm cache, %d interleaved rounds of %d ms, ns per call, median [min-max]\n",
      rounds, ms);
  std::printf("%5s %3s %-13s %18s %18s %20s %18s %24s %9s\n", "nodes", "thr", "strategy", "Next()",
              "Next+Mark", "Select+Next", "baseline(lock)", "go-micro Select+Next", "go/ours");
  for (const Config& c : configs) {
    double go = c.gomicro.v.empty() ? -1 : c.gomicro.Median();
    char ratio[32] = "-";
    if (go > 0) std::snprintf(ratio, sizeof ratio, "%.0fx", go / c.select.Median());
    std::printf("%5d %3d %-13s %18s %18s %20s %18s %24s %9s\n", c.nodes, c.threads,
                sel::StrategyName(c.strategy), c.next.Range().c_str(), c.mark.Range().c_str(),
                c.select.Range().c_str(), c.lock.Range().c_str(), c.gomicro.Range().c_str(), ratio);
  }
  std::printf(
      "go/ours = go-micro's Select+Next / ours (median); go-micro has no least-in-flight "
      "strategy\n");
  return sink.load() == 42 ? 1 : 0;
}
