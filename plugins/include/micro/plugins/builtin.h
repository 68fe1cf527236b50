// The one place that puts micro-cpp's registry plugins into the scheme table
// (registry/plugin.h). Call it once before NewRegistry; further calls do
// nothing. Thread-safe.
#pragma once

namespace micro {

void RegisterBuiltinPlugins();

}  // namespace micro
