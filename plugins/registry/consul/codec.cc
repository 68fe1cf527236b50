#include "codec.h"

#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "micro/plugin/json.h"
#include "micro/plugin/net.h"
#include "micro/registry/encoding.h"
#include "micro/registry/json.h"

namespace micro::consul {
namespace {

using plugin::Member;

bool ValidMetaKey(absl::string_view k) {
  if (k.empty() || k.size() > 128 || absl::StartsWith(k, "consul-")) return false;
  for (char c : k) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

const std::string* StringMember(const nlohmann::json& j, absl::string_view field) {
  const nlohmann::json* m = Member(j, field);
  return m != nullptr && m->is_string() ? m->get_ptr<const std::string*>() : nullptr;
}

// The payload of one tag: plain for '=', hex(zlib) for '-'.
absl::StatusOr<std::string> TagPayload(const std::string& tag) {
  if (tag[1] == '=') return tag.substr(2);
  absl::StatusOr<std::string> d = registry::Decode(absl::string_view(tag).substr(2));
  if (!d.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tag \"", tag.substr(0, 24),
                                                   tag.size() > 24 ? "..." : "",
                                                   "\" does not decode: ", d.status().message()));
  }
  return d;
}

absl::Status BadTag(const std::string& tag, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("tag \"", tag.substr(0, 24), tag.size() > 24 ? "..." : "", "\": ", why));
}

}  // namespace

std::vector<std::string> EncodeTags(const registry::Service& service, const registry::Node& node) {
  std::vector<std::string> tags;
  for (const auto& [k, v] : node.metadata) {
    tags.push_back("t-" + registry::Encode(registry::ToJson(registry::Metadata{{k, v}})));
  }
  for (const registry::Endpoint& e : service.endpoints) {
    tags.push_back("e-" + registry::Encode(registry::ToJson(e)));
  }
  tags.push_back("v-" + registry::Encode(service.version));
  return tags;
}

absl::StatusOr<DecodedTags> DecodeTags(const std::vector<std::string>& tags) {
  DecodedTags out;
  char meta_form = 0, endpoint_form = 0;
  bool have_version = false;
  for (const std::string& tag : tags) {
    if (tag.size() < 2 || (tag[1] != '-' && tag[1] != '=')) continue;
    char kind = tag[0];
    if (kind == 'v') {
      if (have_version) continue;
      absl::StatusOr<std::string> v = TagPayload(tag);
      if (!v.ok()) return v.status();
      out.version = std::move(*v);
      have_version = true;
    } else if (kind == 't') {
      if (meta_form != 0 && tag[1] != meta_form) continue;
      meta_form = tag[1];
      absl::StatusOr<std::string> p = TagPayload(tag);
      if (!p.ok()) return p.status();
      absl::StatusOr<registry::Metadata> md = registry::MetadataFromJson(*p);
      if (!md.ok()) return BadTag(tag, md.status().message());
      for (auto& [k, v] : *md) out.metadata[k] = std::move(v);
    } else if (kind == 'e') {
      if (endpoint_form != 0 && tag[1] != endpoint_form) continue;
      endpoint_form = tag[1];
      absl::StatusOr<std::string> p = TagPayload(tag);
      if (!p.ok()) return p.status();
      absl::StatusOr<registry::Endpoint> e = registry::EndpointFromJson(*p);
      if (!e.ok()) return BadTag(tag, e.status().message());
      out.endpoints.push_back(std::move(*e));
    }
  }
  return out;
}

std::string GoDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  if (ms < 1000) return absl::StrCat(sign, ms, "ms");
  long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  std::string secs = absl::StrCat(s);
  if (frac != 0) {
    std::string f = absl::StrCat(1000 + frac).substr(1);  // three digits
    while (f.back() == '0') f.pop_back();
    absl::StrAppend(&secs, ".", f);
  }
  if (h > 0) return absl::StrCat(sign, h, "h", m, "m", secs, "s");
  if (m > 0) return absl::StrCat(sign, m, "m", secs, "s");
  return absl::StrCat(sign, secs, "s");
}

