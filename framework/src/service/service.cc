#include "micro/service.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <type_traits>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/http.h"
#include "core/net.h"
#include "micro/broker/plugin.h"
#include "micro/client/client.h"
#include "micro/flagset.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "micro/registry/memory.h"
#include "micro/registry/plugin.h"
#include "micro/server/server.h"
#include "micro/trace.h"
#include "micro/version.h"
#include "service/flags.h"
#include "service/pubsub.h"

namespace micro {
namespace {

// Signals reach Run through a pipe: the handler only writes a byte.
int g_signal_pipe[2] = {-1, -1};

void OnSignal(int) {
  int saved = errno;
  char b = 1;
  if (g_signal_pipe[1] >= 0) (void)!write(g_signal_pipe[1], &b, 1);
  errno = saved;
}

void InstallSignalHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe(g_signal_pipe) != 0) return;
    fcntl(g_signal_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(g_signal_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  });
}

constexpr char kExitPayload[] = "type.micro-cpp/init-exit";

absl::Status ExitRequest(absl::string_view what) {
  absl::Status s = absl::CancelledError(absl::StrCat(what, " shown"));
  s.SetPayload(kExitPayload, absl::Cord(what));
  return s;
}

absl::Status RunHooks(const std::vector<Hook>& hooks, const char* stage, bool stop_at_first) {
  std::vector<std::string> failures;
  for (const Hook& h : hooks) {
    absl::Status s = h();
    if (s.ok()) continue;
    if (stop_at_first) return absl::Status(s.code(), absl::StrCat(stage, ": ", s.message()));
    failures.push_back(std::string(s.message()));
  }
  if (failures.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(stage, ": ", absl::StrJoin(failures, "; ")));
}

}  // namespace

class Service::Impl {
 public:
  explicit Impl(Options options) : options_(std::move(options)) {}
  ~Impl() { StopObservability(); }

