// Plugin kit: for loops that keep asking a remote (registry watches, lease
// keepers, the cache): jittered exponential backoff, and a bounded set of
// problems already reported, so one that repeats on every answer is logged once.
// The functions are thread-safe (per-thread generators); a Reported belongs
// to one loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <string>

namespace micro::plugin {

// Half to all of `d`, at random: clients retrying together do not stay in step.
template <class Duration>
Duration Jittered(Duration d) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  auto half = d.count() / 2;
  return Duration(
      half + static_cast<typename Duration::rep>(rng() % static_cast<std::uint64_t>(half + 1)));
}

// The wait after `failures` failures in a row: 100 ms doubling up to 5 s, jittered.
inline std::chrono::milliseconds RetryBackoff(int failures) {
  long long base = std::min<long long>(5000, 100LL << std::clamp(failures, 0, 6));
  return Jittered(std::chrono::milliseconds(base));
}

// What was reported already. Forgets everything when it would grow past
// `max`, so a stream of distinct problems costs bounded memory. Not thread-safe.
class Reported {
 public:
  explicit Reported(std::size_t max = 1000) : max_(max) {}
  // True the first time `what` is seen (since it was last forgotten).
  bool First(const std::string& what) {
    if (seen_.size() >= max_) seen_.clear();
    return seen_.insert(what).second;
  }
  void Forget(const std::string& what) { seen_.erase(what); }

 private:
  std::size_t max_;
  std::set<std::string> seen_;
};

}  // namespace micro::plugin
