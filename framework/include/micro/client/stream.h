// A streaming call from the client's side: Client::OpenStream returns one, bound to one node.
//
//   auto stream = client.OpenStream("greeter", "Greeter.Chat");
//   if (!stream.ok()) ...;
//   (*stream)->Send(request);  (*stream)->CloseSend();
//   helloworld::Response rsp;
//   absl::Status s;
//   while ((s = (*stream)->Recv(&rsp)).ok()) ...;
//   if (!micro::IsEndOfStream(s)) ... // the server's go-micro error, or the connection's
//
// Messages sent before the first one arrives are kept (up to 64 or 4 MiB): when the node fails
// before answering anything (connection refused, Unavailable) the stream moves to another node with
// them, within the call's retries and backoff. Once a message has arrived, a failure ends the
// stream. Sends queue up to a window of 16 messages; Send waits beyond it for the server to read.
// Thread-safe: one Send and one Recv may run at once. Destroying an open stream cancels it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "micro/stream.h"

namespace google::protobuf {
class Message;
}

namespace micro::client {

namespace detail {
class StreamState;
}

class Stream {
 public:
  explicit Stream(std::shared_ptr<detail::StreamState> state);  // made by Client::OpenStream
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Queues a message; waits while the send window is full. The stream's end status once it ended.
  absl::Status Send(const google::protobuf::Message& message);
  // The next message; micro::EndOfStream() when the server finished with OK; its error otherwise.
  absl::Status Recv(google::protobuf::Message* message);
  // No more messages from this side (the server's Recv sees the end). Does not wait.
  void CloseSend();
  // Cancels the stream if it is still open: the server sees it cancelled. Does not wait.
  void Close();

  // The same with bytes in the call's content type (JSON text for application/grpc+json).
  absl::Status SendRaw(std::string message);
  absl::Status RecvRaw(std::string* message);
  // For event loops: `done` runs once, on a gRPC thread or at once on this one; at most one
  // of each outstanding. SendRawAsync's `done` runs when the message is queued (the window had
  // room), so waiting for it before the next one keeps memory bounded.
  void SendRawAsync(std::string message, std::function<void(absl::Status)> done);
  void RecvRawAsync(std::function<void(absl::StatusOr<std::string>)> done);

  // Typed forms of the same: `message` must live until `done` runs.
  void SendAsync(const google::protobuf::Message& message, std::function<void(absl::Status)> done);
  void RecvAsync(google::protobuf::Message* message, std::function<void(absl::Status)> done);

  // The node's address (the one it moved to, after a retry).
  std::string peer() const;

 private:
  std::shared_ptr<detail::StreamState> state_;
};

// Typed handles protoc-gen-micro returns, by the method's kind. Each owns its Stream (movable;
// destroying an open one cancels it); blocking and thread rules are the Stream's: Send and Recv
// block, one of each may run at once, the Async forms never block.

// A server-streaming call: the request went with the opening; read the answers.
template <typename Out>
class ClientReader {
 public:
  explicit ClientReader(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
  absl::Status Recv(Out* message) { return stream_->Recv(message); }
  void RecvAsync(Out* message, std::function<void(absl::Status)> done) {
    stream_->RecvAsync(message, std::move(done));
  }
  void Close() { stream_->Close(); }
  Stream& stream() { return *stream_; }

 private:
  std::unique_ptr<Stream> stream_;
};

// A client-streaming call: send the requests, then CloseAndRecv the one answer.
template <typename In, typename Out>
class ClientWriter {
 public:
  explicit ClientWriter(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
  absl::Status Send(const In& message) { return stream_->Send(message); }
  absl::Status CloseAndRecv(Out* response) {
    stream_->CloseSend();
    return stream_->Recv(response);
  }
  void Close() { stream_->Close(); }
  Stream& stream() { return *stream_; }

 private:
  std::unique_ptr<Stream> stream_;
};

// A bidirectional call: Send and Recv in any order (one of each at a time), CloseSend when done.
template <typename In, typename Out>
class ClientReaderWriter {
 public:
  explicit ClientReaderWriter(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
  absl::Status Send(const In& message) { return stream_->Send(message); }
  absl::Status Recv(Out* message) { return stream_->Recv(message); }
  void SendAsync(const In& message, std::function<void(absl::Status)> done) {
    stream_->SendAsync(message, std::move(done));
  }
  void RecvAsync(Out* message, std::function<void(absl::Status)> done) {
    stream_->RecvAsync(message, std::move(done));
  }
  void CloseSend() { stream_->CloseSend(); }
  void Close() { stream_->Close(); }
  Stream& stream() { return *stream_; }

 private:
  std::unique_ptr<Stream> stream_;
};

}  // namespace micro::client
