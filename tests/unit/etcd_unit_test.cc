// The etcd plugin's pure parts: go-micro's key layout and value, the watch
// state machine (create/update/delete, bad data, recovery diffs), options
// from URIs and the environment; and clear errors when no member answers.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "etcd_codec.h"
#include "etcd_registry.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/json.h"
#include "micro/registry/plugin.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::etcd::WatchState;

namespace {

reg::Service One(const std::string& id, const std::string& zone = "eu-1") {
  reg::Service s;
  s.name = "geo";
  s.version = "1.0.0";
  s.nodes.push_back(reg::Node{id, "10.0.0.1:1", {{"zone", zone}}});
  return s;
}

WatchState::Kv Kv(const reg::Service& s) {
  return {micro::etcd::NodeKey(s.name, s.nodes[0].id), reg::ToJson(s)};
}

std::string Describe(const std::vector<reg::Result>& rs) {
  std::string out;
  for (const reg::Result& r : rs) {
    out += std::string(reg::ActionName(r.action)) + " " + r.service.nodes.at(0).id + ";";
  }
  return out;
}

}  // namespace

TEST_CASE("etcd keys and values follow go-micro's layout") {
  using micro::etcd::NodeKey;
  using micro::etcd::PrefixEnd;
  using micro::etcd::ServicePrefix;
  CHECK(NodeKey("go.micro.srv.geo", "geo-1") == "/micro/registry/go.micro.srv.geo/geo-1");
  CHECK(NodeKey("a/b", "c/d/e") == "/micro/registry/a-b/c-d-e");
  CHECK(ServicePrefix("geo") == "/micro/registry/geo/");
  CHECK(ServicePrefix("") == "/micro/registry/");
  CHECK(PrefixEnd("/micro/registry/") == "/micro/registry0");
  CHECK(PrefixEnd(std::string("a\xff\xff", 3)) == "b");
  CHECK(PrefixEnd(std::string("\xff", 1)) == std::string(1, '\0'));

  // The value is go-micro's json.Marshal of the service with that one node.
  const std::string fixture = micro::testing::ReadFixture("registry/greeter.json");
  auto greeter = reg::ServiceFromJson(fixture);
  REQUIRE(greeter.ok());
  reg::Service two = *greeter;
  two.nodes.push_back(reg::Node{"other", "10.0.0.9:1", {}});
  CHECK(micro::etcd::NodeValue(two, greeter->nodes[0]) == fixture);

  auto back = micro::etcd::DecodeNode(NodeKey("helloworld", greeter->nodes[0].id), fixture);
  REQUIRE(back.ok());
  CHECK(*back == *greeter);
}

TEST_CASE("etcd values that do not fit the layout are refused with the key named") {
  using micro::etcd::DecodeNode;
  const std::string good = reg::ToJson(One("n1"));
  struct Case {
    std::string key, value, says;
  };
  for (const Case& c : std::vector<Case>{
           {"/other/geo/n1", good, "not under /micro/registry/"},
           {"/micro/registry/geo", good, "<service>/<node id>"},
           {"/micro/registry/geo/", good, "<service>/<node id>"},
           {"/micro/registry//n1", good, "<service>/<node id>"},
           {"/micro/registry/geo/n1/x", good, "<service>/<node id>"},
           {"/micro/registry/geo/n1", "not json", "not a go-micro service"},
           {"/micro/registry/geo/n1", "[1,2]", "not a go-micro service"},
           {"/micro/registry/geo/n1", R"({"name":"geo","nodes":[]})", "holds 0 nodes"},
           {"/micro/registry/geo/n1", R"({"name":"","nodes":[{"id":"n1"}]})", "no name"},
           {"/micro/registry/geo/n1", R"({"name":"geo","nodes":[{"id":""}]})", "no id"},
           {"/micro/registry/geo/n1", R"({"name":"geo","nodes":[{"id":"a"},{"id":"b"}]})",
            "holds 2 nodes"},
       }) {
    INFO(c.key << " = " << c.value);
    auto s = DecodeNode(c.key, c.value);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.status().message()), Catch::Contains(c.says));
    CHECK_THAT(std::string(s.status().message()), Catch::Contains(c.key));
  }
}

TEST_CASE("the watch state turns etcd events into go-micro's actions") {
  std::vector<std::string> warnings;
  WatchState state([&](const std::string& m) { warnings.push_back(m); });
  reg::Service a = One("a");
  CHECK(Describe(state.Put(Kv(a))) == "create a;");
  CHECK(Describe(state.Put(Kv(a))).empty());  // the same value again: nothing changed
  reg::Service a2 = One("a", "eu-2");
  auto up = state.Put(Kv(a2));
  REQUIRE(Describe(up) == "update a;");
  CHECK(up[0].service.nodes[0].metadata.at("zone") == "eu-2");
  CHECK(Describe(state.Delete(Kv(a).key)) == "delete a;");
  CHECK(Describe(state.Delete(Kv(a).key)).empty());  // unknown: nothing

  // Bad data: skipped with one warning per key, however often it comes.
  WatchState::Kv junk{"/micro/registry/geo/junk", "{"};
  CHECK(state.Put(junk).empty());
  CHECK(state.Put(junk).empty());
  CHECK(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("/micro/registry/geo/junk"));
  CHECK(state.Delete(junk.key).empty());
  CHECK(state.Put(junk).empty());  // deleted and back: a new episode, a new warning
  CHECK(warnings.size() == 2);

  // A known node overwritten with garbage has left.
  reg::Service b = One("b");
  CHECK(Describe(state.Put(Kv(b))) == "create b;");
  CHECK(Describe(state.Put({Kv(b).key, "garbage"})) == "delete b;");
  CHECK(state.size() == 0);
}

