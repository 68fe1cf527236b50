// api-gateway: go-micro's `micro api` (rpc handler) for micro-cpp services.
//
//   api-gateway --registry mdns --address 127.0.0.1:8080
//   curl -H 'Authorization: Bearer VALID_TOKEN' localhost:8080/hotel/rates
//        -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}'
//
// Flags and MICRO_* variables: see --help. SIGINT/SIGTERM stop it gracefully.
#include <signal.h>

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway.h"
#include "micro/client/client.h"
#include "micro/flagset.h"
#include "micro/log.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/cache.h"
#include "micro/registry/plugin.h"
#include "micro/trace.h"
#include "micro/version.h"
#include "registration.h"

int main(int argc, char** argv) {
  micro::api::GatewayOptions o;
  std::string registry, registry_address, origins, allow, deny, rate_limit = "0", rate_burst = "0";
  micro::tls::Options tls;
  bool https = true;
  micro::FlagSet flags("api-gateway",
                       "HTTP gateway to micro services, like go-micro's `micro api` (rpc handler)");
  flags.String("address", "MICRO_API_ADDRESS", o.address,
               "listen address, host:port (:port = every interface)", &o.address);
  flags.String("admin_address", "MICRO_API_ADMIN_ADDRESS", "127.0.0.1:9180",
               "/metrics and /health here, plain HTTP (empty: no admin listener)",
               &o.admin_address);
  flags.String("namespace", "MICRO_API_NAMESPACE", o.policy.ns,
               "namespace prefixed to services resolved from paths; /rpc stays inside it",
               &o.policy.ns);
  flags.Bool("enable_rpc", "MICRO_API_ENABLE_RPC", o.policy.rpc,
             "serve /rpc (service and endpoint named in the body)", &o.policy.rpc);
  flags.String("allow", "MICRO_API_ALLOW", "",
               "forward only these: comma-separated service or service/Endpoint, '*' at the end "
               "of a part matches a prefix (empty: all)",
               &allow);
  flags.String("deny", "MICRO_API_DENY", "",
               "never forward these (same patterns as --allow; deny wins)", &deny);
  flags.String("reserved_header_prefix", "MICRO_API_RESERVED_HEADER_PREFIX",
               o.policy.reserved_prefix,
               "request headers with this prefix are dropped, not passed to services (empty: none)",
               &o.policy.reserved_prefix);
  flags.String("rate_limit", "MICRO_API_RATE_LIMIT", rate_limit,
               "requests per second per client address, 429 past it (0: no limit)", &rate_limit);
  flags.String("rate_burst", "MICRO_API_RATE_BURST", rate_burst,
               "requests a client may burst above --rate_limit (0: the rate)", &rate_burst);
  flags.String("tls_cert", "MICRO_TLS_CERT", "",
               "certificate (PEM): HTTPS on --address, and presented to mTLS services",
               &tls.cert_file);
  flags.String("tls_key", "MICRO_TLS_KEY", "", "private key of --tls_cert (PEM)", &tls.key_file);
  flags.String("tls_ca", "MICRO_TLS_CA", "",
               "CA bundle (PEM) services' and, with --tls_client_auth, HTTPS clients' "
               "certificates are verified against; setting it makes calls to services use TLS",
               &tls.ca_file);
  flags.Bool("tls_client_auth", "MICRO_TLS_CLIENT_AUTH", false,
             "HTTPS clients must present a certificate signed by --tls_ca", &tls.client_auth);
  flags.String("tls_server_name", "MICRO_TLS_SERVER_NAME", "",
               "name services' certificates must carry (default: the node's host)",
               &tls.server_name);
  flags.Bool("tls_allow_plaintext", "MICRO_TLS_ALLOW_PLAINTEXT", false,
             "with TLS on, still call services that register secure=false in plain text",
             &tls.allow_plaintext);
  flags.Bool("https", "MICRO_API_HTTPS", https,
             "serve HTTPS when --tls_cert is set (false: plain HTTP, TLS only towards services)",
             &https);
  flags.String("registry", "MICRO_REGISTRY", "mdns",
               "registry: mdns, consul, etcd, memory, or a full URI such as consul://host:8500",
               &registry);
  flags.String("registry_address", "MICRO_REGISTRY_ADDRESS", "",
               "registry addresses, comma-separated", &registry_address);
  micro::api::RegistrationOptions self;
  bool register_self = false;
  flags.Bool("register", "MICRO_API_REGISTER", false,
             "register the gateway itself in the registry (as --register_name, its /health as the "
             "health URL Consul's ?check=http polls), so Consul DNS or a balancer finds gateways",
             &register_self);
  flags.String("register_name", "MICRO_API_REGISTER_NAME", self.name,
               "service name the gateway registers as, with --register", &self.name);
  flags.String("advertise", "MICRO_API_ADVERTISE", "",
               "host:port to register with --register (default: this machine's address and "
               "--address's port)",
               &self.advertise);
  flags.Duration("register_ttl", "MICRO_REGISTER_TTL", self.ttl,
                 "with --register: how long the registration lives without a heartbeat", &self.ttl);
  flags.Duration("register_interval", "MICRO_REGISTER_INTERVAL", self.interval,
                 "with --register: heartbeat interval", &self.interval);
  flags.Bool("enable_cors", "MICRO_API_ENABLE_CORS", false,
             "answer CORS preflights and add CORS headers", &o.cors);
  flags.String("cors_origins", "MICRO_API_CORS_ORIGINS", "*",
               "comma-separated allowed origins (* = any)", &origins);
  flags.Bytes("max_body_bytes", "MICRO_API_MAX_BODY_BYTES", o.max_body,
              "largest request body (413 above)", &o.max_body);
  flags.Bytes("max_header_bytes", "MICRO_API_MAX_HEADER_BYTES", o.max_header,
              "largest request header block (431 above)", &o.max_header);
  flags.Duration("request_timeout", "MICRO_API_REQUEST_TIMEOUT", o.request_timeout,
                 "deadline of a call, retries included (504 after)", &o.request_timeout);
  flags.Duration("read_timeout", "MICRO_API_READ_TIMEOUT", o.read_timeout,
                 "time to read one request (408 after)", &o.read_timeout);
  flags.Duration("idle_timeout", "MICRO_API_IDLE_TIMEOUT", o.idle_timeout,
                 "keep-alive connection closed after this long without a request", &o.idle_timeout);
  flags.Int("threads", "MICRO_API_THREADS", o.threads, "HTTP threads", &o.threads);
  int max_connections = static_cast<int>(o.max_connections);
  flags.Int("max_connections", "MICRO_API_MAX_CONNECTIONS", max_connections,
            "open connections kept at most (past it: 503 and close)", &max_connections);
  std::string strategy = "random";
  flags.String("selector_strategy", "MICRO_SELECTOR_STRATEGY", strategy,
               "how the gateway picks a node: random, roundrobin or leastinflight", &strategy);
  std::string cache_dir = micro::registry::DefaultCacheDir();
  flags.String("registry_cache_dir", "MICRO_REGISTRY_CACHE_DIR", cache_dir,
               "keep what the gateway learns of services here, and serve it when the registry "
               "is down at start (last-known-good; empty: off)",
               &cache_dir);
  bool help = false, version = false;
  std::string log_level = "info", log_format = "text", trace_address, trace_sample = "1";
  flags.String("log_level", "MICRO_LOG_LEVEL", log_level, "debug, info, warn or error", &log_level);
  flags.String("log_format", "MICRO_LOG_FORMAT", log_format, "text or json (one object per line)",
               &log_format);
  flags.String("trace_address", "MICRO_TRACE_ADDRESS", trace_address,
               "OTLP/HTTP collector for spans, http://host:4318[/v1/traces] (empty: off)",
               &trace_address);
  flags.String("trace_sample", "MICRO_TRACE_SAMPLE", trace_sample,
               "share of the traces the gateway starts that are recorded, 0 to 1", &trace_sample);
  flags.Bool("version", "", false, "print the version and exit", &version);
  std::vector<std::string> args;
  if (absl::Status s = flags.Parse(argc, argv, &args, &help); !s.ok()) {
    micro::log::Error(s.message());
    return 2;
  }
  if (help) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (version) {
    std::printf("api-gateway %s\n", micro::kVersion);
    return 0;
  }
  if (!args.empty()) {
    micro::log::Error(absl::StrCat("unexpected argument \"", args[0], "\" (see --help)"));
    return 2;
  }
  if (max_connections < 1) {
    micro::log::Error("--max_connections must be at least 1");
    return 2;
  }
  o.max_connections = static_cast<std::size_t>(max_connections);
  {
    micro::log::Level level;
    micro::log::Format format;
    absl::Status s = micro::log::ParseLevel(log_level, &level);
    if (s.ok()) s = micro::log::ParseFormat(log_format, &format);
    if (!s.ok()) {
      micro::log::Error(s.message());
      return 2;
    }
    micro::log::SetLevel(level);
    micro::log::SetFormat(format);
    micro::trace::Options t;
    t.endpoint = trace_address;
    t.service = "micro-api";
    t.service_version = micro::kVersion;
    if (!absl::SimpleAtod(trace_sample, &t.sample_ratio)) {
      micro::log::Error(absl::StrCat("--trace_sample \"", trace_sample, "\" is not a number"));
      return 2;
    }
    if (!t.endpoint.empty()) {
      if (s = micro::trace::Configure(t); !s.ok()) {
        micro::log::Error(s.message());
        return 2;
      }
    }
  }
  if (o.threads < 1) {
    micro::log::Error("--threads must be at least 1");
    return 2;
  }
  o.cors_origins = absl::StrSplit(origins, ',', absl::SkipWhitespace());
  o.policy.allow = absl::StrSplit(allow, ',', absl::SkipWhitespace());
  o.policy.deny = absl::StrSplit(deny, ',', absl::SkipWhitespace());
  if (!absl::SimpleAtod(rate_limit, &o.rate_limit) || !(o.rate_limit >= 0) ||
      !absl::SimpleAtod(rate_burst, &o.rate_burst) || !(o.rate_burst >= 0)) {
    micro::log::Error("--rate_limit and --rate_burst must be numbers, 0 or more");
    return 2;
  }
  if (https) {
    o.tls.cert_file = tls.cert_file;
    o.tls.key_file = tls.key_file;
    o.tls.ca_file = tls.ca_file;
    o.tls.client_auth = tls.client_auth;
  } else if (tls.client_auth) {
    micro::log::Error("--tls_client_auth asks for HTTPS client certificates, and --https is off");
    return 2;
  }
  if (absl::Status s = micro::tls::Check(tls, micro::tls::Side::kClient); !s.ok()) {
    micro::log::Error(s.message());
    return 2;
  }

  micro::RegisterBuiltinPlugins();
  absl::StatusOr<std::string> uri = micro::registry::RegistryUri(registry, registry_address);
  absl::StatusOr<std::unique_ptr<micro::registry::Registry>> reg =
      uri.ok() ? micro::registry::NewRegistry(*uri) : uri.status();
  if (!reg.ok()) {
    micro::log::Error(reg.status().message());
    return 2;
  }
  std::string reg_name = (*reg)->String();
  micro::client::ClientOptions co;
  if (!micro::selector::StrategyFromName(strategy, &co.selector.strategy)) {
    micro::log::Error(absl::StrCat("flag --selector_strategy: \"", strategy,
                                   "\" is not random, roundrobin or leastinflight"));
    return 2;
  }
  co.selector.cache.persist_dir = cache_dir;
  co.registry = std::move(*reg);
  std::shared_ptr<micro::registry::Registry> shared_registry = co.registry;
  co.content_type = "application/grpc+json";
  co.tls = tls;
  co.tls.client_auth = false;  // an HTTPS matter, not the client's
  auto client = std::make_shared<micro::client::Client>(co);

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  micro::api::Gateway gateway(o, client);
  if (absl::Status s = gateway.Start(); !s.ok()) {
    micro::log::Error(s.message());
    return 1;
  }
  micro::log::Info(absl::StrCat(
      "api gateway listening on ", o.address, " (port ", gateway.port(), ", ",
      o.tls.server_enabled() ? "HTTPS" : "HTTP", "), namespace ",
      o.policy.ns.empty() ? "(none)" : o.policy.ns, o.policy.rpc ? ", /rpc on" : "",
      o.admin_address.empty()
          ? ""
          : absl::StrCat(", admin on ", o.admin_address, " (port ", gateway.admin_port(), ")"),
      o.rate_limit > 0 ? absl::StrCat(", ", o.rate_limit, " requests/s per client") : "",
      ", services over ", micro::tls::Describe(co.tls, micro::tls::Side::kClient), ", registry ",
      reg_name, cache_dir.empty() ? "" : absl::StrCat(", last-known-good in ", cache_dir)));
  std::unique_ptr<micro::api::SelfRegistration> registration;
  if (register_self) {
    self.https = o.tls.server_enabled();
    auto r = micro::api::SelfRegistration::Start(self, shared_registry, gateway.port());
    if (!r.ok()) {
      micro::log::Error(r.status().message());
      gateway.Stop();
      return 2;
    }
    registration = std::move(*r);
  }
  int sig = 0;
  sigwait(&set, &sig);
  micro::log::Info(absl::StrCat("api gateway: signal ", sig, ", draining"));
  if (registration != nullptr) (void)registration->Stop();  // leave the registry, then drain
  gateway.Stop();
  micro::trace::Shutdown();
  micro::log::Info("api gateway stopped");
  return 0;
}
