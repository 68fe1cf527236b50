#include "micro/metrics.h"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "micro/selector/selector.h"
#include "micro/trace.h"

namespace micro::metrics {
namespace {

constexpr std::size_t kClientSlots = 4096;  // open addressing, at most half full
constexpr std::size_t kMaxClientSeries = 2048;

struct ClientSlot {
  std::atomic<CallStats*> stats{nullptr};
  std::string service, endpoint;  // written before `stats` is published
  bool Is(absl::string_view s, absl::string_view e) const { return service == s && endpoint == e; }
};

struct Registration {
  std::uint64_t ok = 0, failed = 0;
  double last_ok = 0;  // unix seconds
};

struct State {
  std::mutex mu;
  std::deque<std::unique_ptr<CallStats>> server;   // guarded by mu
  std::deque<std::unique_ptr<CallStats>> client;   // guarded by mu
  std::map<std::string, CallStats*> server_index;  // guarded by mu
  std::array<ClientSlot, kClientSlots> slots;
  std::unique_ptr<CallStats> client_other;
  std::map<std::string, Registration> registrations;                              // guarded by mu
  std::map<std::uint64_t, std::function<void(std::vector<Sample>*)>> collectors;  // guarded by mu
  std::uint64_t next_collector = 1;                                               // guarded by mu
};

State& S() {
  static State* s = new State();
  return *s;
}

std::string Label(absl::string_view k, absl::string_view v) {
  return absl::StrCat(k, "=\"", EscapeLabel(v), "\"");
}

std::size_t Hash(absl::string_view key) {
  return std::hash<std::string_view>()(std::string_view(key.data(), key.size()));
}

void Family(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

std::string Num(double v) { return absl::StrFormat("%.17g", v); }

}  // namespace

std::string EscapeLabel(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void CallStats::End(int code, std::chrono::steady_clock::duration took) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  if (us < 0) us = 0;
  double seconds = static_cast<double>(us) / 1e6;
  std::size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
  if (code == 0) {
    success_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  failure_.fetch_add(1, std::memory_order_relaxed);
  std::size_t i = 0;
  while (i < kCodes.size() && kCodes[i] != code) ++i;
  codes_[i].fetch_add(1, std::memory_order_relaxed);
}

void CallStats::WriteFamilies(std::string* out, absl::string_view p, absl::string_view what,
                              const std::vector<const CallStats*>& all) {
  if (all.empty()) return;
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::string n = absl::StrCat(p, "request_total");
  Family(out, n, "counter", absl::StrCat(what, " handled, by micro_status (success or failure)"));
  for (const CallStats* c : all) {
    absl::StrAppend(out, n, "{", c->labels(), ",micro_status=\"success\"} ", load(c->success_),
                    "\n", n, "{", c->labels(), ",micro_status=\"failure\"} ", load(c->failure_),
                    "\n");
  }
  n = absl::StrCat(p, "request_errors_total");
  Family(out, n, "counter", absl::StrCat(what, " that failed, by go-micro error code"));
  for (const CallStats* c : all) {
    for (std::size_t i = 0; i <= CallStats::kCodes.size(); ++i) {
      std::uint64_t v = load(c->codes_[i]);
      if (v == 0) continue;
      std::string code = i < CallStats::kCodes.size() ? std::to_string(CallStats::kCodes[i])
                                                      : std::string("other");
      absl::StrAppend(out, n, "{", c->labels(), ",micro_code=\"", code, "\"} ", v, "\n");
    }
  }
  n = absl::StrCat(p, "requests_in_flight");
  Family(out, n, "gauge", absl::StrCat(what, " in progress"));
  for (const CallStats* c : all)
    absl::StrAppend(out, n, "{", c->labels(), "} ", c->in_flight_.load(), "\n");
  n = absl::StrCat(p, "request_duration_seconds");
  Family(out, n, "histogram", absl::StrCat(what, " latency in seconds"));
  for (const CallStats* c : all) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < CallStats::kBuckets.size(); ++b) {
      cumulative += load(c->buckets_[b]);
      absl::StrAppend(out, n, "_bucket{", c->labels(), ",le=\"", Num(CallStats::kBuckets[b]),
                      "\"} ", cumulative, "\n");
    }
    cumulative += load(c->buckets_.back());
    absl::StrAppend(out, n, "_bucket{", c->labels(), ",le=\"+Inf\"} ", cumulative, "\n", n, "_sum{",
                    c->labels(), "} ", Num(load(c->sum_us_) / 1e6), "\n", n, "_count{", c->labels(),
                    "} ", cumulative, "\n");
  }
  n = absl::StrCat(p, "latency_microseconds");
  Family(out, n, "summary", absl::StrCat(what, " latency in microseconds"));
  for (const CallStats* c : all) {
    std::uint64_t count = 0;
    for (const auto& b : c->buckets_) count += load(b);
    absl::StrAppend(out, n, "_sum{", c->labels(), "} ", load(c->sum_us_), "\n", n, "_count{",
                    c->labels(), "} ", count, "\n");
  }
}

CallStats* ServerStats(absl::string_view name, absl::string_view version, absl::string_view id,
                       absl::string_view endpoint) {
  std::string labels =
      absl::StrCat(Label("micro_name", name), ",", Label("micro_version", version), ",",
                   Label("micro_id", id), ",", Label("micro_endpoint", endpoint));
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.server_index.find(labels);
  if (it != s.server_index.end()) return it->second;
  s.server.push_back(std::make_unique<CallStats>(labels));
  s.server_index[labels] = s.server.back().get();
  return s.server.back().get();
}

CallStats* ClientStats(absl::string_view service, absl::string_view endpoint) {
  State& s = S();
  // No allocation on this path: the lookup hashes and compares the views.
  std::size_t h = Hash(service) * 31 + Hash(endpoint);
  for (std::size_t i = 0; i < kClientSlots; ++i) {
    ClientSlot& slot = s.slots[(h + i) % kClientSlots];
    CallStats* c = slot.stats.load(std::memory_order_acquire);
    if (c == nullptr) break;
    if (slot.Is(service, endpoint)) return c;
  }
  std::lock_guard<std::mutex> l(s.mu);
  for (std::size_t i = 0; i < kClientSlots; ++i) {
    ClientSlot& slot = s.slots[(h + i) % kClientSlots];
    CallStats* c = slot.stats.load(std::memory_order_acquire);
    if (c != nullptr) {
      if (slot.Is(service, endpoint)) return c;
      continue;
    }
    if (s.client.size() >= kMaxClientSeries) break;
    s.client.push_back(std::make_unique<CallStats>(
        absl::StrCat(Label("micro_service", service), ",", Label("micro_endpoint", endpoint))));
    slot.service = std::string(service);
    slot.endpoint = std::string(endpoint);
    slot.stats.store(s.client.back().get(), std::memory_order_release);
    return s.client.back().get();
  }
  if (s.client_other == nullptr) {
    s.client_other = std::make_unique<CallStats>(
        absl::StrCat(Label("micro_service", "other"), ",", Label("micro_endpoint", "other")));
  }
  return s.client_other.get();
}

void CountRegistration(absl::string_view name, bool ok) {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  Registration& r = s.registrations[std::string(name)];
  if (ok) {
    ++r.ok;
    r.last_ok = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  } else {
    ++r.failed;
  }
}

std::uint64_t AddCollector(std::function<void(std::vector<Sample>* out)> collect) {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  std::uint64_t id = s.next_collector++;
  s.collectors.emplace(id, std::move(collect));
  return id;
}

void RemoveCollector(std::uint64_t handle) {
  State& s = S();
  std::lock_guard<std::mutex> l(s.mu);
  s.collectors.erase(handle);
}

std::string Text() {
  State& s = S();
  std::string out;
  std::lock_guard<std::mutex> l(s.mu);
  std::vector<const CallStats*> server, client;
  for (const auto& c : s.server) server.push_back(c.get());
  for (const auto& c : s.client) client.push_back(c.get());
  if (s.client_other != nullptr) client.push_back(s.client_other.get());
  CallStats::WriteFamilies(&out, "micro_", "Requests this service", server);
  CallStats::WriteFamilies(&out, "micro_client_", "Calls this process made", client);
  if (!s.registrations.empty()) {
    Family(&out, "micro_registry_registrations_total", "counter",
           "Registrations and heartbeats sent to the registry, by result");
    for (const auto& [name, r] : s.registrations) {
      absl::StrAppend(&out, "micro_registry_registrations_total{", Label("micro_name", name),
                      ",result=\"ok\"} ", r.ok, "\n", "micro_registry_registrations_total{",
                      Label("micro_name", name), ",result=\"failure\"} ", r.failed, "\n");
    }
    Family(&out, "micro_registry_last_heartbeat_timestamp_seconds", "gauge",
           "When the last registration or heartbeat succeeded (unix time; 0: never)");
    for (const auto& [name, r] : s.registrations) {
      absl::StrAppend(&out, "micro_registry_last_heartbeat_timestamp_seconds{",
                      Label("micro_name", name), "} ", Num(r.last_ok), "\n");
    }
  }
  Family(&out, "micro_selector_ejections_total", "counter",
         "Nodes this process's clients took out of rotation after failures");
  absl::StrAppend(&out, "micro_selector_ejections_total ", selector::EjectionCount(), "\n");
  std::vector<Sample> samples;
  for (const auto& [id, collect] : s.collectors) collect(&samples);
  std::map<std::string, std::vector<const Sample*>> families;
  for (const Sample& x : samples) families[x.family].push_back(&x);
  for (const auto& [family, list] : families) {
    Family(&out, family, list.front()->type, list.front()->help);
    for (const Sample* x : list) {
      absl::StrAppend(&out, family, x->labels.empty() ? "" : absl::StrCat("{", x->labels, "}"), " ",
                      Num(x->value), "\n");
    }
  }
  trace::Stats t = trace::GetStats();
  Family(&out, "micro_trace_spans_exported_total", "counter", "Spans the collector accepted");
  absl::StrAppend(&out, "micro_trace_spans_exported_total ", t.exported, "\n");
  Family(&out, "micro_trace_spans_dropped_total", "counter",
         "Spans dropped: queue full, or the collector failed");
  absl::StrAppend(&out, "micro_trace_spans_dropped_total ", t.dropped, "\n");
  return out;
}

}  // namespace micro::metrics
