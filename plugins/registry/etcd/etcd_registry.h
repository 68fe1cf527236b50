// The etcd registry: go-micro's etcd plugin in C++, over etcd's v3 gRPC API
// (shared/reference/wire.md).
//
//   etcd://127.0.0.1:2379                        one member
//   etcd://10.0.0.1:2379,10.0.0.2:2379           several, with failover
//   etcd://127.0.0.1:2379?username=u&password=p  options as query parameters
//
// Each node is one key, /micro/registry/<service>/<node id>, holding go-micro's
// JSON of the service with that node. With a register TTL the key is bound to
// a lease of its own that a KeepAlive stream keeps alive (every TTL/3); when
// etcd says the lease is gone, the node is put again with a new lease at once,
// without waiting for the service's next heartbeat. Registering an unchanged
// node whose lease lives sends nothing. Watches are prefix watches with
// prev_kv that resume from the last revision seen after a reconnect and, when
// that revision was compacted away, read the prefix again and report exactly
// the differences. Every call fails over to the next member when one does not
// answer. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "micro/registry/plugin.h"
#include "micro/registry/registry.h"

namespace micro::etcd {

struct EtcdOptions {
  std::vector<std::string> endpoints{"127.0.0.1:2379"};  // members, tried in order
  std::string username;                                  // default ETCD_USERNAME
  std::string password;                                  // default ETCD_PASSWORD
  bool tls = false;                                      // TLS to every member
  std::string ca_file;                                   // PEM roots; empty = the system's
  std::string cert_file;                                 // client certificate (PEM), with key_file
  std::string key_file;
  std::chrono::milliseconds timeout{5000};  // each request, per member tried
  std::size_t max_response_bytes = 64u << 20;
};

absl::StatusOr<std::unique_ptr<registry::Registry>> NewEtcdRegistry(EtcdOptions options);

// Options from a parsed etcd:// URI and ETCD_USERNAME / ETCD_PASSWORD (the URI
// wins). Parameters: username, password, tls, ca, cert, key, timeout (a
// duration like "5s"). Unknown parameters are an error that lists the known.
absl::StatusOr<EtcdOptions> EtcdOptionsFrom(const registry::RegistryAddress& address);

}  // namespace micro::etcd
