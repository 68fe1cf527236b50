// The Consul registry: go-micro's Consul plugin in C++ (shared/reference/wire.md).
//
//   consul://127.0.0.1:8500                      one agent
//   consul://10.0.0.1:8500,10.0.0.2:8500         failover, in order
//   consul://127.0.0.1:8500?token=...&dc=eu1     options as query parameters
//
// Each node is one Consul service (ID = node id) with go-micro's t-/e-/v- tags
// and, with a register TTL, a TTL check that Register() passes on every
// heartbeat; a heartbeat the agent refuses (it restarted and forgot us) turns
// into a full registration. ?check= adds active checks that Consul runs itself
// (grpc, http, tcp; CheckOptions, docs/registries.md); without a TTL check a
// heartbeat asks the agent whether it still has the node. Lookups read /v1/health/service and drop
// nodes with a critical check, so a dead node leaves as soon as its TTL lapses. Watches are
// blocking queries, one thread and connection per watched service (plus one on the catalog when
// watching everything). Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "micro/registry/plugin.h"
#include "micro/registry/registry.h"

namespace micro::consul {

// The health checks a node registers with (consul://...?check=ttl,grpc,http,tcp).
struct CheckOptions {
  bool ttl = true;    // passed by every heartbeat (go-micro's default); only with a register TTL
  bool grpc = false;  // Consul calls the node's grpc.health.v1 (TLS when it registers secure=true)
  bool http = false;  // Consul GETs RegisterOptions::health_url
  bool tcp = false;   // Consul connects to the node's address (go-micro's TCPCheck)
  std::chrono::milliseconds interval{std::chrono::seconds(10)};  // of the active checks
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};    // of each active check
  // Consul removes a node whose check stayed critical this long (its reaper runs on its own
  // cadence, so later); 0 = go-micro's: max(TTL or interval, 1m) + 5s.
  std::chrono::milliseconds deregister_after{0};
  bool tls_skip_verify = false;  // TLS checks accept any certificate of the node's
  bool active() const { return grpc || http || tcp; }
};

struct ConsulOptions {
  std::vector<std::string> addresses{"127.0.0.1:8500"};  // agents, tried in order
  std::string token;             // ACL token (X-Consul-Token); default CONSUL_HTTP_TOKEN
  std::string datacenter;        // ?dc= on reads; empty = the agent's own
  std::string consistency;       // "" (default), "stale" or "consistent", for reads
  bool tls = false;              // https; default CONSUL_HTTP_SSL
  std::string ca_file;           // default CONSUL_CACERT
  std::string cert_file;         // client certificate; default CONSUL_CLIENT_CERT
  std::string key_file;          // default CONSUL_CLIENT_KEY
  bool tls_skip_verify = false;  // CONSUL_HTTP_SSL_VERIFY=false
  std::chrono::milliseconds connect_timeout{1000};   // per agent: a lost one costs this
  std::chrono::milliseconds request_timeout{10000};  // non-blocking requests
  std::chrono::milliseconds watch_wait{25000};       // blocking query wait (<= 25 s advised)
  // After the agent lost its state (its index went backwards) or could not be
  // reached, nodes missing from the next answer get this long to register
  // again before a watch reports them deleted: services re-register by
  // themselves within their register interval.
  std::chrono::milliseconds resync_grace{30000};
  std::size_t max_response_bytes = 16u << 20;  // larger agent answers are refused
  CheckOptions checks;                         // the health checks nodes register with
};

absl::StatusOr<std::unique_ptr<registry::Registry>> NewConsulRegistry(ConsulOptions options);

// Options from a parsed consul:// URI and the CONSUL_* environment variables
// (the URI wins). Parameters: token, dc, consistency, tls, ca, cert, key,
// tls_skip_verify, connect_timeout, timeout, wait, resync_grace (durations
// like "5s", "250ms"), and the checks: check (ttl, grpc, http, tcp; several
// joined by ","), check_interval, check_timeout, deregister_after,
// check_tls_skip_verify. Unknown parameters are an error that lists the known.
absl::StatusOr<ConsulOptions> ConsulOptionsFrom(const registry::RegistryAddress& address);

}  // namespace micro::consul
