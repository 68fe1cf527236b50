// libFuzzer target for go-micro's wire form of a broker message, as the HTTP broker's endpoint
// and the NATS broker receive it: any bytes. A message that decodes must encode and decode back
// to the same headers and body; nothing else may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "micro/broker/broker.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto m = micro::broker::DecodeMessage(in);
  if (!m.ok()) {
    if (m.status().message().empty()) std::abort();  // every refusal says why
    return 0;
  }
  auto again = micro::broker::DecodeMessage(micro::broker::EncodeMessage(*m));
  if (!again.ok() || again->header != m->header || again->body != m->body) std::abort();
  return 0;
}
