// The broker plugin table: a broker is chosen by URI scheme, as registries are.
//
//   memory://                          in-process (tests)
//   http://                            go-micro's default: subscribers serve HTTP on 127.0.0.1
//   http://0.0.0.0:0                   ... on every interface, any port (advertised: this host)
//   nats://127.0.0.1:4222[,host:port]  a NATS cluster
//
// The same string works in code (micro::Broker("nats://...")), in --broker/--broker_address and
// in MICRO_BROKER/MICRO_BROKER_ADDRESS. memory:// is always there; the other schemes are added by
// micro::RegisterBuiltinPlugins() (micro/micro.h) or by an application's RegisterBrokerPlugin
// calls. The table is thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/broker/broker.h"

namespace micro::registry {
class Registry;
}

namespace micro::broker {

// A parsed broker URI, in the registry URI's syntax (micro/registry/plugin.h).
struct BrokerAddress {
  std::string scheme;              // lower case
  std::vector<std::string> hosts;  // "host", "host:port" or "[v6]:port"; may be empty
  std::string uri;                 // secrets masked, for messages
  std::map<std::string, std::string> params;
};

// What a broker may use of the service it serves.
struct BrokerContext {
  // Where the http broker registers its subscribers and finds them (the service's registry).
  std::shared_ptr<registry::Registry> registry;
};

using BrokerFactory = std::function<absl::StatusOr<std::unique_ptr<Broker>>(
    const BrokerAddress& address, const BrokerContext& context)>;

// Adds a scheme. AlreadyExists if it is taken, InvalidArgument if malformed.
absl::Status RegisterBrokerPlugin(absl::string_view scheme, BrokerFactory factory);

// The schemes known now, sorted.
std::vector<std::string> BrokerSchemes();

// Parses and checks a URI; "nats" alone means the plugin's default address.
absl::StatusOr<BrokerAddress> ParseBrokerAddress(absl::string_view uri);

// Joins go-micro's two settings (--broker nats --broker_address a:4222) into one URI.
absl::StatusOr<std::string> BrokerUri(absl::string_view broker, absl::string_view address);

// Parses `uri` and builds the broker its scheme names (not connected yet).
absl::StatusOr<std::unique_ptr<Broker>> NewBroker(absl::string_view uri,
                                                  const BrokerContext& context = {});

}  // namespace micro::broker
