// Internal: streaming calls on the client's side. The client (StreamHost) picks nodes, keeps
// channels and times retries; StreamState is one stream across its attempts (one per node tried).
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/call_parts.h"
#include "client/pool.h"
#include "micro/client/options.h"
#include "micro/client/stream.h"
#include "micro/metrics.h"
#include "micro/selector/selector.h"

namespace micro::client::detail {

struct StreamSetup;

// The client, as its streams see it.
class StreamHost {
 public:
  virtual ~StreamHost() = default;
  // How a stream to service/endpoint starts; InvalidArgument for a content type we do not speak.
  virtual absl::Status Setup(absl::string_view service, absl::string_view endpoint,
                             const CallOptions& options, StreamSetup* setup) = 0;
  virtual selector::Selector& selector() = 0;
  // Finding nodes waits no longer than a call would.
  virtual std::chrono::steady_clock::time_point SelectDeadline(const StreamSetup& setup) const = 0;
  // The next node of `next` this client can reach (see micro/tls.h) and its channel; null when none
  // is left. `node` and `tls` say which and how.
  virtual std::shared_ptr<internal::ChannelPool::Conn> Connect(selector::Next& next,
                                                               std::vector<std::string>* tried,
                                                               registry::Node* node, bool* tls) = 0;
  virtual bool Retryable(const grpc::Status& status) const = 0;
  virtual std::chrono::milliseconds RetryWait(const selector::Next& next, const std::string& node,
                                              std::vector<std::string>* tried, int* rounds) = 0;
  virtual void After(std::chrono::milliseconds wait, std::function<void()> fn) = 0;
  // The error when no node of `service` is reachable, and a TLS failure's words.
  virtual absl::Status Unreachable(const std::string& service) const = 0;
  virtual grpc::Status Hint(const grpc::Status& status, bool tls) const = 0;
};

// What a stream is opened with.
struct StreamSetup {
  std::string service, endpoint;
  CallOptions options;
  bool json = false;                               // the call's codec
  Metadata metadata;                               // wire metadata (content type, trace, caller's)
  std::chrono::steady_clock::time_point deadline;  // max() = none
  int retries = 0;
  int window = 16;  // messages queued before Send waits
  metrics::CallStats* stats = nullptr;
};

// Starts a stream on a node of `next`; the stream's own errors come through it.
std::shared_ptr<StreamState> StartStream(std::shared_ptr<StreamHost> host, StreamSetup setup,
                                         selector::Next next);

}  // namespace micro::client::detail
