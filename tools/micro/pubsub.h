// `micro publish` and `micro subscribe`: raw messages on a broker, as go-micro's CLI has them.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "micro/registry/registry.h"

namespace micro::tools {

struct BrokerCommand {
  std::string broker_uri;  // "http://", "memory://", ...
  std::shared_ptr<registry::Registry> registry;
  std::map<std::string, std::string> headers;  // --metadata
};

// Publishes `json` (validated) with Content-Type application/json. Exit code: 0, 1 failed,
// 2 not JSON / bad broker.
int Publish(const BrokerCommand& c, const std::string& topic, const std::string& json);

// Prints each message as a JSON line {"topic","header","body"} (body: the JSON itself when it
// is JSON, else "body_base64"), until SIGINT/SIGTERM or `count` messages (0: no limit).
int Subscribe(const BrokerCommand& c, const std::string& topic, const std::string& queue,
              int count);

}  // namespace micro::tools
