// Plugin kit: host:port handling, as Go's net.SplitHostPort/JoinHostPort do it
// (IPv6 hosts in brackets); this machine's reachable address; ids. Thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace micro::plugin {

// Splits "host:port", "[v6]:port" or ":port" (empty host). The port is 0 to
// 65535. InvalidArgument, naming the address, when malformed.
absl::Status SplitHostPort(absl::string_view address, std::string* host, int* port);
// As SplitHostPort, but "host" or "[v6]" alone takes `default_port`
// ("consul-1" -> consul-1, 8500).
absl::Status SplitHostPort(absl::string_view address, int default_port, std::string* host,
                           int* port);
// "host:port", or "[v6]:port" for a host with a colon.
std::string JoinHostPort(absl::string_view host, int port);

// An address of this machine others can reach: the first non-loopback IPv4 of an interface
// that is up, else 127.0.0.1 (what a node registers when it listens on 0.0.0.0).
std::string ReachableHost();
// A random RFC 4122 version 4 UUID.
std::string NewUuid();

}  // namespace micro::plugin
