// The selector's cache at fleet scale: S services x N nodes (default 10,000 x 10) with go-micro's
// node metadata and two endpoints each, on a memory registry. Prints:
// - memory: heap bytes the cache holds per node and per service once every service is cached
//   (mallinfo2 in-use bytes before and after, the registry's own copy excluded), and RSS growth;
// - Select+Next ns per call, median [min-max] of interleaved rounds, picking the service at random
//   from a working set of 1, 100, 1,000 and all S services, on 1 and 2 threads;
// - a full resync: the watch breaks and comes back (every entry then counts as possibly stale),
//   and one caller asks for every service: how long until all S answers are fresh, and the
//   registry lookups it took.
// With MICRO_BENCH_GOMICRO_SELECTOR naming tests/interop/gomicro/cmd/selbench (built by
// tests/bench/selector_bench.sh scale), go-micro v4's selector is measured the same way in each
// round, its memory as Go heap growth per node. Asserts nothing.
//
//   build/tests/bench/scale_bench [services=10000] [nodes=10] [rounds=3]
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "flaky_registry.h"
#include "micro/selector/selector.h"

namespace reg = micro::registry;
namespace sel = micro::selector;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<std::uint64_t> sink{0};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::size_t HeapInUse() { return mallinfo2().uordblks; }

long RssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

std::string Name(int i) { return "go.micro.srv.scale" + std::to_string(i); }

reg::Service MakeService(int i, int nodes) {
  reg::Service s;
  s.name = Name(i);
  s.version = "latest";
  reg::Value req{"Request", "Request", {{"name", "string", {}}, {"count", "int32", {}}}};
  reg::Value rsp{"Response", "Response", {{"msg", "string", {}}}};
  s.endpoints = {reg::Endpoint{"Scale.Call", req, rsp, {}},
                 reg::Endpoint{"Scale.Stream", req, rsp, {{"stream", "true"}}}};
  for (int n = 0; n < nodes; ++n) {
    char id[64];
    std::snprintf(id, sizeof id, "%08x-%04x-4%03x-8%03x-%012x", i, n, i & 0xfff, n & 0xfff,
                  i * 31 + n);
    s.nodes.push_back(reg::Node{s.name + "-" + id,
                                "10." + std::to_string(i / 256 % 256) + "." +
                                    std::to_string(i % 256) + "." + std::to_string(n + 1) +
                                    ":50051",
                                {{"broker", "http"},
                                 {"protocol", "grpc"},
                                 {"registry", "memory"},
                                 {"server", "grpc"},
                                 {"transport", "grpc"}}});
  }
  return s;
}

// Select+Next ns per call on `threads` threads, each picking services at random from the first
// `set`.
double SelectSpread(sel::Selector& selector, int set, int threads, int ms) {
  std::vector<double> ns(threads);
  std::vector<std::thread> pool;
  std::vector<std::string> names;
  for (int i = 0; i < set; ++i) names.push_back(Name(i));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      std::vector<int> order(4096);
      for (int& o : order) o = static_cast<int>(rng() % set);
      std::uint64_t acc = 0;
      long calls = 0;
      auto start = Clock::now();
      auto until = start + std::chrono::milliseconds(ms);
      do {
        for (int o : order) {
          auto next = selector.Select(names[o]);
          if (next.ok()) acc += (*next)().address.size();
        }
        calls += static_cast<long>(order.size());
      } while (Clock::now() < until);
      ns[t] = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / calls;
      sink += acc;
    });
  }
  for (auto& th : pool) th.join();
  double sum = 0;
  for (double v : ns) sum += v;
  return sum / threads;
}

// The go-micro peer's figures: bytes per node, and ns per Select+Next by (working set, threads).
struct Peer {
  double bytes_per_node = -1;
  std::map<std::pair<int, int>, double> ns;
};

bool RunPeer(const char* bin, int services, int nodes, const std::vector<int>& sets, Peer* out) {
  std::string cmd = std::string(bin) + " -services " + std::to_string(services) + " -nodes " +
                    std::to_string(nodes) + " -ms 150 -sets ";
  for (std::size_t i = 0; i < sets.size(); ++i) cmd += (i ? "," : "") + std::to_string(sets[i]);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  char line[256];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    int set = 0, threads = 0;
    double v = 0;
    if (std::sscanf(line, "bytes_per_node %lf", &v) == 1) out->bytes_per_node = v;
    if (std::sscanf(line, "set %d threads %d ns %lf", &set, &threads, &v) == 3)
      out->ns[{set, threads}] = v;
  }
  return pclose(p) == 0 && out->bytes_per_node >= 0;
}

