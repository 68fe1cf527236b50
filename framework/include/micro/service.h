// Service: a server and a client sharing one registry, with go-micro's life cycle.
//
//   auto service = micro::NewService(micro::Name("helloworld"), micro::Version("1.0.0"));
//   if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
//   helloworld::RegisterGreeterHandler(service->server(), std::make_shared<Greeter>());
//   return service->Run().ok() ? 0 : 1;
//
// Init reads flags (--server_name, --registry, ... ; --help lists them) and
// MICRO_* environment variables: a flag wins over its variable, which wins
// over a value set in code (Name(...) included), which wins over the default;
// a value set in code is never reset to a flag default. Bad values fail with
// a message naming the flag or variable, and leave the options as they were.
// --help and --version print to stdout and make Init return a status for
// which InitAskedToExit() is true: the program should exit 0 without running.
//
// Registry URIs are resolved through the plugin table (micro/registry/plugin.h).
// Service itself knows only memory://; including micro/micro.h (target
// micro::micro) adds the built-in mdns, consul and etcd plugins.
//
// Broker URIs are resolved the same way (micro/broker/plugin.h): memory:// alone, http://
// (the default) with micro/micro.h.
//
// Thread-safety: configure (options, AddFlag, Init) from one thread; after
// that server(), client(), registry(), broker(), Subscribe() and Shutdown() may
// be called from any.
//
// Run: BeforeStart hooks, start (listen, register), AfterStart hooks, wait for
// SIGINT/SIGTERM (or Shutdown()), BeforeStop hooks, stop (deregister, drain),
// AfterStop hooks. A failing BeforeStart hook aborts the start with its error;
// every stop hook runs and all their errors are reported together.
// server() and client() are made on first use, after Init.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "micro/client/options.h"
#include "micro/server/options.h"
#include "micro/tls.h"

namespace google::protobuf {
class Message;
}

namespace micro {

namespace server {
class Server;
}
namespace broker {
class Broker;
}
namespace client {
class Client;
}

using Hook = std::function<absl::Status()>;

struct Options {
  server::ServerOptions server;  // name, version, address, registration...
  client::ClientOptions client;  // retries, timeouts...
  // Registry URI used when no registry object was given: "mdns://" (the
  // default: multicast DNS on the LAN), "mdns://127.0.0.1" (this machine
  // only), "consul://127.0.0.1:8500", "memory://" (this process only).
  std::string registry = "mdns://";
  // Broker URI for events (micro/event.h), used when no broker object was given: "http://"
  // (go-micro's default: subscribers serve HTTP on 127.0.0.1 and register in the registry),
  // "http://0.0.0.0:0" (reachable from other machines), "memory://" (this process only).
  std::string broker = "http://";
  std::shared_ptr<broker::Broker> broker_object;
  std::vector<server::SubscriberWrapper> subscriber_wrappers;
  std::vector<Hook> before_start, after_start, before_stop, after_stop;

  // Observability (docs/operations.md). Prometheus text on
  // http://<metrics_address>/metrics while the service runs; empty: off.
  std::string metrics_address;
  std::string log_level;   // debug, info, warn, error; empty: MICRO_LOG_LEVEL, else info
  std::string log_format;  // text or json; empty: MICRO_LOG_FORMAT, else text
  // OTLP/HTTP collector for spans ("http://127.0.0.1:4318/v1/traces"); empty: tracing off.
  std::string trace_address;
  double trace_sample = 1.0;  // share of the traces this service starts that are recorded

  // TLS for the service's server and client alike (micro/tls.h, docs/security.md); when it names
  // any file it replaces server.tls and client.tls. Flags --tls_cert, --tls_key, --tls_ca,
  // --tls_client_auth ... set it.
  tls::Options tls;
};

using Option = std::function<void(Options&)>;

class Service {
 public:
  explicit Service(Options options);
  ~Service();

  absl::Status Init(int argc, char** argv);
  // A flag of the service's own, added before Init: --name value or
  // --name=value, else the variable `env` (when not empty), else what *target
  // holds (the default, shown by --help). Durations read "30s", "250ms", "1m"
  // or seconds; booleans true/false/1/0 (--name alone is true). `target` must
  // outlive Init.
  void AddFlag(std::string name, std::string help, std::string* target, std::string env = "");
  void AddFlag(std::string name, std::string help, bool* target, std::string env = "");
  void AddFlag(std::string name, std::string help, int* target, std::string env = "");
  void AddFlag(std::string name, std::string help, std::chrono::milliseconds* target,
               std::string env = "");

  server::Server& server();
  std::shared_ptr<client::Client> client();
  std::shared_ptr<registry::Registry> registry();
  // The service's broker (Options::broker), made and connected on first use. Errors name the
  // broker URI (unknown scheme, bad address, nothing to listen on).
  absl::StatusOr<std::shared_ptr<broker::Broker>> broker();
  // Subscribes `fn` to `topic`, messages decoded as `prototype`'s type: when the service starts,
  // or at once when it runs; unsubscribed when it stops. micro::RegisterSubscriber<T> (micro/
  // event.h) is the typed way to call it. InvalidArgument for an empty topic.
  absl::Status Subscribe(std::string topic, const google::protobuf::Message& prototype,
                         server::SubscriberFn fn, server::SubscriberOptions options = {});

  absl::Status Start();
  absl::Status Stop();
  absl::Status Run();
  // Makes Run() stop, as a signal does. Thread-safe and async-signal-safe.
  void Shutdown();

  const Options& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// True for Init's status after --help or --version (already printed).
bool InitAskedToExit(const absl::Status& init_status);
// What main() returns when Init did not succeed: 0 after --help/--version,
// otherwise 2 after logging the error.
int InitExitCode(const absl::Status& init_status);

std::unique_ptr<Service> NewService(std::vector<Option> options);
template <typename... O>
std::unique_ptr<Service> NewService(O&&... options) {
  return NewService(std::vector<Option>{std::forward<O>(options)...});
}

// Option helpers, in go-micro's words.
Option Name(std::string name);
Option Version(std::string version);
Option Id(std::string id);
Option Address(std::string address);
Option Advertise(std::string address);
Option Metadata(registry::Metadata metadata);
Option RegisterTTL(std::chrono::milliseconds ttl);
Option RegisterInterval(std::chrono::milliseconds interval);
Option RegisterCheck(std::function<absl::Status()> check);
// Exit at start when the first registration fails (default: serve and keep trying).
Option RegisterRequired(bool required);
Option Registry(std::string uri);
Option Registry(std::shared_ptr<registry::Registry> registry);
// The broker events go through: a URI (see Options::broker) or an object of the application's.
Option Broker(std::string uri);
Option Broker(std::shared_ptr<broker::Broker> broker);
Option WrapSubscriber(server::SubscriberWrapper wrapper);
Option Retries(int retries);
Option RequestTimeout(std::chrono::milliseconds timeout);
Option DrainGrace(std::chrono::milliseconds grace);
Option WrapHandler(server::HandlerWrapper wrapper);
Option WrapClient(client::CallWrapper wrapper);
Option MetricsAddress(std::string address);
Option TraceAddress(std::string collector, double sample = 1.0);
// TLS for the server and the client (see Options::tls).
Option Tls(tls::Options tls);
Option BeforeStart(Hook hook);
Option AfterStart(Hook hook);
Option BeforeStop(Hook hook);
Option AfterStop(Hook hook);

}  // namespace micro
