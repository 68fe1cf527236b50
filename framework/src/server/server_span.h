// Internal: the span of one server call.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "core/wire.h"
#include "micro/errors.h"
#include "micro/server/handler.h"
#include "micro/trace.h"

namespace micro::internal {

// A server call's span: continues the caller's trace (or starts one) when
// tracing is on; without it the caller's trace context passes through.
struct ServerSpan {
  bool record = false;
  std::array<std::uint8_t, 8> parent{};
  std::chrono::system_clock::time_point start;

  explicit ServerSpan(server::Context& ctx) {
    auto tp = ctx.metadata.find("traceparent");
    trace::SpanContext caller;
    bool has = tp != ctx.metadata.end() && trace::SpanContext::Parse(tp->second, &caller);
    if (has) {
      auto ts = ctx.metadata.find("tracestate");
      if (ts != ctx.metadata.end()) caller.state = ts->second;
    }
    bool enabled = trace::Enabled();
    ctx.span = caller;
    if (!enabled) return;
    if (has) {
      record = caller.sampled;
      parent = caller.span_id;
    } else {
      ctx.span.trace_id = trace::NewTraceId();
      ctx.span.sampled = record = trace::SampleNew();
    }
    ctx.span.span_id = trace::NewSpanId();
    if (record) start = std::chrono::system_clock::now();
  }

  // `call` gives the peer, asked for only when the span is recorded (it is a new string).
  void End(const server::Context& ctx, const grpc::ServerContextBase& call,
           const grpc::Status& status) const {
    if (!record) return;
    trace::Span span;
    span.context = ctx.span;
    span.parent = parent;
    span.kind = trace::Kind::kServer;
    span.name = ctx.endpoint;
    span.start = start;
    span.end = std::chrono::system_clock::now();
    span.attributes = {{"rpc.system", "go-micro"},
                       {"rpc.service", ctx.service},
                       {"rpc.method", ctx.endpoint},
                       {"net.peer.name", call.peer()}};
    if (!ctx.request_id.empty()) span.attributes.emplace_back("micro.request_id", ctx.request_id);
    if (!status.ok()) {
      Error e = errors::FromStatus(FromGrpcStatus(status), ctx.service);
      span.error = true;
      span.message = e.detail;
      span.attributes.emplace_back("micro.error.code", std::to_string(e.code));
      span.attributes.emplace_back("micro.error.id", e.id);
    }
    trace::Record(std::move(span));
  }
};

}  // namespace micro::internal
