// Trace context, sampling, and the OTLP/HTTP exporter. Spans are encoded by
// hand as OTLP protobuf (opentelemetry/proto/collector/trace/v1
// ExportTraceServiceRequest; field numbers from the OTLP spec), so the
// framework needs no generated code for it; tests decode what is sent with
// the official OTLP protos.
#include "micro/trace.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/http.h"
#include "core/net.h"
#include "micro/log.h"

namespace micro::trace {
namespace {

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  return rng;
}

template <std::size_t N>
bool AllZero(const std::array<std::uint8_t, N>& a) {
  for (auto b : a) {
    if (b != 0) return false;
  }
  return true;
}

template <std::size_t N>
std::string Hex(const std::array<std::uint8_t, N>& a) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(a.data()), a.size()));
}

template <std::size_t N>
bool FromHex(absl::string_view hex, std::array<std::uint8_t, N>* out) {
  if (hex.size() != 2 * N) return false;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  std::string bytes = absl::HexStringToBytes(hex);
  for (std::size_t i = 0; i < N; ++i) (*out)[i] = static_cast<std::uint8_t>(bytes[i]);
  return true;
}

// --- protobuf wire format, just what OTLP needs ---
void Varint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void Tag(std::string* out, int field, int wire) { Varint(out, (field << 3) | wire); }
void Bytes(std::string* out, int field, absl::string_view b) {
  Tag(out, field, 2);
  Varint(out, b.size());
  out->append(b.data(), b.size());
}
void Fixed64(std::string* out, int field, std::uint64_t v) {
  Tag(out, field, 1);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void VarintField(std::string* out, int field, std::uint64_t v) {
  Tag(out, field, 0);
  Varint(out, v);
}
template <std::size_t N>
absl::string_view View(const std::array<std::uint8_t, N>& a) {
  return absl::string_view(reinterpret_cast<const char*>(a.data()), N);
}
// common.v1.KeyValue{key = 1, value = 2 AnyValue{string_value = 1}}
std::string KeyValue(absl::string_view key, absl::string_view value) {
  std::string any, kv;
  Bytes(&any, 1, value);
  Bytes(&kv, 1, key);
  Bytes(&kv, 2, any);
  return kv;
}
std::uint64_t UnixNanos(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// trace.v1.Span
std::string EncodeSpan(const Span& s) {
  std::string out;
  Bytes(&out, 1, View(s.context.trace_id));
  Bytes(&out, 2, View(s.context.span_id));
  if (!s.context.state.empty()) Bytes(&out, 3, s.context.state);
  if (!AllZero(s.parent)) Bytes(&out, 4, View(s.parent));
  Bytes(&out, 5, s.name);
  VarintField(&out, 6, static_cast<int>(s.kind));
  Fixed64(&out, 7, UnixNanos(s.start));
  Fixed64(&out, 8, UnixNanos(s.end));
  for (const auto& [k, v] : s.attributes) Bytes(&out, 9, KeyValue(k, v));
  std::string status;  // Status{message = 2, code = 3}: UNSET 0, OK 1, ERROR 2
  if (s.error) {
    if (!s.message.empty()) Bytes(&status, 2, s.message);
    VarintField(&status, 3, 2);
  }
  Bytes(&out, 15, status);
  return out;
}

class Exporter {
 public:
  explicit Exporter(Options o, internal::HttpTarget target)
      : options_(std::move(o)), target_(std::move(target)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Exporter() { Stop(std::chrono::seconds(2)); }

  void Add(Span span) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (queue_.size() >= options_.queue_size) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      queue_.push_back(std::move(span));
      if (queue_.size() < options_.batch_size) return;
    }
    cv_.notify_one();
  }

  void Stop(std::chrono::milliseconds timeout) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
      stopping_ = true;
      flush_deadline_ = std::chrono::steady_clock::now() + timeout;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  Stats stats() const { return {exported_.load(), dropped_.load(), failed_.load()}; }

 private:
  void Loop() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      cv_.wait_for(l, options_.interval,
                   [&] { return stopping_ || queue_.size() >= options_.batch_size; });
      if (queue_.empty()) {
        if (stopping_) return;
        continue;
      }
      std::vector<Span> batch;
      std::size_t n = std::min(queue_.size(), options_.batch_size);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      bool stopping = stopping_;
      l.unlock();
      std::chrono::milliseconds timeout(5000);
      if (stopping) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            flush_deadline_ - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
          l.lock();
          dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
          queue_.clear();
          return;
        }
        timeout = std::min(timeout, left);
      }
      Send(batch, timeout);
      l.lock();
    }
  }

  void Send(const std::vector<Span>& batch, std::chrono::milliseconds timeout) {
    // ExportTraceServiceRequest{resource_spans = 1: ResourceSpans{resource = 1, scope_spans = 2}}
    std::string resource;
    Bytes(&resource, 1, KeyValue("service.name", options_.service));
    if (!options_.service_version.empty())
      Bytes(&resource, 1, KeyValue("service.version", options_.service_version));
    if (!options_.instance.empty())
      Bytes(&resource, 1, KeyValue("service.instance.id", options_.instance));
    Bytes(&resource, 1, KeyValue("telemetry.sdk.name", "micro-cpp"));
    Bytes(&resource, 1, KeyValue("telemetry.sdk.language", "cpp"));
    std::string scope, scope_spans, resource_spans, request;
    Bytes(&scope, 1, "micro-cpp");
    Bytes(&scope_spans, 1, scope);
    for (const Span& s : batch) Bytes(&scope_spans, 2, EncodeSpan(s));
    Bytes(&resource_spans, 1, resource);
    Bytes(&resource_spans, 2, scope_spans);
    Bytes(&request, 1, resource_spans);
    absl::StatusOr<int> status =
        internal::HttpPost(target_, "application/x-protobuf", request, timeout);
    if (status.ok() && *status >= 200 && *status < 300) {
      exported_.fetch_add(batch.size(), std::memory_order_relaxed);
      if (failing_) {
        failing_ = false;
        log::Info(absl::StrCat("trace: exporting to ", Where(), " again"));
      }
      return;
    }
    failed_.fetch_add(1, std::memory_order_relaxed);
    dropped_.fetch_add(batch.size(), std::memory_order_relaxed);
    if (!failing_) {  // once per episode
      failing_ = true;
      log::Warn(absl::StrCat(
          "trace: export to ", Where(), " failed (",
          status.ok() ? absl::StrCat("HTTP ", *status) : std::string(status.status().message()),
          "); spans are dropped until it works again"));
    }
  }

  std::string Where() const {
    return absl::StrCat("http://", internal::JoinHostPort(target_.host, target_.port),
                        target_.path);
  }

  const Options options_;
  const internal::HttpTarget target_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Span> queue_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::chrono::steady_clock::time_point flush_deadline_;
  bool failing_ = false;  // exporter thread only
  std::atomic<std::uint64_t> exported_{0}, dropped_{0}, failed_{0};
  std::thread thread_;
};

