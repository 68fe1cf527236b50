// Internal: the flags and MICRO_* variables of Service::Init, on FlagSet.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "micro/flagset.h"
#include "micro/service.h"

namespace micro::internal {

// Values that need a step between parsing and Options.
struct ServiceFlagValues {
  std::vector<std::string> metadata;
  std::string registry, registry_address;
  std::string broker, broker_address;
  int pool_size = 0;
  std::string strategy;
  std::string trace_sample;
  std::chrono::milliseconds tls_reload{0};
};

// Adds the standard flags to `flags`, each defaulting to what `options` holds
// (a value set in code is never reset to a flag default).
void AddServiceFlags(FlagSet* flags, Options* options, ServiceFlagValues* values);

// After flags.Parse: checks ranges and folds metadata and the registry flags
// into `options`; flag > variable > code > default. `registry_set` and `broker_set` tell
// whether a flag or variable named the registry or the broker.
absl::Status ApplyServiceFlags(const FlagSet& flags, const ServiceFlagValues& values,
                               Options* options, bool* registry_set, bool* broker_set);

}  // namespace micro::internal
