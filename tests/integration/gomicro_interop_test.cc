// micro-cpp and real go-micro nodes (v4 with its gRPC and registry plugins, v5 with its own) in one
// fleet, on a real Consul agent, a real etcd member and real multicast mDNS. The Go side is
// tests/interop/gomicro (peer4, peer5). Each case runs in a network namespace of its own
// (netns-run.sh); its name says the registry and go-micro version, e.g. "go-micro v5 on etcd".
//
// What each case checks, in both directions: discovery (nodes, metadata, endpoints), watches
// (create and delete), proto and JSON calls with go-micro errors and deadlines, the api-gateway
// in front of a Go node (path route and /rpc) and of a mixed fleet under one name, and that a
// SIGKILLed node of either language leaves both sides' view within its TTL.
#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "etcd_cluster.h"
#include "greeter.pb.h"
#include "http_util.h"
#include "micro/client/client.h"
#include "micro/errors.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/plugin.h"
#include "micro/tls.h"
#include "process.h"
#include "test_util.h"
#include "tls_certs.h"

namespace reg = micro::registry;
using micro::testing::Eventually;
using micro::testing::Process;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTtlSeconds = 3;

std::string Slurp(const std::string& path) { return micro::testing::ReadFile(path); }

// The registry of one case, as each side names it.
struct Fleet {
  std::string kind;  // consul, etcd, mdns
  std::string address;
  std::string uri() const { return kind == "mdns" ? "mdns" : kind + "://" + address; }
  std::vector<std::string> GoFlags() const {
    return {"-registry", kind, "-registry_address", address};
  }
};

// A go-micro node serving helloworld.Greeter until it is signalled. go-micro registers it as
// "<name>-<id>".
class GoNode {
 public:
  GoNode(const std::string& peer, const Fleet& fleet, const std::string& name,
         const std::string& id, const std::string& dir, std::vector<std::string> extra = {})
      : log_(dir + "/" + id + ".log") {
    std::vector<std::string> argv{peer, "serve"};
    for (auto& f : fleet.GoFlags()) argv.push_back(f);
    for (auto& f : {std::string("-name"), name, std::string("-id"), id, std::string("-ttl"),
                    absl::StrCat(kTtlSeconds, "s"), std::string("-interval"), std::string("1s")})
      argv.push_back(f);
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Process>(argv, log_);
    INFO(Slurp(log_));
    REQUIRE(Eventually([&] { return absl::StrContains(Slurp(log_), "ready"); }));
  }
  Process& process() { return *process_; }
  // The calls it has served (it prints "served N" after each).
  int Served() {
    std::string log = Slurp(log_);
    auto at = log.rfind("served ");
    int n = -1;
    if (at != std::string::npos)
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(log.substr(at + 7)), &n);
    return n;
  }

 private:
  std::string log_;
  std::unique_ptr<Process> process_;
};

// A micro-cpp greeter process.
std::unique_ptr<Process> CppNode(const Fleet& fleet, const std::string& name, const std::string& id,
                                 const std::string& dir) {
  return std::make_unique<Process>(
      std::vector<std::string>{GREETER_BIN, "--registry", fleet.uri(), "--server_name", name,
                               "--server_id", id, "--server_address", "127.0.0.1:0",
                               "--register_ttl", std::to_string(kTtlSeconds), "--register_interval",
                               "1"},
      dir + "/" + id + ".log");
}

// Runs a go-micro peer command; returns what it printed (stdout and stderr).
std::string Go(const std::string& peer, const Fleet& fleet, std::vector<std::string> args) {
  std::string cmd = peer;
  std::vector<std::string> all{args.front()};
  for (auto& f : fleet.GoFlags()) all.push_back(f);
  all.insert(all.end(), args.begin() + 1, args.end());
  for (auto& a : all) cmd += " '" + a + "'";
  return micro::testing::RunOutput(cmd + " 2>&1");
}