std::string Range(std::vector<double> v) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f [%.1f-%.1f]", v[v.size() / 2], v.front(), v.back());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int services = argc > 1 ? std::atoi(argv[1]) : 10000;
  int nodes = argc > 2 ? std::atoi(argv[2]) : 10;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  auto registry = std::make_shared<micro::testing::FlakyRegistry>();
  for (int i = 0; i < services; ++i) {
    if (!registry->Register(MakeService(i, nodes), {}).ok()) {
      std::fprintf(stderr, "register failed\n");
      return 1;
    }
  }
  std::printf("cache at scale: %d services x %d nodes (%d nodes)\n", services, nodes,
              services * nodes);

  // Memory: everything the selector's cache keeps, measured as heap in use.
  malloc_trim(0);
  std::size_t heap0 = HeapInUse();
  long rss0 = RssKb();
  reg::CacheOptions co;
  co.max_entries = static_cast<std::size_t>(services) + 16;
  auto selector = std::make_unique<sel::Selector>(
      registry, sel::SelectorOptions{sel::Strategy::kRoundRobin, co, {}});
  auto t0 = Clock::now();
  for (int i = 0; i < services; ++i) {
    auto next = selector->Select(Name(i));
    if (!next.ok()) {
      std::fprintf(stderr, "select %s: %s\n", Name(i).c_str(), next.status().ToString().c_str());
      return 1;
    }
  }
  double load_s = Seconds(Clock::now() - t0);
  std::size_t heap1 = HeapInUse();
  long rss1 = RssKb();
  double per_node = static_cast<double>(heap1 - heap0) / (services * static_cast<double>(nodes));
  std::printf("memory: %.0f bytes per node (%.1f KB per service), heap +%.1f MB, RSS +%.1f MB\n",
              per_node, per_node * nodes / 1024, (heap1 - heap0) / 1048576.0,
              (rss1 - rss0) / 1024.0);
  {
    // What the same services cost as plain values (a std::vector<Service> copy), for comparison.
    std::size_t h0 = HeapInUse();
    std::vector<reg::Service> plain;
    plain.reserve(static_cast<std::size_t>(services));
    for (int i = 0; i < services; ++i) plain.push_back(MakeService(i, nodes));
    std::printf(
        "of which the registry data itself (a plain copy of the services): %.0f bytes per node\n",
        static_cast<double>(HeapInUse() - h0) / (services * static_cast<double>(nodes)));
  }
  std::printf("cold load: %d services looked up one after another in %.2f s (%.1f us each)\n",
              services, load_s, load_s * 1e6 / services);

  // Select+Next across working sets, interleaved.
  std::vector<int> sets{1, 100, 1000, services};
  const char* peer = std::getenv("MICRO_BENCH_GOMICRO_SELECTOR");
  std::vector<std::vector<double>> figures(sets.size() * 2), go(sets.size() * 2);
  std::vector<double> go_bytes;
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < sets.size(); ++k) {
      for (int threads : {1, 2}) {
        figures[k * 2 + (threads - 1)].push_back(SelectSpread(*selector, sets[k], threads, 150));
      }
    }
    Peer p;
    if (peer != nullptr && RunPeer(peer, services, nodes, sets, &p)) {
      go_bytes.push_back(p.bytes_per_node);
      for (std::size_t k = 0; k < sets.size(); ++k) {
        for (int threads : {1, 2}) go[k * 2 + (threads - 1)].push_back(p.ns[{sets[k], threads}]);
      }
    }
  }
  if (!go_bytes.empty()) {
    std::sort(go_bytes.begin(), go_bytes.end());
    std::printf("go-micro v4 selector cache: %.0f bytes per node (Go heap growth, median of %zu)\n",
                go_bytes[go_bytes.size() / 2], go_bytes.size());
  }
  std::printf(
      "Select+Next, round robin, a random service of a working set, ns per call, median "
      "[min-max] of %d interleaved rounds\n",
      rounds);
  std::printf("%12s %22s %22s %24s %24s\n", "working set", "ours 1 thread", "ours 2 threads",
              "go-micro 1 thread", "go-micro 2 threads");
  for (std::size_t k = 0; k < sets.size(); ++k) {
    std::printf("%12d %22s %22s %24s %24s\n", sets[k], Range(figures[k * 2]).c_str(),
                Range(figures[k * 2 + 1]).c_str(), Range(go[k * 2]).c_str(),
                Range(go[k * 2 + 1]).c_str());
  }

  // Resync after the watch breaks and is re-created.
  for (int r = 0; r < rounds; ++r) {
    reg::CacheStats before = selector->cache().Stats();
    auto broke = Clock::now();
    registry->BreakWatches();
    while (selector->cache().Stats().watches == before.watches) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    double rewatch_s = Seconds(Clock::now() - broke);
    std::uint64_t lookups0 = selector->cache().Stats().lookups;
    auto start = Clock::now();
    int fresh = 0;
    for (int i = 0; i < services; ++i) {
      auto next = selector->Select(Name(i));
      if (next.ok()) ++fresh;
    }
    double resync_s = Seconds(Clock::now() - start);
    std::printf(
        "resync %d: watch back after %.3f s; %d of %d services answered in %.2f s "
        "(%.1f us each), %llu registry lookups\n",
        r + 1, rewatch_s, fresh, services, resync_s, resync_s * 1e6 / services,
        static_cast<unsigned long long>(selector->cache().Stats().lookups - lookups0));
  }
  return sink.load() == 42 ? 1 : 0;
}
