// From an HTTP request to a service call, as go-micro's `micro api` with the
// rpc handler does it (shared/reference/wire.md), with no I/O: the gateway's
// network side and its fuzz target share these functions.
//
//   /hotel/rates      -> go.micro.api.hotel  Hotel.Rates
//   /hotel            -> go.micro.api.hotel  Hotel.Call
//   /v1/foo/bar       -> go.micro.api.v1.foo Foo.Bar
//   /a/b/c/d          -> go.micro.api.a.b    C.D
//   /rpc              -> {"service", "endpoint" (or "method"), "request"} from the body
//
// Errors are go-micro errors (micro::errors) with id "go.micro.api" and the
// HTTP code the client gets. Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/client/options.h"

namespace micro::api {

inline constexpr char kErrorId[] = "go.micro.api";

struct Route {
  std::string service;   // with the namespace
  std::string endpoint;  // "Hotel.Rates"
};

// Resolves a path (no query) under `ns` ("go.micro.api"; empty = none).
// NotFound (404) for "/" and paths with empty or unusable segments.
absl::StatusOr<Route> Resolve(absl::string_view path, absl::string_view ns);

// "a-b_c" -> "AB_c": each '-'-separated word with its first letter upper-cased.
std::string Camel(absl::string_view segment);

struct HttpRequest {
  std::string method;  // "POST"
  std::string target;  // "/hotel/rates?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct Call {
  Route route;
  std::string body;                             // JSON for the service
  std::map<std::string, std::string> metadata;  // from the headers, lower-case keys
};

// What the gateway exposes (docs/security.md).
struct Policy {
  std::string ns = "go.micro.api";  // namespace of resolved services; empty = none
  // Serve /rpc, which names any service and endpoint in its body. Off by default; when on, only
  // services inside `ns` (when `ns` is not empty), as for paths.
  bool rpc = false;
  // Which calls are forwarded: patterns "service" (all its endpoints) or "service/Endpoint"; a
  // trailing '*' on either part matches a prefix ("go.micro.api.*", "hotel/Hotel.*"). An empty
  // allow list allows all; deny wins over allow. Services are matched with their namespace.
  std::vector<std::string> allow, deny;
  // Request headers starting with this (case-insensitive) are dropped: the keys belong to the
  // platform, which sets them itself. Empty: none dropped.
  std::string reserved_prefix = "micro-";
};

// Builds the call for an API request ("/rpc" included). Errors: 400 for a
// body that is not JSON (naming where it breaks) or a /rpc body without
// service/endpoint, 403 for a call the policy does not forward (/rpc outside
// the namespace, denied or not allowed), 404 for a path that resolves to
// nothing or /rpc when it is off, 405 for a method the handler does not take.
absl::StatusOr<Call> PlanCall(const HttpRequest& request, const Policy& policy);

// Whether `policy` forwards calls to service/endpoint (allow and deny lists only).
bool Forwarded(const Policy& policy, absl::string_view service, absl::string_view endpoint);
// A pattern's syntax: InvalidArgument for an empty one or a '*' anywhere but at the end of a part.
absl::Status CheckPattern(absl::string_view pattern);

// The client options for a planned call: its metadata (traceparent/tracestate become the call's
// parent span: the caller's trace continues), the request id, and JSON as the content type.
// Moves the metadata out of `call`.
client::CallOptions CallOptionsFor(Call* call, const std::string& request_id);

// Query string ("a=1&b=2&b=3") -> JSON object ({"a":"1","b":["2","3"]}).
absl::StatusOr<std::string> QueryToJson(absl::string_view query);

// The request id to use: the caller's X-Request-Id when it is a sane token (1 to 128 visible
// ASCII characters), else a new one (32 hex digits).
std::string RequestId(absl::string_view given);

// Headers that do not become call metadata: hop-by-hop and HTTP framing
// headers, and names gRPC reserves (":..." and "grpc-...").
bool IsMetadataHeader(absl::string_view lower_name);

}  // namespace micro::api
