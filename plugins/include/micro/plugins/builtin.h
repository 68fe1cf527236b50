// The one place that puts micro-cpp's plugins into the scheme tables: registries
// (registry/plugin.h: mdns, consul, etcd) and brokers (broker/plugin.h: http).
// Call it once before NewRegistry/NewBroker; further calls do nothing. Thread-safe.
#pragma once

namespace micro {

void RegisterBuiltinPlugins();

}  // namespace micro
