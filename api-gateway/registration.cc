#include "registration.h"

#include "absl/strings/str_cat.h"
#include "core/net.h"
#include "micro/log.h"
#include "micro/version.h"
#include "server/registrar.h"

namespace micro::api {

struct SelfRegistration::State {
  server::ServerOptions options;  // what the registrar reads: name, id, registry, ttl, interval
  std::unique_ptr<server::detail::Registrar> registrar;
  bool stopped = false;
};

SelfRegistration::SelfRegistration(std::unique_ptr<State> state) : state_(std::move(state)) {}

SelfRegistration::~SelfRegistration() { (void)Stop(); }

absl::StatusOr<std::unique_ptr<SelfRegistration>> SelfRegistration::Start(
    RegistrationOptions options, std::shared_ptr<registry::Registry> registry, int port) {
  if (options.name.empty()) return absl::InvalidArgumentError("--register_name is empty");
  std::string address;
  if (options.advertise.empty()) {
    address = internal::JoinHostPort(internal::ReachableHost(), port);
  } else {
    std::string host;
    int aport = 0;
    if (!internal::SplitHostPort(options.advertise, &host, &aport).ok() || aport == 0 ||
        internal::IsUnspecified(host)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--advertise \"", options.advertise, "\" must be host:port with a host and a port"));
    }
    address = options.advertise;
  }
  auto state = std::make_unique<State>();
  server::ServerOptions& so = state->options;
  so.name = options.name;
  so.version = kVersion;
  so.id = options.id.empty() ? absl::StrCat(options.name, "-", internal::NewUuid()) : options.id;
  so.registry = std::move(registry);
  so.register_ttl = options.ttl;
  so.register_interval = options.interval;
  so.release_memory = false;

  registry::Service service;
  service.name = so.name;
  service.version = so.version;
  registry::Node node{so.id, address, {}};
  std::string reg = so.registry->String();
  node.metadata = {{"registry", reg.substr(0, reg.find(':'))},
                   {"server", "http"},
                   {"transport", "http"},
                   {"protocol", "http"},
                   {"secure", options.https ? "true" : "false"}};
  service.nodes.push_back(std::move(node));
  state->registrar = std::make_unique<server::detail::Registrar>(so, std::move(service), nullptr);
  state->registrar->set_health_url(
      absl::StrCat(options.https ? "https://" : "http://", address, "/health"));
  if (absl::Status s = state->registrar->RegisterOnce(); !s.ok()) {
    log::Warn(absl::StrCat("api gateway: register ", so.name, " in ", reg, ": ", s.message(),
                           "; trying again"));
  } else {
    log::Info(absl::StrCat("api gateway: registered as ", so.name, " (", so.id, ") at ", address,
                           " in ", reg));
  }
  state->registrar->StartLoop();
  return std::unique_ptr<SelfRegistration>(new SelfRegistration(std::move(state)));
}

absl::Status SelfRegistration::Stop() {
  if (state_ == nullptr || state_->stopped) return absl::OkStatus();
  state_->stopped = true;
  state_->registrar->StopLoop();
  absl::Status s = state_->registrar->Deregister();
  if (!s.ok()) log::Warn(absl::StrCat("api gateway: deregister: ", s.message()));
  return s;
}

std::string SelfRegistration::address() const {
  return state_->registrar->registration().nodes.front().address;
}

}  // namespace micro::api
