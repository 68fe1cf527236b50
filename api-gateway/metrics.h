// The gateway's /metrics, in Prometheus' text format: requests by route and
// status, a latency histogram, requests in flight. Thread-safe. Routes are
// capped (kMaxRoutes) so random paths cannot grow it without bound.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace micro::api {

class Metrics {
 public:
  static constexpr std::size_t kMaxRoutes = 500;

  void Begin() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // Ends a request that Begin() counted.
  void End(const std::string& route, int status, std::chrono::steady_clock::duration took);
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::string Text() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};
  std::atomic<std::int64_t> in_flight_{0};
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // guarded by mu_
  std::array<std::uint64_t, kBuckets.size() + 1> buckets_{};       // guarded by mu_
  double sum_ = 0;                                                 // guarded by mu_
  std::uint64_t count_ = 0;                                        // guarded by mu_
  std::set<std::string> known_routes_;                             // guarded by mu_
};

}  // namespace micro::api