TEST_CASE("recovering from a fresh range reports exactly the differences") {
  WatchState state(nullptr);
  reg::Service a = One("a"), b = One("b"), c = One("c"), d = One("d");
  CHECK(state.Reset({Kv(a), Kv(b), Kv(c)}, false).empty());  // the first read: no events
  CHECK(state.size() == 3);
  reg::Service b2 = One("b", "eu-9");
  auto diff = state.Reset({Kv(a), Kv(b2), Kv(d), {"/micro/registry/geo/bad", "x"}}, true);
  CHECK(Describe(diff) == "delete c;update b;create d;");
  CHECK(state.Reset({Kv(a), Kv(b2), Kv(d)}, true).empty());  // nothing new: nothing reported
  CHECK(Describe(state.Put(Kv(d))).empty());                 // replays after a resync are no-ops
  CHECK(Describe(state.Delete(Kv(c).key)).empty());
}

TEST_CASE("etcd options come from the URI and ETCD_USERNAME / ETCD_PASSWORD") {
  auto parse = [](const std::string& uri) -> absl::StatusOr<micro::etcd::EtcdOptions> {
    auto a = reg::ParseRegistryAddress(uri);
    if (!a.ok()) return a.status();
    return micro::etcd::EtcdOptionsFrom(*a);
  };
  auto d = parse("etcd://");
  REQUIRE(d.ok());
  CHECK(d->endpoints == std::vector<std::string>{"127.0.0.1:2379"});
  CHECK(d->timeout == std::chrono::seconds(5));
  CHECK(d->username.empty());

  auto o = parse("etcd://a:2379,b:2379?username=u&password=p%26q&timeout=250ms&tls=true&ca=/c.pem");
  REQUIRE(o.ok());
  CHECK(o->endpoints == std::vector<std::string>{"a:2379", "b:2379"});
  CHECK(o->username == "u");
  CHECK(o->password == "p&q");
  CHECK(o->timeout == std::chrono::milliseconds(250));
  CHECK(o->tls);
  CHECK(o->ca_file == "/c.pem");

  setenv("ETCD_USERNAME", "envuser", 1);
  setenv("ETCD_PASSWORD", "envpw", 1);
  auto env = parse("etcd://a:1");
  auto uri_wins = parse("etcd://a:1?username=x&password=y");
  unsetenv("ETCD_USERNAME");
  unsetenv("ETCD_PASSWORD");
  REQUIRE(env.ok());
  CHECK(env->username == "envuser");
  CHECK(env->password == "envpw");
  REQUIRE(uri_wins.ok());
  CHECK(uri_wins->username == "x");

  for (auto [uri, says] : std::vector<std::pair<std::string, std::string>>{
           {"etcd://a:1?token=x", "unknown parameter \"token\""},
           {"etcd://a:1?timeout=soon", "positive duration"},
           {"etcd://a:1?tls=maybe", "not a boolean"},
           {"etcd://a:1?username=u", "both username and password"},
       }) {
    INFO(uri);
    auto bad = parse(uri);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains(says));
  }

  micro::RegisterBuiltinPlugins();
  auto no_tls = reg::NewRegistry("etcd://127.0.0.1:1?ca=/x.pem");
  REQUIRE_FALSE(no_tls.ok());
  CHECK_THAT(std::string(no_tls.status().message()), Catch::Contains("tls=true"));
  auto missing_ca = reg::NewRegistry("etcd://127.0.0.1:1?tls=true&ca=/nonexistent/ca.pem");
  REQUIRE_FALSE(missing_ca.ok());
  CHECK_THAT(std::string(missing_ca.status().message()), Catch::Contains("/nonexistent/ca.pem"));
}

TEST_CASE("no etcd member answering is a clear Unavailable, for every call") {
  micro::RegisterBuiltinPlugins();
  // Two loopback ports nothing listens on.
  auto r = reg::NewRegistry("etcd://127.0.0.1:1,127.0.0.1:2?timeout=500ms");
  REQUIRE(r.ok());
  CHECK((*r)->String() == "etcd://127.0.0.1:1,127.0.0.1:2");
  auto got = (*r)->GetService("geo");
  REQUIRE_FALSE(got.ok());
  CHECK(got.status().code() == absl::StatusCode::kUnavailable);
  std::string msg(got.status().message());
  CHECK_THAT(msg, Catch::Contains("no member answered"));
  CHECK_THAT(msg, Catch::Contains("127.0.0.1:1"));
  CHECK_THAT(msg, Catch::Contains("127.0.0.1:2"));
  CHECK((*r)->Register(One("a"), reg::RegisterOptions{std::chrono::seconds(5)}).code() ==
        absl::StatusCode::kUnavailable);
  CHECK((*r)->Deregister(One("a")).code() == absl::StatusCode::kUnavailable);
  CHECK((*r)->ListServices().status().code() == absl::StatusCode::kUnavailable);
  CHECK((*r)->Watch().status().code() == absl::StatusCode::kUnavailable);
  CHECK((*r)->Register(reg::Service{}).code() == absl::StatusCode::kInvalidArgument);
}
