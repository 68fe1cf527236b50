#include "metrics.h"

#include "absl/strings/str_cat.h"

namespace micro::api {
namespace {

// A Prometheus label value: backslash, quote and newline escaped.
std::string Label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::End(const std::string& route, int status, std::chrono::steady_clock::duration took) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  double seconds = std::chrono::duration<double>(took).count();
  std::lock_guard<std::mutex> lock(mu_);
  std::string r = route;
  if (known_routes_.count(r) == 0) {
    if (known_routes_.size() >= kMaxRoutes) {
      r = "other";
    } else {
      known_routes_.insert(r);
    }
  }
  ++requests_[{r, status}];
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  ++buckets_[b];
  sum_ += seconds;
  ++count_;
}

std::string Metrics::Text() const {
  std::string out =
      "# HELP micro_api_requests_total HTTP requests answered, by route and status code.\n"
      "# TYPE micro_api_requests_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, n] : requests_) {
    absl::StrAppend(&out, "micro_api_requests_total{route=\"", Label(key.first), "\",code=\"",
                    key.second, "\"} ", n, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP micro_api_request_duration_seconds Time from a request read to its "
                  "answer written.\n"
                  "# TYPE micro_api_request_duration_seconds histogram\n");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i];
    absl::StrAppend(&out, "micro_api_request_duration_seconds_bucket{le=\"", kBuckets[i], "\"} ",
                    cumulative, "\n");
  }
  cumulative += buckets_[kBuckets.size()];
  absl::StrAppend(&out, "micro_api_request_duration_seconds_bucket{le=\"+Inf\"} ", cumulative,
                  "\nmicro_api_request_duration_seconds_sum ", sum_,
                  "\nmicro_api_request_duration_seconds_count ", count_, "\n",
                  "# HELP micro_api_in_flight_requests Requests being served now.\n"
                  "# TYPE micro_api_in_flight_requests gauge\n"
                  "micro_api_in_flight_requests ",
                  in_flight(), "\n");
  return out;
}

}  // namespace micro::api
