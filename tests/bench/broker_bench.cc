// micro-cpp's side of tests/bench/broker_bench.sh: one process publishes --n messages through a
// broker (http:// with an in-process registry, or nats://) from --publishers threads to a
// subscriber of its own, and prints one JSON line: messages per second from the first publish to
// the last message handled, and publish-to-handler latency percentiles. --serial: each publisher
// waits until its message was handled before sending the next. The go-micro peer
// (tests/interop/gomicro/cmd/brokerbench) does the same with go-micro's brokers.
//
//   broker_bench --broker http://127.0.0.1:0 --n 20000 --publishers 1 --size 64 [--serial]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "micro/broker/plugin.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

std::uint64_t Get(const std::string& body, int at) {
  std::uint64_t v = 0;
  std::memcpy(&v, body.data() + at * 8, 8);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri = "http://127.0.0.1:0";
  int n = 20000, publishers = 1, size = 64;
  bool serial = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--broker")
      uri = next();
    else if (a == "--n")
      n = std::stoi(next());
    else if (a == "--publishers")
      publishers = std::stoi(next());
    else if (a == "--size")
      size = std::max(24, std::stoi(next()));
    else if (a == "--serial")
      serial = true;
  }
  micro::RegisterBuiltinPlugins();
  micro::log::SetLevel(micro::log::Level::kWarn);
  std::shared_ptr<micro::registry::Registry> reg = micro::registry::NewMemoryRegistry();
  auto made = micro::broker::NewBroker(uri, {reg});
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", std::string(made.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<micro::broker::Broker> b = std::move(*made);
  if (absl::Status s = b->Connect(); !s.ok()) {
    std::fprintf(stderr, "connect: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const Clock::time_point start = Clock::now();
  std::vector<std::int64_t> lat(n, 0);
  std::atomic<int> got{0};
  Waiter all;
  std::vector<Waiter> handled(publishers);
  auto sub = b->Subscribe("bench", [&](const micro::broker::Event& e) {
    const std::string& body = e.message.body;
    std::uint64_t i = Get(body, 0), sent = Get(body, 1);
    if (i < lat.size()) {
      lat[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count() -
               static_cast<std::int64_t>(sent);
    }
    if (serial) {
      Waiter& w = handled[Get(body, 2)];
      std::lock_guard<std::mutex> l(w.mu);
      w.done = true;
      w.cv.notify_one();
    }
    if (got.fetch_add(1) + 1 == n) {
      std::lock_guard<std::mutex> l(all.mu);
      all.done = true;
      all.cv.notify_one();
    }
    return absl::OkStatus();
  });
  if (!sub.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", std::string(sub.status().message()).c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Clock::time_point begin = Clock::now();
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      std::string body(size, '\0');
      for (int i; (i = next.fetch_add(1)) < n;) {
        std::uint64_t fields[3] = {
            static_cast<std::uint64_t>(i),
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count()),
            static_cast<std::uint64_t>(p)};
        std::memcpy(body.data(), fields, sizeof(fields));
        micro::broker::Message m;
        m.header["Content-Type"] = "application/octet-stream";
        m.body = body;
        if (absl::Status s = b->Publish("bench", m); !s.ok()) {
          std::fprintf(stderr, "publish: %s\n", std::string(s.message()).c_str());
          std::exit(1);
        }
        if (serial) {
          Waiter& w = handled[p];
          std::unique_lock<std::mutex> l(w.mu);
          w.cv.wait_for(l, std::chrono::seconds(5), [&] { return w.done; });  // lost: go on
          w.done = false;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  {
    std::unique_lock<std::mutex> l(all.mu);
    all.cv.wait_for(l, std::chrono::seconds(20), [&] { return all.done; });  // then: not received
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  const int received = got.load();
  (void)(*sub)->Unsubscribe();
  (void)b->Disconnect();
  std::vector<std::int64_t> ls;
  for (std::int64_t l : lat)
    if (l > 0) ls.push_back(l);
  std::sort(ls.begin(), ls.end());
  auto pct = [&](double q) {
    return ls.empty()
               ? 0.0
               : static_cast<double>(ls[static_cast<std::size_t>(q * (ls.size() - 1))]) / 1e3;
  };
  nlohmann::json out{{"received", received},
                     {"msgs_per_s", received / elapsed},
                     {"p50_us", pct(0.5)},
                     {"p99_us", pct(0.99)}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
