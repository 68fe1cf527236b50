#include "request.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "micro/errors.h"
#include "micro/plugin/json.h"
#include "micro/plugin/query.h"
#include "micro/trace.h"

namespace micro::api {
namespace {

bool NameChars(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_') return false;
  }
  return !s.empty();
}

bool IsVersion(absl::string_view s) {
  return s.size() >= 2 && s[0] == 'v' &&
         std::all_of(s.begin() + 1, s.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// nlohmann's message without our prefix and without the input it echoes.
std::string JsonProblem(absl::string_view message) {
  std::string m(message);
  if (absl::StartsWith(m, "registry json: ")) m = m.substr(15);
  if (std::size_t p = m.find("; last read"); p != std::string::npos) m = m.substr(0, p);
  if (std::size_t p = m.find("] "); p != std::string::npos && m[0] == '[') m = m.substr(p + 2);
  return m;
}

absl::StatusOr<nlohmann::json> ParseBody(absl::string_view body, absl::string_view what) {
  absl::StatusOr<nlohmann::json> j = plugin::ParseJson(body);
  if (!j.ok()) {
    return errors::BadRequest(
        kErrorId, absl::StrCat("malformed JSON ", what, ": ", JsonProblem(j.status().message())));
  }
  return j;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool LooksLikeJson(absl::string_view body) {
  body = absl::StripLeadingAsciiWhitespace(body);
  return !body.empty() && (body[0] == '{' || body[0] == '[');
}

const std::string* Header(const HttpRequest& r, absl::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (absl::EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

absl::StatusOr<Route> RpcRoute(const nlohmann::json& j, std::string* body) {
  if (!j.is_object()) return errors::BadRequest(kErrorId, "the /rpc body must be a JSON object");
  auto text = [&](const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()
               ? &it->get_ref<const std::string&>()
               : nullptr;
  };
  const std::string* service = text("service");
  const std::string* endpoint = text("endpoint");
  if (endpoint == nullptr) endpoint = text("method");
  if (service == nullptr) return errors::BadRequest(kErrorId, "/rpc: \"service\" is required");
  if (endpoint == nullptr) {
    return errors::BadRequest(kErrorId, "/rpc: \"endpoint\" (or \"method\") is required");
  }
  auto req = j.find("request");
  if (req == j.end() || req->is_null()) {
    *body = "{}";
  } else if (req->is_string()) {
    absl::StatusOr<nlohmann::json> inner = ParseBody(req->get<std::string>(), "in \"request\"");
    if (!inner.ok()) return inner.status();
    *body = Dump(*inner);
  } else {
    *body = Dump(*req);
  }
  return Route{*service, *endpoint};
}

}  // namespace

std::string Camel(absl::string_view segment) {
  std::string out;
  for (absl::string_view word : absl::StrSplit(segment, '-', absl::SkipEmpty())) {
    out.push_back(absl::ascii_toupper(word[0]));
    out.append(word.data() + 1, word.size() - 1);
  }
  return out;
}

absl::StatusOr<Route> Resolve(absl::string_view path, absl::string_view ns) {
  std::vector<absl::string_view> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (!NameChars(p) || Camel(p).empty()) {
      return errors::NotFound(kErrorId, absl::StrCat("no service at ", path.substr(0, 200)));
    }
    parts.push_back(p);
  }
  if (parts.empty()) return errors::NotFound(kErrorId, "no service named in the path \"/\"");
  std::string name;
  std::string endpoint;
  const std::size_t n = parts.size();
  if (n == 1) {
    name = std::string(parts[0]);
    endpoint = Camel(parts[0]) + ".Call";
  } else if (n == 2 || (n == 3 && IsVersion(parts[0]))) {
    name = absl::StrJoin(parts.begin(), parts.end() - 1, ".");
    endpoint = Camel(parts[n - 2]) + "." + Camel(parts[n - 1]);
  } else {
    name = absl::StrJoin(parts.begin(), parts.end() - 2, ".");
    endpoint = Camel(parts[n - 2]) + "." + Camel(parts[n - 1]);
  }
  return Route{ns.empty() ? name : absl::StrCat(ns, ".", name), endpoint};
}

absl::StatusOr<std::string> QueryToJson(absl::string_view query) {
  absl::StatusOr<std::vector<plugin::QueryPair>> pairs = plugin::ParseQuery(query);
  if (!pairs.ok()) {
    return errors::BadRequest(kErrorId,
                              absl::StrCat("malformed query: ", pairs.status().message()));
  }
  nlohmann::json out = nlohmann::json::object();
  for (plugin::QueryPair& p : *pairs) {
    if (p.key.empty()) continue;
    auto it = out.find(p.key);
    if (it == out.end()) {
      out[p.key] = std::move(p.value);
    } else if (it->is_array()) {
      it->push_back(std::move(p.value));
    } else {
      *it = nlohmann::json::array({*it, std::move(p.value)});
    }
  }
  return Dump(out);
}

bool IsMetadataHeader(absl::string_view n) {
  static const char* const kSkip[] = {
      "host",         "connection", "keep-alive",     "proxy-connection", "transfer-encoding",
      "upgrade",      "te",         "trailer",        "content-length",   "expect",
      "content-type", "user-agent", "accept-encoding"};
  if (n.empty() || n[0] == ':' || absl::StartsWith(n, "grpc-")) return false;
  for (const char* s : kSkip) {
    if (n == s) return false;
  }
  return true;
}

namespace {

// One part of a pattern against a name: equal, or a prefix when the part ends in '*'.
bool PartMatches(absl::string_view part, absl::string_view name) {
  if (!part.empty() && part.back() == '*')
    return absl::StartsWith(name, part.substr(0, part.size() - 1));
  return part == name;
}

bool Matches(absl::string_view pattern, absl::string_view service, absl::string_view endpoint) {
  std::size_t slash = pattern.find('/');
  if (slash == absl::string_view::npos) return PartMatches(pattern, service);
  return PartMatches(pattern.substr(0, slash), service) &&
         PartMatches(pattern.substr(slash + 1), endpoint);
}

bool AnyMatches(const std::vector<std::string>& patterns, absl::string_view service,
                absl::string_view endpoint) {
  for (const std::string& p : patterns) {
    if (Matches(p, service, endpoint)) return true;
  }
  return false;
}

}  // namespace

bool Forwarded(const Policy& policy, absl::string_view service, absl::string_view endpoint) {
  if (AnyMatches(policy.deny, service, endpoint)) return false;
  return policy.allow.empty() || AnyMatches(policy.allow, service, endpoint);
}

absl::Status CheckPattern(absl::string_view pattern) {
  if (pattern.empty() || pattern == "/") return absl::InvalidArgumentError("an empty pattern");
  for (absl::string_view part : absl::StrSplit(pattern, absl::MaxSplits('/', 1))) {
    std::size_t star = part.find('*');
    if (part.empty() || (star != absl::string_view::npos && star + 1 != part.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("pattern \"", pattern,
                       "\": use service or service/Endpoint, '*' only at the end of a part"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Call> PlanCall(const HttpRequest& request, const Policy& policy) {
  const std::string& ns = policy.ns;
  absl::string_view target = request.target;
  absl::string_view path = target, query;
  if (std::size_t q = target.find('?'); q != absl::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  const std::string& m = request.method;
  Call call;
  if (path == "/rpc" || path == "/rpc/") {
    if (!policy.rpc) {
      return errors::NotFound(kErrorId, "/rpc is not served by this gateway (see --enable_rpc)");
    }
    if (m != "POST") return errors::MethodNotAllowed(kErrorId, "use POST for /rpc");
    absl::StatusOr<nlohmann::json> j = ParseBody(request.body, "body");
    if (!j.ok()) return j.status();
    absl::StatusOr<Route> route = RpcRoute(*j, &call.body);
    if (!route.ok()) return route.status();
    call.route = std::move(*route);
    if (!ns.empty() && !absl::StartsWith(call.route.service, absl::StrCat(ns, "."))) {
      return errors::Forbidden(kErrorId, absl::StrCat("/rpc: service ", call.route.service,
                                                      " is outside the namespace ", ns));
    }
  } else {
    absl::StatusOr<Route> route = Resolve(path, ns);
    if (!route.ok()) return route.status();
    call.route = std::move(*route);
    const bool with_body =
        m == "POST" || m == "PUT" || m == "PATCH" || (m == "DELETE" && !request.body.empty());
    if (!with_body && m != "GET" && m != "DELETE") {
      return errors::MethodNotAllowed(
          kErrorId, absl::StrCat("method ", m.substr(0, 16), " is not served; use GET or POST"));
    }
    const std::string* type = Header(request, "content-type");
    if (!with_body) {
      absl::StatusOr<std::string> body = QueryToJson(query);
      if (!body.ok()) return body.status();
      call.body = std::move(*body);
    } else if (type != nullptr &&
               absl::StartsWithIgnoreCase(*type, "application/x-www-form-urlencoded") &&
               !LooksLikeJson(request.body)) {
      // curl -d sends JSON with this type too; only a body that is not JSON is a form.
      absl::StatusOr<std::string> body = QueryToJson(request.body);
      if (!body.ok()) return body.status();
      call.body = std::move(*body);
    } else if (absl::StripAsciiWhitespace(request.body).empty()) {
      absl::StatusOr<std::string> body = QueryToJson(query);
      if (!body.ok()) return body.status();
      call.body = std::move(*body);
    } else {
      absl::StatusOr<nlohmann::json> j = ParseBody(request.body, "body");
      if (!j.ok()) return j.status();
      call.body = request.body;  // as sent: the service reads it
    }
  }
  if (!Forwarded(policy, call.route.service, call.route.endpoint)) {
    return errors::Forbidden(kErrorId, absl::StrCat(call.route.service, " ", call.route.endpoint,
                                                    " is not exposed by this gateway"));
  }
  for (const auto& [k, v] : request.headers) {
    std::string key = absl::AsciiStrToLower(k);
    if (!IsMetadataHeader(key)) continue;
    if (!policy.reserved_prefix.empty() && absl::StartsWith(key, policy.reserved_prefix)) continue;
    call.metadata[key] = v;
  }
  return call;
}

std::string RequestId(absl::string_view given) {
  bool ok = !given.empty() && given.size() <= 128;
  for (char c : given) ok = ok && c > 0x20 && c < 0x7f;
  if (ok) return std::string(given);
  trace::SpanContext id;
  id.trace_id = trace::NewTraceId();
  return id.TraceId();
}

client::CallOptions CallOptionsFor(Call* call, const std::string& request_id) {
  client::CallOptions co;
  co.metadata = std::move(call->metadata);
  co.metadata["x-request-id"] = request_id;
  if (auto tp = co.metadata.find("traceparent"); tp != co.metadata.end()) {
    trace::SpanContext parent;
    if (trace::SpanContext::Parse(tp->second, &parent)) {
      if (auto ts = co.metadata.find("tracestate"); ts != co.metadata.end())
        parent.state = ts->second;
      co.parent = std::move(parent);
    }
    co.metadata.erase("traceparent");
    co.metadata.erase("tracestate");
  }
  co.content_type = "application/grpc+json";
  return co;
}

}  // namespace micro::api
