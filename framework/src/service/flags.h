// Internal: the flags and MICRO_* variables of Service::Init.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "micro/service.h"

namespace micro::internal {

struct ExtraFlag {
  std::string help;
  std::string* target;
};

// Reads argv and the environment into `options`; flag > variable > code > default.
// `help` is set when --help was given (and nothing else is read).
absl::Status ApplyFlags(int argc, char** argv, const std::map<std::string, ExtraFlag>& extra,
                        Options* options, bool* registry_set, bool* help);

std::string Usage(const char* program, const std::map<std::string, ExtraFlag>& extra);

}  // namespace micro::internal
