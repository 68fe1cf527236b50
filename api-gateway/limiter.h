// Per-client rate limit for the gateway: a token bucket per remote address, `rate` requests per
// second with bursts of `burst`. Thread-safe (16 shards, one mutex each); buckets of clients that
// went quiet are dropped, so the table stays bounded by `max_clients`.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace micro::api {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate, double burst, std::size_t max_clients = 100000);

  // 0 when `client` may make a request now (a token is taken); otherwise the whole seconds until
  // it may (at least 1), for Retry-After.
  int Take(absl::string_view client, Clock::time_point now = Clock::now());
  std::size_t clients();

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets;
  };
  void Sweep(Shard& shard, Clock::time_point now);

  const double rate_, burst_;
  const std::size_t max_per_shard_;
  std::array<Shard, 16> shards_;
};

}  // namespace micro::api
