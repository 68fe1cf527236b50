#include "micro/errors.h"

#include <nlohmann/json.hpp>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "micro/plugin/json.h"

namespace micro {
namespace {

constexpr char kErrorPayloadUrl[] = "type.micro/micro.Error";

}  // namespace

std::string Error::ToJson() const {
  std::string out = "{";
  auto field = [&](const char* name) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, "\"", name, "\":");
  };
  if (!id.empty()) {
    field("id");
    plugin::AppendString(&out, id);
  }
  if (code != 0) {
    field("code");
    absl::StrAppend(&out, code);
  }
  if (!detail.empty()) {
    field("detail");
    plugin::AppendString(&out, detail);
  }
  if (!status.empty()) {
    field("status");
    plugin::AppendString(&out, status);
  }
  out.push_back('}');
  return out;
}

bool Error::ParseJson(absl::string_view text) {
  if (text.empty() || text.front() != '{') return false;
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!j.is_object()) return false;
  Error e;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "id" && it->is_string()) {
      e.id = it->get<std::string>();
    } else if (k == "code" && it->is_number_integer()) {
      e.code = it->get<std::int32_t>();
    } else if (k == "detail" && it->is_string()) {
      e.detail = it->get<std::string>();
    } else if (k == "status" && it->is_string()) {
      e.status = it->get<std::string>();
    } else if (!it->is_null()) {
      return false;  // not go-micro's error shape
    }
  }
  // go-micro's errors.Parse accepts any JSON; a usable error needs a code or a detail.
  if (e.code == 0 && e.detail.empty()) return false;
  *this = std::move(e);
  return true;
}

namespace errors {

absl::StatusCode CodeFromHttp(std::int32_t http_code) {
  switch (http_code) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
      return absl::StatusCode::kDeadlineExceeded;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 500:
      return absl::StatusCode::kInternal;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kUnknown;
  }
}

std::int32_t HttpFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kDeadlineExceeded:
      return 408;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 412;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

const char* HttpStatusText(std::int32_t http_code) {
  switch (http_code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Request Entity Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

absl::Status ToStatus(const Error& e) {
  absl::Status s(CodeFromHttp(e.code), e.detail);
  s.SetPayload(kErrorPayloadUrl, absl::Cord(e.ToJson()));
  return s;
}

Error FromStatus(const absl::Status& status, absl::string_view default_id) {
  Error e;
  if (auto payload = status.GetPayload(kErrorPayloadUrl);
      payload.has_value() && e.ParseJson(std::string(*payload))) {
    return e;
  }
  if (e.ParseJson(status.message())) return e;
  e.id = std::string(default_id);
  e.code = HttpFromCode(status.code());
  e.detail = std::string(status.message());
  e.status = HttpStatusText(e.code);
  return e;
}

absl::Status New(absl::string_view id, absl::string_view detail, std::int32_t code) {
  return ToStatus(Error{std::string(id), code, std::string(detail), HttpStatusText(code)});
}

absl::Status BadRequest(absl::string_view id, absl::string_view d) { return New(id, d, 400); }
absl::Status Unauthorized(absl::string_view id, absl::string_view d) { return New(id, d, 401); }
absl::Status Forbidden(absl::string_view id, absl::string_view d) { return New(id, d, 403); }
absl::Status NotFound(absl::string_view id, absl::string_view d) { return New(id, d, 404); }
absl::Status MethodNotAllowed(absl::string_view id, absl::string_view d) { return New(id, d, 405); }
absl::Status Timeout(absl::string_view id, absl::string_view d) { return New(id, d, 408); }
absl::Status Conflict(absl::string_view id, absl::string_view d) { return New(id, d, 409); }
absl::Status InternalServerError(absl::string_view id, absl::string_view d) {
  return New(id, d, 500);
}
absl::Status NotImplemented(absl::string_view id, absl::string_view d) { return New(id, d, 501); }
absl::Status ServiceUnavailable(absl::string_view id, absl::string_view d) {
  return New(id, d, 503);
}

}  // namespace errors
}  // namespace micro
