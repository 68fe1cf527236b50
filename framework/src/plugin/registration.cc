#include "micro/plugin/registration.h"

#include "absl/strings/str_cat.h"

namespace micro::plugin {

absl::Status CheckRegistration(absl::string_view registry, const registry::Service& service) {
  if (service.name.empty())
    return absl::InvalidArgumentError(absl::StrCat(registry, " register: service name is empty"));
  if (service.nodes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(registry, " register \"", service.name, "\": at least one node is required"));
  }
  for (const registry::Node& n : service.nodes) {
    if (n.id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(registry, " register \"", service.name, "\": a node has no id"));
    }
  }
  return absl::OkStatus();
}

}  // namespace micro::plugin
