// Failover: two greeter processes serve one service; under steady load one is
// SIGKILLed while the registry still lists it (as for the TTL after a crash).
// Measures the throughput in the 10 s after the kill as a share of the 5 s
// before, and the failed calls, with outlier ejection on (the default) and
// off, interleaved (on, off, on, off, ...). Prints medians with min-max;
// asserts nothing.
//
//   build/tests/bench/failover_bench [rounds] [client threads]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "process.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  double before = 0, after = 0;  // calls/s
  long failed = 0;
};

std::unique_ptr<micro::testing::Process> Greeter(int port) {
  return std::make_unique<micro::testing::Process>(
      std::vector<std::string>{GREETER_BIN, "--registry", "memory", "--server_address",
                               "127.0.0.1:" + std::to_string(port)},
      "/dev/null");
}

bool WaitServing(micro::client::Client& client, const std::string& address) {
  helloworld::GreeterService g("helloworld",
                               std::shared_ptr<micro::client::Client>(&client, [](auto*) {}));
  micro::client::CallOptions o;
  o.filters.push_back([address](const micro::registry::Service&, const micro::registry::Node& n) {
    return n.address == address;
  });
  helloworld::Request req;
  req.set_name("warm");
  for (int i = 0; i < 100; ++i) {
    if (g.Hello(req, o).ok()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

Result Round(bool ejection, int threads) {
  int p1 = micro::testing::FreePort(), p2 = micro::testing::FreePort();
  auto a = Greeter(p1);
  auto b = Greeter(p2);
  auto registry = std::shared_ptr<micro::registry::Registry>(micro::registry::NewMemoryRegistry());
  micro::registry::Service s{"helloworld", "latest", {}, {}, {}};
  s.nodes = {{"a", "127.0.0.1:" + std::to_string(p1), {}},
             {"b", "127.0.0.1:" + std::to_string(p2), {}}};
  (void)registry->Register(s);
  micro::client::ClientOptions co;
  co.registry = registry;
  co.selector.outlier.enabled = ejection;
  auto client = std::make_shared<micro::client::Client>(co);
  if (!WaitServing(*client, s.nodes[0].address) || !WaitServing(*client, s.nodes[1].address)) {
    std::fprintf(stderr, "failover_bench: the greeters did not start\n");
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  std::atomic<long> ok{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < threads; ++t) {
    load.emplace_back([&] {
      helloworld::GreeterService g("helloworld", client);
      helloworld::Request req;
      req.set_name("x");
      while (!stop.load(std::memory_order_relaxed)) {
        if (g.Hello(req).ok()) {
          ok.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(2s);  // warm
  long ok0 = ok.load();
  std::this_thread::sleep_for(5s);
  long ok1 = ok.load(), failed1 = failed.load();
  a->Signal(SIGKILL);
  a->Wait();
  std::this_thread::sleep_for(10s);
  long ok2 = ok.load(), failed2 = failed.load();
  stop = true;
  for (auto& t : load) t.join();
  return Result{(ok1 - ok0) / 5.0, (ok2 - ok1) / 10.0, failed2 - failed1};
}

struct Summary {
  std::vector<double> share;
  std::vector<long> failed;
};

void Print(const char* name, Summary s) {
  std::sort(s.share.begin(), s.share.end());
  std::sort(s.failed.begin(), s.failed.end());
  std::printf(
      "%-18s after/before %5.1f%% (min %5.1f%%, max %5.1f%%)   failed calls %ld (%ld-%ld)\n", name,
      100 * s.share[s.share.size() / 2], 100 * s.share.front(), 100 * s.share.back(),
      s.failed[s.failed.size() / 2], s.failed.front(), s.failed.back());
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  setenv("MICRO_LOG_LEVEL", "error", 1);
  std::printf("failover_bench: 2 greeter processes, %d client threads, SIGKILL one, %d rounds\n",
              threads, rounds);
  Summary on, off;
  for (int r = 0; r < rounds; ++r) {
    for (bool ejection : {true, false}) {
      Result res = Round(ejection, threads);
      double share = res.before > 0 ? res.after / res.before : 0;
      std::printf("  round %d %-14s before %8.0f/s  after %8.0f/s  (%5.1f%%)  failed %ld\n", r + 1,
                  ejection ? "ejection on" : "ejection off", res.before, res.after, 100 * share,
                  res.failed);
      (ejection ? on : off).share.push_back(share);
      (ejection ? on : off).failed.push_back(res.failed);
    }
  }
  Print("ejection on", on);
  Print("ejection off", off);
  return 0;
}
