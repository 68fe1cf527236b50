// Hotel.Rates with all five hotel services running as processes (mDNS, so run
// it in a namespace of its own):
//
//   tests/integration/netns-run.sh build/tests/bench/hotel_bench [seconds] [threads]
//
// Prints requests/s, p50 and p99 through the generated client, and each
// service's resident memory idle and under that load (target: 15 MB idle).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "hotel.micro.h"
#include "load.h"
#include "mdns_registry.h"
#include "micro/micro.h"
#include "process.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (std::getenv("MICRO_TEST_NETNS") == nullptr) {
    std::fprintf(stderr, "run me through tests/integration/netns-run.sh: the services use mDNS\n");
    return 2;
  }
  setenv("MICRO_LOG_LEVEL", "warn", 1);
  double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  const char* names[] = {"auth", "geo", "profile", "rate", "hotel"};
  std::map<std::string, std::unique_ptr<micro::testing::Process>> procs;
  for (const char* n : names) {
    procs[n] = std::make_unique<micro::testing::Process>(
        std::vector<std::string>{std::string(HOTEL_BIN_DIR) + "/hotel-" + n, "--registry", "mdns",
                                 "--server_address", "127.0.0.1:0"});
  }
  auto made = micro::mdns::NewMdnsRegistry();
  if (!made.ok()) return 1;
  micro::client::ClientOptions co;
  co.registry = std::shared_ptr<micro::registry::Registry>(std::move(*made));
  auto client = std::make_shared<micro::client::Client>(co);
  hotel::HotelService api("go.micro.api.hotel", client);
  hotel::Request req;
  req.set_indate("2015-04-09");
  req.set_outdate("2015-04-10");
  micro::client::CallOptions opts;
  opts.metadata = {{"authorization", "Bearer VALID_TOKEN"}};
  for (int i = 0; i < 600 && !api.Rates(req, opts).ok(); ++i) std::this_thread::sleep_for(100ms);
  if (!api.Rates(req, opts).ok()) {
    std::fprintf(stderr, "the hotel services did not come up\n");
    return 1;
  }
  std::this_thread::sleep_for(2s);  // settle
  std::map<std::string, micro::bench::Memory> idle, loaded;
  for (const char* n : names) idle[n] = micro::bench::MemoryOf(procs[n]->pid());

  micro::bench::Result load = micro::bench::Measure(
      threads, seconds, [&] { return api.Rates(req, opts).ok(); },
      [&] {
        for (const char* n : names) loaded[n] = micro::bench::MemoryOf(procs[n]->pid());
      });
  std::printf(
      "Hotel.Rates (auth + geo + profile + rate behind it), %d client threads, %.0f s, all on 2 "
      "cores\n",
      threads, seconds);
  std::printf("  %.0f requests/s   p50 %.2f ms   p99 %.2f ms   errors %ld\n", load.rps,
              load.p50_us / 1000, load.p99_us / 1000, load.errors);
  std::printf(
      "memory (MB; target 15 MB idle)   idle: RSS    PSS    own   under load: RSS    PSS    own\n");
  for (const char* n : names) {
    std::printf(
        "  hotel-%-8s                   %6.1f %6.1f %6.1f                %6.1f %6.1f %6.1f\n", n,
        idle[n].rss, idle[n].pss, idle[n].own, loaded[n].rss, loaded[n].pss, loaded[n].own);
  }
  std::printf(
      "own = private dirty pages (heap, stacks, data); RSS - own is mostly shared library code\n"
      "(gRPC, protobuf, libstdc++, OpenSSL), which PSS splits among the processes that map it\n");
  for (auto& [n, p] : procs) p->Signal(SIGTERM);
  for (auto& [n, p] : procs) p->Wait();
  return 0;
}
