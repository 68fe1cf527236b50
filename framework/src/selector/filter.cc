#include "micro/selector/filter.h"

#include <algorithm>

namespace micro::selector {

Filter FilterVersion(std::string version) {
  return [version = std::move(version)](const registry::Service& s, const registry::Node&) {
    return s.version == version;
  };
}

Filter FilterLabel(std::string key, std::string value) {
  return [key = std::move(key), value = std::move(value)](const registry::Service&,
                                                          const registry::Node& n) {
    auto it = n.metadata.find(key);
    return it != n.metadata.end() && it->second == value;
  };
}

Filter FilterEndpoint(std::string endpoint) {
  return [endpoint = std::move(endpoint)](const registry::Service& s, const registry::Node&) {
    return std::any_of(s.endpoints.begin(), s.endpoints.end(),
                       [&](const registry::Endpoint& e) { return e.name == endpoint; });
  };
}

}  // namespace micro::selector
