#include <catch2/catch.hpp>

#include <thread>

#include "flaky_registry.h"
#include "micro/registry/cache.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::Eventually;
using micro::testing::FlakyRegistry;
using namespace std::chrono_literals;

namespace {

reg::Service Svc(const std::string& name, std::vector<std::string> ids,
                 const std::string& version = "1") {
  reg::Service s{name, version, {}, {}, {}};
  for (auto& id : ids) s.nodes.push_back(reg::Node{id, "127.0.0.1:1", {}});
  return s;
}

std::size_t NodeCount(reg::Cache& cache, const std::string& name) {
  auto s = cache.Get(name);
  return s.ok() ? (*s)->nodes.size() : 0;
}

}  // namespace

TEST_CASE("a warm entry is served from memory and kept current by the watch") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::Cache cache(r);
  REQUIRE(NodeCount(cache, "geo") == 1);
  REQUIRE(NodeCount(cache, "geo") == 1);
  CHECK(r->get_calls == 1);

  REQUIRE(r->Register(Svc("geo", {"g2"}), {}).ok());
  CHECK(Eventually([&] { return NodeCount(cache, "geo") == 2; }));
  REQUIRE(r->Deregister(Svc("geo", {"g1"})).ok());
  CHECK(Eventually([&] { return NodeCount(cache, "geo") == 1; }));
  CHECK((*cache.Get("geo"))->nodes[0].node->id == "g2");
  REQUIRE(r->Register(Svc("geo", {"g9"}, "2"), {}).ok());  // a new version joins
  CHECK(Eventually([&] { return (*cache.Get("geo"))->services.size() == 2; }));
  CHECK(r->get_calls == 1);  // all of it came through the watch
  CHECK(cache.Stats().events >= 3);
}

TEST_CASE("an unknown service is cached as empty, and filled by the watch") {
  auto r = std::make_shared<FlakyRegistry>();
  reg::Cache cache(r);
  auto s = cache.Get("later");
  REQUIRE(s.ok());
  CHECK((*s)->services.empty());
  REQUIRE(r->Register(Svc("later", {"l1"}), {}).ok());
  CHECK(Eventually([&] { return NodeCount(cache, "later") == 1; }));
  CHECK(r->get_calls == 1);
}

TEST_CASE("an unknown service is trusted for negative_ttl only, a found one for ttl") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(
      r->Register(reg::Service{"geo", "1", {}, {}, {reg::Node{"g1", "127.0.0.1:1", {}}}}, {}).ok());
  reg::CacheOptions o;
  o.ttl = std::chrono::hours(1);
  o.negative_ttl = std::chrono::milliseconds(500);
  reg::Cache cache(r, o);
  REQUIRE(cache.Get("ghost").ok());
  REQUIRE(cache.Get("geo").ok());
  int lookups = r->get_calls;
  REQUIRE(cache.Get("ghost").ok());
  REQUIRE(cache.Get("geo").ok());
  CHECK(r->get_calls == lookups);  // both cached
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  REQUIRE(cache.Get("ghost").ok());
  REQUIRE(cache.Get("geo").ok());
  CHECK(r->get_calls == lookups + 1);  // "ghost" asked again, "geo" not
}

TEST_CASE("concurrent misses share one registry lookup") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::Cache cache(r);
  r->CloseGate();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto s = cache.Get("geo");
      if (s.ok() && (*s)->nodes.size() == 1) ++ok;
    });
  }
  REQUIRE(Eventually([&] { return r->waiting_at_gate() == 1; }));
  std::this_thread::sleep_for(50ms);  // let the others pile up behind it (not asserted)
  r->OpenGate();
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(r->get_calls == 1);
  CHECK(cache.Stats().lookups == 1);
}

