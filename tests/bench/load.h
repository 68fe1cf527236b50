// Closed-loop load for the benchmarks: `threads` callers repeat a call for a
// while; the result is throughput and latency percentiles.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace micro::bench {

struct Result {
  double rps = 0, p50_us = 0, p99_us = 0;
  long errors = 0;
};

// Rate and percentiles of per-thread latency samples (microseconds) over `elapsed` seconds.
inline Result Summarize(const std::vector<std::vector<double>>& lat, double elapsed, long errors) {
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0 : all[static_cast<std::size_t>(p * (all.size() - 1))];
  };
  return Result{all.size() / elapsed, pct(0.50), pct(0.99), errors};
}

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
  return Summarize(lat, std::chrono::duration<double>(Clock::now() - start).count(), errors);
}

// The interleaved benchmarks' command line: [threads=8] [seconds per run=3] [rounds=3]. Also
// keeps the framework's logs at warn, so that they do not interleave with the figures.
struct RunArgs {
  int threads = 8;
  double seconds = 3;
  int rounds = 3;
};
inline RunArgs ParseRunArgs(int argc, char** argv) {
  setenv("MICRO_LOG_LEVEL", "warn", 1);
  RunArgs a;
  if (argc > 1) a.threads = std::atoi(argv[1]);
  if (argc > 2) a.seconds = std::atof(argv[2]);
  if (argc > 3) a.rounds = std::atoi(argv[3]);
  return a;
}

// Runs of one configuration across interleaved rounds.
struct Stats {
  std::vector<double> rps, p50, p99;
  long errors = 0;
  void Add(const Result& r) {
    rps.push_back(r.rps);
    p50.push_back(r.p50_us);
    p99.push_back(r.p99_us);
    errors += r.errors;
  }
};

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// "name  N req/s (min-max)  p50 ..  p99 .. (min-max)  errors N"
inline void Print(const char* name, const Stats& s) {
  auto [rmin, rmax] = std::minmax_element(s.rps.begin(), s.rps.end());
  auto [pmin, pmax] = std::minmax_element(s.p99.begin(), s.p99.end());
  std::printf(
      "  %-44s %8.0f req/s (%.0f-%.0f)  p50 %6.0f us  p99 %6.0f us (%.0f-%.0f)  errors %ld\n", name,
      Median(s.rps), *rmin, *rmax, Median(s.p50), Median(s.p99), *pmin, *pmax, s.errors);
}

// RSS, PSS (shared pages split among the processes mapping them) and private
// dirty memory (what the process itself wrote: heap, stacks, data), in MB.
struct Memory {
  double rss = -1, pss = -1, own = -1;
};

inline Memory MemoryOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  Memory m;
  std::string line;
  while (std::getline(in, line)) {
    char key[64];
    double kb = 0;
    if (std::sscanf(line.c_str(), "%63s %lf", key, &kb) != 2) continue;  // the header line
    std::string k = key;
    if (k == "Rss:") m.rss = kb / 1024;
    if (k == "Pss:") m.pss = kb / 1024;
    if (k == "Private_Dirty:") m.own = kb / 1024;
  }
  return m;
}

}  // namespace micro::bench
