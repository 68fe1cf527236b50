// The Consul registry against a real Consul agent (and a real three-server
// cluster), with real greeter processes registering through it.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "consul_agent.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/plugin/contract.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/cache.h"
#include "micro/registry/encoding.h"
#include "micro/registry/json.h"
#include "micro/registry/plugin.h"
#include "process.h"
#include "registry_test_util.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::ConsulAgent;
using micro::testing::Deadline;
using micro::testing::Eventually;
using micro::testing::NodeIds;
using micro::testing::Process;
using micro::testing::WaitFor;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<reg::Registry> Consul(const std::string& uri) {
  micro::RegisterBuiltinPlugins();
  auto r = reg::NewRegistry(uri);
  REQUIRE(r.ok());
  return std::shared_ptr<reg::Registry>(std::move(*r));
}

std::unique_ptr<ConsulAgent> DevAgent(ConsulAgent::Options o = ConsulAgent::Options()) {
  auto a = std::make_unique<ConsulAgent>(o);
  REQUIRE(a->WaitReady());
  return a;
}

std::unique_ptr<Process> Greeter(const std::string& id, const std::string& registry_address,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args{GREETER_BIN,          "--registry",     "consul",
                                "--registry_address", registry_address, "--server_address",
                                "127.0.0.1:0",        "--server_id",    id};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(args);
}

