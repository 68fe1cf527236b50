// How a Next picks among the nodes a Select produced.
#pragma once

#include <string>

namespace micro::selector {

enum class Strategy {
  kRandom,  // uniform, from a per-thread generator
  // In order, per thread: each thread walks the nodes of a service one by one
  // from its own position (see selector.h), no shared write per pick.
  kRoundRobin,
  // Power of two choices: of two random nodes, the one with fewer calls in
  // flight (Envoy's and Kratos' least-request). Every pick must be marked
  // (Next::Mark), which ends its call.
  kLeastInFlight,
};

// "random", "roundrobin", "leastinflight".
const char* StrategyName(Strategy strategy);
// The strategy of a name StrategyName gives; false for any other.
bool StrategyFromName(const std::string& name, Strategy* strategy);

}  // namespace micro::selector
