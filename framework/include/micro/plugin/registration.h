// Plugin kit: what every Registry::Register must refuse, with one wording.
// A pure function: no I/O, thread-safe.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "micro/registry/service.h"

namespace micro::plugin {

// InvalidArgument, prefixed with `registry` ("consul"), for a service without
// a name, without nodes, or with a node without an id; OK otherwise.
absl::Status CheckRegistration(absl::string_view registry, const registry::Service& service);

}  // namespace micro::plugin
