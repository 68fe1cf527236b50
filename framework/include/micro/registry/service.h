// The registry data model: what a service is, as go-micro describes it.
//
// A Service is one name and version with its endpoints and the nodes (processes)
// that serve it. These are plain values: copy them freely; nothing here is
// thread-safe beyond what std containers give. JSON field names and the order
// fields are written in are go-micro's (v4.11+ and v5), see registry/json.h.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace micro::registry {

using Metadata = std::map<std::string, std::string>;

// The shape of a request or response message: a field name, its type and,
// for messages, its fields (go-micro walks three levels deep).
struct Value {
  std::string name;
  std::string type;
  std::vector<Value> values;

  friend bool operator==(const Value& a, const Value& b) {
    return a.name == b.name && a.type == b.type && a.values == b.values;
  }
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }
};

// One callable method, named "Service.Method" (for example "Greeter.Hello").
// Streaming endpoints carry metadata {"stream": "true"}.
struct Endpoint {
  std::string name;
  std::optional<Value> request;   // null in JSON when absent
  std::optional<Value> response;  // null in JSON when absent
  Metadata metadata;

  friend bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.name == b.name && a.request == b.request && a.response == b.response &&
           a.metadata == b.metadata;
  }
  friend bool operator!=(const Endpoint& a, const Endpoint& b) { return !(a == b); }
};

// One running instance. `id` is "<service name>-<uuid>"; `address` is "host:port".
struct Node {
  std::string id;
  std::string address;
  Metadata metadata;

  friend bool operator==(const Node& a, const Node& b) {
    return a.id == b.id && a.address == b.address && a.metadata == b.metadata;
  }
  friend bool operator!=(const Node& a, const Node& b) { return !(a == b); }
};

struct Service {
  std::string name;
  std::string version;
  Metadata metadata;
  std::vector<Endpoint> endpoints;
  std::vector<Node> nodes;

  friend bool operator==(const Service& a, const Service& b) {
    return a.name == b.name && a.version == b.version && a.metadata == b.metadata &&
           a.endpoints == b.endpoints && a.nodes == b.nodes;
  }
  friend bool operator!=(const Service& a, const Service& b) { return !(a == b); }
};

}  // namespace micro::registry
