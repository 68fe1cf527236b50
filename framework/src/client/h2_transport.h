// Internal: unary gRPC calls over our own HTTP/2 client (libnghttp2 on Boost.Asio), for calls whose
// body is not protobuf.
//
// Why it exists: a go-micro gRPC server picks the codec from the HTTP/2 `content-type` header and
// grpc-go decodes the body by it, so a JSON body must travel as `content-type:
// application/grpc+json`. gRPC C++ 1.51 always writes `application/grpc`, whatever the caller
// asks for. This transport writes the content type it is given, speaks gRPC's framing,
// `grpc-timeout`, trailers and statuses, and keeps one multiplexed connection per address (idle
// ones close after `idle_ttl`). Protobuf calls keep using gRPC C++ channels.
//
// Thread-safe. Call never blocks: `done` runs on the transport's own thread, exactly once, and
// must not block long. Destroying the transport ends the calls still open with CANCELLED.
#pragma once

#include <grpcpp/support/status.h>

#include "micro/cancel.h"
#include "micro/tls.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace micro::internal {

struct H2Call {
  std::string address;       // host:port of the node
  std::string path;          // "/helloworld.Greeter/Hello"
  std::string content_type;  // written as the HTTP/2 content-type, e.g. "application/grpc+json"
  std::vector<std::pair<std::string, std::string>> metadata;  // lower-case keys, legal values
  std::string message;                                        // the request, unframed
  std::chrono::steady_clock::time_point deadline;
  std::size_t max_response = 4 << 20;  // gRPC's default receive limit
  // When it is cancelled the stream is reset and the call ends with CANCELLED.
  std::shared_ptr<Cancellation> cancel;
  bool tls = false;  // over TLS, with the transport's tls::Options
};

class H2Transport {
 public:
  using Done = std::function<void(const grpc::Status& status, std::string message)>;

  // `tls`: how TLS connections are made (calls ask for TLS with H2Call::tls).
  explicit H2Transport(std::chrono::milliseconds idle_ttl, const tls::Options& tls = {});
  ~H2Transport();
  H2Transport(const H2Transport&) = delete;
  H2Transport& operator=(const H2Transport&) = delete;

  void Call(H2Call call, Done done);
  // Open connections (for tests); blocks until the transport's thread answers.
  std::size_t connections();

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread thread_;
};

// For the fuzz target (tests/fuzz/h2_fuzz.cc): one JSON call on a connection with no socket, fed
// `answer` as all the server sent, then closed. Returns how the call ended; aborts if it did not
// end exactly once.
grpc::Status H2ReplayAnswer(const uint8_t* answer, std::size_t size);

}  // namespace micro::internal
