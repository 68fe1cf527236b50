// The HTTP broker's subscriber endpoint: where publishers POST go-micro's JSON message
// (POST /?id=<subscriber node id>, Content-Type application/json), as go-micro v4's
// broker/http.go serves it. HTTP/1.1 with keep-alive over Boost.Beast, one thread.
//
// Answers: 200 once the message is handed to its subscriber; 405 for another method (Allow:
// POST); 413 for a body over the limit; 400 for a body that is not a message or has no
// Micro-Topic header; 404 for an id no subscriber of that topic holds; 503 when the
// subscriber's queue is full (the message is dropped). Error bodies are go-micro error JSON
// with id "go.micro.broker".
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "micro/broker/broker.h"

namespace micro::httpbroker {

class Endpoint {
 public:
  // Takes a decoded message for subscriber `id`: OK, or NotFound (no such subscriber of the
  // message's topic) or ResourceExhausted (queue full), whose messages go back to the publisher.
  using Deliver = std::function<absl::Status(const std::string& id, broker::Message message)>;

  Endpoint(std::size_t max_body, Deliver deliver);
  ~Endpoint();  // stops
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Listens on host:port ("" or 0.0.0.0: every interface; port 0: any).
  absl::Status Start(absl::string_view address);
  void Stop();
  std::string address() const;  // host:port it listens on (the host as given)

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// The answer for a request, without the network: what Endpoint sends for `method`, `target`
// and `body` (exposed for tests and the fuzzer).
struct Answer {
  int status = 200;
  std::string body;  // empty on 200, else go-micro error JSON
};
Answer Handle(absl::string_view method, absl::string_view target, absl::string_view body,
              const Endpoint::Deliver& deliver);

}  // namespace micro::httpbroker
