// How a Next picks among the nodes a Select produced.
#pragma once

namespace micro::selector {

enum class Strategy {
  kRandom,      // uniform, from a per-thread generator
  kRoundRobin,  // one shared counter per service: fair across concurrent callers
};

const char* StrategyName(Strategy strategy);

}  // namespace micro::selector
