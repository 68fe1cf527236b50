// Chaos: the hotel stack as real processes on a real Consul dev agent (or a
// real etcd member), behind
// the real api-gateway, under steady load through it (bookings from a few
// threads, bounded in time); then instances and the registry are killed,
// stopped and restarted for real. The tests assert counts of answers; the
// rates they print are figures for docs/benchmarks.md, not assertions.
// Loopback only. MICRO_CHAOS_OUTAGE_S sets the registry outage (default 60 s).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "consul_agent.h"
#include "etcd_cluster.h"
#include "greeter.micro.h"
#include "hotel_load.h"
#include "http_util.h"
#include "micro/micro.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/memory.h"
#include "micro/registry/plugin.h"
#include "process.h"
#include "test_util.h"

using micro::testing::ConsulAgent;
using micro::testing::EtcdCluster;
using micro::testing::Eventually;
using micro::testing::HttpConnection;
using micro::testing::HttpDo;
using micro::testing::Process;
using micro::testing::ScratchDir;
using micro::testing::StablePort;
using namespace std::chrono_literals;
using namespace micro::testing::hotel_load;

namespace {

// The registry the stack runs on: a Consul dev agent or one etcd member,
// restartable on the same ports.
class Daemon {
 public:
  explicit Daemon(const std::string& kind) : kind_(kind) {
    if (kind == "consul") {
      consul_ = std::make_unique<ConsulAgent>();
    } else {
      etcd_ = std::make_unique<EtcdCluster>(1);
    }
  }
  const std::string& kind() const { return kind_; }
  std::string address() const { return consul_ ? consul_->http_address() : etcd_->endpoint(0); }
  bool WaitReady() { return consul_ ? consul_->WaitReady() : etcd_->WaitReady(); }
  void Kill() { consul_ ? consul_->Kill() : etcd_->Kill(0); }
  // A dev agent keeps nothing on disk; an etcd member loses its data.
  void Wipe() {
    if (etcd_) etcd_->Wipe(0);
  }
  void Start() { consul_ ? consul_->Start() : etcd_->Start(0); }
  void Signal(int sig) {
    if (consul_) {
      consul_->Signal(sig);
    } else {
      ::kill(etcd_->pid(0), sig);
    }
  }

  // Every hotel service has a node a client's lookup sees (Consul: passing).
  bool AllRegistered() {
    if (client_ == nullptr) {
      micro::RegisterBuiltinPlugins();
      auto made = micro::registry::NewRegistry(kind_ + "://" + address());
      REQUIRE(made.ok());
      client_ = std::move(*made);
    }
    for (const char* s : kServices) {
      auto got = client_->GetService(s);
      if (!got.ok() || got->empty() || got->front().nodes.empty()) {
        std::this_thread::sleep_for(100ms);
        return false;
      }
    }
    return true;
  }

 private:
  std::string kind_;
  std::unique_ptr<ConsulAgent> consul_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<micro::registry::Registry> client_;
};

// The hotel services (geo and rate twice) and a gateway on fixed loopback
// ports, so that a restarted process keeps its address; every process keeps
// last-known-good files in one directory.
class Stack {
 public:
  explicit Stack(const std::string& kind = "consul") : registry(kind) {
    REQUIRE(registry.WaitReady());
    std::set<int> taken;
    auto port = [&] {
      int p;
      do p = StablePort();
      while (!taken.insert(p).second);
      return p;
    };
    for (const char* s : {"auth", "geo", "geo2", "profile", "rate", "rate2", "hotel"}) {
      ports_[s] = port();
      Start(s);
    }
    gateway_port = port();
    StartGateway();
    if (!Eventually([&] { return Book(gateway_port) == 200; }, 60s)) {
      FAIL("no booking answered 200; last answer: " << BookAnswer(gateway_port).body << "\n"
                                                    << Logs());
    }
  }

  void Start(const std::string& instance) {
    std::string binary = instance.substr(0, instance.find_first_of("0123456789"));
    procs_[instance] = std::make_unique<Process>(
        std::vector<std::string>{
            std::string(HOTEL_BIN_DIR) + "/hotel-" + binary, "--registry", registry.kind(),
            "--registry_address", registry.address(), "--server_address",
            "127.0.0.1:" + std::to_string(ports_[instance]), "--register_ttl", "10s",
            "--register_interval", "2s", "--registry_cache_dir", cache.path()},
        cache.path() + "/" + instance + ".log");
  }

