// Plugin kit: the building blocks of micro/registry/json.h, for registry
// plugins whose formats embed registry values in JSON of their own (mDNS TXT
// records, Consul's catalog answers). Uses nlohmann::json (a dependency of the
// installed package); micro/registry/json.h is the nlohmann-free API. Pure
// functions: no I/O, thread-safe; nothing throws.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/service.h"

namespace micro::plugin {
using registry::Endpoint;
using registry::Metadata;
using registry::Node;
using registry::Service;
using registry::Value;
}  // namespace micro::plugin

namespace micro::plugin {

// Writers append go-micro's exact JSON (see registry/json.h) to `out`.
void AppendString(std::string* out, absl::string_view s);
void AppendJson(std::string* out, const Metadata& metadata);
void AppendJson(std::string* out, const Value& value);
void AppendJson(std::string* out, const Endpoint& endpoint);
void AppendJson(std::string* out, const Node& node);
void AppendJson(std::string* out, const Service& service);

// Parses `text`, refusing nesting deeper than registry::kMaxJsonDepth.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text);

// Readers take a parsed value and follow Go's Unmarshal rules. `where` names
// the value in error messages ("service.nodes[2]").
absl::Status FromJson(const nlohmann::json& j, const std::string& where, Metadata* out);
absl::Status FromJson(const nlohmann::json& j, const std::string& where, Value* out);
absl::Status FromJson(const nlohmann::json& j, const std::string& where, Endpoint* out);
absl::Status FromJson(const nlohmann::json& j, const std::string& where, Node* out);
absl::Status FromJson(const nlohmann::json& j, const std::string& where, Service* out);

// The member of object `j` that Go would bind to `field`: an exact match
// first, else the first case-insensitive one. Null when absent.
const nlohmann::json* Member(const nlohmann::json& j, absl::string_view field);

}  // namespace micro::plugin
