// go-micro's Consul encoding (shared/reference/wire.md), without any I/O:
// the tags and registration body a node is written with, and the parsers for
// what the agent answers (/v1/health/service, /v1/catalog/services).
//
// Parsers read untrusted input: anything malformed is an error or a skipped
// node with a reason, never a crash. Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "consul_registry.h"
#include "micro/registry/registry.h"
#include "micro/registry/service.h"

namespace micro::consul {

// Tags of one node: a "t-" per metadata pair, an "e-" per endpoint, one "v-".
std::vector<std::string> EncodeTags(const registry::Service& service, const registry::Node& node);

struct DecodedTags {
  std::string version;
  registry::Metadata metadata;
  std::vector<registry::Endpoint> endpoints;
};
// Reads "t-"/"e-"/"v-" tags (and the old plain "t="/"e="/"v=" forms); the
// first form met for a kind wins, as in go-micro. Other tags are ignored.
// An error names the tag that does not decode.
absl::StatusOr<DecodedTags> DecodeTags(const std::vector<std::string>& tags);

// True when a node registered with `checks` and `ttl` has a TTL check that heartbeats pass.
inline bool HasTtlCheck(const CheckOptions& checks, std::chrono::milliseconds ttl) {
  return checks.ttl && ttl.count() > 0;
}

// PUT /v1/agent/service/register body for `node`, with the checks `checks` asks for (a TTL
// check only with a positive options.ttl). One check goes in "Check" (ID "service:<node id>",
// as go-micro's); several go in "Checks", the TTL one keeping that ID and each active one
// "service:<node id>:<kind>". Every check starts passing. InvalidArgument when an active
// check lacks what it probes (an address with a port; for http, options.health_url).
// Metadata keys Consul's Meta refuses (not [A-Za-z0-9_-], over 128 bytes, values over 512
// bytes, more than 64 pairs) stay out of Meta (the "t-" tags carry them all) and are listed in
// `*left_out`.
absl::StatusOr<std::string> RegistrationJson(const registry::Service& service,
                                             const registry::Node& node,
                                             const registry::RegisterOptions& options,
                                             const CheckOptions& checks,
                                             std::vector<std::string>* left_out);
// The same with the default checks: a TTL check when `ttl` is positive.
std::string RegistrationJson(const registry::Service& service, const registry::Node& node,
                             std::chrono::milliseconds ttl, std::vector<std::string>* left_out);

// Go's time.Duration.String() for whole milliseconds: "30s", "1m5s", "1h0m0s", "500ms".
std::string GoDuration(std::chrono::milliseconds d);

// One node of a /v1/health/service answer.
struct HealthNode {
  std::string version;
  std::vector<registry::Endpoint> endpoints;
  registry::Node node;
  std::string agent;  // the Consul node (agent) it is registered through: Node.Node
};
struct HealthAnswer {
  std::vector<HealthNode> nodes;  // not critical, tags decoded
  // Registered through an agent Consul holds for failed (its serfHealth check is critical):
  // whether the service itself is alive is unknown; it re-registers through another agent.
  std::vector<HealthNode> orphans;
  std::vector<std::string> skipped;  // "node <id>: <why>" for each entry left out as malformed
};
// Parses the JSON array Consul returns for /v1/health/service/<name>. Entries
// of other services are dropped silently, nodes with a critical check too, unless the
// critical check is their agent's serfHealth (then they are orphans).
absl::StatusOr<HealthAnswer> ParseHealth(absl::string_view body, absl::string_view service);

// Whether a /v1/health/node/<agent> answer shows the agent alive: its serfHealth check
// passing. An empty answer (the agent left and is gone from the catalog) or a critical
// serfHealth is not alive; a malformed answer is an error.
absl::StatusOr<bool> ParseAgentAlive(absl::string_view body);

// Groups nodes into one Service per version (in order of first appearance).
std::vector<registry::Service> GroupByVersion(absl::string_view name,
                                              const std::vector<HealthNode>& nodes);

// Names from /v1/catalog/services ({"name": [tags], ...}), sorted.
absl::StatusOr<std::vector<std::string>> ParseCatalogServices(absl::string_view body);

}  // namespace micro::consul
