// Node filters for Selector::Select. A filter keeps a node when it returns true.
// They run at Select time (not per pick) and must be thread-safe.
#pragma once

#include <functional>
#include <string>

#include "micro/registry/service.h"

namespace micro::selector {

using Filter = std::function<bool(const registry::Service&, const registry::Node&)>;

// Nodes of this service version only.
Filter FilterVersion(std::string version);
// Nodes whose metadata has key = value.
Filter FilterLabel(std::string key, std::string value);
// Nodes of versions that declare this endpoint ("Greeter.Hello").
Filter FilterEndpoint(std::string endpoint);

}  // namespace micro::selector
