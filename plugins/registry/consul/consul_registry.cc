#include "consul_registry.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "codec.h"
#include "consul_watch.h"
#include "http_client.h"
#include "micro/log.h"
#include "micro/plugin/backoff.h"
#include "micro/plugin/query.h"
#include "micro/plugin/registration.h"

namespace micro::consul {
namespace {

using std::chrono::milliseconds;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// One line of an agent's answer, for error messages.
std::string Snippet(absl::string_view body) {
  std::string s(absl::StripAsciiWhitespace(body.substr(0, 200)));
  absl::StrReplaceAll({{"\n", " "}, {"\r", " "}}, &s);
  return s;
}

// "ttl", "grpc,tcp", "ttl|http": the check kinds, at least one ("," "|" or "+" between them;
// a repeat is harmless).
absl::Status ParseChecks(const std::string& what, absl::string_view value, CheckOptions* out) {
  CheckOptions c = *out;
  c.ttl = c.grpc = c.http = c.tcp = false;
  std::vector<std::string> kinds = absl::StrSplit(value, absl::ByAnyChar(",|+"), absl::SkipEmpty());
  if (kinds.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is empty (one or more of ttl, grpc, http, tcp, joined by \",\")"));
  }
  for (std::string& k : kinds) {
    k = absl::AsciiStrToLower(absl::StripAsciiWhitespace(k));
    bool* flag = k == "ttl"    ? &c.ttl
                 : k == "grpc" ? &c.grpc
                 : k == "http" ? &c.http
                 : k == "tcp"  ? &c.tcp
                               : nullptr;
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": unknown check \"", k,
                       "\" (known: ttl, grpc, http, tcp; several joined by \",\")"));
    }
    *flag = true;
  }
  *out = c;
  return absl::OkStatus();
}

class ConsulRegistry : public registry::Registry {
 public:
  ConsulRegistry(ConsulOptions options, std::unique_ptr<HttpClient> http)
      : options_(std::move(options)), http_(std::move(http)) {
    if (!options_.token.empty()) headers_.emplace_back("X-Consul-Token", options_.token);
    if (!options_.datacenter.empty()) {
      absl::StrAppend(&read_query_, "&dc=", UrlEscape(options_.datacenter));
    }
    if (options_.consistency == "stale") absl::StrAppend(&read_query_, "&stale");
    if (options_.consistency == "consistent") absl::StrAppend(&read_query_, "&consistent");
    uri_ = absl::StrCat("consul://", absl::StrJoin(options_.addresses, ","));
  }

