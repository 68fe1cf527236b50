// Distributed tracing: W3C Trace Context (`traceparent`, `tracestate`) carried
// in call metadata, and spans exported with OTLP over HTTP.
//
// A server call continues the caller's trace (or starts one) and opens a
// SERVER span; a call made with client::FromContext(ctx) is a CLIENT span,
// child of it, and sends its own id as the parent of the next hop. Spans are
// recorded only when the trace is sampled (the caller's flag, else the
// sampling ratio) and an exporter is configured (Configure). Export never
// blocks a call: spans wait in a bounded queue, batches go from a thread, and
// what does not fit is dropped and counted. Everything here is thread-safe;
// Configure and Shutdown block (Shutdown up to its timeout, sending what is queued).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace micro::trace {

struct SpanContext {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};
  bool sampled = false;
  std::string state;  // tracestate, passed on as is

  bool valid() const;               // non-zero ids
  std::string TraceId() const;      // 32 lower-case hex digits
  std::string SpanId() const;       // 16
  std::string Traceparent() const;  // "00-<trace id>-<span id>-<01|00>"
  // Parses a traceparent header (version 00, or a later one read as 00 as the spec says).
  static bool Parse(absl::string_view traceparent, SpanContext* out);
};

// A new span id; a new trace id. Never zero.
std::array<std::uint8_t, 8> NewSpanId();
std::array<std::uint8_t, 16> NewTraceId();

struct Options {
  // OTLP/HTTP traces endpoint, e.g. "http://127.0.0.1:4318/v1/traces" (a bare
  // host:port gets that path). Empty: tracing off.
  std::string endpoint;
  double sample_ratio = 1.0;      // for traces this process starts; callers' flags are followed
  std::size_t queue_size = 4096;  // spans waiting; beyond it they are dropped
  std::size_t batch_size = 512;
  std::chrono::milliseconds interval{1000};  // longest a span waits for its batch
  std::string service;                       // resource service.name
  std::string service_version;               // resource service.version
  std::string instance;                      // resource service.instance.id
};

// Starts (or restarts with new options) the process-wide exporter.
// InvalidArgument for an endpoint that is not http://host:port/path or a ratio outside [0, 1].
absl::Status Configure(const Options& options);
// Sends what is queued (waits at most `timeout`) and stops the exporter.
void Shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(2));
bool Enabled();

enum class Kind { kServer = 2, kClient = 3 };  // OTLP SpanKind values

// One finished span, as recorded.
struct Span {
  SpanContext context;
  std::array<std::uint8_t, 8> parent{};  // zero for a root span
  Kind kind = Kind::kServer;
  std::string name;  // the endpoint, "Greeter.Hello"
  std::chrono::system_clock::time_point start, end;
  std::vector<std::pair<std::string, std::string>> attributes;
  bool error = false;
  std::string message;  // status message when error
};

// Whether a trace this process starts now is sampled (the ratio).
bool SampleNew();
// Queues a finished span for export; drops it (and counts) when the queue is full.
void Record(Span span);

struct Stats {
  std::uint64_t exported = 0, dropped = 0, failed_batches = 0;
};
Stats GetStats();

}  // namespace micro::trace
