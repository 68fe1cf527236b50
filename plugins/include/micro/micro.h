// Everything a service author needs: NewService and its options, events, errors,
// logging, the built-in http broker, and the built-in registries (mdns, the default; consul; etcd;
// memory). Link the CMake target micro::micro.
//
// Including this header puts the built-in plugins in the registry scheme table,
// as importing a plugin package does in Go. The call sits in the including
// program's own object file, which the linker always keeps; a registrar inside
// a static library would be dropped (design.md). A program that wants other
// plugins registers them itself (micro/registry/plugin.h).
#pragma once

#include "micro/client/client.h"
#include "micro/errors.h"
#include "micro/event.h"
#include "micro/log.h"
#include "micro/plugins/builtin.h"
#include "micro/server/server.h"
#include "micro/service.h"
#include "micro/version.h"

namespace micro::internal {
[[maybe_unused]] static const bool kBuiltinPluginsRegistered = (RegisterBuiltinPlugins(), true);
}  // namespace micro::internal
