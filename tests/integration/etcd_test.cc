// The etcd registry against real etcd (Debian's etcd-server): one member, a
// member restarted and wiped, a member behind a proxy that is cut while the
// store is compacted, a three-member cluster losing its leader, and auth.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "etcd_cluster.h"
#include "etcd_codec.h"
#include "micro/plugin/contract.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/json.h"
#include "micro/registry/plugin.h"
#include "process.h"
#include "registry_test_util.h"
#include "tcp_proxy.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::Deadline;
using micro::testing::EtcdCluster;
using micro::testing::EtcdRange;
using micro::testing::Eventually;
using micro::testing::NodeIds;
using micro::testing::Process;
using micro::testing::WaitFor;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<reg::Registry> Etcd(const std::string& uri) {
  micro::RegisterBuiltinPlugins();
  auto r = reg::NewRegistry(uri);
  REQUIRE(r.ok());
  return std::shared_ptr<reg::Registry>(std::move(*r));
}

std::unique_ptr<EtcdCluster> Cluster(int size = 1, std::vector<std::string> extra = {}) {
  auto c = std::make_unique<EtcdCluster>(size, std::move(extra));
  REQUIRE(c->WaitReady());
  return c;
}

std::unique_ptr<Process> Greeter(const std::string& id, const std::string& endpoints,
                                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args{GREETER_BIN,          "--registry",  "etcd",
                                "--registry_address", endpoints,     "--server_address",
                                "127.0.0.1:0",        "--server_id", id};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<Process>(args);
}

reg::Service Sample(const std::string& id, const std::string& version = "1.0.0") {
  reg::Service s;
  s.name = "etcd.test";
  s.version = version;
  reg::Endpoint hello;
  hello.name = "Greeter.Hello";
  hello.request = reg::Value{"Request", "Request", {reg::Value{"name", "string", {}}}};
  hello.response = reg::Value{"Response", "Response", {reg::Value{"msg", "string", {}}}};
  s.endpoints = {hello};
  s.nodes.push_back(reg::Node{id, "127.0.0.1:4321", {{"protocol", "grpc"}, {"zone", "eu-1"}}});
  return s;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Events until a create of `sentinel`, which is left out.
std::vector<std::string> EventsUntil(reg::Watcher& w, const std::string& sentinel) {
  std::vector<std::string> seen;
  while (true) {
    auto ev = w.Next();
    if (!ev.ok()) {
      seen.push_back("watch ended: " + ev.status().ToString());
      return seen;
    }
    for (const reg::Node& n : ev->service.nodes) {
      if (ev->action == reg::Action::kCreate && n.id == sentinel) return seen;
      seen.push_back(std::string(reg::ActionName(ev->action)) + " " + n.id);
    }
  }
}

}  // namespace

