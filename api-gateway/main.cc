// api-gateway: go-micro's `micro api` (rpc handler) for micro-cpp services.
//
//   api-gateway --registry mdns --address :8080
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

int main(int argc, char** argv) {
  micro::api::GatewayOptions o;
  std::string registry, registry_address, origins;
  micro::FlagSet flags("api-gateway",
                       "HTTP gateway to micro services, like go-micro's `micro api` (rpc handler)");
  flags.String("address", "MICRO_API_ADDRESS", ":8080", "listen address, host:port or :port",
               &o.address);
  flags.String("namespace", "MICRO_API_NAMESPACE", "go.micro.api",
               "namespace prefixed to services resolved from paths", &o.ns);
  flags.String("registry", "MICRO_REGISTRY", "mdns",
               "registry: mdns, consul, etcd, memory, or a full URI such as consul://host:8500",
               &registry);
  flags.String("registry_address", "MICRO_REGISTRY_ADDRESS", "",
               "registry addresses, comma-separated", &registry_address);
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
  co.content_type = "application/grpc+json";
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
  micro::log::Info(
      absl::StrCat("api gateway listening on ", o.address, " (port ", gateway.port(),
                   "), namespace ", o.ns.empty() ? "(none)" : o.ns, ", registry ", reg_name,
                   cache_dir.empty() ? "" : absl::StrCat(", last-known-good in ", cache_dir)));
  int sig = 0;
  sigwait(&set, &sig);
  micro::log::Info(absl::StrCat("api gateway: signal ", sig, ", draining"));
  gateway.Stop();
  micro::trace::Shutdown();
  micro::log::Info("api gateway stopped");
  return 0;
}
