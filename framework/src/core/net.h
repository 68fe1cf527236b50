// Internal: host:port helpers and ids.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace micro::internal {

// Splits "host:port", "[v6]:port" or ":port". InvalidArgument when malformed.
absl::Status SplitHostPort(absl::string_view address, std::string* host, int* port);
// Joins, bracketing IPv6 hosts.
std::string JoinHostPort(absl::string_view host, int port);
// True for "", "0.0.0.0", "::" and "[::]".
bool IsUnspecified(absl::string_view host);
// An address of this machine others can reach: the first non-loopback IPv4 of
// an interface that is up, else 127.0.0.1.
std::string ReachableHost();
// A random RFC 4122 version 4 UUID.
std::string NewUuid();

}  // namespace micro::internal