  absl::Status Init(int argc, char** argv) {
    if (server_ != nullptr || client_ != nullptr) {
      return absl::FailedPreconditionError("Init must come before server() and client()");
    }
    // Flags write into a copy, so a bad value leaves the options as they were.
    Options o = options_;
    std::string program = argc > 0 && argv[0] != nullptr ? argv[0] : o.server.name;
    if (std::size_t slash = program.rfind('/'); slash != std::string::npos)
      program = program.substr(slash + 1);
    FlagSet flags(program, absl::StrCat("the ", o.server.name, " service"));
    internal::ServiceFlagValues values;
    internal::AddServiceFlags(&flags, &o, &values);
    for (const auto& add : extra_) add(flags);
    bool version = false;
    flags.Bool("version", "", false, "print the version and exit", &version);
    std::vector<std::string> args;
    bool help = false, registry_set = false, broker_set = false;
    absl::Status s = flags.Parse(argc, argv, &args, &help);
    if (help) {
      std::fputs(flags.Usage().c_str(), stdout);
      return ExitRequest("help");
    }
    if (!s.ok()) return s;
    if (version) {
      std::printf("%s %s (micro-cpp %s)\n", o.server.name.c_str(), o.server.version.c_str(),
                  kVersion);
      return ExitRequest("version");
    }
    if (!args.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", args[0], "\" (flags start with --; see --help)"));
    }
    if (s = internal::ApplyServiceFlags(flags, values, &o, &registry_set, &broker_set); !s.ok())
      return s;
    if (s = ApplyLogOptions(o); !s.ok()) return s;
    // A registry or broker named by flag or variable replaces one given in code.
    if (registry_set) o.server.registry = nullptr;
    if (broker_set) o.broker_object = nullptr;
    {
      std::lock_guard<std::mutex> l(mu_);
      options_ = std::move(o);
    }
    // Fail now, naming the setting, rather than at the first call.
    if (auto reg = Registry(); !reg.ok()) {
      // The plugins' messages name the URI (secrets masked); only say where it came from.
      std::string message(reg.status().message());
      if (message.find("registry") == std::string::npos) {
        message =
            absl::StrCat("registry \"", registry::RedactUri(options_.registry), "\": ", message);
      }
      return absl::InvalidArgumentError(message);
    }
    return absl::OkStatus();
  }

  template <typename T>
  void AddFlag(std::string name, std::string help, T* target, std::string env) {
    extra_.push_back([=](FlagSet& f) {
      if constexpr (std::is_same_v<T, std::string>) {
        f.String(name, env, *target, help, target);
      } else if constexpr (std::is_same_v<T, bool>) {
        f.Bool(name, env, *target, help, target);
      } else if constexpr (std::is_same_v<T, int>) {
        f.Int(name, env, *target, help, target);
      } else {
        f.Duration(name, env, *target, help, target);
      }
    });
  }

  absl::StatusOr<std::shared_ptr<registry::Registry>> Registry() {
    std::lock_guard<std::mutex> l(mu_);
    if (options_.server.registry == nullptr) {
      auto made = registry::NewRegistry(options_.registry);
      if (!made.ok()) return made.status();
      options_.server.registry = std::shared_ptr<registry::Registry>(std::move(*made));
    }
    return options_.server.registry;
  }

  // The events side, made on first use with the options as Init left them.
  internal::PubSub& Events() {
    std::lock_guard<std::mutex> l(mu_);
    if (pubsub_ == nullptr) {
      pubsub_ = std::make_unique<internal::PubSub>(
          options_.server.name,
          [this]() -> absl::StatusOr<std::shared_ptr<broker::Broker>> {
            if (options_.broker_object != nullptr) return options_.broker_object;
            broker::BrokerContext context;
            auto reg = Registry();
            if (reg.ok()) context.registry = *reg;
            auto made = broker::NewBroker(options_.broker, context);
            if (!made.ok()) return made.status();
            return std::shared_ptr<broker::Broker>(std::move(*made));
          },
          options_.subscriber_wrappers);
    }
    return *pubsub_;
  }

  server::Server& Server() {
    std::lock_guard<std::mutex> l(mu_);
    if (server_ == nullptr) {
      server::ServerOptions o = options_.server;
      if (TlsSet()) o.tls = options_.tls;
      server_ = std::make_unique<server::Server>(std::move(o));
    }
    return *server_;
  }

  std::shared_ptr<client::Client> Client() {
    auto reg = Registry();
    std::lock_guard<std::mutex> l(mu_);
    if (client_ == nullptr) {
      client::ClientOptions o = options_.client;
      if (TlsSet()) o.tls = options_.tls;
      if (reg.ok()) {
        o.registry = *reg;
      } else {
        log::Error(absl::StrCat("client: ", reg.status().message(), "; no service will be found"));
        o.registry = std::shared_ptr<registry::Registry>(registry::NewMemoryRegistry());
      }
      client_ = std::make_shared<client::Client>(std::move(o));
    }
    return client_;
  }

  bool TlsSet() const {
    const tls::Options& t = options_.tls;
    return !t.cert_file.empty() || !t.key_file.empty() || !t.ca_file.empty() || t.client_auth;
  }

  // Level and format set in code or by Init; empty ones leave the variables' choice.
  static absl::Status ApplyLogOptions(const Options& o) {
    if (!o.log_level.empty()) {
      log::Level level;
      if (absl::Status s = log::ParseLevel(o.log_level, &level); !s.ok()) return s;
      log::SetLevel(level);
    }
    if (!o.log_format.empty()) {
      log::Format format;
      if (absl::Status s = log::ParseFormat(o.log_format, &format); !s.ok()) return s;
      log::SetFormat(format);
    }
    return absl::OkStatus();
  }

  absl::Status Start() {
    auto reg = Registry();
    if (!reg.ok())
      return absl::InvalidArgumentError(absl::StrCat("registry: ", reg.status().message()));
    if (absl::Status s = ApplyLogOptions(options_); !s.ok()) return s;
    if (TlsSet()) {
      if (absl::Status s = tls::Check(options_.tls, tls::Side::kClient); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("service ", options_.server.name, ": client ", s.message()));
      }
    }
    if (absl::Status s = RunHooks(options_.before_start, "before start", true); !s.ok()) return s;
    server::Server& srv = Server();
    srv.options().registry = *reg;
    if (!options_.trace_address.empty()) {
      trace::Options t;
      t.endpoint = options_.trace_address;
      t.sample_ratio = options_.trace_sample;
      t.service = options_.server.name;
      t.service_version = options_.server.version;
      if (absl::Status s = trace::Configure(t); !s.ok()) return s;
      tracing_ = true;
    }
    if (!options_.metrics_address.empty()) {
      if (absl::Status s = StartMetrics(srv); !s.ok()) return s;
    }
    if (absl::Status s = StartHealth(srv, **reg); !s.ok()) {
      StopObservability();
      return s;
    }
    if (absl::Status s = srv.Start(); !s.ok()) {
      StopObservability();
      return s;
    }
    if (absl::Status s = Events().Start(); !s.ok()) {
      (void)Events().Stop();
      (void)srv.Stop();
      StopObservability();
      return s;
    }
    return RunHooks(options_.after_start, "after start", true);
  }

  static internal::HttpServer::Answer HealthAnswer(const server::Server& srv) {
    if (srv.Ready()) return {200, "text/plain; charset=utf-8", "ok\n"};
    return {503, "text/plain; charset=utf-8",
            "not ready: unregistered, marked not serving, or stopping\n"};
  }

  // /health (200 while the server is Ready, else 503), for registries whose checks poll it
  // (Consul ?check=http) and for balancers: on the metrics server, or on --health_address, or,
  // when the registry needs one and neither is set, on a port of its own beside the server.
  absl::Status StartHealth(server::Server& srv, const registry::Registry& reg) {
    std::string address = options_.server.health_address;
    srv.options().health_address.clear();
    if (address.empty()) {
      if (metrics_ != nullptr) {
        srv.options().health_address = metrics_->address();
        return absl::OkStatus();
      }
      if (!reg.PollsHealthUrl()) return absl::OkStatus();
      std::string host;
      int port = 0;
      if (!internal::SplitHostPort(options_.server.address, &host, &port).ok()) host.clear();
      address = internal::JoinHostPort(host, 0);
    }
    health_ = std::make_unique<internal::HttpServer>();
    health_->Handle("/health", [&srv] { return HealthAnswer(srv); });
    if (absl::Status s = health_->Start(address); !s.ok()) {
      health_.reset();
      return absl::UnavailableError(absl::StrCat("health endpoint: ", s.message()));
    }
    srv.options().health_address = health_->address();
    log::Info(absl::StrCat("service ", options_.server.name, ": health on http://",
                           health_->address(), "/health"));
    return absl::OkStatus();
  }

  absl::Status StartMetrics(server::Server& srv) {
    metrics_ = std::make_unique<internal::HttpServer>();
    metrics_->Handle("/metrics", [] {
      return internal::HttpServer::Answer{200, "text/plain; version=0.0.4; charset=utf-8",
                                          metrics::Text()};
    });
    metrics_->Handle("/health", [&srv] { return HealthAnswer(srv); });
    {
      std::string name = options_.server.name;
      collector_ = metrics::AddCollector([this, name](std::vector<metrics::Sample>* out) {
        std::shared_ptr<client::Client> c;
        {
          std::lock_guard<std::mutex> l(mu_);
          c = client_;
        }
        if (c == nullptr) return;
        registry::CacheStats st = c->selector().cache().Stats();
        std::string l = absl::StrCat("micro_name=\"", metrics::EscapeLabel(name), "\"");
        auto add = [&](const char* family, const char* type, const char* help, double v) {
          out->push_back({family, type, help, l, v});
        };
        add("micro_registry_lookups_total", "counter", "Registry lookups the client's cache made",
            st.lookups);
        add("micro_registry_watch_events_total", "counter",
            "Registry watch events applied to the cache", st.events);
        add("micro_registry_stale_served_total", "counter",
            "Answers given from an expired cache entry while the registry failed", st.stale_served);
        add("micro_registry_watches_total", "counter", "Registry watches started (1 + recoveries)",
            st.watches);
        add("micro_registry_cache_entries", "gauge", "Services the client's registry cache holds",
            st.entries);
        add("micro_registry_cache_oldest_seconds", "gauge",
            "Age of the least recently loaded cache entry", st.oldest_seconds);
      });
    }
    if (absl::Status s = metrics_->Start(options_.metrics_address); !s.ok()) {
      StopObservability();
      return absl::UnavailableError(absl::StrCat("metrics: ", s.message()));
    }
    log::Info(absl::StrCat("service ", options_.server.name, ": metrics on http://",
                           metrics_->address(), "/metrics"));
    return absl::OkStatus();
  }

  void StopObservability() {
    if (metrics_ != nullptr) metrics_->Stop();
    metrics_.reset();
    if (health_ != nullptr) health_->Stop();
    health_.reset();
    if (collector_ != 0) metrics::RemoveCollector(collector_);
    collector_ = 0;
    if (tracing_) trace::Shutdown();
    tracing_ = false;
  }

  absl::Status Stop() {
    std::vector<std::string> errors;
    if (absl::Status s = RunHooks(options_.before_stop, "before stop", false); !s.ok())
      errors.emplace_back(s.message());
    if (pubsub_ != nullptr) {
      if (absl::Status s = pubsub_->Stop(); !s.ok())
        errors.push_back(absl::StrCat("events: ", s.message()));
    }
    if (server_ != nullptr) {
      if (absl::Status s = server_->Stop(); !s.ok())
        errors.push_back(absl::StrCat("stop: ", s.message()));
    }
    if (absl::Status s = RunHooks(options_.after_stop, "after stop", false); !s.ok())
      errors.emplace_back(s.message());
    StopObservability();
    if (errors.empty()) return absl::OkStatus();
    return absl::InternalError(absl::StrJoin(errors, "; "));
  }

  absl::Status Run() {
    InstallSignalHandlers();
    if (g_signal_pipe[0] < 0) return absl::InternalError("cannot set up signal handling");
    if (absl::Status s = Start(); !s.ok()) {
      log::Error(absl::StrCat("service ", options_.server.name, ": ", s.message()));
      return s;
    }
    char b;
    while (read(g_signal_pipe[0], &b, 1) < 0 && errno == EINTR) {
    }
    log::Info(absl::StrCat("service ", options_.server.name, ": stopping"));
    absl::Status s = Stop();
    if (!s.ok()) log::Error(absl::StrCat("service ", options_.server.name, ": ", s.message()));
    return s;
  }

  void Shutdown() { OnSignal(0); }

  const Options& options() const { return options_; }

 private:
  Options options_;
  std::vector<std::function<void(FlagSet&)>> extra_;
  std::mutex mu_;
  std::unique_ptr<server::Server> server_;
  std::shared_ptr<client::Client> client_;
  std::unique_ptr<internal::PubSub> pubsub_;
  std::unique_ptr<internal::HttpServer> metrics_;
  std::unique_ptr<internal::HttpServer> health_;  // /health on an address of its own
  std::uint64_t collector_ = 0;
  bool tracing_ = false;
};

