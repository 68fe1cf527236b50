// go-micro's error: {"id","code","detail","status"} as JSON, carried in the
// gRPC status message, with the HTTP-style code mapped to a gRPC code.
//
// Handlers return absl::Status. Build one with the helpers below (BadRequest,
// NotFound, ...) to choose the id and code a caller sees; any other status
// gets id = the service name and a code mapped from the status code. On the
// client side, FromStatus recovers the Error from what a call returned.
//
//   return micro::errors::BadRequest("go.micro.api.hotel", "Please specify inDate/outDate params");
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace micro {

struct Error {
  std::string id;         // who raised it, usually the service name
  std::int32_t code = 0;  // HTTP-style: 400, 401, 403, 404, 408, 409, 412, 500, 501, 503
  std::string detail;     // for people
  std::string status;     // HTTP status text of `code` ("Bad Request")

  // go-micro's JSON; empty fields are left out.
  std::string ToJson() const;
  // Parses go-micro error JSON; false if `text` is not one (then *this is unchanged).
  bool ParseJson(absl::string_view text);

  friend bool operator==(const Error& a, const Error& b) {
    return a.id == b.id && a.code == b.code && a.detail == b.detail && a.status == b.status;
  }
};

namespace errors {

// The absl::Status carrying `e` (code mapped from e.code, message = detail,
// the whole Error kept in a payload).
absl::Status ToStatus(const Error& e);

// The Error a status carries; for a plain status, one built from its code and
// message with `default_id`.
Error FromStatus(const absl::Status& status, absl::string_view default_id = "go.micro.client");

absl::StatusCode CodeFromHttp(std::int32_t http_code);
std::int32_t HttpFromCode(absl::StatusCode code);
const char* HttpStatusText(std::int32_t http_code);

absl::Status New(absl::string_view id, absl::string_view detail, std::int32_t code);
absl::Status BadRequest(absl::string_view id, absl::string_view detail);           // 400
absl::Status Unauthorized(absl::string_view id, absl::string_view detail);         // 401
absl::Status Forbidden(absl::string_view id, absl::string_view detail);            // 403
absl::Status NotFound(absl::string_view id, absl::string_view detail);             // 404
absl::Status MethodNotAllowed(absl::string_view id, absl::string_view detail);     // 405
absl::Status Timeout(absl::string_view id, absl::string_view detail);              // 408
absl::Status Conflict(absl::string_view id, absl::string_view detail);             // 409
absl::Status InternalServerError(absl::string_view id, absl::string_view detail);  // 500
absl::Status NotImplemented(absl::string_view id, absl::string_view detail);       // 501
absl::Status ServiceUnavailable(absl::string_view id, absl::string_view detail);   // 503

}  // namespace errors
}  // namespace micro