  absl::Status Register(const registry::Service& service,
                        const registry::RegisterOptions& options) override {
    if (absl::Status s = plugin::CheckRegistration("consul", service); !s.ok()) return s;
    for (const registry::Node& node : service.nodes) {
      if (absl::Status s = RegisterNode(service, node, options); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Deregister(const registry::Service& service) override {
    for (const registry::Node& node : service.nodes) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        registered_.erase(node.id);
      }
      std::string target = absl::StrCat("/v1/agent/service/deregister/", UrlEscape(node.id));
      absl::StatusOr<HttpResponse> res = Call("PUT", target, "", options_.request_timeout);
      if (!res.ok()) return res.status();
      if (res->status == 404) continue;  // newer agents: unknown id, nothing to do
      if (absl::Status s = Check(*res, "PUT", target); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<registry::Service>> GetService(absl::string_view name) override {
    std::string target = absl::StrCat("/v1/health/service/", UrlEscape(name), "?",
                                      read_query_.empty() ? "" : read_query_.substr(1));
    absl::StatusOr<HttpResponse> res = Call("GET", target, "", options_.request_timeout);
    if (!res.ok()) return res.status();
    if (absl::Status s = Check(*res, "GET", target); !s.ok()) return s;
    absl::StatusOr<HealthAnswer> answer = ParseHealth(res->body, name);
    if (!answer.ok()) {
      return absl::UnavailableError(
          absl::StrCat("consul: GET ", target, " at ", res->address,
                       ": malformed answer: ", answer.status().message()));
    }
    for (const std::string& why : answer->skipped) {
      WarnOnce(absl::StrCat("consul: service \"", name, "\": skipped ", why));
    }
    std::vector<registry::Service> out = GroupByVersion(name, answer->nodes);
    if (out.empty()) return registry::ServiceNotFoundError(name);
    return out;
  }

  absl::StatusOr<std::vector<registry::Service>> ListServices() override {
    std::string target =
        absl::StrCat("/v1/catalog/services?", read_query_.empty() ? "" : read_query_.substr(1));
    absl::StatusOr<HttpResponse> res = Call("GET", target, "", options_.request_timeout);
    if (!res.ok()) return res.status();
    if (absl::Status s = Check(*res, "GET", target); !s.ok()) return s;
    absl::StatusOr<std::vector<std::string>> names = ParseCatalogServices(res->body);
    if (!names.ok()) {
      return absl::UnavailableError(absl::StrCat("consul: GET ", target, " at ", res->address,
                                                 ": malformed answer: ", names.status().message()));
    }
    std::vector<registry::Service> out;
    for (std::string& n : *names) {
      registry::Service s;
      s.name = std::move(n);
      out.push_back(std::move(s));
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<registry::Watcher>> Watch(
      const registry::WatchOptions& options) override {
    WatchContext ctx{http_, options_, headers_, read_query_};
    return NewConsulWatcher(std::move(ctx), options.service);
  }

  std::string String() const override { return uri_; }

  bool PollsHealthUrl() const override { return options_.checks.http; }

 private:
  absl::Status RegisterNode(const registry::Service& service, const registry::Node& node,
                            const registry::RegisterOptions& options) {
    std::vector<std::string> left_out;
    absl::StatusOr<std::string> made =
        RegistrationJson(service, node, options, options_.checks, &left_out);
    if (!made.ok())
      return absl::InvalidArgumentError(absl::StrCat("consul: ", made.status().message()));
    std::string body = std::move(*made);
    const bool ttl_check = HasTtlCheck(options_.checks, options.ttl);
    bool same;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = registered_.find(node.id);
      same = it != registered_.end() && it->second == body;
    }
    if (same) {
      // The heartbeat: pass the TTL check, or without one ask whether the agent still has the
      // node. If it refuses or has not, it may have restarted and forgotten us: register in
      // full again.
      absl::Status pass = ttl_check ? Pass(node.id) : Known(node.id);
      if (pass.ok()) return pass;
      bool first;  // once per episode: not again until a registration works
      {
        std::lock_guard<std::mutex> lock(mu_);
        first = failing_.insert(node.id).second;
      }
      if (first) {
        log::Info(absl::StrCat("consul: heartbeat of ", node.id, " failed (", pass.message(),
                               "); registering again"));
      }
    }
    if (!left_out.empty()) {
      WarnOnce(absl::StrCat("consul: node ", node.id, ": metadata ", absl::StrJoin(left_out, ", "),
                            " left out of Consul's Meta (the t- tags carry it)"));
    }
    const std::string target = "/v1/agent/service/register";
    absl::StatusOr<HttpResponse> res = Call("PUT", target, body, options_.request_timeout);
    if (!res.ok()) return res.status();
    if (absl::Status s = Check(*res, "PUT", target); !s.ok()) return s;
    if (ttl_check) {
      if (absl::Status s = Pass(node.id); !s.ok()) return s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    registered_[node.id] = std::move(body);
    failing_.erase(node.id);
    return absl::OkStatus();
  }

  absl::Status Pass(const std::string& id) {
    std::string target = absl::StrCat("/v1/agent/check/pass/", UrlEscape("service:" + id));
    absl::StatusOr<HttpResponse> res = Call("PUT", target, "", options_.request_timeout);
    if (!res.ok()) return res.status();
    return Check(*res, "PUT", target);
  }

  // OK while the agent has the node as a service of its own (GET /v1/agent/service/<id>).
  absl::Status Known(const std::string& id) {
    std::string target = absl::StrCat("/v1/agent/service/", UrlEscape(id));
    absl::StatusOr<HttpResponse> res = Call("GET", target, "", options_.request_timeout);
    if (!res.ok()) return res.status();
    return Check(*res, "GET", target);
  }

  absl::StatusOr<HttpResponse> Call(absl::string_view method, const std::string& target,
                                    absl::string_view body, milliseconds timeout) {
    absl::StatusOr<HttpResponse> res = http_->Do(method, target, body, headers_, timeout);
    if (!res.ok()) {
      return absl::Status(res.status().code(), absl::StrCat("consul: ", method, " ", target, ": ",
                                                            res.status().message()));
    }
    return res;
  }

  // Turns an agent's non-2xx answer into a status that says what to do.
  absl::Status Check(const HttpResponse& res, absl::string_view method,
                     absl::string_view target) const {
    if (res.status >= 200 && res.status < 300) return absl::OkStatus();
    std::string what = absl::StrCat("consul: ", method, " ", target, " at ", res.address, ": HTTP ",
                                    res.status, " ", Snippet(res.body));
    switch (res.status) {
      case 401:
      case 403: {
        bool unknown = absl::AsciiStrToLower(res.body).find("acl not found") != std::string::npos;
        return absl::PermissionDeniedError(
            absl::StrCat(what, options_.token.empty()
                                   ? " (no ACL token given: set ?token= in the registry address or "
                                     "CONSUL_HTTP_TOKEN)"
                               : unknown ? " (the ACL token is not known to this Consul)"
                                         : " (the ACL token lacks the rights for this)"));
      }
      case 400:
        return absl::InvalidArgumentError(what);
      case 404:
        return absl::NotFoundError(what);
      case 429:
        return absl::ResourceExhaustedError(what);
      default:
        return absl::UnavailableError(what);
    }
  }

  void WarnOnce(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (warned_.First(message)) log::Warn(message);
  }

  const ConsulOptions options_;
  const std::shared_ptr<HttpClient> http_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string read_query_;  // "&dc=...&stale", or empty
  std::string uri_;
  std::mutex mu_;
  std::map<std::string, std::string> registered_;  // node id -> body the agent accepted
  std::set<std::string> failing_;  // nodes whose heartbeat failed, until registered again
  plugin::Reported warned_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<registry::Registry>> NewConsulRegistry(ConsulOptions options) {
  if (options.addresses.empty()) options.addresses.push_back("127.0.0.1:8500");
  if (!options.consistency.empty() && options.consistency != "stale" &&
      options.consistency != "consistent" && options.consistency != "default") {
    return absl::InvalidArgumentError(absl::StrCat("consul: consistency \"", options.consistency,
                                                   "\" is not one of default, stale, consistent"));
  }
  if (options.watch_wait > std::chrono::minutes(10)) {
    return absl::InvalidArgumentError("consul: watch wait is over Consul's 10 minute maximum");
  }
  HttpOptions http;
  for (const std::string& a : options.addresses) {
    // A bare host gets Consul's port (and the https one with TLS).
    bool has_port =
        a.front() == '[' ? a.find("]:") != std::string::npos : a.find(':') != std::string::npos;
    http.addresses.push_back(has_port ? a : absl::StrCat(a, options.tls ? ":8501" : ":8500"));
  }
  http.tls = options.tls;
  http.ca_file = options.ca_file;
  http.cert_file = options.cert_file;
  http.key_file = options.key_file;
  http.tls_skip_verify = options.tls_skip_verify;
  http.connect_timeout = options.connect_timeout;
  http.max_body = options.max_response_bytes;
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::New(std::move(http));
  if (!client.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("consul: ", client.status().message()));
  }
  options.addresses = (*client)->options().addresses;
  return std::make_unique<ConsulRegistry>(std::move(options), std::move(*client));
}

absl::StatusOr<ConsulOptions> ConsulOptionsFrom(const registry::RegistryAddress& address) {
  ConsulOptions o;
  o.addresses = address.hosts;
  if (o.addresses.empty()) {
    std::string env = Env("CONSUL_HTTP_ADDR");
    if (absl::StartsWith(env, "https://")) {
      o.tls = true;
      env = env.substr(8);
    } else if (absl::StartsWith(env, "http://")) {
      env = env.substr(7);
    }
    o.addresses.push_back(env.empty() ? "127.0.0.1:8500" : env);
  }
  o.token = Env("CONSUL_HTTP_TOKEN");
  o.ca_file = Env("CONSUL_CACERT");
  o.cert_file = Env("CONSUL_CLIENT_CERT");
  o.key_file = Env("CONSUL_CLIENT_KEY");
  if (std::string v = Env("CONSUL_HTTP_SSL"); !v.empty()) {
    absl::StatusOr<bool> b = plugin::ParseBoolParam("CONSUL_HTTP_SSL", v);
    if (!b.ok()) return b.status();
    o.tls = o.tls || *b;
  }
  if (std::string v = Env("CONSUL_HTTP_SSL_VERIFY"); !v.empty()) {
    absl::StatusOr<bool> b = plugin::ParseBoolParam("CONSUL_HTTP_SSL_VERIFY", v);
    if (!b.ok()) return b.status();
    o.tls_skip_verify = !*b;
  }
  static const char* const kKnown[] = {"token",
                                       "dc",
                                       "consistency",
                                       "tls",
                                       "ca",
                                       "cert",
                                       "key",
                                       "tls_skip_verify",
                                       "connect_timeout",
                                       "timeout",
                                       "wait",
                                       "resync_grace",
                                       "check",
                                       "check_interval",
                                       "check_timeout",
                                       "deregister_after",
                                       "check_tls_skip_verify"};
  for (const auto& [key, value] : address.params) {
    const std::string what = absl::StrCat("registry \"", address.uri, "\" parameter ", key);
    if (key == "token") {
      o.token = value;
    } else if (key == "dc") {
      o.datacenter = value;
    } else if (key == "consistency") {
      o.consistency = value;
    } else if (key == "ca") {
      o.ca_file = value;
    } else if (key == "cert") {
      o.cert_file = value;
    } else if (key == "key") {
      o.key_file = value;
    } else if (key == "tls" || key == "tls_skip_verify" || key == "check_tls_skip_verify") {
      absl::StatusOr<bool> b = plugin::ParseBoolParam(what, value);
      if (!b.ok()) return b.status();
      (key == "tls"               ? o.tls
       : key == "tls_skip_verify" ? o.tls_skip_verify
                                  : o.checks.tls_skip_verify) = *b;
    } else if (key == "check") {
      if (absl::Status s = ParseChecks(what, value, &o.checks); !s.ok()) return s;
    } else if (key == "check_interval" || key == "check_timeout" || key == "deregister_after") {
      absl::StatusOr<milliseconds> d = plugin::ParseDurationParam(what, value);
      if (!d.ok()) return d.status();
      if (key != "deregister_after" && *d < std::chrono::seconds(1)) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " \"", value, "\" is under Consul's minimum of 1s"));
      }
      (key == "check_interval"  ? o.checks.interval
       : key == "check_timeout" ? o.checks.timeout
                                : o.checks.deregister_after) = *d;
    } else if (key == "connect_timeout" || key == "timeout" || key == "wait" ||
               key == "resync_grace") {
      absl::StatusOr<milliseconds> d = plugin::ParseDurationParam(what, value);
      if (!d.ok()) return d.status();
      (key == "connect_timeout" ? o.connect_timeout
       : key == "timeout"       ? o.request_timeout
       : key == "wait"          ? o.watch_wait
                                : o.resync_grace) = *d;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("registry \"", address.uri, "\": unknown parameter \"", key,
                       "\" (known: ", absl::StrJoin(kKnown, ", "), ")"));
    }
  }
  if (o.consistency == "default") o.consistency.clear();
  return o;
}

}  // namespace micro::consul
