// Typed views of a ServerStream for handlers protoc-gen-micro generates, by the method's kind:
// a server-streaming handler gets a ServerWriter (its one request already read), a
// client-streaming one a ServerReader (its answer sent when it returns OK), a bidirectional one a
// ServerReaderWriter. Recv answers micro::EndOfStream() once the client closed its side. They
// borrow the handler's ServerStream (valid while the handler runs) and block as it does.
#pragma once

#include "micro/server/handler.h"

namespace micro::server {

template <typename Out>
class ServerWriter {
 public:
  explicit ServerWriter(ServerStream& stream) : stream_(stream) {}
  absl::Status Send(const Out& message) { return stream_.Send(message); }

 private:
  ServerStream& stream_;
};

template <typename In>
class ServerReader {
 public:
  explicit ServerReader(ServerStream& stream) : stream_(stream) {}
  absl::Status Recv(In* message) { return stream_.Recv(message); }

 private:
  ServerStream& stream_;
};

template <typename In, typename Out>
class ServerReaderWriter {
 public:
  explicit ServerReaderWriter(ServerStream& stream) : stream_(stream) {}
  absl::Status Recv(In* message) { return stream_.Recv(message); }
  absl::Status Send(const Out& message) { return stream_.Send(message); }

 private:
  ServerStream& stream_;
};

}  // namespace micro::server
