// Internal: the gRPC side of go-micro's wire format, shared by server and client.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "micro/registry/service.h"

namespace google::protobuf {
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace micro::internal {

enum class Codec { kProto, kJson };

inline constexpr char kContentTypeProto[] = "application/grpc+proto";
inline constexpr char kContentTypeJson[] = "application/grpc+json";

// Codec for a content type; InvalidArgument for one we do not speak.
absl::Status CodecFor(absl::string_view content_type, Codec* codec);

// Message <-> bytes. Decode errors are InvalidArgument with a message.
absl::Status Encode(const google::protobuf::Message& m, Codec codec, grpc::ByteBuffer* out);
absl::Status Decode(grpc::ByteBuffer* in, Codec codec, google::protobuf::Message* m);
absl::Status EncodeJson(const google::protobuf::Message& m, std::string* out);
absl::Status DecodeJson(absl::string_view json, google::protobuf::Message* m);
// JSON text <-> bytes, for callers that carry JSON without a schema.
grpc::ByteBuffer BytesOf(absl::string_view data);
std::string StringOf(const grpc::ByteBuffer& buffer);

// A handler's status as go-micro sends it: gRPC code mapped from the error
// code, message = error JSON (id defaults to `service`).
grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view service);
// What a client reports for a call's gRPC status: the go-micro error it carries
// (see micro/errors.h), or one built with id "go.micro.client".
absl::Status FromGrpcStatus(const grpc::Status& status);

// True for a status that says "this node cannot serve this call" rather than "the call failed":
// an Unimplemented from the gRPC layer (not a handler's go-micro error), or a body the node could
// not decode by its content type (grpc-go's "failed to unmarshal", go-micro's unsupported
// content type). Another node may serve it.
bool NodeCannotServe(const grpc::Status& status);

// "Greeter.Hello" from a path "/<anything>.Greeter/Hello"; false if malformed.
bool EndpointFromPath(absl::string_view path, std::string* endpoint);
// "/<service>.Greeter/Hello" for endpoint "Greeter.Hello", as go-micro's client calls it.
std::string PathFor(absl::string_view service, absl::string_view endpoint);

// The registry endpoint for a proto method (request/response shapes, stream metadata).
registry::Endpoint EndpointFor(const google::protobuf::MethodDescriptor& method);

}  // namespace micro::internal
