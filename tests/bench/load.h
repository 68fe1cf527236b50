// Closed-loop load for the benchmarks: `threads` callers repeat a call for a
// while; the result is throughput and latency percentiles.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

namespace micro::bench {

struct Result {
  double rps = 0, p50_us = 0, p99_us = 0;
  long errors = 0;
};

// Runs `call` (true = success) from `threads` threads for `seconds`.
// `midway`, when given, runs once halfway through (to sample a process under load).
template <typename Call>
Result Measure(int threads, double seconds, Call call, const std::function<void()>& midway = {}) {
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      lat[t].reserve(1 << 20);
      while (!stop.load(std::memory_order_relaxed)) {
        auto t0 = Clock::now();
        if (!call()) ++errors;
        lat[t].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds / 2));
  if (midway) midway();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds / 2));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0 : all[static_cast<std::size_t>(p * (all.size() - 1))];
  };
  return Result{all.size() / elapsed, pct(0.50), pct(0.99), errors.load()};
}

}  // namespace micro::bench
