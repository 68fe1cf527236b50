#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <thread>

#include "flaky_registry.h"
#include "micro/selector/selector.h"
#include "test_util.h"

namespace reg = micro::registry;
namespace sel = micro::selector;
using micro::testing::FlakyRegistry;

namespace {

std::shared_ptr<FlakyRegistry> WithNodes(const std::string& name, int n,
                                         const std::string& version = "1") {
  auto r = std::make_shared<FlakyRegistry>();
  reg::Service s{name, version, {}, {}, {}};
  for (int i = 0; i < n; ++i) {
    s.nodes.push_back(reg::Node{name + "-" + std::to_string(i),
                                "127.0.0.1:" + std::to_string(1000 + i),
                                {{"zone", i % 2 ? "b" : "a"}}});
  }
  REQUIRE(r->Register(s, {}).ok());
  return r;
}

}  // namespace

TEST_CASE("random spreads picks evenly") {
  sel::Selector selector(WithNodes("geo", 10), {sel::Strategy::kRandom, {}, {}});
  auto next = selector.Select("geo");
  REQUIRE(next.ok());
  CHECK(next->size() == 10);
  std::map<std::string, int> counts;
  constexpr int kPicks = 100000;
  for (int i = 0; i < kPicks; ++i) ++counts[(*next)().id];
  REQUIRE(counts.size() == 10);
  // Expected 10000 each; the standard deviation is ~95, so +-500 is over 5 sigma.
  for (auto& [id, c] : counts) {
    INFO(id);
    CHECK(c > 9500);
    CHECK(c < 10500);
  }
}

TEST_CASE("round robin is exactly fair across concurrent callers") {
  sel::Selector selector(WithNodes("geo", 7), {sel::Strategy::kRoundRobin, {}, {}});
  constexpr int kThreads = 4, kPerThread = 7 * 5000;
  std::vector<std::map<std::string, int>> counts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each call does its own Select, as a client does per request.
      for (int i = 0; i < kPerThread; ++i) {
        auto next = selector.Select("geo");
        if (next.ok()) ++counts[t][(*next)().id];
      }
    });
  }
  for (auto& th : threads) th.join();
  std::map<std::string, int> total;
  for (auto& m : counts) {
    for (auto& [id, c] : m) total[id] += c;
  }
  REQUIRE(total.size() == 7);
  for (auto& [id, c] : total) CHECK(c == kThreads * kPerThread / 7);
}

TEST_CASE("round robin walks the nodes in turn on each thread, across services") {
  auto r = WithNodes("geo", 3);
  reg::Service rate{"rate", "1", {}, {}, {}};
  rate.nodes = {reg::Node{"rate-0", "127.0.0.1:2000", {}},
                reg::Node{"rate-1", "127.0.0.1:2001", {}}};
  REQUIRE(r->Register(rate, {}).ok());
  sel::Selector selector(r, {sel::Strategy::kRoundRobin, {}, {}});
  // A handler that calls geo then rate per request: each service still rotates.
  std::vector<std::string> geo, rates;
  for (int i = 0; i < 12; ++i) {
    auto g = selector.Select("geo");
    auto t = selector.Select("rate");
    REQUIRE(g.ok());
    REQUIRE(t.ok());
    geo.push_back((*g)().id);
    rates.push_back((*t)().id);
  }
  for (std::size_t i = 0; i + 3 < geo.size(); ++i) CHECK(geo[i] == geo[i + 3]);
  CHECK(std::set<std::string>(geo.begin(), geo.begin() + 3).size() == 3);
  for (std::size_t i = 0; i + 2 < rates.size(); ++i) CHECK(rates[i] == rates[i + 2]);
  CHECK(rates[0] != rates[1]);
}

TEST_CASE("round robin threads start at different nodes") {
  sel::Selector selector(WithNodes("geo", 7), {sel::Strategy::kRoundRobin, {}, {}});
  std::set<std::string> firsts;
  for (int t = 0; t < 7; ++t) {
    std::thread([&] {
      auto next = selector.Select("geo");
      REQUIRE(next.ok());
      firsts.insert((*next)().id);
    }).join();
  }
  CHECK(firsts.size() == 7);  // the shared counter hands each new thread the next start
}

TEST_CASE("successive picks from one Next walk every node") {
  sel::Selector selector(WithNodes("geo", 3), {sel::Strategy::kRoundRobin, {}, {}});
  auto next = selector.Select("geo");
  REQUIRE(next.ok());
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.insert((*next)().id);
  CHECK(ids.size() == 3);
  CHECK(next->service().name == "geo");
}

