#include "limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "absl/hash/hash.h"

namespace micro::api {

RateLimiter::RateLimiter(double rate, double burst, std::size_t max_clients)
    : rate_(rate),
      burst_(std::max(1.0, burst)),
      max_per_shard_(std::max<std::size_t>(1, max_clients / 16)) {}

int RateLimiter::Take(absl::string_view client, Clock::time_point now) {
  Shard& shard = shards_[absl::Hash<absl::string_view>()(client) % shards_.size()];
  std::lock_guard<std::mutex> l(shard.mu);
  auto it = shard.buckets.find(client);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) Sweep(shard, now);
    it = shard.buckets.emplace(std::string(client), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate_)));
}

std::size_t RateLimiter::clients() {
  std::size_t n = 0;
  for (Shard& s : shards_) {
    std::lock_guard<std::mutex> l(s.mu);
    n += s.buckets.size();
  }
  return n;
}

// Drops buckets that have refilled (their clients lose nothing); if none has, the stalest half.
void RateLimiter::Sweep(Shard& shard, Clock::time_point now) {
  auto full =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(burst_ / rate_));
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    auto cur = it++;
    if (now - cur->second.last >= full) shard.buckets.erase(cur);
  }
  if (shard.buckets.size() < max_per_shard_) return;
  std::vector<Clock::time_point> times;
  times.reserve(shard.buckets.size());
  for (const auto& [k, b] : shard.buckets) times.push_back(b.last);
  auto mid = times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2);
  std::nth_element(times.begin(), mid, times.end());
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    auto cur = it++;
    if (cur->second.last <= *mid) shard.buckets.erase(cur);
  }
}

}  // namespace micro::api
