// What a server calls: one handler per endpoint, and wrappers (middleware)
// around them. Generated code (protoc-gen-micro) builds these; services rarely
// touch them directly. Handlers run on the server's handler threads and may
// block (call other services, read files); they must be thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

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

  // The metadata value for a (case-insensitive) key, or "".
  absl::string_view Metadata(absl::string_view key) const;
};

using HandlerFn = std::function<absl::Status(Context& ctx, const google::protobuf::Message& request,
                                             google::protobuf::Message* response)>;

// Middleware: takes the next handler, returns one that wraps it.
using HandlerWrapper = std::function<HandlerFn(HandlerFn next)>;

// One endpoint: its proto method, message prototypes, and the handler.
struct Method {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  HandlerFn handler;
};

}  // namespace micro::server
