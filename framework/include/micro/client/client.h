// Client: calls endpoints of services by name.
//
//   micro::client::Client client({registry});
//   helloworld::Request req; helloworld::Response rsp;
//   absl::Status s = client.Call("helloworld", "Greeter.Hello", req, &rsp);
//
// Each attempt picks a node through the selector and marks the outcome on it.
// Connection failures, Unavailable and server-side Cancelled are retried on the next node after a
// backoff, up to `retries` times and within the call's timeout; a timeout is
// retried only with retry_on_timeout. Other errors come back at once, as the
// go-micro error the server sent (micro::errors::FromStatus recovers it).
// Thread-safe; Call blocks, CallAsync does not.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/client/options.h"
#include "micro/client/stream.h"

namespace micro::server {
struct Context;
}

namespace micro::client {

namespace detail {
class StreamHost;
}

// The options for a call made while serving `ctx`, as go-micro passes its
// context on: the incoming metadata (x-request-id, authorization, ...; keys in
// `options.metadata` win), the deadline (the earlier of the incoming one and
// options.timeout), cancellation with the incoming call, and the trace.
CallOptions FromContext(const server::Context& ctx, CallOptions options = {});

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::Status Call(absl::string_view service, absl::string_view endpoint,
                    const google::protobuf::Message& request, google::protobuf::Message* response,
                    const CallOptions& options = {});

  // `response` must live until `done` runs; `done` runs on a client thread and must not block long.
  void CallAsync(absl::string_view service, absl::string_view endpoint,
                 const google::protobuf::Message& request, google::protobuf::Message* response,
                 std::function<void(absl::Status)> done, const CallOptions& options = {});

  // Sends raw bytes of `content_type` (JSON for a schema-less gateway) and returns the raw answer.
  void CallRawAsync(absl::string_view service, absl::string_view endpoint, std::string body,
                    std::function<void(absl::StatusOr<std::string>)> done,
                    const CallOptions& options = {});

  // Opens a stream to `endpoint` (any kind: client, server or bidirectional streaming) on one node
  // of `service`; see micro/client/stream.h. Fails at once when no node can be selected; a node
  // that then fails is reported by Recv/Send (or the stream moves on, before the first answer).
  // The stream has no deadline unless options (timeout, deadline) or ClientOptions::stream_timeout
  // give one.
  absl::StatusOr<std::unique_ptr<Stream>> OpenStream(absl::string_view service,
                                                     absl::string_view endpoint,
                                                     const CallOptions& options = {});
  // The same without waiting for the registry: `done` runs once, on a client thread or at once.
  void OpenStreamAsync(absl::string_view service, absl::string_view endpoint,
                       std::function<void(absl::StatusOr<std::unique_ptr<Stream>>)> done,
                       const CallOptions& options = {});

  selector::Selector& selector();
  const ClientOptions& options() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<detail::StreamHost> streams_;  // impl_, as streams see it
};

}  // namespace micro::client
