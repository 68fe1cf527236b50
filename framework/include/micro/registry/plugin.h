// The registry plugin table: a registry is chosen by URI scheme.
//
//   memory://                       in-process (tests)
//   mdns://                         multicast DNS, the default
//   consul://127.0.0.1:8500         one or more agents, comma-separated
//   etcd://127.0.0.1:2379,127.0.0.1:22379
//
// The same string works in code, in --registry/--registry_address and in the
// MICRO_REGISTRY* variables. memory:// is always there; the other schemes are
// added by micro::RegisterBuiltinPlugins() (plugins/builtin.cc, which
// micro/micro.h calls) or by an application's own RegisterRegistryPlugin
// calls, before the first lookup. The table is thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/registry.h"

namespace micro::registry {

// A parsed registry URI: "consul://a:8500,b:8500" -> {"consul", {"a:8500", "b:8500"}}.
struct RegistryAddress {
  std::string scheme;              // lower case
  std::vector<std::string> hosts;  // "host", "host:port" or "[v6]:port"; may be empty
  std::string uri;                 // as given with secrets masked (RedactUri), for messages
  // Query parameters, percent-decoded: "consul://a:8500?token=x&dc=eu" -> {token: x, dc: eu}.
  // Each plugin says which keys it takes and refuses the others.
  std::map<std::string, std::string> params;
};

using RegistryFactory =
    std::function<absl::StatusOr<std::unique_ptr<Registry>>(const RegistryAddress& address)>;

// Adds a scheme. AlreadyExists if it is taken, InvalidArgument if malformed.
absl::Status RegisterRegistryPlugin(absl::string_view scheme, RegistryFactory factory);

// The schemes known now, sorted.
std::vector<std::string> RegistrySchemes();

// `uri` fit for logs and errors: the values of parameters whose names hold "token", "password",
// "passwd", "secret", "credential" or "auth", and user information before an '@', become "***".
// Pure and thread-safe, as is IsSecretParam.
std::string RedactUri(absl::string_view uri);
// True for a parameter name RedactUri masks.
bool IsSecretParam(absl::string_view key);

// Parses and checks a URI; "consul" alone means the plugin's default address.
absl::StatusOr<RegistryAddress> ParseRegistryAddress(absl::string_view uri);

// Joins go-micro's two settings (--registry consul --registry_address a:8500)
// into one URI. `registry` may already be a full URI, with `address` empty.
absl::StatusOr<std::string> RegistryUri(absl::string_view registry, absl::string_view address);

// Parses `uri` and builds the registry its scheme names.
absl::StatusOr<std::unique_ptr<Registry>> NewRegistry(absl::string_view uri);

}  // namespace micro::registry
