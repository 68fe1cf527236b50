// Internal: host:port helpers and ids.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "micro/plugin/net.h"

namespace micro::internal {

using plugin::JoinHostPort;
using plugin::SplitHostPort;
// True for "", "0.0.0.0", "::" and "[::]".
bool IsUnspecified(absl::string_view host);
using plugin::NewUuid;
using plugin::ReachableHost;
// OK when `host`:`port` can be bound now (SO_REUSEADDR, not SO_REUSEPORT);
// otherwise the errno text ("Address already in use").
absl::Status CheckPortFree(const std::string& host, int port);

}  // namespace micro::internal
