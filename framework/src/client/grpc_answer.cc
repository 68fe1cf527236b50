#include "client/grpc_answer.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace micro::internal {

namespace {

// An answer that is not HTTP 200, as gRPC maps HTTP statuses.
grpc::Status FromHttpStatus(int status) {
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  switch (status) {
    case 400:
      code = grpc::StatusCode::INTERNAL;
      break;
    case 401:
      code = grpc::StatusCode::UNAUTHENTICATED;
      break;
    case 403:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case 404:
      code = grpc::StatusCode::UNIMPLEMENTED;
      break;
    case 429:
    case 502:
    case 503:
    case 504:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
  }
  return grpc::Status(code, absl::StrCat("HTTP status ", status, " instead of gRPC's 200"));
}

}  // namespace

grpc::Status FromReset(uint32_t error) {
  switch (error) {
    case NGHTTP2_REFUSED_STREAM:
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream refused by the server");
    case NGHTTP2_CANCEL:
      return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled by the server");
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server says: enhance your calm");
    case NGHTTP2_INADEQUATE_SECURITY:
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "inadequate security");
    default:
      return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("stream reset by the server: ",
                                                                   nghttp2_http2_strerror(error)));
  }
}

std::string GrpcTimeout(std::chrono::steady_clock::duration left) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  if (ms < 1) ms = 1;
  if (ms < 100000000) return absl::StrCat(ms, "m");
  return absl::StrCat(std::min<long long>(ms / 1000, 99999999), "S");
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string Frame(const std::string& message) {
  uint32_t n = static_cast<uint32_t>(message.size());
  std::string out;
  out.reserve(message.size() + 5);
  out.push_back(0);
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(message);
  return out;
}

grpc::Status Outcome(const GrpcAnswer& a, std::size_t max_response, std::string* message) {
  if (a.http_status != 200 && a.grpc_status.empty()) return FromHttpStatus(a.http_status);
  int code = 0;
  if (a.grpc_status.empty() || !absl::SimpleAtoi(a.grpc_status, &code) || code < 0 || code > 16) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the server ended the stream without a grpc-status");
  }
  if (code != 0)
    return grpc::Status(static_cast<grpc::StatusCode>(code), PercentDecode(a.grpc_message));
  if (a.too_big) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("answer larger than the ", max_response, " bytes allowed"));
  }
  const std::string& body = a.body;
  if (body.size() < 5) return grpc::Status(grpc::StatusCode::INTERNAL, "the answer has no message");
  if (body[0] != 0) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the answer is compressed, which was not asked for");
  }
  uint32_t n = (uint32_t(uint8_t(body[1])) << 24) | (uint32_t(uint8_t(body[2])) << 16) |
               (uint32_t(uint8_t(body[3])) << 8) | uint32_t(uint8_t(body[4]));
  if (body.size() != 5 + std::size_t(n)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "the answer is not exactly one gRPC message");
  }
  *message = body.substr(5);
  return grpc::Status::OK;
}

}  // namespace micro::internal
