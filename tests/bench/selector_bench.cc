// Times one node pick from a warm selector cache, against a baseline measured
// in the same run: a mutex-guarded round robin over a plain vector (what a
// straightforward locked selector does). Prints figures; asserts nothing.
//
//   build/tests/bench/selector_bench [iterations per thread]
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

// Runs body(iterations) on `threads` threads at once; returns ns per call per thread.
template <typename Body>
double Time(int threads, long iterations, Body body) {
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
      body(iterations);
      ns[t] = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
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

}  // namespace

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 2000000;
  std::printf("selector pick, warm cache, %ld picks per thread, ns per pick (lower is better)\n",
              iterations);
  std::printf("%6s %7s %-13s %9s %10s %13s %15s %11s\n", "nodes", "threads", "strategy", "Next()",
              "Next+Mark", "Select+Next", "baseline(lock)", "ratio");
  for (int nodes : {1, 10, 100, 1000}) {
    auto registry = RegistryWith(nodes);
    for (sel::Strategy strategy :
         {sel::Strategy::kRandom, sel::Strategy::kRoundRobin, sel::Strategy::kLeastInFlight}) {
      sel::Selector selector(registry, {strategy, {}, {}});
      auto warm = selector.Select("bench");
      if (!warm.ok()) {
        std::fprintf(stderr, "select failed: %s\n", warm.status().ToString().c_str());
        return 1;
      }
      for (int threads : {1, 2}) {
        const bool must_mark = strategy == sel::Strategy::kLeastInFlight;
        double next_ns = Time(threads, iterations, [&](long n) {
          auto next = selector.Select("bench");
          std::uint64_t acc = 0;
          for (long i = 0; i < n; ++i) {
            acc += (*next)().address.size();
            if (must_mark) next->Skip();
          }
          sink += acc;
        });
        // What a client pays per call: a pick and the Mark of its outcome (outlier ejection).
        double mark_ns = Time(threads, iterations, [&](long n) {
          auto next = selector.Select("bench");
          std::uint64_t acc = 0;
          for (long i = 0; i < n; ++i) {
            acc += (*next)().address.size();
            next->Mark(absl::OkStatus());
          }
          sink += acc;
        });
        double select_ns = Time(threads, iterations / 4, [&](long n) {
          std::uint64_t acc = 0;
          for (long i = 0; i < n; ++i) {
            auto next = selector.Select("bench");
            acc += (*next)().address.size();
            if (must_mark) next->Skip();
          }
          sink += acc;
        });
        // Baseline: the same nodes in a vector behind a mutex, round robin.
        std::vector<reg::Node> plain = (*registry->GetService("bench"))[0].nodes;
        std::mutex mu;
        std::size_t cursor = 0;
        double lock_ns = Time(threads, iterations / 4, [&](long n) {
          std::uint64_t acc = 0;
          for (long i = 0; i < n; ++i) {
            std::lock_guard<std::mutex> l(mu);
            acc += plain[cursor++ % plain.size()].address.size();
          }
          sink += acc;
        });
        std::printf("%6d %7d %-13s %9.1f %10.1f %13.1f %15.1f %10.2fx  (registry lookups: %llu)\n",
                    nodes, threads, sel::StrategyName(strategy), next_ns, mark_ns, select_ns,
                    lock_ns, lock_ns / select_ns,
                    static_cast<unsigned long long>(selector.cache().Stats().lookups));
      }
    }
  }
  std::printf("ratio = baseline / (Select+Next): above 1 means faster than a locked pick\n");
  return sink.load() == 42 ? 1 : 0;
}