TEST_CASE("register, get, list and watch against real etcd, values byte-equal to go-micro's JSON") {
  auto etcd = Cluster();
  auto r = Etcd(etcd->uri());
  auto raw = etcd->Client(0);

  // The fixture is go-micro's own json.Marshal of this service (tests/interop).
  const std::string fixture = micro::testing::ReadFixture("registry/greeter.json");
  auto greeter = reg::ServiceFromJson(fixture);
  REQUIRE(greeter.ok());
  REQUIRE(r->Register(*greeter, reg::RegisterOptions{30s}).ok());
  const std::string key = "/micro/registry/helloworld/" + greeter->nodes[0].id;
  auto kvs = EtcdRange(*raw, key);
  REQUIRE(kvs.kvs_size() == 1);
  CHECK(kvs.kvs(0).value() == fixture);
  CHECK(kvs.kvs(0).lease() != 0);
  const int64_t written = kvs.kvs(0).mod_revision();

  // Registering it unchanged writes nothing.
  REQUIRE(r->Register(*greeter, reg::RegisterOptions{30s}).ok());
  CHECK(EtcdRange(*raw, key).kvs(0).mod_revision() == written);

  // Lookups from another instance, grouped by version.
  auto other = Etcd(etcd->uri());
  auto got = other->GetService("helloworld");
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK((*got)[0] == *greeter);
  REQUIRE(r->Register(Sample("v1-a"), reg::RegisterOptions{30s}).ok());
  REQUIRE(r->Register(Sample("v2-a", "2.0.0")).ok());  // no TTL: no lease
  CHECK(EtcdRange(*raw, "/micro/registry/etcd.test/v2-a").kvs(0).lease() == 0);
  auto versions = other->GetService("etcd.test");
  REQUIRE(versions.ok());
  REQUIRE(versions->size() == 2);
  std::set<std::string> seen_versions{(*versions)[0].version, (*versions)[1].version};
  CHECK(seen_versions == std::set<std::string>{"1.0.0", "2.0.0"});
  auto list = other->ListServices();
  REQUIRE(list.ok());
  std::set<std::string> names;
  for (auto& s : *list) names.insert(s.name + "@" + s.version);
  CHECK(names == std::set<std::string>{"helloworld@latest", "etcd.test@1.0.0", "etcd.test@2.0.0"});

  // '/' in a name or id becomes '-' in the key.
  reg::Service slashed = Sample("a/b");
  slashed.name = "with/slash";
  REQUIRE(r->Register(slashed).ok());
  CHECK(EtcdRange(*raw, "/micro/registry/with-slash/a-b").kvs_size() == 1);

  // Bad data under the prefix is skipped; the good node is still found.
  micro::testing::EtcdPut(*raw, "/micro/registry/helloworld/junk", "not json {");
  micro::testing::EtcdPut(*raw, "/micro/registry/helloworld/empty",
                          R"({"name":"helloworld","nodes":[]})");
  micro::testing::EtcdPut(*raw, "/micro/registry/helloworld/deep/er", fixture);
  got = other->GetService("helloworld");
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK(NodeIds(*other, "helloworld") == std::set<std::string>{greeter->nodes[0].id});

  // A watch from the other instance: create, update, delete; bad data in between is no event.
  auto w = other->Watch(reg::WatchOptions{"etcd.test"});
  REQUIRE(w.ok());
  Deadline deadline(**w, 60s);
  reg::Service s = Sample("node-w");
  auto t0 = Clock::now();
  REQUIRE(r->Register(s, reg::RegisterOptions{30s}).ok());
  reg::Service seen;
  REQUIRE(WaitFor(**w, reg::Action::kCreate, "node-w", &seen));
  auto created = Clock::now() - t0;
  CHECK(seen.nodes.at(0) == s.nodes.at(0));
  micro::testing::EtcdPut(*raw, "/micro/registry/etcd.test/garbage", "\x01\x02");
  s.nodes[0].metadata["zone"] = "eu-2";
  t0 = Clock::now();
  REQUIRE(r->Register(s, reg::RegisterOptions{30s}).ok());
  auto ev = (*w)->Next();
  REQUIRE(ev.ok());
  auto updated = Clock::now() - t0;
  CHECK(ev->action == reg::Action::kUpdate);
  CHECK(ev->service.nodes.at(0).metadata.at("zone") == "eu-2");
  t0 = Clock::now();
  REQUIRE(r->Deregister(s).ok());
  ev = (*w)->Next();
  REQUIRE(ev.ok());
  auto deleted = Clock::now() - t0;
  CHECK(ev->action == reg::Action::kDelete);
  CHECK(ev->service.nodes.at(0).id == "node-w");
  CHECK(ev->service.version == "1.0.0");
  CHECK(EtcdRange(*raw, "/micro/registry/etcd.test/node-w").kvs_size() == 0);
  std::printf("etcd watch: create %.1f ms, update %.1f ms, delete %.1f ms\n", Ms(created),
              Ms(updated), Ms(deleted));

  REQUIRE(r->Deregister(*greeter).ok());
  CHECK(EtcdRange(*raw, key).kvs_size() == 0);
}

TEST_CASE("the registry contract (micro/plugin/contract.h) against real etcd") {
  auto etcd = Cluster();
  micro::plugin::RegistryContract c;
  c.make = [&]() -> absl::StatusOr<std::shared_ptr<reg::Registry>> { return Etcd(etcd->uri()); };
  // The lease keep-alive holds a live registration; the SIGKILL test below shows expiry.
  c.expires_without_refresh = false;
  c.log = [](const std::string& clause) { std::printf("etcd contract: %s\n", clause.c_str()); };
  std::vector<std::string> failures = micro::plugin::CheckRegistryContract(c);
  for (const std::string& failure : failures) FAIL_CHECK(failure);
  CHECK(failures.empty());
}