  void StartGateway() {
    gateway_ = std::make_unique<Process>(
        std::vector<std::string>{
            GATEWAY_BIN, "--registry", registry.kind(), "--registry_address", registry.address(),
            "--address", "127.0.0.1:" + std::to_string(gateway_port), "--request_timeout", "5s",
            "--registry_cache_dir", cache.path(), "--admin_address", "127.0.0.1:0"},
        cache.path() + "/gateway.log");
    REQUIRE(Eventually([&] { return HttpDo(gateway_port, "GET", "/health").status == 200; }));
  }

  // Every process's log, for a failure message.
  std::string Logs() {
    std::string out;
    for (const auto& [instance, port] : ports_) {
      out += instance + " (port " + std::to_string(port) + "):\n" +
             Read(cache.path() + "/" + instance + ".log");
    }
    return out + "gateway:\n" + Read(cache.path() + "/gateway.log");
  }

  Process& process(const std::string& instance) { return *procs_.at(instance); }
  Process& gateway() { return *gateway_; }

  bool AllRegistered() { return registry.AllRegistered(); }

  Daemon registry;  // Consul unless the test says etcd
  ScratchDir cache;
  int gateway_port = 0;

 private:
  std::map<std::string, int> ports_;
  std::map<std::string, std::unique_ptr<Process>> procs_;
  std::unique_ptr<Process> gateway_;
};

}  // namespace

TEST_CASE("SIGKILL of one of two geo and one of two rate instances under load: no failed booking") {
  Stack stack;
  Load load(stack.gateway_port);
  std::this_thread::sleep_for(5s);
  auto before = load.Take();
  stack.process("geo2").Signal(SIGKILL);
  stack.process("rate2").Signal(SIGKILL);
  std::this_thread::sleep_for(10s);
  auto after = load.Take();
  INFO("before: " << Show(before) << " after: " << Show(after) << "\nfirst failures:\n"
                  << load.Failures());
  CHECK(Failed(before) == 0);
  CHECK(Failed(after) == 0);
  CHECK(after[200] > 0);
  std::printf(
      "chaos: SIGKILL of one of two instances: %.0f bookings/s in the 5 s before, %.0f/s in "
      "the 10 s after (%.0f%%), %ld failed\n",
      Total(before) / 5.0, Total(after) / 10.0,
      100.0 * (Total(after) / 10.0) / std::max(1.0, Total(before) / 5.0), Failed(after));
}

// The registry killed (and wiped) for the outage and started again empty, under load.
void Outage(const std::string& kind, bool wipe) {
  int outage_s = 60;
  if (const char* o = std::getenv("MICRO_CHAOS_OUTAGE_S")) outage_s = std::max(5, std::atoi(o));
  Stack stack(kind);
  Load load(stack.gateway_port);
  std::this_thread::sleep_for(3s);
  auto before = load.Take();
  stack.registry.Kill();
  if (wipe) stack.registry.Wipe();
  std::this_thread::sleep_for(std::chrono::seconds(outage_s));
  auto outage = load.Take();
  stack.registry.Start();
  REQUIRE(stack.registry.WaitReady());
  REQUIRE(Eventually([&] { return stack.AllRegistered(); }, 60s));
  auto gap = load.Take();  // the registry is back, empty, and the services register again
  std::this_thread::sleep_for(10s);
  auto back = load.Take();
  INFO("before: " << Show(before) << " outage: " << Show(outage) << " gap: " << Show(gap)
                  << " back: " << Show(back) << "\nfirst failures:\n"
                  << load.Failures());
  CHECK(Failed(before) == 0);
  CHECK(Failed(outage) == 0);
  CHECK(outage[200] > 0);
  CHECK(Failed(back) == 0);
  CHECK(back[200] > 0);
  if (Failed(back) != 0) std::fprintf(stderr, "%s\n", stack.Logs().c_str());
  std::printf(
      "chaos: %s down %d s%s: %.0f bookings/s before, %.0f/s during (%ld failed); while it came "
      "back empty: %s; after: %.0f/s (%ld failed)\n",
      kind.c_str(), outage_s, wipe ? " and wiped" : "", Total(before) / 3.0,
      Total(outage) / double(outage_s), Failed(outage), Show(gap).c_str(), Total(back) / 10.0,
      Failed(back));
}