Service::Service(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Service::~Service() = default;
absl::Status Service::Init(int argc, char** argv) { return impl_->Init(argc, argv); }
void Service::AddFlag(std::string name, std::string help, std::string* target, std::string env) {
  impl_->AddFlag(std::move(name), std::move(help), target, std::move(env));
}
void Service::AddFlag(std::string name, std::string help, bool* target, std::string env) {
  impl_->AddFlag(std::move(name), std::move(help), target, std::move(env));
}
void Service::AddFlag(std::string name, std::string help, int* target, std::string env) {
  impl_->AddFlag(std::move(name), std::move(help), target, std::move(env));
}
void Service::AddFlag(std::string name, std::string help, std::chrono::milliseconds* target,
                      std::string env) {
  impl_->AddFlag(std::move(name), std::move(help), target, std::move(env));
}

bool InitAskedToExit(const absl::Status& s) { return s.GetPayload(kExitPayload).has_value(); }

int InitExitCode(const absl::Status& s) {
  if (s.ok() || InitAskedToExit(s)) return 0;
  log::Error(std::string(s.message()));
  return 2;
}
server::Server& Service::server() { return impl_->Server(); }
std::shared_ptr<client::Client> Service::client() { return impl_->Client(); }
std::shared_ptr<registry::Registry> Service::registry() {
  auto r = impl_->Registry();
  return r.ok() ? *r : nullptr;
}
absl::StatusOr<std::shared_ptr<broker::Broker>> Service::broker() {
  return impl_->Events().Broker();
}
absl::Status Service::Subscribe(std::string topic, const google::protobuf::Message& prototype,
                                server::SubscriberFn fn, server::SubscriberOptions options) {
  return impl_->Events().Subscribe(std::move(topic), prototype, std::move(fn), std::move(options));
}
absl::Status Service::Start() { return impl_->Start(); }
absl::Status Service::Stop() { return impl_->Stop(); }
absl::Status Service::Run() { return impl_->Run(); }
void Service::Shutdown() { impl_->Shutdown(); }
const Options& Service::options() const { return impl_->options(); }

std::unique_ptr<Service> NewService(std::vector<Option> options) {
  Options o;
  for (const Option& opt : options) opt(o);
  return std::make_unique<Service>(std::move(o));
}

Option Name(std::string v) {
  return [v](Options& o) { o.server.name = v; };
}
Option Version(std::string v) {
  return [v](Options& o) { o.server.version = v; };
}
Option Id(std::string v) {
  return [v](Options& o) { o.server.id = v; };
}
Option Address(std::string v) {
  return [v](Options& o) { o.server.address = v; };
}
Option Advertise(std::string v) {
  return [v](Options& o) { o.server.advertise = v; };
}
Option Metadata(registry::Metadata v) {
  return [v](Options& o) { o.server.metadata = v; };
}
Option RegisterTTL(std::chrono::milliseconds v) {
  return [v](Options& o) { o.server.register_ttl = v; };
}
Option RegisterInterval(std::chrono::milliseconds v) {
  return [v](Options& o) { o.server.register_interval = v; };
}
Option RegisterCheck(std::function<absl::Status()> v) {
  return [v](Options& o) { o.server.register_check = v; };
}
Option RegisterRequired(bool v) {
  return [v](Options& o) { o.server.register_required = v; };
}
Option Registry(std::string uri) {
  return [uri](Options& o) {
    o.registry = uri;
    o.server.registry = nullptr;
  };
}
Option Registry(std::shared_ptr<registry::Registry> r) {
  return [r](Options& o) { o.server.registry = r; };
}
Option Broker(std::string uri) {
  return [uri](Options& o) {
    o.broker = uri;
    o.broker_object = nullptr;
  };
}
Option Broker(std::shared_ptr<broker::Broker> b) {
  return [b](Options& o) { o.broker_object = b; };
}
Option WrapSubscriber(server::SubscriberWrapper w) {
  return [w](Options& o) { o.subscriber_wrappers.push_back(w); };
}
Option Retries(int v) {
  return [v](Options& o) { o.client.retries = v; };
}
Option RequestTimeout(std::chrono::milliseconds v) {
  return [v](Options& o) { o.client.request_timeout = v; };
}
Option DrainGrace(std::chrono::milliseconds v) {
  return [v](Options& o) { o.server.drain_grace = v; };
}
Option WrapHandler(server::HandlerWrapper w) {
  return [w](Options& o) { o.server.wrappers.push_back(w); };
}
Option WrapClient(client::CallWrapper w) {
  return [w](Options& o) { o.client.wrappers.push_back(w); };
}
Option MetricsAddress(std::string address) {
  return [address](Options& o) { o.metrics_address = address; };
}
Option Tls(tls::Options tls) {
  return [tls = std::move(tls)](Options& o) { o.tls = tls; };
}

Option TraceAddress(std::string collector, double sample) {
  return [collector, sample](Options& o) {
    o.trace_address = collector;
    o.trace_sample = sample;
  };
}
Option BeforeStart(Hook h) {
  return [h](Options& o) { o.before_start.push_back(h); };
}
Option AfterStart(Hook h) {
  return [h](Options& o) { o.after_start.push_back(h); };
}
Option BeforeStop(Hook h) {
  return [h](Options& o) { o.before_stop.push_back(h); };
}
Option AfterStop(Hook h) {
  return [h](Options& o) { o.after_stop.push_back(h); };
}

}  // namespace micro