TEST_CASE("a SIGKILLed process's key goes when its lease expires and the watch reports it") {
  auto etcd = Cluster();
  auto r = Etcd(etcd->uri());
  auto w = r->Watch(reg::WatchOptions{"helloworld"});
  REQUIRE(w.ok());
  Deadline deadline(**w, 90s);
  auto g = Greeter("greeter-killed", etcd->endpoints(),
                   {"--register_ttl", "3s", "--register_interval", "1s"});
  REQUIRE(WaitFor(**w, reg::Action::kCreate, "greeter-killed"));
  REQUIRE(NodeIds(*r, "helloworld") == std::set<std::string>{"greeter-killed"});
  g->Signal(SIGKILL);
  g->Wait();
  auto killed = Clock::now();
  REQUIRE(WaitFor(**w, reg::Action::kDelete, "greeter-killed"));
  auto seen = Clock::now() - killed;
  CHECK(NodeIds(*r, "helloworld").empty());
  CHECK(EtcdRange(*etcd->Client(0), "/micro/registry/helloworld/").kvs_size() == 0);
  std::printf("etcd: SIGKILLed node (TTL 3 s) reported deleted %.0f ms after the kill\n", Ms(seen));
}

TEST_CASE(
    "etcd restarted then wiped: the watch resumes and registrations come back by themselves") {
  auto etcd = Cluster();
  // A long register interval: the plugin's own keeper must bring the node back, not the heartbeat.
  auto g = Greeter("greeter-stays", etcd->endpoints(),
                   {"--register_ttl", "5s", "--register_interval", "60s"});
  auto r = Etcd(etcd->uri());
  REQUIRE(Eventually([&] { return NodeIds(*r, "helloworld").size() == 1; }));
  auto w = r->Watch();
  REQUIRE(w.ok());
  Deadline deadline(**w, 120s);

  etcd->Kill(0);
  std::this_thread::sleep_for(2s);
  etcd->Start(0);
  REQUIRE(etcd->WaitReady());
  auto writer = Etcd(etcd->uri());
  REQUIRE(writer->Register(Sample("after-restart")).ok());
  // The watch resumed where it was: the next events are exactly this create.
  auto events = EventsUntil(**w, "after-restart");
  CHECK(events.empty());
  CHECK(NodeIds(*r, "helloworld") == std::set<std::string>{"greeter-stays"});

  // Now etcd loses everything: a new, empty store on the same port. The
  // greeter's lease is unknown there, so its keeper puts the node again.
  etcd->Kill(0);
  etcd->Wipe(0);
  etcd->Start(0);
  REQUIRE(etcd->WaitReady());
  auto back = Clock::now();
  REQUIRE(Eventually([&] { return NodeIds(*r, "helloworld").size() == 1; }, 30s));
  std::printf("etcd wiped: greeter registered again %.0f ms after etcd was back\n",
              Ms(Clock::now() - back));
  // The watch noticed the store went back in time and read it again: the
  // node registered from this process is gone (delete), the greeter's is back.
  REQUIRE(WaitFor(**w, reg::Action::kDelete, "after-restart"));
  REQUIRE(writer->Register(Sample("after-wipe")).ok());
  events = EventsUntil(**w, "after-wipe");
  for (const std::string& e : events) CHECK(e.find("after-restart") == std::string::npos);
}

