// Internal: what the server's unary and streaming calls share: the endpoint table's entries, the
// handler's Context built from the gRPC call, and the streaming calls' reactor.
#pragma once

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "micro/cancel.h"
#include "micro/metrics.h"
#include "micro/server/handler.h"
#include "server/placement.h"

namespace micro::server::detail {

struct Endpoint {
  Method method;
  HandlerFn wrapped;       // method.handler inside the server's wrappers (unary)
  StreamHandlerFn stream;  // method.stream inside the stream wrappers (streaming)
  metrics::CallStats* stats = nullptr;
  std::shared_ptr<Placement> placement;  // unary: where the handler runs
  bool streaming() const {
    return method.descriptor != nullptr &&
           (method.descriptor->client_streaming() || method.descriptor->server_streaming());
  }
};

// The handler's view of `call`: service, endpoint, metadata (lower-case keys), the deadline
// (gRPC's, else go-micro's `timeout` metadata), request id and cancellation. The span is set by
// ServerSpan.
void FillContext(const grpc::ServerContextBase& call, const std::string& service,
                 const Endpoint& ep, std::shared_ptr<Cancellation> cancel, Context* ctx);

// Counts the streaming calls open on a server: each holds a thread while its handler runs.
class StreamThreads {
 public:
  explicit StreamThreads(int max) : max_(max) {}
  bool Acquire();
  void Release();
  void WaitIdle();  // until every stream's thread has let go
  int open();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int open_ = 0;
  const int max_;
};

struct StreamSettings {
  std::string service;  // the registered name (go-micro errors' id)
  int send_window = 16;
  std::shared_ptr<StreamThreads> threads;
};

// A reactor for one streaming call to `ep`, its handler started on a thread of its own (or the
// call refused with RESOURCE_EXHAUSTED when the server has max_open_streams open). gRPC deletes it.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewStreamCall(
    grpc::CallbackServerContext* call, const Endpoint& ep, const StreamSettings& settings);

}  // namespace micro::server::detail