// Records a micro-cpp watch's events as "create ID" / "delete ID".
class WatchLog {
 public:
  WatchLog(reg::Registry& r, const std::string& service) {
    auto w = r.Watch({service});
    REQUIRE(w.ok());
    watcher_ = std::move(*w);
    thread_ = std::thread([this] {
      while (true) {
        auto ev = watcher_->Next();
        if (!ev.ok()) return;
        std::lock_guard<std::mutex> l(mu_);
        for (auto& n : ev->service.nodes) {
          const char* what = ev->action == reg::Action::kCreate   ? "create "
                             : ev->action == reg::Action::kDelete ? "delete "
                                                                  : "update ";
          events_ += what + n.id + "\n";
        }
      }
    });
  }
  ~WatchLog() {
    watcher_->Stop();
    thread_.join();
  }
  bool Saw(const std::string& event) {
    std::lock_guard<std::mutex> l(mu_);
    return absl::StrContains(events_, event + "\n");
  }

 private:
  std::unique_ptr<reg::Watcher> watcher_;
  std::thread thread_;
  std::mutex mu_;
  std::string events_;
};

bool Lists(reg::Registry& r, const std::string& service, const std::string& id) {
  auto found = r.GetService(service);
  if (!found.ok()) return false;
  for (auto& s : *found)
    for (auto& n : s.nodes)
      if (n.id == id) return true;
  return false;
}

