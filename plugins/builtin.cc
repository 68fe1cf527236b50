#include "micro/plugins/builtin.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "consul_registry.h"
#include "etcd_registry.h"
#include "http_broker.h"
#include "mdns_registry.h"
#include "micro/broker/plugin.h"
#include "micro/registry/plugin.h"
#include "nats_broker.h"

namespace micro {
namespace {

absl::Status NoParams(const registry::RegistryAddress& address) {
  if (address.params.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("registry \"", address.uri, "\": the ",
                                                 address.scheme, " registry takes no parameters"));
}

// mdns:// or mdns://<IPv4 address of the interface to use>.
absl::StatusOr<std::unique_ptr<registry::Registry>> MakeMdns(
    const registry::RegistryAddress& address) {
  if (absl::Status s = NoParams(address); !s.ok()) return s;
  mdns::MdnsOptions options;
  if (address.hosts.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the mdns registry takes at most one interface address, got \"", address.uri, "\""));
  }
  if (!address.hosts.empty()) {
    const std::string& host = address.hosts[0];
    if (host.find(':') != std::string::npos ||
        host.find_first_not_of("0123456789.") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("mdns registry \"", address.uri,
                       "\": give the IPv4 address of an interface, without a port"));
    }
    options.interface_address = host;
  }
  return mdns::NewMdnsRegistry(options);
}

// consul://host:port[,host:port...][?token=...&dc=...], see consul_registry.h.
absl::StatusOr<std::unique_ptr<registry::Registry>> MakeConsul(
    const registry::RegistryAddress& address) {
  absl::StatusOr<consul::ConsulOptions> options = consul::ConsulOptionsFrom(address);
  if (!options.ok()) return options.status();
  return consul::NewConsulRegistry(std::move(*options));
}

// etcd://host:port[,host:port...][?username=...&password=...], see etcd_registry.h.
absl::StatusOr<std::unique_ptr<registry::Registry>> MakeEtcd(
    const registry::RegistryAddress& address) {
  absl::StatusOr<etcd::EtcdOptions> options = etcd::EtcdOptionsFrom(address);
  if (!options.ok()) return options.status();
  return etcd::NewEtcdRegistry(std::move(*options));
}

// http://[host:port][?advertise=...], see http_broker.h.
absl::StatusOr<std::unique_ptr<broker::Broker>> MakeHttpBroker(
    const broker::BrokerAddress& address, const broker::BrokerContext& context) {
  auto options = httpbroker::HttpBrokerOptionsFrom(address, context);
  if (!options.ok()) return options.status();
  return httpbroker::NewHttpBroker(std::move(*options));
}

// nats://host:port[,host:port...][?queue=...], see nats_broker.h.
absl::StatusOr<std::unique_ptr<broker::Broker>> MakeNatsBroker(const broker::BrokerAddress& address,
                                                               const broker::BrokerContext&) {
  auto options = natsbroker::NatsBrokerOptionsFrom(address);
  if (!options.ok()) return options.status();
  return natsbroker::NewNatsBroker(std::move(*options));
}

void Add(const char* scheme, registry::RegistryFactory factory) {
  absl::Status s = registry::RegisterRegistryPlugin(scheme, std::move(factory));
  // Only a scheme already taken by the application itself can fail here; its own wins.
  (void)s;
}

}  // namespace

void RegisterBuiltinPlugins() {
  static std::once_flag once;
  std::call_once(once, [] {
    Add("mdns", MakeMdns);
    Add("consul", MakeConsul);
    Add("etcd", MakeEtcd);
    (void)broker::RegisterBrokerPlugin("http", MakeHttpBroker);
    (void)broker::RegisterBrokerPlugin("nats", MakeNatsBroker);
  });
}

}  // namespace micro
