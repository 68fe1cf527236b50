#include <catch2/catch.hpp>

#include "micro/errors.h"

using micro::Error;
namespace errors = micro::errors;

TEST_CASE("error JSON is go-micro's, empty fields left out") {
  CHECK(Error{"go.micro.srv.auth", 401, "bad token", "Unauthorized"}.ToJson() ==
        R"({"id":"go.micro.srv.auth","code":401,"detail":"bad token","status":"Unauthorized"})");
  CHECK(Error{"", 500, "", ""}.ToJson() == R"({"code":500})");
  CHECK(Error{"a", 0, "d<>", ""}.ToJson() == R"({"id":"a","detail":"d\u003c\u003e"})");
}

TEST_CASE("error JSON parses, and other text does not") {
  Error e;
  REQUIRE(e.ParseJson(R"({"id":"x","code":404,"detail":"gone","status":"Not Found"})"));
  CHECK(e == Error{"x", 404, "gone", "Not Found"});
  Error untouched{"keep", 1, "", ""};
  for (const char* text : {"", "plain text", "{", "[]", R"({"id":"x"})", R"({"code":"400"})",
                           R"({"code":400,"extra":{}})"}) {
    INFO(text);
    CHECK_FALSE(untouched.ParseJson(text));
    CHECK(untouched.id == "keep");
  }
}

TEST_CASE("codes map both ways as go-micro maps them") {
  struct Row {
    int http;
    absl::StatusCode code;
  };
  for (Row r :
       {Row{400, absl::StatusCode::kInvalidArgument}, Row{401, absl::StatusCode::kUnauthenticated},
        Row{403, absl::StatusCode::kPermissionDenied}, Row{404, absl::StatusCode::kNotFound},
        Row{408, absl::StatusCode::kDeadlineExceeded}, Row{409, absl::StatusCode::kAlreadyExists},
        Row{412, absl::StatusCode::kFailedPrecondition}, Row{500, absl::StatusCode::kInternal},
        Row{501, absl::StatusCode::kUnimplemented}, Row{503, absl::StatusCode::kUnavailable}}) {
    INFO(r.http);
    CHECK(errors::CodeFromHttp(r.http) == r.code);
    CHECK(errors::HttpFromCode(r.code) == r.http);
  }
  CHECK(errors::CodeFromHttp(418) == absl::StatusCode::kUnknown);
  CHECK(errors::HttpFromCode(absl::StatusCode::kDataLoss) == 500);
}

TEST_CASE("a status carries its error, and a plain status gets one built") {
  absl::Status s = errors::Forbidden("go.micro.api.hotel", "no token");
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK(s.message() == "no token");
  CHECK(errors::FromStatus(s) == Error{"go.micro.api.hotel", 403, "no token", "Forbidden"});
  CHECK(errors::FromStatus(absl::UnavailableError("down"), "svc") ==
        Error{"svc", 503, "down", "Service Unavailable"});
  CHECK(errors::FromStatus(absl::InternalError(R"({"id":"y","code":408,"detail":"slow"})")) ==
        Error{"y", 408, "slow", ""});
}