reg::Service Sample(const std::string& id, const std::string& version) {
  reg::Service s;
  s.name = "consul.test";
  s.version = version;
  reg::Endpoint hello;
  hello.name = "Greeter.Hello";
  hello.request = reg::Value{"Request", "Request", {reg::Value{"name", "string", {}}}};
  hello.response = reg::Value{"Response", "Response", {reg::Value{"msg", "string", {}}}};
  reg::Endpoint stream;
  stream.name = "Greeter.Stream";
  stream.metadata = {{"stream", "true"}};
  s.endpoints = {hello, stream};
  s.nodes.push_back(reg::Node{id, "127.0.0.1:4321", {{"protocol", "grpc"}, {"zone", "eu-1"}}});
  return s;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

TEST_CASE("register, get and list against a real agent, in go-micro's format") {
  auto agent = DevAgent();
  auto r = Consul(agent->uri());
  reg::Service s = Sample("node-1", "1.2.3");
  REQUIRE(r->Register(s, reg::RegisterOptions{30s}).ok());

  auto got = r->GetService("consul.test");
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK(got->at(0).version == "1.2.3");
  CHECK(got->at(0).endpoints == s.endpoints);
  REQUIRE(got->at(0).nodes.size() == 1);
  CHECK(got->at(0).nodes[0] == s.nodes[0]);

  auto listed = r->ListServices();
  REQUIRE(listed.ok());
  bool found = false;
  for (auto& l : *listed) found = found || l.name == "consul.test";
  CHECK(found);

  // What the agent holds: go-micro's tags, Meta, and a passing TTL check.
  auto raw = agent->Http("GET", "/v1/agent/service/node-1");
  REQUIRE(raw.ok());
  REQUIRE(raw->status == 200);
  auto j = nlohmann::json::parse(raw->body);
  CHECK(j["Service"] == "consul.test");
  CHECK(j["Address"] == "127.0.0.1");
  CHECK(j["Port"] == 4321);
  CHECK(j["Meta"]["zone"] == "eu-1");
  int t = 0, e = 0, v = 0;
  for (const std::string tag : j["Tags"]) {
    auto decoded = reg::Decode(tag.substr(2));
    REQUIRE(decoded.ok());
    CHECK(tag.find_first_not_of("0123456789abcdef", 2) == std::string::npos);  // lower-case hex
    if (tag.rfind("t-", 0) == 0) {
      ++t;
      auto md = reg::MetadataFromJson(*decoded);
      REQUIRE(md.ok());
      CHECK(md->size() == 1);  // one tag per pair, as go-micro writes them
    } else if (tag.rfind("e-", 0) == 0) {
      auto ep = reg::EndpointFromJson(*decoded);
      REQUIRE(ep.ok());
      CHECK(*ep == s.endpoints.at(e++));
      CHECK(*decoded == reg::ToJson(s.endpoints.at(e - 1)));
    } else if (tag.rfind("v-", 0) == 0) {
      ++v;
      CHECK(*decoded == "1.2.3");
    }
  }
  CHECK(t == 2);
  CHECK(e == 2);
  CHECK(v == 1);
  auto checks = agent->Http("GET", "/v1/agent/checks");
  REQUIRE(checks.ok());
  auto c = nlohmann::json::parse(checks->body);
  REQUIRE(c.contains("service:node-1"));
  CHECK(c["service:node-1"]["Status"] == "passing");

  REQUIRE(r->Deregister(s).ok());
  CHECK(absl::IsNotFound(r->GetService("consul.test").status()));
  CHECK(r->Deregister(s).ok());  // an unknown node is not an error
}

TEST_CASE("the registry contract (micro/plugin/contract.h) against a real agent") {
  auto agent = DevAgent();
  micro::plugin::RegistryContract c;
  c.make = [&]() -> absl::StatusOr<std::shared_ptr<reg::Registry>> { return Consul(agent->uri()); };
  c.log = [](const std::string& clause) { std::printf("consul contract: %s\n", clause.c_str()); };
  std::vector<std::string> failures = micro::plugin::CheckRegistryContract(c);
  for (const std::string& failure : failures) FAIL_CHECK(failure);
  CHECK(failures.empty());
}

TEST_CASE("a SIGKILLed process leaves lookups and the watch when its TTL lapses") {
  auto agent = DevAgent();
  auto r = Consul(agent->uri());
  auto w = r->Watch(reg::WatchOptions{"helloworld"});
  REQUIRE(w.ok());
  auto g = Greeter("greeter-killed", agent->http_address(),
                   {"--register_ttl", "3s", "--register_interval", "1s"});
  Deadline deadline(**w, 90s);
  REQUIRE(WaitFor(**w, reg::Action::kCreate, "greeter-killed"));
  REQUIRE(NodeIds(*r, "helloworld") == std::set<std::string>{"greeter-killed"});
  g->Signal(SIGKILL);
  g->Wait();
  auto killed = Clock::now();
  REQUIRE(WaitFor(**w, reg::Action::kDelete, "greeter-killed"));
  auto seen = Clock::now() - killed;
  CHECK(NodeIds(*r, "helloworld").empty());
  // Consul itself still holds the registration (its reaper needs a minute
  // more): the node left because its check went critical, not because Consul
  // dropped it.
  auto raw = agent->Http("GET", "/v1/agent/service/greeter-killed");
  REQUIRE(raw.ok());
  CHECK(raw->status == 200);
  std::printf("consul: SIGKILLed node (TTL 3 s) reported deleted %.0f ms after the kill\n",
              Ms(seen));
}

TEST_CASE("after an agent restart services register again and cached calls keep working") {
  auto agent = DevAgent();
  auto g = Greeter("greeter-stays", agent->http_address(),
                   {"--register_ttl", "10s", "--register_interval", "2s"});
  auto r = Consul(agent->uri() + "?resync_grace=20s");
  REQUIRE(Eventually([&] { return NodeIds(*r, "helloworld").size() == 1; }));

  micro::client::ClientOptions co;
  co.registry = r;
  co.request_timeout = 5s;
  auto client = std::make_shared<micro::client::Client>(co);
  helloworld::GreeterService greeter("helloworld", client);
  helloworld::Request req;
  req.set_name("consul");
  REQUIRE(greeter.Hello(req).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string last_error;
  std::thread load;
  // Stops and joins the load however the test ends (a failed REQUIRE unwinds through here).
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, load};
  load = std::thread([&] {
    while (!stop) {
      auto rsp = greeter.Hello(req);
      if (rsp.ok()) {
        ++ok;
      } else {
        if (failed++ == 0) last_error = rsp.status().ToString();
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  // A cache whose entries expire at once but which trusts "not found" for ten minutes: only a
  // watch event can bring the service back into it after a lookup found the agent empty.
  reg::CacheOptions copts;
  copts.ttl = 1ms;
  copts.negative_ttl = 10min;
  reg::Cache cache(r, copts);
  REQUIRE(cache.Get("helloworld").ok());
  agent->Kill();
  std::this_thread::sleep_for(3s);  // calls go on from the cache while no agent answers
  int during_outage = ok.load();
  agent->Start();
  REQUIRE(agent->WaitReady());
  bool saw_empty = false;
  for (int i = 0; i < 100 && !saw_empty; ++i) {
    auto snap = cache.Get("helloworld");
    saw_empty = snap.ok() && (*snap)->services.empty();
    std::this_thread::sleep_for(10ms);
  }
  // A dev agent starts empty: the service notices through its heartbeat and registers again.
  CHECK(Eventually([&] { return NodeIds(*r, "helloworld").size() == 1; }, 30s));
  // The node comes back within the watch's resync grace: the watch still reports it, so the
  // cache that cached "not found" meanwhile serves it again (a gateway answered 404 for a minute).
  std::printf("agent restart: a lookup saw the agent empty: %s\n", saw_empty ? "yes" : "no");
  CHECK(Eventually(
      [&] {
        auto snap = cache.Get("helloworld");
        return snap.ok() && !(*snap)->services.empty();
      },
      30s));
  std::this_thread::sleep_for(2s);
  stop = true;
  load.join();  // before reading last_error
  INFO("first failure: " << last_error);
  CHECK(failed == 0);
  CHECK(during_outage > 10);
  CHECK(ok > during_outage);
}

TEST_CASE("ACLs with default deny: a token with rights works, a missing or wrong one is refused") {
  ConsulAgent::Options o;
  o.hcl = R"(acl { enabled = true
    default_policy = "deny"
    tokens { master = "root-secret" agent = "root-secret" } })";
  auto agent = DevAgent(o);
  // Right after the election the ACL system may still be starting: retry the setup until it takes.
  absl::StatusOr<micro::consul::HttpResponse> policy;
  REQUIRE(Eventually(
      [&] {
        policy = agent->Http(
            "PUT", "/v1/acl/policy",
            R"({"Name":"micro","Rules":"service_prefix \"\" { policy = \"write\" }\nnode_prefix \"\" { policy = \"read\" }"})",
            "root-secret");
        return policy.ok() && policy->status == 200;
      },
      30s));
  auto token =
      agent->Http("PUT", "/v1/acl/token", R"({"Policies":[{"Name":"micro"}]})", "root-secret");
  REQUIRE(token.ok());
  REQUIRE(token->status == 200);
  std::string secret = nlohmann::json::parse(token->body)["SecretID"];

  reg::Service s = Sample("node-acl", "1.0.0");
  auto good = Consul(agent->uri() + "?token=" + secret);
  REQUIRE(good->Register(s, reg::RegisterOptions{30s}).ok());
  auto got = good->GetService("consul.test");
  REQUIRE(got.ok());
  CHECK(got->at(0).nodes.at(0).id == "node-acl");

  auto none = Consul(agent->uri());
  absl::Status missing = none->Register(Sample("node-anon", "1.0.0"), reg::RegisterOptions{30s});
  CHECK(absl::IsPermissionDenied(missing));
  CHECK_THAT(std::string(missing.message()), Catch::Contains("no ACL token given"));

  auto wrong = Consul(agent->uri() + "?token=00000000-0000-0000-0000-000000000000");
  absl::Status bad = wrong->Register(Sample("node-wrong", "1.0.0"), reg::RegisterOptions{30s});
  CHECK(absl::IsPermissionDenied(bad));
  CHECK_THAT(std::string(bad.message()), Catch::Contains("not known"));
  REQUIRE(good->Deregister(s).ok());
}

TEST_CASE("a three-server cluster: kill the leader, discovery and heartbeats go on") {
  std::vector<std::unique_ptr<ConsulAgent>> servers;
  std::vector<std::string> serf;
  for (int i = 0; i < 3; ++i) {
    ConsulAgent::Options o;
    o.dev = false;
    o.node = "server-" + std::to_string(i);
    o.bootstrap_expect = 3;
    o.join = serf;
    servers.push_back(std::make_unique<ConsulAgent>(o));
    serf.push_back(servers.back()->serf_address());
  }
  for (auto& s : servers) REQUIRE(s->WaitReady(120s));
  std::string leader = servers[0]->Leader();
  std::size_t li = 0;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    if (servers[i]->server_address() == leader) li = i;
  }
  // The greeter heartbeats through the leader first, so killing the leader
  // also makes it fail over to another agent.
  std::string addresses = servers[li]->http_address();
  for (std::size_t i = 0; i < servers.size(); ++i) {
    if (i != li) addresses += "," + servers[i]->http_address();
  }
  auto g =
      Greeter("greeter-cluster", addresses, {"--register_ttl", "4s", "--register_interval", "1s"});
  std::string reader_addresses;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    if (i != li)
      reader_addresses += (reader_addresses.empty() ? "" : ",") + servers[i]->http_address();
  }
  auto r = Consul("consul://" + reader_addresses);
  REQUIRE(Eventually([&] { return NodeIds(*r, "helloworld").size() == 1; }, 60s));
  auto w = r->Watch(reg::WatchOptions{"consul.test"});
  REQUIRE(w.ok());

  servers[li]->Kill();
  std::size_t other = li == 0 ? 1 : 0;
  REQUIRE(Eventually(
      [&] {
        std::string l = servers[other]->Leader();
        return !l.empty() && l != leader;
      },
      60s));
  // The heartbeat moved to a live agent: after two TTLs the node still passes.
  std::this_thread::sleep_for(8s);
  CHECK(Eventually(
      [&] { return NodeIds(*r, "helloworld") == std::set<std::string>{"greeter-cluster"}; }, 30s));
  // The watch made before the election still works: a new node shows up in it.
  auto writer = Consul("consul://" + reader_addresses);
  REQUIRE(writer->Register(Sample("node-after", "1.0.0"), reg::RegisterOptions{30s}).ok());
  Deadline deadline(**w, 60s);
  CHECK(WaitFor(**w, reg::Action::kCreate, "node-after"));
}