TEST_CASE("compaction while a watch is behind: no event lost or repeated") {
  auto etcd = Cluster();
  micro::testing::TcpProxy proxy(etcd->client_port(0));
  auto writer = Etcd(etcd->uri());
  auto reader = Etcd("etcd://" + proxy.address());
  for (const char* id : {"a", "c", "d"}) REQUIRE(writer->Register(Sample(id)).ok());
  auto w = reader->Watch(reg::WatchOptions{"etcd.test"});
  REQUIRE(w.ok());
  Deadline deadline(**w, 90s);
  REQUIRE(writer->Register(Sample("first")).ok());
  REQUIRE(EventsUntil(**w, "first").empty());

  proxy.Cut();  // the watch is behind from here on
  REQUIRE(writer->Register(Sample("b")).ok());
  reg::Service c = Sample("c");
  c.nodes[0].metadata["zone"] = "eu-9";
  REQUIRE(writer->Register(c).ok());
  REQUIRE(writer->Deregister(Sample("d")).ok());
  REQUIRE(writer->Register(Sample("e")).ok());  // comes and goes while the watch is away
  REQUIRE(writer->Deregister(Sample("e")).ok());
  auto raw = etcd->Client(0);
  micro::testing::EtcdCompact(*raw, EtcdRange(*raw, "/").header().revision());
  proxy.Restore();

  REQUIRE(writer->Register(Sample("sentinel")).ok());
  auto events = EventsUntil(**w, "sentinel");
  std::multiset<std::string> got(events.begin(), events.end());
  CHECK(got == std::multiset<std::string>{"create b", "update c", "delete d"});
  // And on from there, one event per change.
  REQUIRE(writer->Deregister(Sample("a")).ok());
  REQUIRE(writer->Register(Sample("last")).ok());
  events = EventsUntil(**w, "last");
  CHECK(events == std::vector<std::string>{"delete a"});
}

TEST_CASE("a three-member cluster: kill the leader, keepalives and watches go on") {
  auto etcd = Cluster(3);
  int leader = etcd->Leader();
  REQUIRE(leader >= 0);
  // The leader first: the registry and the watch talk to it until it dies.
  std::vector<std::string> order{etcd->endpoint(leader)};
  for (int i = 0; i < 3; ++i) {
    if (i != leader) order.push_back(etcd->endpoint(i));
  }
  const std::string uri = "etcd://" + order[0] + "," + order[1] + "," + order[2];
  auto r = Etcd(uri);
  REQUIRE(r->Register(Sample("kept"), reg::RegisterOptions{3s}).ok());
  auto w = Etcd(uri)->Watch(reg::WatchOptions{"etcd.test"});
  REQUIRE(w.ok());
  Deadline deadline(**w, 120s);
  auto raw = etcd->Client((leader + 1) % 3);
  const int64_t lease = EtcdRange(*raw, "/micro/registry/etcd.test/kept").kvs(0).lease();

  etcd->Kill(leader);
  auto killed = Clock::now();
  REQUIRE(Eventually([&] { return etcd->Leader() >= 0; }, 60s));
  std::printf("etcd: new leader %.0f ms after the kill\n", Ms(Clock::now() - killed));
  // Two TTLs later the node is still there, on the lease it had: kept alive through a survivor.
  std::this_thread::sleep_for(6s);
  auto kvs = EtcdRange(*raw, "/micro/registry/etcd.test/kept");
  REQUIRE(kvs.kvs_size() == 1);
  CHECK(kvs.kvs(0).lease() == lease);
  // The watch failed over too: a node registered now is its next event (no delete of "kept").
  auto survivors = Etcd("etcd://" + order[1] + "," + order[2]);
  REQUIRE(survivors->Register(Sample("after-kill")).ok());
  auto events = EventsUntil(**w, "after-kill");
  CHECK(events.empty());
  CHECK(NodeIds(*survivors, "etcd.test") == std::set<std::string>{"kept", "after-kill"});
}

