#include "core/wire.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "micro/errors.h"

namespace micro::internal {
namespace {

namespace pb = google::protobuf;

const char* ScalarType(const pb::FieldDescriptor& f) {
  switch (f.type()) {
    case pb::FieldDescriptor::TYPE_DOUBLE:
      return "float64";
    case pb::FieldDescriptor::TYPE_FLOAT:
      return "float32";
    case pb::FieldDescriptor::TYPE_INT64:
    case pb::FieldDescriptor::TYPE_SINT64:
    case pb::FieldDescriptor::TYPE_SFIXED64:
      return "int64";
    case pb::FieldDescriptor::TYPE_UINT64:
    case pb::FieldDescriptor::TYPE_FIXED64:
      return "uint64";
    case pb::FieldDescriptor::TYPE_INT32:
    case pb::FieldDescriptor::TYPE_SINT32:
    case pb::FieldDescriptor::TYPE_SFIXED32:
      return "int32";
    case pb::FieldDescriptor::TYPE_UINT32:
    case pb::FieldDescriptor::TYPE_FIXED32:
      return "uint32";
    case pb::FieldDescriptor::TYPE_BOOL:
      return "bool";
    case pb::FieldDescriptor::TYPE_STRING:
      return "string";
    case pb::FieldDescriptor::TYPE_BYTES:
      return "[]uint8";
    case pb::FieldDescriptor::TYPE_ENUM:
      return "int32";
    default:
      return "";
  }
}

// go-micro describes a message three levels deep: its fields, and theirs.
registry::Value ValueOf(const std::string& name, const pb::Descriptor& d, int depth) {
  registry::Value v{name, d.name(), {}};
  if (depth >= 3) return v;
  for (int i = 0; i < d.field_count(); ++i) {
    const pb::FieldDescriptor& f = *d.field(i);
    std::string prefix = f.is_repeated() ? "[]" : "";
    if (f.type() == pb::FieldDescriptor::TYPE_MESSAGE ||
        f.type() == pb::FieldDescriptor::TYPE_GROUP) {
      registry::Value child = ValueOf(f.json_name(), *f.message_type(), depth + 1);
      child.type = prefix + child.type;
      v.values.push_back(std::move(child));
    } else {
      v.values.push_back(registry::Value{f.json_name(), prefix + ScalarType(f), {}});
    }
  }
  return v;
}

}  // namespace

absl::Status CodecFor(absl::string_view content_type, Codec* codec) {
  std::string ct = absl::AsciiStrToLower(absl::StripAsciiWhitespace(content_type));
  if (ct.empty() || ct == "application/grpc" || ct == kContentTypeProto ||
      ct == "application/protobuf" || ct == "application/x-protobuf") {
    *codec = Codec::kProto;
  } else if (ct == kContentTypeJson || ct == "application/json") {
    *codec = Codec::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported content type \"", content_type,
                     "\" (use application/grpc+proto or application/grpc+json)"));
  }
  return absl::OkStatus();
}

grpc::ByteBuffer BytesOf(absl::string_view data) {
  grpc::Slice slice(data.data(), data.size());
  return grpc::ByteBuffer(&slice, 1);
}

std::string StringOf(const grpc::ByteBuffer& buffer) {
  std::string out;
  out.reserve(buffer.Length());
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

absl::Status Encode(const pb::Message& m, Codec codec, grpc::ByteBuffer* out) {
  if (codec == Codec::kProto) {
    bool own = false;
    grpc::Status s = grpc::SerializationTraits<pb::Message>::Serialize(m, out, &own);
    if (!s.ok())
      return absl::InternalError(absl::StrCat("encode ", m.GetTypeName(), ": ", s.error_message()));
    return absl::OkStatus();
  }
  std::string json;
  if (absl::Status s = EncodeJson(m, &json); !s.ok()) return s;
  *out = BytesOf(json);
  return absl::OkStatus();
}

absl::Status EncodeJson(const pb::Message& m, std::string* out) {
  pb::util::JsonPrintOptions opts;
  auto st = pb::util::MessageToJsonString(m, out, opts);
  if (!st.ok()) {
    return absl::InternalError(
        absl::StrCat("encode ", m.GetTypeName(), " as JSON: ", st.message().as_string()));
  }
  return absl::OkStatus();
}

absl::Status DecodeJson(absl::string_view json, pb::Message* m) {
  pb::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  auto st = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), m, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON for ", m->GetTypeName(), ": ", st.message().as_string()));
  }
  return absl::OkStatus();
}

absl::Status Decode(grpc::ByteBuffer* in, Codec codec, pb::Message* m) {
  if (codec == Codec::kProto) {
    grpc::Status s = grpc::SerializationTraits<pb::Message>::Deserialize(in, m);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed protobuf ", m->GetTypeName(), ": ", s.error_message()));
    }
    return absl::OkStatus();
  }
  return DecodeJson(StringOf(*in), m);
}

grpc::Status ToGrpcStatus(const absl::Status& status, absl::string_view service) {
  if (status.ok()) return grpc::Status::OK;
  Error e = errors::FromStatus(status, service);
  return grpc::Status(static_cast<grpc::StatusCode>(errors::CodeFromHttp(e.code)), e.ToJson());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  Error e;
  if (!e.ParseJson(status.error_message())) {
    e.id = "go.micro.client";
    e.code = errors::HttpFromCode(static_cast<absl::StatusCode>(status.error_code()));
    e.detail = status.error_message();
    e.status = errors::HttpStatusText(e.code);
  }
  // Keep gRPC's own code: it tells retries apart (Unavailable vs a 503 from a handler is the same).
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), e.detail);
  absl::Status carried = errors::ToStatus(e);
  carried.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

bool NodeCannotServe(const grpc::Status& status) {
  const std::string m = status.error_message();  // returned by value
  switch (status.error_code()) {
    case grpc::StatusCode::UNIMPLEMENTED: {
      Error e;
      return !e.ParseJson(m);  // the node's gRPC server, not a handler, knows no such method
    }
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      // grpc-go could not decode the body by its content type; go-micro has no codec for it.
      return absl::StrContains(m, "failed to unmarshal") ||
             absl::StrContains(m, "error unmarshalling") ||
             absl::StrContains(m, "Unsupported Content-Type");
    default:
      return false;
  }
}

bool EndpointFromPath(absl::string_view path, std::string* endpoint) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  std::size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos || slash + 1 == path.size()) return false;
  absl::string_view method = path.substr(slash + 1);
  absl::string_view service = path.substr(0, slash);
  std::size_t dot = service.rfind('.');
  if (dot != absl::string_view::npos) service.remove_prefix(dot + 1);
  if (service.empty()) return false;
  *endpoint = absl::StrCat(service, ".", method);
  return true;
}

std::string PathFor(absl::string_view service, absl::string_view endpoint) {
  std::string path = absl::StrCat("/", service, ".", endpoint);
  std::size_t dot = path.rfind('.');
  path[dot] = '/';
  return path;
}

registry::Endpoint EndpointFor(const pb::MethodDescriptor& method) {
  registry::Endpoint e;
  e.name = absl::StrCat(method.service()->name(), ".", method.name());
  e.request = ValueOf(method.input_type()->name(), *method.input_type(), 0);
  e.response = ValueOf(method.output_type()->name(), *method.output_type(), 0);
  if (method.client_streaming() || method.server_streaming()) e.metadata["stream"] = "true";
  return e;
}

}  // namespace micro::internal
