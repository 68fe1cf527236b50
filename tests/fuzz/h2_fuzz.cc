// libFuzzer target: what a server sends back on the HTTP/2 connection of a JSON call (frames,
// HPACK headers, trailers, gRPC framing), fed to the client's session. Every input must end the
// call exactly once (H2ReplayAnswer aborts otherwise) and never crash or leak.
// Seeds: answers of a real gRPC server (tests/fuzz/corpus/h2).
#include <cstddef>
#include <cstdint>

#include "client/h2_transport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  micro::internal::H2ReplayAnswer(data, size);
  return 0;
}
