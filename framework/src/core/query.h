// Internal: URL query strings ("a=1&b=x%20y&flag"), decoded with form rules
// ('+' is a space). Shared by registry URIs and the API gateway.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::internal {

struct QueryPair {
  std::string key;
  std::string value;
  bool has_value = false;  // "flag" alone has none
};

// Pairs in order, empty segments skipped. InvalidArgument on a malformed
// percent escape, naming the segment.
absl::StatusOr<std::vector<QueryPair>> ParseQuery(absl::string_view query);

}  // namespace micro::internal