TEST_CASE("filters by version, label and endpoint") {
  auto r = WithNodes("geo", 4, "1");
  reg::Service v2{"geo", "2", {}, {reg::Endpoint{"Geo.Nearby", {}, {}, {}}}, {}};
  v2.nodes.push_back(reg::Node{"geo-v2", "127.0.0.1:2000", {{"zone", "a"}}});
  REQUIRE(r->Register(v2, {}).ok());
  sel::Selector selector(r);

  auto only_v2 = selector.Select("geo", {{sel::FilterVersion("2")}});
  REQUIRE(only_v2.ok());
  CHECK(only_v2->size() == 1);
  CHECK((*only_v2)().id == "geo-v2");

  auto zone_a = selector.Select("geo", {{sel::FilterLabel("zone", "a")}});
  REQUIRE(zone_a.ok());
  CHECK(zone_a->size() == 3);  // geo-0, geo-2, geo-v2
  for (int i = 0; i < 20; ++i) CHECK((*zone_a)().metadata.at("zone") == "a");

  auto nearby = selector.Select("geo", {{sel::FilterEndpoint("Geo.Nearby")}});
  REQUIRE(nearby.ok());
  CHECK(nearby->size() == 1);

  auto both = selector.Select("geo", {{sel::FilterVersion("1"), sel::FilterLabel("zone", "b")}});
  REQUIRE(both.ok());
  CHECK(both->size() == 2);
}

TEST_CASE("not found and none available are distinct errors") {
  sel::Selector selector(WithNodes("geo", 2));
  auto missing = selector.Select("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(sel::IsServiceNotFound(missing.status()));
  CHECK_FALSE(sel::IsNoneAvailable(missing.status()));
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("service not found: nope"));

  auto none = selector.Select("geo", {{sel::FilterVersion("9")}});
  REQUIRE_FALSE(none.ok());
  CHECK(sel::IsNoneAvailable(none.status()));
  CHECK_FALSE(sel::IsServiceNotFound(none.status()));
  CHECK_THAT(std::string(none.status().message()), Catch::Contains("none of its 2 nodes"));

  auto down = std::make_shared<FlakyRegistry>();
  down->fail_get = true;
  sel::Selector broken(down);
  auto err = broken.Select("geo");
  REQUIRE_FALSE(err.ok());
  CHECK(absl::IsUnavailable(err.status()));         // the registry's own error...
  CHECK_FALSE(sel::IsNoneAvailable(err.status()));  // ...is not "no node available"
}

TEST_CASE("a Next keeps its nodes when the registry changes") {
  auto r = WithNodes("geo", 2);
  sel::Selector selector(r);
  auto next = selector.Select("geo");
  REQUIRE(next.ok());
  REQUIRE(r
              ->Deregister(reg::Service{
                  "geo", "1", {}, {}, {reg::Node{"geo-0", "", {}}, reg::Node{"geo-1", "", {}}}})
              .ok());
  REQUIRE(micro::testing::Eventually([&] { return !selector.Select("geo").ok(); }));
  for (int i = 0; i < 10; ++i) CHECK_THAT((*next)().id, Catch::StartsWith("geo-"));
}

TEST_CASE("mark records outcomes per node") {
  sel::SelectorOptions no_ejection;
  no_ejection.outlier.enabled = false;
  sel::Selector selector(WithNodes("geo", 2), no_ejection);
  auto next = selector.Select("geo");
  REQUIRE(next.ok());
  const reg::Node& node = (*next)();
  selector.Mark("geo", node, absl::OkStatus());
  selector.Mark("geo", node, absl::UnavailableError("down"));
  selector.Mark("geo", node, absl::UnavailableError("down"));
  sel::NodeStats s = selector.Stats("geo", node.id);
  CHECK(s.successes == 1);
  CHECK(s.failures == 2);
  CHECK(s.consecutive_failures == 2);
  selector.Mark("geo", node, absl::OkStatus());
  CHECK(selector.Stats("geo", node.id).consecutive_failures == 0);
  CHECK(selector.Stats("geo", "other").successes == 0);
}

namespace {

sel::SelectorOptions Ejecting(sel::Strategy strategy = sel::Strategy::kRandom) {
  sel::SelectorOptions o;
  o.strategy = strategy;
  o.outlier.consecutive_failures = 2;
  o.outlier.base_ejection = std::chrono::milliseconds(300);
  o.outlier.max_ejection = std::chrono::seconds(5);
  return o;
}

std::set<std::string> Picked(sel::Next& next, int n = 400) {
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    seen.insert(next().id);
    next.Skip();
  }
  return seen;
}

}  // namespace

