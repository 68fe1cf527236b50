// The shared main of the hotel example's binaries: a service named `name`,
// flags (plus --data_dir), `setup` to load data and register handlers (its
// error stops the process with a clear message), then Run(), then `after_run`
// (when given) while the service still exists.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "micro/micro.h"

namespace hotel_example {

int RunService(
    int argc, char** argv, const char* name,
    const std::function<absl::Status(micro::Service& service, const std::string& data_dir)>& setup,
    const std::function<void()>& after_run = nullptr);

}  // namespace hotel_example
