#include "service/flags.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "micro/broker/plugin.h"
#include "micro/log.h"
#include "micro/registry/plugin.h"

namespace micro::internal {
namespace {

absl::Status Bad(const std::string& source, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", why));
}

absl::Status ParseMetadata(const std::string& source, const std::vector<std::string>& values,
                           registry::Metadata* out) {
  for (const std::string& v : values) {
    for (absl::string_view pair : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      std::size_t eq = pair.find('=');
      if (eq == absl::string_view::npos || eq == 0)
        return Bad(source, absl::StrCat("\"", v, "\" is not key=value pairs"));
      (*out)[std::string(absl::StripAsciiWhitespace(pair.substr(0, eq)))] =
          std::string(absl::StripAsciiWhitespace(pair.substr(eq + 1)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void AddServiceFlags(FlagSet* f, Options* o, ServiceFlagValues* v) {
  server::ServerOptions& s = o->server;
  client::ClientOptions& c = o->client;
  f->String("registry", "MICRO_REGISTRY", o->registry,
            "registry: mdns, consul, etcd, memory, or a URI like consul://host:8500", &v->registry);
  f->String("registry_address", "MICRO_REGISTRY_ADDRESS", "",
            "comma-separated registry addresses (host:port,...)", &v->registry_address);
  f->String("broker", "MICRO_BROKER", o->broker,
            "broker for events: http, memory, or a URI like http://0.0.0.0:0", &v->broker);
  f->String("broker_address", "MICRO_BROKER_ADDRESS", "",
            "broker address: where the http broker serves subscribers (host:port), or the "
            "brokers' addresses (host:port,...)",
            &v->broker_address);
  f->String("server_address", "MICRO_SERVER_ADDRESS", s.address,
            "address to listen on, host:port (:0 = any port)", &s.address);
  f->String("server_advertise", "MICRO_SERVER_ADVERTISE", s.advertise,
            "address to register instead of the listen address", &s.advertise);
  f->String("server_name", "MICRO_SERVER_NAME", s.name, "name to register the service under",
            &s.name);
  f->String("server_version", "MICRO_SERVER_VERSION", s.version, "version to register", &s.version);
  f->String("server_id", "MICRO_SERVER_ID", s.id, "node id (default <name>-<uuid>)", &s.id);
  f->Strings("server_metadata", "MICRO_SERVER_METADATA",
             "node metadata, key=value[,key=value...] (repeatable)", &v->metadata);
  f->Bool("server_reflection", "MICRO_SERVER_REFLECTION", s.reflection,
          "serve gRPC reflection: it lists every service and message type to any caller",
          &s.reflection);
  f->Int("server_max_streams", "MICRO_SERVER_MAX_STREAMS", s.max_concurrent_streams,
         "calls one client connection may have open at once", &s.max_concurrent_streams);
  f->Bytes("server_memory_limit", "MICRO_SERVER_MEMORY_LIMIT", s.memory_limit_bytes,
           "memory gRPC may use for connections and calls (0 = no limit)", &s.memory_limit_bytes);
  f->Duration("register_ttl", "MICRO_REGISTER_TTL", s.register_ttl,
              "registration TTL: a duration like 90s, or seconds (0: none)", &s.register_ttl);
  f->Duration("register_interval", "MICRO_REGISTER_INTERVAL", s.register_interval,
              "re-registration interval: a duration, or seconds", &s.register_interval);
  f->Bool("register_required", "MICRO_REGISTER_REQUIRED", s.register_required,
          "exit when the first registration fails, instead of serving and trying again",
          &s.register_required);
  f->Int("client_retries", "MICRO_CLIENT_RETRIES", c.retries,
         "retries of a failed call on another node", &c.retries);
  f->Duration("client_request_timeout", "MICRO_CLIENT_REQUEST_TIMEOUT", c.request_timeout,
              "call timeout: a duration like 5s", &c.request_timeout);
  f->String("selector_strategy", "MICRO_SELECTOR_STRATEGY",
            selector::StrategyName(c.selector.strategy),
            "how a client picks a node: random, roundrobin or leastinflight", &v->strategy);
  f->String("registry_cache_dir", "MICRO_REGISTRY_CACHE_DIR", c.selector.cache.persist_dir,
            "keep what the client learns of services here, and serve it when the registry "
            "is down at start (last-known-good; empty: off)",
            &c.selector.cache.persist_dir);
  f->Int("client_pool_size", "MICRO_CLIENT_POOL_SIZE", static_cast<int>(c.pool_size),
         "connections kept to nodes", &v->pool_size);
  f->String("metrics_address", "MICRO_METRICS_ADDRESS", o->metrics_address,
            "serve Prometheus metrics on http://host:port/metrics, and /health (empty: off)",
            &o->metrics_address);
  f->String("health_address", "MICRO_HEALTH_ADDRESS", s.health_address,
            "serve GET /health on host:port (200 while registered and serving, else 503); "
            "default: on --metrics_address, or a free port when the registry polls it",
            &s.health_address);
  tls::Options& t = o->tls;
  f->String("tls_cert", "MICRO_TLS_CERT", t.cert_file,
            "TLS certificate chain (PEM): serve TLS, and present it to mTLS servers", &t.cert_file);
  f->String("tls_key", "MICRO_TLS_KEY", t.key_file, "private key of --tls_cert (PEM)", &t.key_file);
  f->String("tls_ca", "MICRO_TLS_CA", t.ca_file,
            "CA bundle (PEM) that servers' and, with --tls_client_auth, clients' certificates are "
            "verified against; setting it makes the client use TLS",
            &t.ca_file);
  f->Bool("tls_client_auth", "MICRO_TLS_CLIENT_AUTH", t.client_auth,
          "require client certificates signed by --tls_ca (mutual TLS)", &t.client_auth);
  f->String("tls_server_name", "MICRO_TLS_SERVER_NAME", t.server_name,
            "name servers' certificates must carry (default: the node's host)", &t.server_name);
  f->Bool("tls_allow_plaintext", "MICRO_TLS_ALLOW_PLAINTEXT", t.allow_plaintext,
          "with TLS on, still call nodes that register secure=false in plain text",
          &t.allow_plaintext);
  v->tls_reload = std::chrono::duration_cast<std::chrono::milliseconds>(t.reload_interval);
  f->Duration("tls_reload_interval", "MICRO_TLS_RELOAD_INTERVAL", v->tls_reload,
              "how often the TLS files are checked for a renewal", &v->tls_reload);
  f->String("log_level", "MICRO_LOG_LEVEL", o->log_level.empty() ? "info" : o->log_level,
            "debug, info, warn or error", &o->log_level);
  f->String("log_format", "MICRO_LOG_FORMAT", o->log_format.empty() ? "text" : o->log_format,
            "text or json (one object per line)", &o->log_format);
  f->String("trace_address", "MICRO_TRACE_ADDRESS", o->trace_address,
            "OTLP/HTTP collector for spans, http://host:4318[/v1/traces] (empty: off)",
            &o->trace_address);
  f->String("trace_sample", "MICRO_TRACE_SAMPLE", absl::StrCat(o->trace_sample),
            "share of the traces this service starts that are recorded, 0 to 1", &v->trace_sample);
}

namespace {

// --broker/--broker_address into o->broker, as the registry's pair.
absl::Status ApplyBrokerFlags(const FlagSet& f, const ServiceFlagValues& v, Options* o,
                              bool* broker_set) {
  *broker_set = false;
  std::string kind_src = f.Source("broker"), addr_src = f.Source("broker_address");
  if (kind_src.empty() && addr_src.empty()) return absl::OkStatus();
  std::string kind = v.broker;
  if (kind_src.empty()) {
    auto parsed = broker::ParseBrokerAddress(o->broker);
    kind = parsed.ok() ? parsed->scheme : o->broker;
  }
  const std::string& source = kind_src.empty() ? addr_src : kind_src;
  auto uri = broker::BrokerUri(kind, addr_src.empty() ? "" : v.broker_address);
  if (!uri.ok()) return Bad(source, uri.status().message());
  auto parsed = broker::ParseBrokerAddress(*uri);
  if (!parsed.ok()) return Bad(source, parsed.status().message());
  std::vector<std::string> known = broker::BrokerSchemes();
  if (std::find(known.begin(), known.end(), parsed->scheme) == known.end()) {
    return Bad(source, absl::StrCat("unknown broker \"", parsed->scheme,
                                    "\" (known: ", absl::StrJoin(known, ", "), ")"));
  }
  o->broker = *uri;
  *broker_set = true;
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyServiceFlags(const FlagSet& f, const ServiceFlagValues& v, Options* o,
                               bool* registry_set, bool* broker_set) {
  if (absl::Status s = ApplyBrokerFlags(f, v, o, broker_set); !s.ok()) return s;
  const std::string& reg = v.registry;
  const std::string& addr = v.registry_address;
  *registry_set = false;
  auto positive = [&](const char* name, bool ok, const char* why) {
    std::string source = f.Source(name);
    return source.empty() || ok ? absl::OkStatus() : Bad(source, why);
  };
  for (absl::Status s :
       {positive("register_interval", o->server.register_interval.count() > 0, "must be positive"),
        positive("client_request_timeout", o->client.request_timeout.count() > 0,
                 "must be positive"),
        positive("client_retries", o->client.retries >= 0, "must not be negative"),
        positive("server_max_streams", o->server.max_concurrent_streams >= 1, "must be at least 1"),
        positive("client_pool_size", v.pool_size >= 1, "must be at least 1"),
        positive("tls_reload_interval", v.tls_reload.count() >= 1000, "must be at least 1s")}) {
    if (!s.ok()) return s;
  }
  o->client.pool_size = static_cast<std::size_t>(v.pool_size);
  o->tls.reload_interval = std::chrono::duration_cast<std::chrono::seconds>(v.tls_reload);
  if (std::string source = f.Source("trace_sample"); !source.empty()) {
    double ratio = 0;
    if (!absl::SimpleAtod(v.trace_sample, &ratio) || !(ratio >= 0 && ratio <= 1))
      return Bad(source, absl::StrCat("\"", v.trace_sample, "\" is not a number from 0 to 1"));
    o->trace_sample = ratio;
  }
  log::Level level;
  if (std::string source = f.Source("log_level"); !source.empty()) {
    if (absl::Status s = log::ParseLevel(o->log_level, &level); !s.ok())
      return Bad(source, s.message());
  }
  log::Format format;
  if (std::string source = f.Source("log_format"); !source.empty()) {
    if (absl::Status s = log::ParseFormat(o->log_format, &format); !s.ok())
      return Bad(source, s.message());
  }
  if (std::string source = f.Source("selector_strategy"); !source.empty()) {
    if (!selector::StrategyFromName(v.strategy, &o->client.selector.strategy)) {
      return Bad(source,
                 absl::StrCat("\"", v.strategy, "\" is not random, roundrobin or leastinflight"));
    }
  }
  if (std::string source = f.Source("server_metadata"); !source.empty()) {
    registry::Metadata parsed;
    if (absl::Status s = ParseMetadata(source, v.metadata, &parsed); !s.ok()) return s;
    o->server.metadata = std::move(parsed);
  }

  std::string reg_src = f.Source("registry"), addr_src = f.Source("registry_address");
  if (reg_src.empty() && addr_src.empty()) return absl::OkStatus();
  std::string kind = reg;
  if (reg_src.empty()) {
    // An address alone keeps the registry kind chosen in code.
    auto parsed = registry::ParseRegistryAddress(o->registry);
    kind = parsed.ok() ? parsed->scheme : o->registry;
  }
  const std::string& source = reg_src.empty() ? addr_src : reg_src;
  auto uri = registry::RegistryUri(kind, addr_src.empty() ? "" : addr);
  if (!uri.ok()) return Bad(source, uri.status().message());
  if (auto parsed = registry::ParseRegistryAddress(*uri); !parsed.ok())
    return Bad(source, parsed.status().message());
  o->registry = *uri;
  *registry_set = true;
  return absl::OkStatus();
}

}  // namespace micro::internal