absl::StatusOr<std::string> Raw(micro::client::Client& c, const std::string& service,
                                const std::string& json) {
  std::promise<absl::StatusOr<std::string>> p;
  micro::client::CallOptions o;
  o.content_type = "application/grpc+json";
  c.CallRawAsync(
      service, "Greeter.Hello", json,
      [&p](absl::StatusOr<std::string> r) { p.set_value(std::move(r)); }, o);
  return p.get_future().get();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Waits until node `id` of `service` is gone from both sides' lookups (micro-cpp's registry, and
// go-micro's in a fresh process) and prints how long each took since `since`.
void UntilGone(const Fleet& fleet, const std::string& peer, reg::Registry& registry,
               const std::string& service, const std::string& id, Clock::time_point since,
               const std::string& what) {
  double cpp_seen = -1, go_seen = -1;
  CHECK(Eventually(
      [&] {
        if (cpp_seen < 0 && !Lists(registry, service, id)) cpp_seen = Seconds(Clock::now() - since);
        if (go_seen < 0 && !absl::StrContains(Go(peer, fleet, {"lookup", service}), id))
          go_seen = Seconds(Clock::now() - since);
        return cpp_seen >= 0 && go_seen >= 0;
      },
      std::chrono::seconds(kTtlSeconds * 6)));
  printf("%s gone from micro-cpp's lookup after %.2f s, from go-micro's after %.2f s (TTL %d s)\n",
         what.c_str(), cpp_seen, go_seen, kTtlSeconds);
}

void RunFleet(const Fleet& fleet, const std::string& peer, const std::string& version) {
  std::string dir = micro::testing::TempDir("interop-" + fleet.kind);
  micro::RegisterBuiltinPlugins();
  auto made = reg::NewRegistry(fleet.uri());
  REQUIRE(made.ok());
  std::shared_ptr<reg::Registry> registry = std::move(*made);
  micro::client::ClientOptions co;
  co.registry = registry;
  co.request_timeout = std::chrono::seconds(5);
  micro::client::Client client(co);

  // Discovery and watches, Go -> C++: a go-micro node appears in our registry and our watch.
  WatchLog cpp_watch(*registry, "go.greeter");
  GoNode go(peer, fleet, "go.greeter", "go-1", dir);
  REQUIRE(Eventually([&] { return Lists(*registry, "go.greeter", "go.greeter-go-1"); }));
  auto found = registry->GetService("go.greeter");
  REQUIRE(found.ok());
  const reg::Node& gn = found->at(0).nodes.at(0);
  CHECK(gn.metadata.at("lang") == "go");
  CHECK(gn.metadata.at("protocol") == "grpc");
  // go-micro registers each handler method: Hello and the three streams, the streams marked so.
  std::map<std::string, const reg::Endpoint*> eps;
  for (const reg::Endpoint& e : found->at(0).endpoints) eps[e.name] = &e;
  REQUIRE(eps.size() == 4);
  REQUIRE(eps.count("Greeter.Hello") == 1);
  CHECK(eps["Greeter.Hello"]->request->name == "Request");
  REQUIRE(eps.count("Greeter.Chat") == 1);
  CHECK(eps["Greeter.Chat"]->metadata.at("stream") == "true");
  CHECK(eps["Greeter.Stream"]->metadata.at("stream") == "true");
  INFO("go-micro's Greeter.Hello metadata: " << eps["Greeter.Hello"]->metadata.size() << " keys");
  CHECK(Eventually([&] { return cpp_watch.Saw("create go.greeter-go-1"); }));

  // C++ -> Go: a go-micro watch sees our node come, go-micro's lookup sees our data.
  std::string go_watch_log = dir + "/go-watch.log";
  Process go_watch({"/bin/sh", "-c",
                    absl::StrCat("exec '", peer, "' watch -registry ", fleet.kind,
                                 " -registry_address '", fleet.address, "' cpp.greeter 2")},
                   go_watch_log);
  REQUIRE(Eventually([&] { return absl::StrContains(Slurp(go_watch_log), "watching"); }));
  auto cpp = CppNode(fleet, "cpp.greeter", "cpp-1", dir);
  std::string seen;
  CHECK(Eventually([&] {
    seen = Go(peer, fleet, {"lookup", "cpp.greeter"});
    return absl::StrContains(seen, "\"id\":\"cpp-1\"");
  }));
  INFO(seen);
  CHECK(absl::StrContains(seen, "\"name\":\"Greeter.Hello\""));
  CHECK(absl::StrContains(seen, "\"protocol\":\"grpc\""));
  // go-micro's Consul watch reports a node of a service it watches as "update", its others
  // "create".
  CHECK(Eventually([&] {
    std::string w = Slurp(go_watch_log);
    return absl::StrContains(w, "create cpp-1") || absl::StrContains(w, "update cpp-1");
  }));

  // Calls, Go client -> C++ service: proto and JSON, and a go-micro error.
  CHECK(Go(peer, fleet, {"call", "cpp.greeter", "Greeter.Hello", "Bob"}) == "Hello Bob\n");
  CHECK(Go(peer, fleet,
           {"call", "-content_type", "application/json", "cpp.greeter", "Greeter.Hello", "Bob"}) ==
        "Hello Bob\n");
  std::string bad = Go(peer, fleet, {"call", "cpp.greeter", "Greeter.Hello", ""});
  CHECK(absl::StrContains(bad, "\"id\":\"helloworld\""));
  CHECK(absl::StrContains(bad, "\"code\":400"));
  CHECK(absl::StrContains(bad, "\"detail\":\"name is required\""));

  // C++ client -> Go service: proto, JSON (raw and typed), errors, the deadline on the Go side.
  helloworld::Request req;
  helloworld::Response rsp;
  req.set_name("Bob");
  REQUIRE(client.Call("go.greeter", "Greeter.Hello", req, &rsp).ok());
  CHECK(rsp.msg() == "Hello Bob");
  micro::client::CallOptions json;
  json.content_type = "application/grpc+json";
  rsp.Clear();
  absl::Status typed = client.Call("go.greeter", "Greeter.Hello", req, &rsp, json);
  INFO(typed.ToString());
  CHECK(typed.ok());
  CHECK(rsp.msg() == "Hello Bob");
  auto raw = Raw(client, "go.greeter", R"({"name":"Bob"})");
  INFO(raw.status().ToString());
  REQUIRE(raw.ok());
  CHECK(absl::StrContains(*raw, R"("msg":"Hello Bob")"));
  for (auto* ct : {"application/grpc+proto", "application/grpc+json"}) {
    micro::client::CallOptions o;
    o.content_type = ct;
    req.set_name("");
    absl::Status s = client.Call("go.greeter", "Greeter.Hello", req, &rsp, o);
    micro::Error e = micro::errors::FromStatus(s);
    CHECK(e.id == "helloworld");
    CHECK(e.code == 400);
    CHECK(e.detail == "name is required");
    o.timeout = std::chrono::milliseconds(3000);
    req.set_name("deadline");
    REQUIRE(client.Call("go.greeter", "Greeter.Hello", req, &rsp, o).ok());
    int left = 0;
    REQUIRE(absl::SimpleAtoi(rsp.msg().substr(9), &left));
    CHECK(left > 0);
    CHECK(left <= 3000);
  }
  auto malformed = Raw(client, "go.greeter", R"({"name":)");
  CHECK(!malformed.ok());
  // The micro CLI, as a user types it.
  std::string cli = micro::testing::RunOutput(
      absl::StrCat(MICRO_BIN, " --registry '", fleet.uri(),
                   "' call go.greeter Greeter.Hello '{\"name\":\"Bob\"}'"));
  CHECK(absl::StrContains(cli, R"("msg":"Hello Bob")"));

  // The api-gateway in front of the Go node: a path route (namespace "go") and /rpc (on, inside
  // the namespace); a second one with no namespace for the mixed fleet's "helloworld" below.
  int port = micro::testing::FreePort(), open_port = micro::testing::FreePort();
  Process gateway(
      {GATEWAY_BIN, "--address", absl::StrCat("127.0.0.1:", port), "--registry", fleet.uri(),
       "--namespace", "go", "--enable_rpc", "--admin_address", "127.0.0.1:0"},
      dir + "/gateway.log");
  Process open_gateway(
      {GATEWAY_BIN, "--address", absl::StrCat("127.0.0.1:", open_port), "--registry", fleet.uri(),
       "--namespace", "", "--enable_rpc", "--admin_address", "127.0.0.1:0"},
      dir + "/open-gateway.log");
  REQUIRE(Eventually([&] { return micro::testing::HttpDo(port, "GET", "/health").status == 200; }));
  REQUIRE(Eventually(
      [&] { return micro::testing::HttpDo(open_port, "GET", "/health").status == 200; }));
  auto a = micro::testing::HttpDo(port, "POST", "/greeter/hello", R"({"name":"Bob"})");
  INFO(a.body);
  CHECK(a.status == 200);
  CHECK(absl::StrContains(a.body, R"("msg":"Hello Bob")"));
  a = micro::testing::HttpDo(
      port, "POST", "/rpc",
      R"({"service":"go.greeter","endpoint":"Greeter.Hello","request":{"name":"Ann"}})");
  CHECK(a.status == 200);
  CHECK(absl::StrContains(a.body, R"("msg":"Hello Ann")"));
  a = micro::testing::HttpDo(port, "POST", "/greeter/hello", R"({"name":""})");
  CHECK(a.status == 400);
  CHECK(absl::StrContains(a.body, R"("detail":"name is required")"));

  // A mixed fleet under one name behind the gateway: every request answered, both nodes used.
  auto go2 = std::make_unique<GoNode>(peer, fleet, "helloworld", "go-2", dir);
  auto cpp2 = CppNode(fleet, "helloworld", "cpp-2", dir);
  REQUIRE(Eventually([&] {
    return Lists(*registry, "helloworld", "helloworld-go-2") &&
           Lists(*registry, "helloworld", "cpp-2");
  }));
  REQUIRE(Eventually([&] {
    auto next = client.selector().Select("helloworld");
    return next.ok() && next->size() == 2;
  }));
  const int kCalls = 60;
  int ok = 0;
  for (int i = 0; i < kCalls; ++i) {
    auto r = micro::testing::HttpDo(
        open_port, "POST", "/rpc",
        R"({"service":"helloworld","endpoint":"Greeter.Hello","request":{"name":"Bob"}})");
    if (r.status == 200 && absl::StrContains(r.body, "Hello Bob")) ++ok;
  }
  CHECK(ok == kCalls);
  int by_go = go2->Served();
  printf(
      "%s on %s: mixed fleet behind the gateway: %d of %d calls answered 200, %d by the go-micro "
      "node\n",
      version.c_str(), fleet.kind.c_str(), ok, kCalls, by_go);
  CHECK(by_go > 0);
  CHECK(by_go < kCalls);

  // A SIGKILLed node of either language leaves both sides' view; calls keep working.
  auto killed = Clock::now();
  go2->process().Signal(SIGKILL);
  UntilGone(fleet, peer, *registry, "helloworld", "helloworld-go-2", killed,
            version + " on " + fleet.kind + ": SIGKILLed go-micro node");
  if (fleet.kind != "mdns") {
    // Our client's watch-driven cache drops it too. (On mDNS go-micro announces its records with a
    // TTL of 120 s whatever its RegisterTTL, and a SIGKILLed node sends no goodbye: our cache keeps
    // it that long, and calls that land on it move to the next node.)
    CHECK(Eventually(
        [&] {
          auto next = client.selector().Select("helloworld");
          return next.ok() && next->size() == 1;
        },
        std::chrono::seconds(kTtlSeconds * 6)));
    printf("%s on %s: ... and from micro-cpp's client cache after %.2f s\n", version.c_str(),
           fleet.kind.c_str(), Seconds(Clock::now() - killed));
  }
  for (int i = 0; i < 10; ++i) {
    auto r = micro::testing::HttpDo(
        open_port, "POST", "/rpc",
        R"({"service":"helloworld","endpoint":"Greeter.Hello","request":{"name":"Eve"}})");
    CHECK(r.status == 200);
    CHECK(Go(peer, fleet, {"call", "helloworld", "Greeter.Hello", "Eve"}) == "Hello Eve\n");
  }
  killed = Clock::now();
  cpp->Signal(SIGKILL);
  UntilGone(fleet, peer, *registry, "cpp.greeter", "cpp-1", killed,
            version + " on " + fleet.kind + ": SIGKILLed micro-cpp node");
  if (fleet.kind != "mdns") {
    // The go-micro watch saw our node go (mDNS has no goodbye after a SIGKILL).
    CHECK(Eventually([&] { return absl::StrContains(Slurp(go_watch_log), "delete cpp-1"); },
                     std::chrono::seconds(kTtlSeconds * 6)));
  }

  // go-micro's own goodbye reaches our watch.
  go.process().Signal(SIGTERM);
  CHECK(WIFEXITED(go.process().Wait()));
  CHECK(Eventually([&] { return cpp_watch.Saw("delete go.greeter-go-1"); }));
}

}  // namespace