TEST_CASE("events that arrive during a lookup are not lost") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1", "g2"}), {}).ok());
  reg::Cache cache(r);
  REQUIRE(NodeCount(cache, "other") == 0);  // starts the watch
  r->CloseGate();
  std::thread getter([&] { (void)cache.Get("geo"); });
  // The lookup has read {g1, g2} and is held; now the registry changes.
  REQUIRE(Eventually([&] { return r->waiting_at_gate() == 1; }));
  REQUIRE(r->Register(Svc("geo", {"g3"}), {}).ok());
  REQUIRE(r->Deregister(Svc("geo", {"g1"})).ok());
  REQUIRE(Eventually([&] { return cache.Stats().events == 2; }));
  r->OpenGate();
  getter.join();
  auto s = cache.Get("geo");
  REQUIRE(s.ok());
  std::vector<std::string> ids;
  for (auto& n : (*s)->nodes) ids.push_back(n.node->id);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"g2", "g3"});
}

TEST_CASE("expired entries are looked up again") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::CacheOptions opts;
  opts.ttl = 0ms;  // every Get finds the entry expired
  reg::Cache cache(r, opts);
  for (int i = 0; i < 3; ++i) REQUIRE(NodeCount(cache, "geo") == 1);
  CHECK(r->get_calls == 3);
}

TEST_CASE("a failing registry gets the stale entry served, and is not hammered") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::CacheOptions opts;
  opts.ttl = 0ms;
  opts.backoff_min = std::chrono::hours(1);  // after one failure, no retry within this test
  opts.backoff_max = std::chrono::hours(1);
  reg::Cache cache(r, opts);
  REQUIRE(NodeCount(cache, "geo") == 1);
  r->fail_get = true;
  for (int i = 0; i < 5; ++i) CHECK(NodeCount(cache, "geo") == 1);
  CHECK(r->get_calls == 2);  // one good, one failed, then backoff
  CHECK(cache.Stats().stale_served == 5);
}

TEST_CASE("a failing registry with nothing cached is an error naming it") {
  auto r = std::make_shared<FlakyRegistry>();
  r->fail_get = true;
  reg::Cache cache(r);
  auto s = cache.Get("geo");
  REQUIRE_FALSE(s.ok());
  CHECK(absl::IsUnavailable(s.status()));
  CHECK_THAT(std::string(s.status().message()), Catch::Contains("flaky://"));
  CHECK_THAT(std::string(s.status().message()), Catch::Contains("registry down"));
}

TEST_CASE("a broken watch is re-created and entries are re-read") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::CacheOptions opts;
  opts.backoff_min = 5ms;
  opts.backoff_max = 20ms;
  reg::Cache cache(r, opts);
  REQUIRE(NodeCount(cache, "geo") == 1);
  CHECK(r->watch_calls == 1);

  r->fail_watch = true;
  r->BreakWatches();
  // While it is down, changes reach the cache by lookups once entries lapse.
  REQUIRE(r->Register(Svc("geo", {"g2"}), {}).ok());
  REQUIRE(Eventually([&] { return r->watch_calls >= 3; }));  // retried with backoff
  CHECK(Eventually([&] { return NodeCount(cache, "geo") == 2; }));

  r->fail_watch = false;
  REQUIRE(Eventually([&] { return cache.Stats().watches == 2; }));
  int before = r->get_calls;
  CHECK(NodeCount(cache, "geo") == 2);  // re-read after recovery
  CHECK(r->get_calls == before + 1);
  REQUIRE(r->Register(Svc("geo", {"g3"}), {}).ok());  // and the new watch delivers again
  CHECK(Eventually([&] { return NodeCount(cache, "geo") == 3; }));
}

TEST_CASE("clear drops entries, and snapshots already held stay valid") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::Cache cache(r);
  auto held = cache.Get("geo");
  REQUIRE(held.ok());
  cache.Clear();
  REQUIRE(r->Deregister(Svc("geo", {"g1"})).ok());
  CHECK(NodeCount(cache, "geo") == 0);
  CHECK((*held)->nodes.at(0).node->id == "g1");
  CHECK(r->get_calls == 2);
}
