// go-micro's JSON for the registry data model.
//
// The encoders write exactly what go-micro v4.11+/v5's json.Marshal writes for
// the same values: its field order, sorted map keys, `null` for empty
// maps, lists and absent request/response values, and Go's string escaping
// (<, >, & and U+2028/9 as \u escapes, invalid UTF-8 as \ufffd). So a value
// stored by a C++ node is byte-for-byte what a Go node would store.
//
// The decoders accept what Go's json.Unmarshal accepts for these types: fields
// in any order and any letter case, unknown fields ignored, `null` for empty.
// They reject the wrong JSON type for a field, invalid UTF-8 and nesting deeper
// than kMaxJsonDepth, with a message that says where.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/service.h"

namespace micro::registry {

inline constexpr int kMaxJsonDepth = 64;

std::string ToJson(const Service& service);
std::string ToJson(const Node& node);
std::string ToJson(const Endpoint& endpoint);
std::string ToJson(const Metadata& metadata);

absl::StatusOr<Service> ServiceFromJson(absl::string_view json);
absl::StatusOr<Node> NodeFromJson(absl::string_view json);
absl::StatusOr<Endpoint> EndpointFromJson(absl::string_view json);
absl::StatusOr<Metadata> MetadataFromJson(absl::string_view json);

}  // namespace micro::registry