std::mutex g_mu;
std::shared_ptr<Exporter> g_exporter;  // guarded by g_mu; read through g_current
std::atomic<Exporter*> g_current{nullptr};
std::atomic<std::uint64_t> g_threshold{~std::uint64_t{0}};  // sampled when rng <= threshold
Stats g_past;  // counts of exporters stopped; guarded by g_mu

}  // namespace

bool SpanContext::valid() const { return !AllZero(trace_id) && !AllZero(span_id); }
std::string SpanContext::TraceId() const { return Hex(trace_id); }
std::string SpanContext::SpanId() const { return Hex(span_id); }
std::string SpanContext::Traceparent() const {
  return absl::StrCat("00-", Hex(trace_id), "-", Hex(span_id), sampled ? "-01" : "-00");
}

bool SpanContext::Parse(absl::string_view tp, SpanContext* out) {
  // version "-" trace-id "-" parent-id "-" flags; later versions may append "-..." fields.
  if (tp.size() < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  if (tp.size() > 55 && tp[55] != '-') return false;
  std::array<std::uint8_t, 1> version{}, flags{};
  if (!FromHex(tp.substr(0, 2), &version) || version[0] == 0xff) return false;
  if (version[0] == 0 && tp.size() != 55) return false;
  SpanContext c;
  if (!FromHex(tp.substr(3, 32), &c.trace_id) || !FromHex(tp.substr(36, 16), &c.span_id) ||
      !FromHex(tp.substr(53, 2), &flags) || !c.valid()) {
    return false;
  }
  c.sampled = (flags[0] & 1) != 0;
  *out = std::move(c);
  return true;
}

std::array<std::uint8_t, 8> NewSpanId() {
  std::array<std::uint8_t, 8> id{};
  do {
    std::uint64_t v = Rng()();
    for (int i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(v >> (8 * i));
  } while (AllZero(id));
  return id;
}

std::array<std::uint8_t, 16> NewTraceId() {
  std::array<std::uint8_t, 16> id{};
  do {
    for (int half = 0; half < 2; ++half) {
      std::uint64_t v = Rng()();
      for (int i = 0; i < 8; ++i) id[half * 8 + i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
  } while (AllZero(id));
  return id;
}

absl::Status Configure(const Options& options) {
  if (!(options.sample_ratio >= 0 && options.sample_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trace sample ratio ", options.sample_ratio, " is not between 0 and 1"));
  }
  std::shared_ptr<Exporter> next;
  if (!options.endpoint.empty()) {
    absl::StatusOr<internal::HttpTarget> target =
        internal::ParseHttpUrl(options.endpoint, "/v1/traces");
    if (!target.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trace endpoint: ", target.status().message()));
    }
    Options o = options;
    o.queue_size = std::max<std::size_t>(1, o.queue_size);
    o.batch_size = std::max<std::size_t>(1, std::min(o.batch_size, o.queue_size));
    next = std::make_shared<Exporter>(std::move(o), std::move(*target));
  }
  Shutdown();
  std::lock_guard<std::mutex> l(g_mu);
  g_threshold.store(options.sample_ratio >= 1 ? ~std::uint64_t{0}
                                              : static_cast<std::uint64_t>(options.sample_ratio *
                                                                           18446744073709551615.0));
  g_exporter = std::move(next);
  g_current.store(g_exporter.get());
  return absl::OkStatus();
}

void Shutdown(std::chrono::milliseconds timeout) {
  std::shared_ptr<Exporter> old;
  {
    std::lock_guard<std::mutex> l(g_mu);
    old = std::move(g_exporter);
    g_current.store(nullptr);
  }
  if (old == nullptr) return;
  // Spans being recorded right now may still reach it; it lives until they do.
  old->Stop(timeout);
  std::lock_guard<std::mutex> l(g_mu);
  Stats s = old->stats();
  g_past.exported += s.exported;
  g_past.dropped += s.dropped;
  g_past.failed_batches += s.failed_batches;
  // Keep it alive: a Record() that loaded the pointer before the store above may still use it.
  static std::vector<std::shared_ptr<Exporter>>* retired =
      new std::vector<std::shared_ptr<Exporter>>();
  retired->push_back(std::move(old));
}

bool Enabled() { return g_current.load(std::memory_order_acquire) != nullptr; }

bool SampleNew() {
  std::uint64_t t = g_threshold.load(std::memory_order_relaxed);
  if (t == ~std::uint64_t{0}) return true;
  if (t == 0) return false;
  return Rng()() <= t;
}

void Record(Span span) {
  Exporter* e = g_current.load(std::memory_order_acquire);
  if (e != nullptr) e->Add(std::move(span));
}

Stats GetStats() {
  std::lock_guard<std::mutex> l(g_mu);
  Stats s = g_past;
  if (g_exporter != nullptr) {
    Stats c = g_exporter->stats();
    s.exported += c.exported;
    s.dropped += c.dropped;
    s.failed_batches += c.failed_batches;
  }
  return s;
}

}  // namespace micro::trace