TEST_CASE("auth enabled: right credentials work, wrong ones get a clear error") {
  auto etcd = Cluster();
  for (const char* cmd :
       {"user add root --new-user-password=rootpw", "user grant-role root root", "role add micro",
        "role grant-permission micro --prefix=true readwrite /micro/registry/",
        "user add micro --new-user-password=micropw", "user grant-role micro micro",
        "user add nobody --new-user-password=nobodypw", "auth enable"}) {
    INFO(cmd);
    REQUIRE(!etcd->Etcdctl(cmd).empty());
  }
  const std::string base = etcd->uri();

  auto ok = Etcd(base + "?username=micro&password=micropw");
  REQUIRE(ok->Register(Sample("authed"), reg::RegisterOptions{10s}).ok());
  CHECK(NodeIds(*ok, "etcd.test") == std::set<std::string>{"authed"});
  auto w = ok->Watch(reg::WatchOptions{"etcd.test"});
  REQUIRE(w.ok());
  Deadline deadline(**w, 60s);

  auto none = Etcd(base);
  absl::Status s = none->Register(Sample("x"));
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(s.message()), Catch::Contains("authentication enabled"));
  CHECK_THAT(std::string(s.message()), Catch::Contains("ETCD_USERNAME"));

  auto wrong = Etcd(base + "?username=micro&password=nope");
  auto got = wrong->GetService("etcd.test");
  CHECK(got.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(got.status().message()), Catch::Contains("wrong user name or password"));
  CHECK(!wrong->Watch().ok());

  auto nobody = Etcd(base + "?username=nobody&password=nobodypw");
  s = nobody->Register(Sample("x"));
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(s.message()), Catch::Contains("may not put"));

  // The same credentials from ETCD_USERNAME / ETCD_PASSWORD.
  setenv("ETCD_USERNAME", "micro", 1);
  setenv("ETCD_PASSWORD", "micropw", 1);
  auto from_env = Etcd(base);
  unsetenv("ETCD_USERNAME");
  unsetenv("ETCD_PASSWORD");
  REQUIRE(from_env->Register(Sample("from-env")).ok());
  REQUIRE(WaitFor(**w, reg::Action::kCreate, "from-env"));

  // etcd forgets its simple tokens when it restarts: the registry signs in again.
  etcd->Kill(0);
  etcd->Start(0);
  absl::Status last;
  bool back = Eventually(
      [&] {
        auto got = ok->GetService("etcd.test");
        last = got.status();
        return got.ok();
      },
      30s);
  INFO("last: " << last);
  REQUIRE(back);
  REQUIRE(from_env->Register(Sample("after-restart")).ok());
  REQUIRE(WaitFor(**w, reg::Action::kCreate, "after-restart"));
}

TEST_CASE("TLS: with the cluster's CA the registry works, without it the error says why") {
  // A CA and a server certificate for 127.0.0.1, made here with openssl.
  std::string dir = micro::testing::EtcdTempDir("/tmp", "etcd-tls");
  std::string cmd = "cd " + dir +
                    " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca"
                    " -keyout ca.key -out ca.pem 2>/dev/null"
                    " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1"
                    " -keyout server.key -out server.csr 2>/dev/null"
                    " && printf 'subjectAltName=IP:127.0.0.1' > san.ext"
                    " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
                    " -days 1 -extfile san.ext -out server.pem 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  EtcdCluster::Tls tls{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  auto etcd = std::make_unique<EtcdCluster>(1, std::vector<std::string>{}, "/tmp", tls);
  REQUIRE(etcd->WaitReady());

  auto r = Etcd(etcd->uri() + "?tls=true&ca=" + tls.ca);
  REQUIRE(r->Register(Sample("over-tls"), reg::RegisterOptions{10s}).ok());
  CHECK(NodeIds(*r, "etcd.test") == std::set<std::string>{"over-tls"});
  auto w = r->Watch(reg::WatchOptions{"etcd.test"});
  REQUIRE(w.ok());
  Deadline deadline(**w, 60s);
  REQUIRE(r->Register(Sample("over-tls-2")).ok());
  REQUIRE(WaitFor(**w, reg::Action::kCreate, "over-tls-2"));

  // Plain text to a TLS member, and TLS without trusting its CA, both fail and say where.
  auto plain = Etcd(etcd->uri() + "?timeout=1s");
  auto got = plain->GetService("etcd.test");
  CHECK(got.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(got.status().message()), Catch::Contains(etcd->endpoint(0)));
  auto untrusted = Etcd(etcd->uri() + "?tls=true&timeout=1s");
  got = untrusted->GetService("etcd.test");
  CHECK(got.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(got.status().message()), Catch::Contains(etcd->endpoint(0)));
  etcd.reset();
  CHECK(std::system(("rm -rf '" + dir + "'").c_str()) == 0);
}