absl::StatusOr<std::string> RegistrationJson(const registry::Service& service,
                                             const registry::Node& node,
                                             const registry::RegisterOptions& options,
                                             const CheckOptions& checks,
                                             std::vector<std::string>* left_out) {
  // Consul keeps Address and Port apart; an address without a port keeps port 0.
  std::string host;
  int port = 0;
  if (!plugin::SplitHostPort(node.address, 0, &host, &port).ok()) {
    host = node.address;
    port = 0;
  }
  nlohmann::json j;
  j["ID"] = node.id;
  j["Name"] = service.name;
  j["Tags"] = EncodeTags(service, node);
  j["Port"] = port;
  j["Address"] = host;
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : node.metadata) {
    if (ValidMetaKey(k) && v.size() <= 512 && meta.size() < 64) {
      meta[k] = v;
    } else if (left_out != nullptr) {
      left_out->push_back(k);
    }
  }
  if (!meta.empty()) j["Meta"] = std::move(meta);

  if ((checks.grpc || checks.tcp) && port == 0) {
    return absl::InvalidArgumentError(absl::StrCat("node ", node.id, " address \"", node.address,
                                                   "\" has no port for a grpc or tcp check"));
  }
  if (checks.http && options.health_url.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node ", node.id,
        ": check=http needs the node's HTTP health URL and none was given (micro services "
        "serve /health themselves; through the Registry API set RegisterOptions::health_url)"));
  }
  // Consul refuses a DeregisterCriticalServiceAfter under one minute; go-micro adds 5 s.
  auto dereg = [&](std::chrono::milliseconds period) {
    if (checks.deregister_after.count() > 0) return GoDuration(checks.deregister_after);
    return GoDuration(std::max<std::chrono::milliseconds>(period, std::chrono::minutes(1)) +
                      std::chrono::seconds(5));
  };
  const std::string base = absl::StrCat("service:", node.id);
  nlohmann::json list = nlohmann::json::array();
  if (HasTtlCheck(checks, options.ttl)) {
    // Passing from the start: a TTL check is otherwise critical until the first pass, and a
    // lookup between the two calls would not see the node (a restarted agent, every node at once).
    list.push_back({{"CheckID", base},
                    {"TTL", GoDuration(options.ttl)},
                    {"DeregisterCriticalServiceAfter", dereg(options.ttl)},
                    {"Status", "passing"}});
  }
  auto active = [&](const char* kind, const char* key, const std::string& target) {
    nlohmann::json c = {{"CheckID", absl::StrCat(base, ":", kind)},
                        {"Name", absl::StrCat("Service '", service.name, "' ", kind, " check")},
                        {key, target},
                        {"Interval", GoDuration(checks.interval)},
                        {"Timeout", GoDuration(checks.timeout)},
                        {"DeregisterCriticalServiceAfter", dereg(checks.interval)},
                        {"Status", "passing"}};
    if (checks.tls_skip_verify && std::string(kind) != "tcp") c["TLSSkipVerify"] = true;
    list.push_back(std::move(c));
    return &list.back();
  };
  const std::string address = plugin::JoinHostPort(host, port);
  if (checks.grpc) {
    auto secure = node.metadata.find("secure");
    (*active("grpc", "GRPC", address))["GRPCUseTLS"] =
        secure != node.metadata.end() && secure->second == "true";
  }
  if (checks.http) active("http", "HTTP", options.health_url);
  if (checks.tcp) active("tcp", "TCP", address);
  if (list.size() == 1) {
    // One check, go-micro's way: "Check", whose ID Consul makes "service:<id>".
    nlohmann::json only = std::move(list.front());
    only.erase("CheckID");
    only.erase("Name");
    j["Check"] = std::move(only);
  } else if (list.size() > 1) {
    j["Checks"] = std::move(list);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RegistrationJson(const registry::Service& service, const registry::Node& node,
                             std::chrono::milliseconds ttl, std::vector<std::string>* left_out) {
  registry::RegisterOptions options;
  options.ttl = ttl;
  absl::StatusOr<std::string> body =
      RegistrationJson(service, node, options, CheckOptions(), left_out);
  return body.ok() ? *body : std::string();  // only active checks can fail
}

absl::StatusOr<HealthAnswer> ParseHealth(absl::string_view body, absl::string_view service) {
  absl::StatusOr<nlohmann::json> parsed = plugin::ParseJson(body);
  if (!parsed.ok()) return parsed.status();
  if (parsed->is_null()) return HealthAnswer{};
  if (!parsed->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON array, got ", parsed->type_name()));
  }
  HealthAnswer out;
  std::size_t i = 0;
  for (const nlohmann::json& entry : *parsed) {
    const std::size_t index = i++;
    const nlohmann::json* svc = entry.is_object() ? Member(entry, "Service") : nullptr;
    if (svc == nullptr || !svc->is_object()) {
      out.skipped.push_back(absl::StrCat("entry ", index, ": no Service object"));
      continue;
    }
    const std::string* name = StringMember(*svc, "Service");
    const std::string* id = StringMember(*svc, "ID");
    if (name == nullptr || id == nullptr || id->empty()) {
      out.skipped.push_back(absl::StrCat("entry ", index, ": Service without Service/ID strings"));
      continue;
    }
    if (*name != service) continue;
    const std::string where = absl::StrCat("node ", *id);
    const nlohmann::json* port = Member(*svc, "Port");
    if (port == nullptr || !port->is_number_integer() || port->get<long long>() < 0 ||
        port->get<long long>() > 65535) {
      out.skipped.push_back(absl::StrCat(where, ": Port is not a number from 0 to 65535"));
      continue;
    }
    bool critical = false, agent_failed = false;
    const nlohmann::json* checks = Member(entry, "Checks");
    if (checks != nullptr && checks->is_array()) {
      for (const nlohmann::json& c : *checks) {
        const std::string* status = c.is_object() ? StringMember(c, "Status") : nullptr;
        if (status == nullptr || *status != "critical") continue;
        critical = true;
        const std::string* check_id = StringMember(c, "CheckID");
        if (check_id != nullptr && *check_id == "serfHealth") agent_failed = true;
      }
    } else if (checks != nullptr && !checks->is_null()) {
      out.skipped.push_back(absl::StrCat(where, ": Checks is not an array"));
      continue;
    }
    if (critical && !agent_failed) continue;
    std::vector<std::string> tags;
    const nlohmann::json* tj = Member(*svc, "Tags");
    bool bad_tags = false;
    if (tj != nullptr && tj->is_array()) {
      for (const nlohmann::json& t : *tj) {
        if (!t.is_string())
          bad_tags = true;
        else
          tags.push_back(t.get<std::string>());
      }
    } else if (tj != nullptr && !tj->is_null()) {
      bad_tags = true;
    }
    if (bad_tags) {
      out.skipped.push_back(absl::StrCat(where, ": Tags is not an array of strings"));
      continue;
    }
    absl::StatusOr<DecodedTags> decoded = DecodeTags(tags);
    if (!decoded.ok()) {
      out.skipped.push_back(absl::StrCat(where, ": ", decoded.status().message()));
      continue;
    }
    std::string address;
    const nlohmann::json* agent = Member(entry, "Node");
    if (agent != nullptr && !agent->is_object()) agent = nullptr;
    if (const std::string* a = StringMember(*svc, "Address"); a != nullptr) address = *a;
    if (address.empty()) {
      const std::string* a = agent != nullptr ? StringMember(*agent, "Address") : nullptr;
      if (a != nullptr) address = *a;
    }
    if (address.empty()) {
      out.skipped.push_back(absl::StrCat(where, ": no address in Service or Node"));
      continue;
    }
    HealthNode hn;
    hn.version = std::move(decoded->version);
    hn.endpoints = std::move(decoded->endpoints);
    hn.node.id = *id;
    hn.node.address = plugin::JoinHostPort(address, port->get<int>());
    hn.node.metadata = std::move(decoded->metadata);
    if (const std::string* n = agent != nullptr ? StringMember(*agent, "Node") : nullptr) {
      hn.agent = *n;
    }
    (agent_failed ? out.orphans : out.nodes).push_back(std::move(hn));
  }
  return out;
}

absl::StatusOr<bool> ParseAgentAlive(absl::string_view body) {
  absl::StatusOr<nlohmann::json> parsed = plugin::ParseJson(body);
  if (!parsed.ok()) return parsed.status();
  if (parsed->is_null()) return false;
  if (!parsed->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON array, got ", parsed->type_name()));
  }
  for (const nlohmann::json& c : *parsed) {
    const std::string* id = c.is_object() ? StringMember(c, "CheckID") : nullptr;
    if (id == nullptr || *id != "serfHealth") continue;
    const std::string* status = StringMember(c, "Status");
    return status != nullptr && *status == "passing";
  }
  return false;
}

std::vector<registry::Service> GroupByVersion(absl::string_view name,
                                              const std::vector<HealthNode>& nodes) {
  std::vector<registry::Service> out;
  std::map<std::string, std::size_t> index;
  for (const HealthNode& n : nodes) {
    auto [it, fresh] = index.emplace(n.version, out.size());
    if (fresh) {
      registry::Service s;
      s.name = std::string(name);
      s.version = n.version;
      s.endpoints = n.endpoints;
      out.push_back(std::move(s));
    }
    out[it->second].nodes.push_back(n.node);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseCatalogServices(absl::string_view body) {
  absl::StatusOr<nlohmann::json> parsed = plugin::ParseJson(body);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON object of service names, got ", parsed->type_name()));
  }
  std::vector<std::string> names;
  for (auto it = parsed->begin(); it != parsed->end(); ++it) {
    if (!it.key().empty()) names.push_back(it.key());
  }
  return names;  // nlohmann objects iterate in key order
}

}  // namespace micro::consul
