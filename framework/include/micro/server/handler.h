// What a server calls: one handler per endpoint, and wrappers (middleware)
// around them. Generated code (protoc-gen-micro) builds these; services rarely
// touch them directly. Handlers run on the server's handler threads and may
// block (call other services, read files); they must be thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "micro/cancel.h"
#include "micro/stream.h"
#include "micro/trace.h"

namespace google::protobuf {
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace micro::server {

// One incoming call, as the handler sees it.
struct Context {
  std::string service;       // the registered service name
  std::string endpoint;      // "Greeter.Hello"
  std::string content_type;  // "application/grpc+proto" or "application/grpc+json"
  std::map<std::string, std::string> metadata;  // lower-case keys
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
  // Cancelled when the caller cancels, the deadline passes or the server stops
  // the call; calls made with client::FromContext(ctx) end with it.
  std::shared_ptr<Cancellation> cancel;
  trace::SpanContext span;  // this call's span (its trace goes on to calls made for it)
  std::string request_id;   // the x-request-id metadata, or ""

  // The metadata value for a (case-insensitive) key, or "".
  absl::string_view Metadata(absl::string_view key) const;
  bool cancelled() const { return cancel != nullptr && cancel->cancelled(); }
};

using HandlerFn = std::function<absl::Status(Context& ctx, const google::protobuf::Message& request,
                                             google::protobuf::Message* response)>;

// Middleware: takes the next handler, returns one that wraps it.
using HandlerWrapper = std::function<HandlerFn(HandlerFn next)>;

// A subscriber of a broker topic (micro/event.h): `ctx` says where the message came from
// (endpoint: the topic; metadata: the message's headers, lower-case keys, Content-Type aside;
// span: its trace), `message` is decoded by its Content-Type. An error is logged and counted;
// the message is not redelivered (at most once).
using SubscriberFn =
    std::function<absl::Status(Context& ctx, const google::protobuf::Message& message)>;
// Middleware around subscribers, as HandlerWrapper is around handlers.
using SubscriberWrapper = std::function<SubscriberFn(SubscriberFn next)>;

struct SubscriberOptions {
  // Subscribers sharing a queue name share the topic: each message goes to one of them (one
  // node of a service, typically). Empty: every subscriber gets every message.
  std::string queue;
};

// One open stream, as its handler sees it. Recv and Send block; they are for the handler's own
// thread (one Recv and one Send may run at once, from two threads, for a bidirectional stream).
class ServerStream {
 public:
  virtual ~ServerStream() = default;
  // The next message from the client; micro::EndOfStream() once it closed its sending half;
  // CANCELLED / DEADLINE_EXCEEDED once the stream ended (ctx.cancelled() is then true), or
  // InvalidArgument for a message that does not decode.
  virtual absl::Status Recv(google::protobuf::Message* message) = 0;
  // Queues a message to the client. Waits while the stream's send window is full (a slow
  // reader slows its writer: memory stays bounded); an error once the stream ended.
  virtual absl::Status Send(const google::protobuf::Message& message) = 0;
};

// A streaming endpoint's handler. It runs on a thread of its own for as long as the stream is
// open; returning ends the stream with that status (a go-micro error reaches the client as one,
// after the messages already sent).
using StreamHandlerFn = std::function<absl::Status(Context& ctx, ServerStream& stream)>;
// Middleware around streaming handlers, as HandlerWrapper is around unary ones.
using StreamWrapper = std::function<StreamHandlerFn(StreamHandlerFn next)>;

// One endpoint: its proto method, message prototypes, and the handler: `handler` for a unary
// method, `stream` for one that streams either way (client, server or bidirectional).
struct Method {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  HandlerFn handler;
  StreamHandlerFn stream;
};

}  // namespace micro::server
