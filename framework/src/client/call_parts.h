// Internal: what the client puts around each call: the wire metadata, go-micro's errors for calls
// that end before a node answers, and the call's client span.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "micro/client/options.h"
#include "micro/errors.h"
#include "micro/trace.h"

namespace micro::client::detail {

using Metadata = std::vector<std::pair<std::string, std::string>>;

// The call's metadata as it goes on the wire: legal keys lower-cased (a traceparent of the caller's
// is left out: the call's span sends its own), the caller's content type as go-micro's
// x-content-type. The time left goes with each attempt.
Metadata WireMetadata(const CallOptions& opts, const std::string& content_type);
// go-micro's `timeout` metadata: the time left, in nanoseconds.
std::string TimeoutNanos(std::chrono::steady_clock::time_point deadline);
// The call ended because the call it was made for did (go-micro reports a done context as 408).
absl::Status CancelledError(absl::string_view service);
// A selector error as a go-micro error: 408 when the registry did not answer in time, else 503.
absl::Status SelectError(absl::string_view service, const absl::Status& s);

// The client span of one call: recorded when tracing is on and the trace is
// sampled; without a recorder the caller's trace context goes on unchanged.
struct ClientSpan {
  trace::SpanContext context, parent;
  bool record = false;
  std::chrono::system_clock::time_point start;

  // The parent: CallOptions::parent, else a traceparent the caller put in the metadata.
  static trace::SpanContext ParentOf(const CallOptions& o) {
    if (o.parent.valid() || o.metadata.empty()) return o.parent;
    trace::SpanContext p;
    for (const auto& [k, v] : o.metadata) {
      if (absl::EqualsIgnoreCase(k, "traceparent")) (void)trace::SpanContext::Parse(v, &p);
    }
    if (!p.valid()) return o.parent;
    for (const auto& [k, v] : o.metadata) {
      if (absl::EqualsIgnoreCase(k, "tracestate")) p.state = v;
    }
    return p;
  }

  static ClientSpan Begin(const CallOptions& o) {
    ClientSpan s;
    bool enabled = trace::Enabled();
    s.parent = ParentOf(o);
    if (s.parent.valid()) {
      s.context = s.parent;
      s.record = enabled && s.parent.sampled;
    } else if (enabled) {
      s.context.trace_id = trace::NewTraceId();
      s.context.sampled = trace::SampleNew();
      s.record = s.context.sampled;
    }
    if (s.record || (enabled && !s.parent.valid())) s.context.span_id = trace::NewSpanId();
    if (s.record) s.start = std::chrono::system_clock::now();
    return s;
  }

  void AddTo(Metadata* md) const {
    if (!context.valid()) return;
    md->emplace_back("traceparent", context.Traceparent());
    if (!context.state.empty()) md->emplace_back("tracestate", context.state);
  }

  void End(const CallOptions& o, absl::string_view service, absl::string_view endpoint,
           absl::string_view peer, const absl::Status& status) const {
    if (!record) return;
    trace::Span span;
    span.context = context;
    span.parent = parent.valid() ? parent.span_id : std::array<std::uint8_t, 8>{};
    span.kind = trace::Kind::kClient;
    span.name = std::string(endpoint);
    span.start = start;
    span.end = std::chrono::system_clock::now();
    span.attributes = {{"rpc.system", "go-micro"},
                       {"rpc.service", std::string(service)},
                       {"rpc.method", std::string(endpoint)}};
    if (!peer.empty()) span.attributes.emplace_back("net.peer.name", std::string(peer));
    if (!status.ok()) {
      Error e = errors::FromStatus(status);
      span.error = true;
      span.message = e.detail;
      span.attributes.emplace_back("micro.error.code", std::to_string(e.code));
      span.attributes.emplace_back("micro.error.id", e.id);
    }
    trace::Record(std::move(span));
  }
};

}  // namespace micro::client::detail
