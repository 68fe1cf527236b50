#include "service/flags.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "micro/registry/plugin.h"

namespace micro::internal {
namespace {

struct Spec {
  const char* flag;
  const char* env;
  const char* help;
};

constexpr Spec kSpecs[] = {
    {"registry", "MICRO_REGISTRY",
     "registry: mdns, consul, etcd, memory, or a URI like consul://host:8500"},
    {"registry_address", "MICRO_REGISTRY_ADDRESS",
     "comma-separated registry addresses (host:port,...)"},
    {"server_address", "MICRO_SERVER_ADDRESS", "address to listen on, host:port (:0 = any port)"},
    {"server_advertise", "MICRO_SERVER_ADVERTISE",
     "address to register instead of the listen address"},
    {"server_name", "MICRO_SERVER_NAME", "name to register the service under"},
    {"server_version", "MICRO_SERVER_VERSION", "version to register"},
    {"server_id", "MICRO_SERVER_ID", "node id (default <name>-<uuid>)"},
    {"server_metadata", "MICRO_SERVER_METADATA",
     "node metadata, key=value[,key=value...] (repeatable)"},
    {"register_ttl", "MICRO_REGISTER_TTL", "registration TTL: seconds or a duration like 90s"},
    {"register_interval", "MICRO_REGISTER_INTERVAL",
     "re-registration interval: seconds or a duration"},
    {"client_retries", "MICRO_CLIENT_RETRIES", "retries of a failed call on another node"},
    {"client_request_timeout", "MICRO_CLIENT_REQUEST_TIMEOUT", "call timeout: a duration like 5s"},
    {"client_pool_size", "MICRO_CLIENT_POOL_SIZE", "connections kept to nodes"},
};

absl::Status Bad(const std::string& source, const std::string& value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(source, "=\"", value, "\": ", why));
}

// Seconds as a plain number, or a Go-style duration ("90s", "1m30s", "500ms").
absl::Status ParseDuration(const std::string& source, const std::string& value,
                           std::chrono::milliseconds* out, bool allow_zero) {
  std::int64_t seconds = 0;
  absl::Duration d;
  if (absl::SimpleAtoi(value, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(value, &d)) {
    return Bad(source, value, "not a duration (write 30, 30s, 1m or 500ms)");
  }
  if (d < absl::ZeroDuration() || (!allow_zero && d == absl::ZeroDuration())) {
    return Bad(source, value, allow_zero ? "must not be negative" : "must be positive");
  }
  *out = std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
  return absl::OkStatus();
}

absl::Status ParseInt(const std::string& source, const std::string& value, int lo, int* out) {
  if (!absl::SimpleAtoi(value, out) || *out < lo) {
    return Bad(source, value, absl::StrCat("must be a whole number, at least ", lo));
  }
  return absl::OkStatus();
}

absl::Status ParseMetadata(const std::string& source, const std::vector<std::string>& values,
                           registry::Metadata* out) {
  for (const std::string& v : values) {
    for (absl::string_view pair : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      std::size_t eq = pair.find('=');
      if (eq == absl::string_view::npos || eq == 0)
        return Bad(source, v, "expected key=value pairs");
      (*out)[std::string(absl::StripAsciiWhitespace(pair.substr(0, eq)))] =
          std::string(absl::StripAsciiWhitespace(pair.substr(eq + 1)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Usage(const char* program, const std::map<std::string, ExtraFlag>& extra) {
  std::string out =
      absl::StrCat("Usage: ", program, " [flags]\n\nFlags (each also read from its variable):\n");
  for (const Spec& s : kSpecs)
    absl::StrAppend(&out, "  --", s.flag, " (", s.env, ")\n      ", s.help, "\n");
  for (const auto& [name, f] : extra) absl::StrAppend(&out, "  --", name, "\n      ", f.help, "\n");
  absl::StrAppend(&out, "  --help\n      print this and exit\n");
  return out;
}

absl::Status ApplyFlags(int argc, char** argv, const std::map<std::string, ExtraFlag>& extra,
                        Options* o, bool* registry_set, bool* help) {
  // name -> (values, where they came from); flags replace variables.
  std::map<std::string, std::pair<std::vector<std::string>, std::string>> given;
  for (const Spec& s : kSpecs) {
    if (const char* v = std::getenv(s.env); v != nullptr && *v != '\0')
      given[s.flag] = {{v}, s.env};
  }
  std::map<std::string, std::vector<std::string>> from_flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      *help = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0 && arg.rfind("-", 0) == 0 && arg.size() > 1)
      arg = "-" + arg;  // -flag
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\" (flags start with --)"));
    }
    std::string name = arg.substr(2), value;
    std::size_t eq = name.find('=');
    bool known = false;
    std::string key = eq == std::string::npos ? name : name.substr(0, eq);
    for (const Spec& s : kSpecs) known = known || key == s.flag;
    known = known || extra.count(key) > 0;
    if (!known)
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", key, " (see --help)"));
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", key, " needs a value"));
    }
    from_flags[key].push_back(value);
  }
  for (auto& [k, vs] : from_flags) {
    auto ex = extra.find(k);
    if (ex != extra.end()) {
      *ex->second.target = vs.back();
    } else {
      given[k] = {vs, "--" + k};
    }
  }

  auto one = [&](const char* name, std::string* value, std::string* source) {
    auto it = given.find(name);
    if (it == given.end()) return false;
    *value = it->second.first.back();
    *source = it->second.second;
    return true;
  };
  std::string v, src;
  if (one("server_name", &v, &src)) o->server.name = v;
  if (one("server_version", &v, &src)) o->server.version = v;
  if (one("server_id", &v, &src)) o->server.id = v;
  if (one("server_address", &v, &src)) o->server.address = v;
  if (one("server_advertise", &v, &src)) o->server.advertise = v;
  if (auto it = given.find("server_metadata"); it != given.end()) {
    if (absl::Status s = ParseMetadata(it->second.second, it->second.first, &o->server.metadata);
        !s.ok())
      return s;
  }
  if (one("register_ttl", &v, &src)) {
    if (absl::Status s = ParseDuration(src, v, &o->server.register_ttl, true); !s.ok()) return s;
  }
  if (one("register_interval", &v, &src)) {
    if (absl::Status s = ParseDuration(src, v, &o->server.register_interval, false); !s.ok())
      return s;
  }
  if (one("client_retries", &v, &src)) {
    if (absl::Status s = ParseInt(src, v, 0, &o->client.retries); !s.ok()) return s;
  }
  if (one("client_request_timeout", &v, &src)) {
    if (absl::Status s = ParseDuration(src, v, &o->client.request_timeout, false); !s.ok())
      return s;
  }
  if (one("client_pool_size", &v, &src)) {
    int n = 0;
    if (absl::Status s = ParseInt(src, v, 1, &n); !s.ok()) return s;
    o->client.pool_size = static_cast<std::size_t>(n);
  }

  std::string reg, reg_src, addr, addr_src;
  bool has_reg = one("registry", &reg, &reg_src);
  bool has_addr = one("registry_address", &addr, &addr_src);
  if (has_reg || has_addr) {
    if (!has_reg) {
      // An address alone keeps the registry kind chosen in code.
      auto parsed = registry::ParseRegistryAddress(o->registry);
      reg = parsed.ok() ? parsed->scheme : o->registry;
    }
    auto uri = registry::RegistryUri(reg, addr);
    if (!uri.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(has_reg ? reg_src : addr_src, ": ", uri.status().message()));
    if (auto parsed = registry::ParseRegistryAddress(*uri); !parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(has_reg ? reg_src : addr_src, ": ", parsed.status().message()));
    }
    o->registry = *uri;
    *registry_set = true;
  }
  return absl::OkStatus();
}

}  // namespace micro::internal