void OnConsul(const std::string& peer, const std::string& version) {
  REQUIRE(micro::testing::InPrivateNetwork());
  micro::testing::ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  RunFleet({"consul", agent.http_address()}, peer, version);
}

void OnEtcd(const std::string& peer, const std::string& version) {
  REQUIRE(micro::testing::InPrivateNetwork());
  micro::testing::EtcdCluster etcd(1);
  REQUIRE(etcd.WaitReady());
  RunFleet({"etcd", etcd.endpoints()}, peer, version);
}

void OnMdns(const std::string& peer, const std::string& version) {
  REQUIRE(micro::testing::InPrivateNetwork());
  RunFleet({"mdns", ""}, peer, version);
}

// Mutual TLS across languages: go-micro v4 with its gRPC plugins' AuthTLS option and micro-cpp
// with --tls_*, one CA, on Consul; each calls the other, and each refuses a caller without a
// certificate.
TEST_CASE("go-micro v4 over mutual TLS", "[v4][consul][tls]") {
  REQUIRE(micro::testing::InPrivateNetwork());
  micro::testing::ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  Fleet fleet{"consul", agent.http_address()};
  micro::testing::ScratchDir dir;
  auto ca = micro::testing::Cert::Ca("interop CA");
  std::string node = micro::testing::Cert::Leaf(ca, "node", "DNS:localhost,IP:127.0.0.1")
                         .Write(dir.path() + "/node");
  ca.Write(dir.path() + "/ca");
  std::vector<std::string> go_tls{"-tls_cert",   node + ".crt", "-tls_key",
                                  node + ".key", "-tls_ca",     dir.path() + "/ca.crt"};
  micro::tls::Options tls;
  tls.cert_file = node + ".crt";
  tls.key_file = node + ".key";
  tls.ca_file = dir.path() + "/ca.crt";

  GoNode go(GOPEER4_BIN, fleet, "go.greeter", "go-tls-1", dir.path(), go_tls);
  Process cpp(
      {GREETER_BIN, "--registry", fleet.uri(), "--server_name", "cpp.greeter", "--server_id",
       "cpp-tls-1", "--server_address", "127.0.0.1:0", "--tls_cert", tls.cert_file, "--tls_key",
       tls.key_file, "--tls_ca", tls.ca_file, "--tls_client_auth"},
      dir.path() + "/cpp.log");
  micro::RegisterBuiltinPlugins();
  auto registry = micro::registry::NewRegistry(fleet.uri());
  REQUIRE(registry.ok());
  std::shared_ptr<reg::Registry> r = std::move(*registry);
  REQUIRE(Eventually([&] {
    auto s = r->GetService("cpp.greeter");
    return s.ok() && !s->empty() && !s->front().nodes.empty();
  }));
  CHECK(r->GetService("cpp.greeter")->front().nodes.front().metadata.at("secure") == "true");

  // micro-cpp calls the go-micro node over mTLS, proto and JSON.
  for (const char* type : {"application/grpc+proto", "application/grpc+json"}) {
    micro::client::ClientOptions co;
    co.registry = r;
    co.tls = tls;
    co.content_type = type;
    micro::client::Client client(co);
    helloworld::Request req;
    req.set_name("Ann");
    helloworld::Response rsp;
    absl::Status st = client.Call("go.greeter", "Greeter.Hello", req, &rsp);
    INFO(type << ": " << st.ToString());
    CHECK(st.ok());
    CHECK(rsp.msg() == "Hello Ann");
  }
  // go-micro calls the micro-cpp node over mTLS.
  std::vector<std::string> call{"call"};
  call.insert(call.end(), go_tls.begin(), go_tls.end());
  for (auto& a : {"cpp.greeter", "Greeter.Hello", "Bob"}) call.push_back(a);
  CHECK(Go(GOPEER4_BIN, fleet, call) == "Hello Bob\n");

  // Without a certificate: refused both ways.
  micro::client::ClientOptions anonymous;
  anonymous.registry = r;
  anonymous.tls.ca_file = tls.ca_file;
  anonymous.retries = 0;
  micro::client::Client refused(anonymous);
  helloworld::Request req;
  req.set_name("Eve");
  helloworld::Response rsp;
  absl::Status st = refused.Call("go.greeter", "Greeter.Hello", req, &rsp);
  INFO(st.ToString());
  CHECK(absl::IsUnavailable(st));
  std::string plain = Go(GOPEER4_BIN, fleet, {"call", "cpp.greeter", "Greeter.Hello", "Eve"});
  CHECK_FALSE(absl::StrContains(plain, "Hello Eve"));
  printf(
      "go-micro v4 over mTLS: both directions answered; callers without a certificate refused "
      "(go-micro's client: %s)\n",
      std::string(absl::StripAsciiWhitespace(plain)).substr(0, 120).c_str());
}

