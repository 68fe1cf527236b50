#include "micro/registry/registry.h"

#include "absl/strings/str_cat.h"

namespace micro::registry {

const char* ActionName(Action action) {
  switch (action) {
    case Action::kCreate:
      return "create";
    case Action::kUpdate:
      return "update";
    case Action::kDelete:
      return "delete";
  }
  return "unknown";
}

absl::Status ServiceNotFoundError(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("service not found: ", name));
}

}  // namespace micro::registry
