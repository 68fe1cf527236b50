// The mDNS registry: go-micro's default, needing nothing installed.
//
// Each registry binds UDP 5353 (SO_REUSEADDR + SO_REUSEPORT, so several
// processes on one host coexist), joins 224.0.0.251 with multicast loopback
// on, answers queries for the nodes registered through it, announces them on
// register and refresh, and sends goodbyes (TTL 0) on deregister and shutdown.
// Lookups query from an ephemeral port and collect answers until the query
// timeout. Names and TXT payloads are go-micro's (shared/reference/wire.md),
// so Go and C++ nodes see each other. IPv4 only for now.
//
// Watchers see announcements as create/update and goodbyes as delete; a node
// whose DNS TTL runs out without a refresh is deleted too. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "micro/registry/registry.h"

namespace micro::mdns {

struct MdnsOptions {
  std::string domain = "micro";  // go-micro's, not "local"
  // How long GetService and ListServices collect answers (go-micro: 100 ms).
  std::chrono::milliseconds query_timeout{std::chrono::milliseconds(150)};
  // IPv4 address of the interface to use; empty = the kernel's choice by route.
  std::string interface_address;
  int port = 5353;
};

absl::StatusOr<std::unique_ptr<registry::Registry>> NewMdnsRegistry(
    const MdnsOptions& options = {});

}  // namespace micro::mdns