TEST_CASE("go-micro v4 on consul", "[v4][consul]") { OnConsul(GOPEER4_BIN, "go-micro v4"); }
TEST_CASE("go-micro v4 on etcd", "[v4][etcd]") { OnEtcd(GOPEER4_BIN, "go-micro v4"); }
TEST_CASE("go-micro v4 on mdns", "[v4][mdns]") { OnMdns(GOPEER4_BIN, "go-micro v4"); }
TEST_CASE("go-micro v5 on consul", "[v5][consul]") { OnConsul(GOPEER5_BIN, "go-micro v5"); }
TEST_CASE("go-micro v5 on etcd", "[v5][etcd]") { OnEtcd(GOPEER5_BIN, "go-micro v5"); }
TEST_CASE("go-micro v5 on mdns", "[v5][mdns]") { OnMdns(GOPEER5_BIN, "go-micro v5"); }

namespace {

// All three kinds of stream, both directions, errors mid-stream: micro-cpp's client against a
// go-micro node (its gRPC server plugin for v4), go-micro's client against a micro-cpp greeter.
void Streams(const std::string& peer, const std::string& version) {
  REQUIRE(micro::testing::InPrivateNetwork());
  Fleet fleet{"mdns", ""};
  micro::testing::ScratchDir dir;
  GoNode go(peer, fleet, "go.streams", "go-s1", dir.path());
  auto cpp = CppNode(fleet, "cpp.streams", "cpp-s1", dir.path());
  micro::RegisterBuiltinPlugins();
  auto made = reg::NewRegistry(fleet.uri());
  REQUIRE(made.ok());
  micro::client::ClientOptions co;
  co.registry = std::shared_ptr<reg::Registry>(std::move(*made));
  micro::client::Client client(co);

  // C++ -> Go: server streaming, with an error after two messages.
  helloworld::StreamRequest sreq;
  sreq.set_name("x");
  sreq.set_count(3);
  auto s = client.OpenStream("go.streams", "Greeter.Stream");
  REQUIRE(s.ok());
  REQUIRE((*s)->Send(sreq).ok());
  (*s)->CloseSend();
  helloworld::Response rsp;
  std::vector<std::string> got;
  absl::Status end;
  while ((end = (*s)->Recv(&rsp)).ok()) got.push_back(rsp.msg());
  CHECK(micro::IsEndOfStream(end));
  CHECK(got == std::vector<std::string>{"Hello x 1", "Hello x 2", "Hello x 3"});
  sreq.set_name("fail");
  s = client.OpenStream("go.streams", "Greeter.Stream");
  REQUIRE(s.ok());
  REQUIRE((*s)->Send(sreq).ok());
  int before = 0;
  while ((end = (*s)->Recv(&rsp)).ok()) ++before;
  CHECK(before == 2);
  micro::Error e = micro::errors::FromStatus(end);
  CHECK(e.code == 409);
  CHECK(e.id == "helloworld");
  CHECK(e.detail == "failed after 2");

  // C++ -> Go: client streaming and bidirectional, with a 400 mid-stream.
  auto c = client.OpenStream("go.streams", "Greeter.Collect");
  REQUIRE(c.ok());
  helloworld::Request req;
  for (std::string n : {"a", "b", "c"}) {
    req.set_name(n);
    REQUIRE((*c)->Send(req).ok());
  }
  (*c)->CloseSend();
  REQUIRE((*c)->Recv(&rsp).ok());
  CHECK(rsp.msg() == "Hello a, b and c");
  CHECK(micro::IsEndOfStream((*c)->Recv(&rsp)));
  auto chat = client.OpenStream("go.streams", "Greeter.Chat");
  REQUIRE(chat.ok());
  for (std::string n : {"p", "q"}) {
    req.set_name(n);
    REQUIRE((*chat)->Send(req).ok());
    REQUIRE((*chat)->Recv(&rsp).ok());
    CHECK(rsp.msg() == "Hello " + n);
  }
  req.set_name("");
  REQUIRE((*chat)->Send(req).ok());
  end = (*chat)->Recv(&rsp);
  CHECK(micro::errors::FromStatus(end).code == 400);
  CHECK(micro::errors::FromStatus(end).detail == "name is required");

  // Go -> C++: the same three through go-micro's gRPC client.
  REQUIRE(Eventually([&] {
    return Go(peer, fleet, {"stream", "cpp.streams", "stream", "y 3"}) ==
           "Hello y 1\nHello y 2\nHello y 3\nend\n";
  }));
  CHECK(Go(peer, fleet, {"stream", "cpp.streams", "collect", "a,b,c"}) ==
        "Hello a, b and c\nend\n");
  CHECK(Go(peer, fleet, {"stream", "cpp.streams", "chat", "a,b"}) == "Hello a\nHello b\nend\n");
  std::string failed = Go(peer, fleet, {"stream", "cpp.streams", "chat", "a,"});
  CHECK_THAT(failed, Catch::StartsWith("Hello a\n"));
  CHECK_THAT(failed, Catch::Contains("name is required"));
  CHECK_THAT(failed, Catch::Contains("400"));
  printf(
      "%s streams on mdns: server, client and bidirectional, both directions, errors mid-stream\n",
      version.c_str());
}

}  // namespace

TEST_CASE("go-micro v4 streams on mdns", "[v4][mdns][stream]") {
  Streams(GOPEER4_BIN, "go-micro v4");
}
TEST_CASE("go-micro v5 streams on mdns", "[v5][mdns][stream]") {
  Streams(GOPEER5_BIN, "go-micro v5");
}