TEST_CASE("outlier ejection: a failing node leaves the rotation for a while, then is probed") {
  sel::Selector selector(WithNodes("geo", 4), Ejecting());
  reg::Node bad{"geo-1", "127.0.0.1:1001", {}};
  selector.Mark("geo", bad, absl::UnavailableError("refused"));
  CHECK_FALSE(selector.Stats("geo", "geo-1").ejected);  // one failure is not enough
  selector.Mark("geo", bad, absl::UnavailableError("refused"));
  CHECK(selector.Stats("geo", "geo-1").ejected);
  CHECK(selector.Stats("geo", "geo-1").ejections == 1);
  auto next = selector.Select("geo");
  REQUIRE(next.ok());
  std::set<std::string> seen = Picked(*next);
  CHECK(seen == std::set<std::string>{"geo-0", "geo-2", "geo-3"});

  // Its time out ends by itself; the next call to it is the probe.
  REQUIRE(micro::testing::Eventually([&] { return !selector.Stats("geo", "geo-1").ejected; }));
  CHECK(Picked(*next).count("geo-1") == 1);
  // The probe fails twice more: out again (for twice as long), the count of ejections grows.
  selector.Mark("geo", bad, absl::UnavailableError("refused"));
  selector.Mark("geo", bad, absl::UnavailableError("refused"));
  CHECK(selector.Stats("geo", "geo-1").ejections == 2);
  CHECK(Picked(*next).count("geo-1") == 0);
  // Successes bring the next ejection's length back down.
  selector.Mark("geo", bad, absl::OkStatus());
  CHECK(selector.Stats("geo", "geo-1").ejections == 1);
  CHECK(selector.Stats("geo", "geo-1").consecutive_failures == 0);
}

TEST_CASE("outlier ejection never takes more than half of the nodes, nor the only one") {
  sel::Selector two(WithNodes("geo", 2), Ejecting());
  for (const char* id : {"geo-0", "geo-1"}) {
    reg::Node n{id, "", {}};
    for (int i = 0; i < 4; ++i) two.Mark("geo", n, absl::UnavailableError("down"));
  }
  CHECK(two.Stats("geo", "geo-0").ejected != two.Stats("geo", "geo-1").ejected);  // one of them
  auto next = two.Select("geo");
  REQUIRE(next.ok());
  CHECK(Picked(*next).size() == 1);

  sel::Selector one(WithNodes("solo", 1), Ejecting());
  reg::Node n{"solo-0", "", {}};
  for (int i = 0; i < 10; ++i) one.Mark("solo", n, absl::UnavailableError("down"));
  CHECK_FALSE(one.Stats("solo", "solo-0").ejected);
  auto solo = one.Select("solo");
  REQUIRE(solo.ok());
  CHECK((*solo)().id == "solo-0");

  sel::SelectorOptions off = Ejecting();
  off.outlier.enabled = false;
  sel::Selector never(WithNodes("geo", 4), off);
  reg::Node bad{"geo-1", "", {}};
  for (int i = 0; i < 10; ++i) never.Mark("geo", bad, absl::UnavailableError("down"));
  CHECK_FALSE(never.Stats("geo", "geo-1").ejected);
}

TEST_CASE("least in flight: of two choices, the node with fewer calls open") {
  sel::Selector selector(WithNodes("geo", 2), Ejecting(sel::Strategy::kLeastInFlight));
  CHECK(std::string(sel::StrategyName(sel::Strategy::kLeastInFlight)) == "leastinflight");
  auto holder = selector.Select("geo");
  auto caller = selector.Select("geo");
  REQUIRE(holder.ok());
  REQUIRE(caller.ok());
  std::string busy = (*holder)().id;  // one call left open on it
  CHECK(selector.Stats("geo", busy).in_flight == 1);
  for (int i = 0; i < 200; ++i) {
    std::string id = (*caller)().id;
    REQUIRE(id != busy);
    caller->Mark(absl::OkStatus());
  }
  holder->Mark(absl::OkStatus());
  CHECK(selector.Stats("geo", busy).in_flight == 0);
  // With nothing open, both are picked.
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    seen.insert((*caller)().id);
    caller->Mark(absl::OkStatus());
  }
  CHECK(seen.size() == 2);
}

TEST_CASE("Avoiding picks a node not yet tried while one is left") {
  for (sel::Strategy strategy :
       {sel::Strategy::kRandom, sel::Strategy::kRoundRobin, sel::Strategy::kLeastInFlight}) {
    sel::Selector selector(WithNodes("geo", 3), Ejecting(strategy));
    auto next = selector.Select("geo");
    REQUIRE(next.ok());
    for (int i = 0; i < 300; ++i) {
      REQUIRE(next->Avoiding({"geo-0", "geo-2"}).id == "geo-1");
      next->Skip();
    }
    // Everything avoided: still a node.
    CHECK_THAT(next->Avoiding({"geo-0", "geo-1", "geo-2"}).id, Catch::StartsWith("geo-"));
    next->Skip();
  }
}
