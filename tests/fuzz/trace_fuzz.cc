// libFuzzer target for the trace context a caller sends: any bytes as a
// `traceparent` value. A value that parses must print back as a version-00
// traceparent that parses to the same context; nothing else may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "micro/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  micro::trace::SpanContext c;
  if (!micro::trace::SpanContext::Parse(in, &c)) return 0;
  if (!c.valid()) std::abort();
  micro::trace::SpanContext again;
  if (!micro::trace::SpanContext::Parse(c.Traceparent(), &again)) std::abort();
  if (again.trace_id != c.trace_id || again.span_id != c.span_id || again.sampled != c.sampled)
    std::abort();
  if (c.Traceparent().size() != 55) std::abort();
  return 0;
}
