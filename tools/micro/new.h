// `micro new NAME`: the files of a new out-of-tree service, as go-micro's
// `micro new` writes them: a proto, a handler, main.cc, a CMakeLists.txt that
// finds the installed package with find_package(micro), a README and a
// Dockerfile.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace micro::tools {

// The files for service NAME, by path relative to the project directory.
// InvalidArgument unless NAME is a lower-case word ([a-z][a-z0-9-]*, at most
// 63 characters), since it becomes a proto package, a C++ namespace, a CMake
// target and a registered service name.
absl::StatusOr<std::map<std::string, std::string>> NewServiceFiles(const std::string& name);

// Writes them under `dir`, which must not exist or be empty. Nothing is
// left behind on failure.
absl::Status WriteNewService(const std::string& name, const std::string& dir);

}  // namespace micro::tools
