// Internal: gRPC over HTTP/2 without the I/O, for the HTTP/2 transport (h2_transport.h): framing a
// request, the grpc-timeout header, and what a finished stream's headers, trailers and body mean.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace micro::internal {

// What the server sent on one stream.
struct GrpcAnswer {
  int http_status = 0;
  std::string grpc_status, grpc_message;  // from headers (trailers-only) or trailers
  std::string body;                       // gRPC-framed, as received
  bool too_big = false;                   // the body went past the caller's limit (and was dropped)
};

// The call's outcome for a stream the server ended normally: the status it sent (grpc-message
// percent-decoded), or one for an HTTP error, a missing grpc-status, an answer over `max_response`,
// a compressed, missing or malformed message. On OK, `message` is the answer, unframed.
grpc::Status Outcome(const GrpcAnswer& answer, std::size_t max_response, std::string* message);

// A stream the server reset, as gRPC maps HTTP/2 error codes.
grpc::Status FromReset(uint32_t http2_error);

// A message with gRPC's 5-byte prefix (uncompressed, 32-bit big-endian length).
std::string Frame(const std::string& message);

// The time left in gRPC's timeout format ("1234m", at most 8 digits), rounded up as gRPC does, so
// the server's deadline never falls before the caller's own.
std::string GrpcTimeout(std::chrono::steady_clock::duration left);

// Decodes gRPC's "grpc-message" (percent-encoded bytes outside 0x20-0x7e and '%'); a malformed
// escape is kept as it is.
std::string PercentDecode(const std::string& s);

}  // namespace micro::internal