TEST_CASE(
    "Consul killed, then back empty: no failed booking during the outage, none once all "
    "services are registered again") {
  Outage("consul", false);
}

TEST_CASE(
    "etcd killed and its data wiped, then back empty: no failed booking during the outage, none "
    "once all services are registered again") {
  Outage("etcd", true);
}

TEST_CASE(
    "Consul SIGSTOPped: /health answers at once, bookings and unknown services end within "
    "the request timeout") {
  Stack stack;
  stack.registry.Signal(SIGSTOP);
  // Unknown names need lookups that hang now: they must not hold the gateway's threads.
  std::vector<std::thread> unknown;
  std::atomic<int> unknown_ended{0}, unknown_ok_status{0};
  for (int i = 0; i < 8; ++i) {
    unknown.emplace_back([&, i] {
      int status =
          HttpDo(stack.gateway_port, "POST", "/nothing" + std::to_string(i) + "/x/y", "{}").status;
      ++unknown_ended;
      if (status == 503 || status == 504) ++unknown_ok_status;
    });
  }
  std::this_thread::sleep_for(200ms);  // let them reach the gateway (not asserted)
  HttpConnection health(stack.gateway_port, 1000);
  auto h = health.Exchange("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(h.status == 200);  // 0 would mean no answer within 1 s
  int booking = Book(stack.gateway_port);
  CHECK((booking == 200 || booking == 503 || booking == 504));
  for (auto& t : unknown) t.join();
  CHECK(unknown_ended == 8);
  CHECK(unknown_ok_status == 8);  // 503 or 504 from the gateway, none left unanswered
  stack.registry.Signal(SIGCONT);
}

TEST_CASE(
    "a gateway and a hotel service started while Consul is down serve bookings from "
    "last-known-good files, and register once Consul is back") {
  Stack stack;  // its first booking wrote the files
  stack.registry.Kill();
  stack.gateway().Signal(SIGTERM);
  stack.gateway().Wait();
  stack.process("hotel").Signal(SIGTERM);
  stack.process("hotel").Wait();
  stack.Start("hotel");
  stack.StartGateway();
  CHECK(Eventually([&] { return Book(stack.gateway_port) == 200; }, 30s));
  int ok = 0;
  for (int i = 0; i < 20; ++i) ok += Book(stack.gateway_port) == 200;
  CHECK(ok == 20);
  // Both said where their answers came from.
  for (const char* log : {"gateway.log", "hotel.log"}) {
    INFO(log);
    CHECK_THAT(Read(stack.cache.path() + "/" + log),
               Catch::Contains("serving it from its last-known-good file"));
  }
  CHECK_THAT(
      Read(stack.cache.path() + "/hotel.log"),
      Catch::Contains("serving on 127.0.0.1:") && Catch::Contains("anyway and trying again"));
  stack.registry.Start();
  REQUIRE(stack.registry.WaitReady());
  CHECK(Eventually([&] { return stack.AllRegistered(); }, 60s));
  CHECK(Book(stack.gateway_port) == 200);
}

namespace {

// The resident set of process `pid`, in kB (0 if unknown).
long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// An HTTP/2 client that opens `streams` streams with HEADERS and never ends
// them (no END_STREAM, no DATA): half-open calls, written as raw frames so
// that nothing holds it to the server's stream limit. A thread reads and
// drops what the server sends until the connection is closed.
class StreamFlood {
 public:
  StreamFlood(int port, int streams) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    // As a client does: the preface and our SETTINGS, then the server's SETTINGS acknowledged
    // once they are here, so its stream limit applies (an ACK sent before them would race them,
    // and the server would sometimes take every stream under the default limit).
    std::string hello = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    Frame(&hello, 0x4, 0, 0, "");  // SETTINGS
    REQUIRE(send(fd_, hello.data(), hello.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(hello.size()));
    REQUIRE(AwaitServerSettings());
    reader_ = std::thread([this] {
      char buf[65536];
      while (true) {
        ssize_t n = recv(fd_, buf, sizeof(buf), 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        break;
      }
    });
    std::string out;
    Frame(&out, 0x4, 0x1, 0, "");  // SETTINGS ACK (for the server's)
    std::string block;
    for (auto [name, value] : {std::pair<std::string, std::string>{":method", "POST"},
                               {":scheme", "http"},
                               {":path", "/helloworld.Greeter/Hello"},
                               {":authority", "127.0.0.1"},
                               {"content-type", "application/grpc"},
                               {"te", "trailers"}}) {
      block += '\0';  // literal without indexing, new name, no Huffman
      block += static_cast<char>(name.size());
      block += name;
      block += static_cast<char>(value.size());
      block += value;
    }
    for (int i = 0; i < streams; ++i) Frame(&out, 0x1, 0x4, 2 * i + 1, block);  // HEADERS
    std::size_t off = 0;
    while (off < out.size()) {
      ssize_t n = send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the server may close it: that is an answer too
      off += static_cast<std::size_t>(n);
    }
  }
  ~StreamFlood() {
    shutdown(fd_, SHUT_RDWR);
    reader_.join();
    close(fd_);
  }

 private:
  // Reads frames until the server's SETTINGS (not an ACK) have arrived; false if it closed.
  bool AwaitServerSettings() {
    std::string in;
    char buf[4096];
    while (true) {
      while (in.size() >= 9) {
        std::size_t len = (static_cast<unsigned char>(in[0]) << 16) |
                          (static_cast<unsigned char>(in[1]) << 8) |
                          static_cast<unsigned char>(in[2]);
        if (in.size() < 9 + len) break;
        bool settings = in[3] == 0x4 && (in[4] & 0x1) == 0;
        in.erase(0, 9 + len);
        if (settings) return true;
      }
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }

  static void Frame(std::string* out, int type, int flags, std::uint32_t stream,
                    const std::string& payload) {
    std::size_t n = payload.size();
    char h[9] = {static_cast<char>(n >> 16),
                 static_cast<char>(n >> 8),
                 static_cast<char>(n),
                 static_cast<char>(type),
                 static_cast<char>(flags),
                 static_cast<char>((stream >> 24) & 0x7f),
                 static_cast<char>(stream >> 16),
                 static_cast<char>(stream >> 8),
                 static_cast<char>(stream)};
    out->append(h, 9);
    *out += payload;
  }

  int fd_ = -1;
  std::thread reader_;
};

}  // namespace

TEST_CASE(
    "a stream flood (10,000 half-open streams, three rounds) leaves a service answering, "
    "its memory back within 20 percent") {
  int port = StablePort();
  // Every register interval the service gives freed memory back (ServerOptions::release_memory).
  Process greeter({GREETER_BIN, "--registry", "memory", "--server_address",
                   "127.0.0.1:" + std::to_string(port), "--register_interval", "2s"});
  // A client that knows the node without discovery.
  std::shared_ptr<micro::registry::Registry> fixed = micro::registry::NewMemoryRegistry();
  micro::registry::Service svc{
      "helloworld", "latest", {}, {}, {{"g", "127.0.0.1:" + std::to_string(port), {}}}};
  REQUIRE(fixed->Register(svc, {}).ok());
  micro::client::ClientOptions co;
  co.registry = fixed;
  auto client = std::make_shared<micro::client::Client>(co);
  helloworld::GreeterService api("helloworld", client);
  helloworld::Request req;
  req.set_name("flood");
  auto good = [&] { return api.Hello(req).ok(); };
  REQUIRE(Eventually(good, 30s));
  for (int i = 0; i < 200; ++i) REQUIRE(good());  // warm: connections, threads, arenas
  long before = RssKb(greeter.pid());
  long peak = before, after = before;
  for (int round = 0; round < 3; ++round) {
    {
      StreamFlood flood(port, 10000);
      std::this_thread::sleep_for(1s);  // let the server take in what it will (not asserted)
      peak = std::max(peak, RssKb(greeter.pid()));
      CHECK(good());  // answers others during the flood
    }
    CHECK(Eventually(good));
  }
  // Memory the flood took comes back (give the server a moment to close it all).
  CHECK(Eventually(
      [&] {
        after = RssKb(greeter.pid());
        return after <= before * 12 / 10;
      },
      20s));
  std::printf(
      "chaos: stream flood, 3 x 10,000 half-open streams: service RSS %ld kB before, %ld kB "
      "at the peak, %ld kB after\n",
      before, peak, after);
}
