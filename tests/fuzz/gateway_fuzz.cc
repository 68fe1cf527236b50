// libFuzzer target for the gateway's request-to-call path: what PlanCall makes
// of any method, target, headers and body (the HTTP framing itself is Beast's).
// Input: method '\n' target '\n' header lines ("name: value") ... '\n\n' body.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "micro/errors.h"
#include "request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  micro::api::HttpRequest r;
  std::size_t a = in.find('\n');
  r.method = in.substr(0, a);
  std::size_t b = a == std::string::npos ? a : in.find('\n', a + 1);
  r.target = a == std::string::npos ? "/" : in.substr(a + 1, b - a - 1);
  std::size_t pos = b == std::string::npos ? in.size() : b + 1;
  while (pos < in.size()) {
    std::size_t e = in.find('\n', pos);
    if (e == std::string::npos) e = in.size();
    std::string line = in.substr(pos, e - pos);
    pos = e + 1;
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    r.headers.emplace_back(line.substr(0, colon),
                           colon == std::string::npos ? "" : line.substr(colon + 1));
  }
  if (pos < in.size()) r.body = in.substr(pos);
  // /rpc on, inside the namespace, and lists to match against.
  static const micro::api::Policy policy = [] {
    micro::api::Policy p;
    p.rpc = true;
    p.deny = {"go.micro.api.secret", "go.micro.api.hotel/Hotel.Admin*"};
    p.allow = {"go.micro.api.*"};
    return p;
  }();
  auto call = micro::api::PlanCall(r, policy);
  if (call.ok()) {
    // What goes to a service is JSON, and every route has both halves.
    if (!nlohmann::json::accept(call->body)) __builtin_trap();
    if (call->route.service.empty() || call->route.endpoint.empty()) __builtin_trap();
    // Nothing outside the namespace, nothing denied, no reserved header passed on.
    if (call->route.service.rfind("go.micro.api.", 0) != 0) __builtin_trap();
    if (call->route.service == "go.micro.api.secret") __builtin_trap();
    for (const auto& [k, v] : call->metadata) {
      if (k.rfind("micro-", 0) == 0) __builtin_trap();
    }
  } else {
    micro::Error e = micro::errors::FromStatus(call.status());
    if (e.code < 400 || e.code > 599) __builtin_trap();  // a client error with a real code
  }
  return 0;
}
