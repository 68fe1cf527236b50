// The in-process broker, for tests: Publish hands the message to the handlers on the caller's
// thread before it returns (as go-micro's memory broker does), one subscriber per queue group
// chosen at random. A handler's error is logged and does not stop delivery to the others.
#pragma once

#include <memory>

#include "micro/broker/broker.h"

namespace micro::broker {

std::unique_ptr<Broker> NewMemoryBroker();

}  // namespace micro::broker
