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
// An address of this machine others can reach: the first non-loopback IPv4 of
// an interface that is up, else 127.0.0.1.
std::string ReachableHost();
// A random RFC 4122 version 4 UUID.
std::string NewUuid();

}  // namespace micro::internal
