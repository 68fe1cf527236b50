// Metrics every service keeps, served in Prometheus' text format on
// --metrics_address (Service) or written by Text().
//
// Names follow go-micro's Prometheus wrapper (wrapper/monitoring/prometheus)
// where it has one, so its dashboards carry over:
//   micro_request_total{micro_name,micro_version,micro_id,micro_endpoint,micro_status}
//   micro_request_duration_seconds (histogram), micro_latency_microseconds (summary: sum, count)
// and adds: micro_request_errors_total{...,micro_code}, micro_requests_in_flight, the client
// side (micro_client_*, by target service and endpoint), the registry side (micro_registry_*)
// and the tracer's (micro_trace_spans_*).
//
// Recording is lock-free (relaxed atomics on counters fixed per endpoint or
// target); only creating a series takes a lock. All functions are thread-safe;
// series live as long as the process (the library owns them). Collectors run
// on the scraping thread with the registry's lock held: they must not call
// back into micro::metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace micro::metrics {

// The counters of one endpoint (server side) or one target endpoint (client side).
class CallStats {
 public:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  // go-micro error codes counted one by one; others count as "other".
  static constexpr std::array<int, 14> kCodes = {400, 401, 403, 404, 405, 408, 409,
                                                 412, 429, 500, 501, 502, 503, 504};

  explicit CallStats(std::string labels) : labels_(std::move(labels)) {}

  void Begin() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // Ends what Begin counted: `code` 0 for success, else the go-micro error code.
  void End(int code, std::chrono::steady_clock::duration took);

  const std::string& labels() const { return labels_; }
  // Writes the families (`prefix`request_total, ...) of `all`, each once with all its series.
  static void WriteFamilies(std::string* out, absl::string_view prefix, absl::string_view what,
                            const std::vector<const CallStats*>& all);

 private:
  const std::string labels_;  // preformatted: `micro_name="x",micro_endpoint="y"`
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> success_{0}, failure_{0}, sum_us_{0};
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets_{};
  std::array<std::atomic<std::uint64_t>, kCodes.size() + 1> codes_{};
};

// Server side: one series per endpoint of a service instance; stable pointer, never freed.
CallStats* ServerStats(absl::string_view name, absl::string_view version, absl::string_view id,
                       absl::string_view endpoint);
// Client side, by target service and endpoint. Lock-free once the series exists; past
// 2048 series, calls share one "other" series.
CallStats* ClientStats(absl::string_view service, absl::string_view endpoint);

// Registry side.
void CountRegistration(absl::string_view name, bool ok);  // also sets the last-heartbeat time

// One value a collector reports at scrape time (gauges such as cache size and age). Samples of one
// family from all collectors are written together, under one HELP and TYPE.
struct Sample {
  std::string family;  // "micro_registry_cache_entries"
  std::string type;    // "counter" or "gauge"
  std::string help;
  std::string labels;  // preformatted, without braces: `micro_name="geo"` (EscapeLabel the values)
  double value = 0;
};
// Adds a collector run on each scrape; returns a handle for RemoveCollector.
std::uint64_t AddCollector(std::function<void(std::vector<Sample>* out)> collect);
void RemoveCollector(std::uint64_t handle);

// Everything, in Prometheus text format 0.0.4.
std::string Text();

// A label value with \, " and newline escaped.
std::string EscapeLabel(absl::string_view v);

}  // namespace micro::metrics
