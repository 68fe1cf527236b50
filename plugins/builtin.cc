#include "micro/plugins/builtin.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "micro/registry/memory.h"
#include "micro/registry/plugin.h"

namespace micro {
namespace {

absl::StatusOr<std::unique_ptr<registry::Registry>> MakeMemory(
    const registry::RegistryAddress& address) {
  if (!address.hosts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the memory registry takes no address, got \"",
                                                   absl::StrJoin(address.hosts, ","), "\" in \"",
                                                   address.uri, "\""));
  }
  return registry::NewMemoryRegistry();
}

void Add(const char* scheme, registry::RegistryFactory factory) {
  absl::Status s = registry::RegisterRegistryPlugin(scheme, std::move(factory));
  // Only a scheme already taken by the application itself can fail here; its own wins.
  (void)s;
}

}  // namespace

void RegisterBuiltinPlugins() {
  static std::once_flag once;
  std::call_once(once, [] { Add("memory", MakeMemory); });
}

}  // namespace micro
