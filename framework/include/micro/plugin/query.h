// Plugin kit: URL query strings ("a=1&b=x%20y&flag"), decoded with form rules
// ('+' is a space), and the parameter values of registry URIs
// ("consul://a:8500?timeout=5s&tls=true"; RegistryAddress::params holds them
// decoded). Shared by the registry plugins and the API gateway. Pure
// functions: no I/O, thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::plugin {

struct QueryPair {
  std::string key;
  std::string value;
  bool has_value = false;  // "flag" alone has none
};

// Pairs in order, empty segments skipped. InvalidArgument on a malformed
// percent escape, naming the segment.
absl::StatusOr<std::vector<QueryPair>> ParseQuery(absl::string_view query);

// A registry parameter's value as a boolean (1/true/yes, 0/false/no) or a
// positive duration ("5s", "250ms"); the error starts with `what`.
absl::StatusOr<bool> ParseBoolParam(absl::string_view what, absl::string_view value);
absl::StatusOr<std::chrono::milliseconds> ParseDurationParam(absl::string_view what,
                                                             absl::string_view value);

}  // namespace micro::plugin
