#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
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

TEST_CASE("a lookup runs on a cache thread, and a caller waits for it only until its deadline") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::Cache cache(r);
  r->CloseGate();  // the registry hangs
  auto s = cache.Get("geo", std::chrono::steady_clock::now() + 100ms);
  REQUIRE_FALSE(s.ok());
  CHECK(absl::IsDeadlineExceeded(s.status()));
  CHECK_THAT(std::string(s.status().message()), Catch::Contains("service geo"));
  // GetAsync does not wait at all: its answer comes from the timer thread.
  std::atomic<int> answers{0};
  std::atomic<bool> late{false};
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> on_caller{false};
  cache.GetAsync("geo", std::chrono::steady_clock::now() + 100ms, [&](reg::Cache::Answer a) {
    on_caller = std::this_thread::get_id() == caller;
    late = absl::IsDeadlineExceeded(a.status());
    ++answers;
  });
  CHECK(Eventually([&] { return answers == 1; }));
  CHECK(late);
  CHECK_FALSE(on_caller);
  CHECK(r->get_calls == 1);  // still the one lookup
  r->OpenGate();
  CHECK(Eventually([&] { return NodeCount(cache, "geo") == 1; }));
  CHECK(answers == 1);  // exactly once, though the lookup answered later
  // Now cached: GetAsync answers at once, on the caller's thread.
  bool inline_answer = false;
  cache.GetAsync("geo", std::chrono::steady_clock::now() + 100ms,
                 [&](reg::Cache::Answer a) { inline_answer = a.ok(); });
  CHECK(inline_answer);
}

TEST_CASE("a caller holding a stale entry gets it within stale_wait when the registry hangs") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::CacheOptions opts;
  opts.ttl = 0ms;  // every Get needs a lookup
  opts.stale_wait = 50ms;
  reg::Cache cache(r, opts);
  REQUIRE(NodeCount(cache, "geo") == 1);
  r->CloseGate();
  for (int i = 0; i < 3; ++i) CHECK(NodeCount(cache, "geo") == 1);  // no deadline given
  CHECK(cache.Stats().stale_served == 3);
  CHECK(r->get_calls == 2);  // the hanging lookup is shared
  r->OpenGate();
}

TEST_CASE("lookups of distinct unknown names are bounded") {
  auto r = std::make_shared<FlakyRegistry>();
  reg::CacheOptions opts;
  opts.lookup_threads = 2;
  opts.max_pending_lookups = 3;
  reg::Cache cache(r, opts);
  r->CloseGate();
  std::atomic<int> answered{0};
  auto ask = [&](int i) {
    cache.GetAsync("unknown-" + std::to_string(i), reg::Cache::Deadline::max(),
                   [&](reg::Cache::Answer a) {
                     if (a.ok() && (*a)->services.empty()) ++answered;
                   });
  };
  ask(0);
  ask(1);
  REQUIRE(Eventually([&] { return r->waiting_at_gate() == 2; }));
  for (int i = 2; i < 5; ++i) ask(i);
  std::this_thread::sleep_for(50ms);  // a third thread would show up here (not asserted)
  CHECK(r->waiting_at_gate() == 2);   // two threads ask; three names wait in the queue
  auto refused = cache.Get("unknown-5", std::chrono::steady_clock::now() + 10s);
  CHECK(absl::IsUnavailable(refused.status()));
  CHECK_THAT(std::string(refused.status().message()), Catch::Contains("lookups are waiting"));
  r->OpenGate();
  CHECK(Eventually([&] { return answered == 5; }));
  CHECK(r->get_calls == 5);
}

TEST_CASE("closing the cache answers callers whose lookup never ran, even from a callback") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("a", {"a1"}), {}).ok());
  reg::CacheOptions opts;
  opts.lookup_threads = 1;
  auto cache = std::make_unique<reg::Cache>(r, opts);
  r->CloseGate();
  std::atomic<int> found{0}, cancelled{0};
  // The first answer closes the cache from the cache's own lookup thread.
  cache->GetAsync("a", reg::Cache::Deadline::max(), [&](reg::Cache::Answer a) {
    if (a.ok()) ++found;
    cache.reset();
  });
  REQUIRE(Eventually([&] { return r->waiting_at_gate() == 1; }));
  cache->GetAsync("b", reg::Cache::Deadline::max(), [&](reg::Cache::Answer a) {
    if (absl::IsCancelled(a.status())) ++cancelled;
  });  // queued behind "a" on the one lookup thread
  r->OpenGate();
  CHECK(Eventually([&] { return found + cancelled == 2; }));
  CHECK(found == 1);
  CHECK(cancelled == 1);
  CHECK(r->get_calls == 1);
}

namespace {

// The one file the cache keeps for `service` under `dir`, read whole ("" if none yet).
std::string PersistedFile(const std::string& dir, const std::string& service) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir)) return "";
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    if (f.path().filename() != service + ".json") continue;
    std::ifstream in(f.path());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  return "";
}

}  // namespace

TEST_CASE("the last-known-good file serves a service while the registry is down at start") {
  micro::testing::ScratchDir dir;
  reg::CacheOptions opts;
  opts.persist_dir = dir.path();
  opts.backoff_min = 10ms;
  opts.backoff_max = 20ms;
  {
    auto up = std::make_shared<FlakyRegistry>();
    REQUIRE(up->Register(Svc("geo", {"g1"}), {}).ok());
    reg::Cache cache(up, opts);
    REQUIRE(NodeCount(cache, "geo") == 1);
    CHECK_THAT(PersistedFile(dir.path(), "geo"), Catch::Contains("\"g1\""));
    // A change the watch brings is written too.
    REQUIRE(up->Register(Svc("geo", {"g2"}), {}).ok());
    CHECK(Eventually(
        [&] { return PersistedFile(dir.path(), "geo").find("\"g2\"") != std::string::npos; }));
  }
  SECTION("a registry that refuses: served from the file, then from the registry once it answers") {
    auto down = std::make_shared<FlakyRegistry>();
    down->fail_get = true;
    reg::Cache cache(down, opts);
    auto s = cache.Get("geo");
    REQUIRE(s.ok());
    CHECK((*s)->nodes.size() == 2);
    CHECK(cache.Stats().stale_served >= 1);
    CHECK(absl::IsUnavailable(cache.Get("other").status()));  // no file, no answer
    REQUIRE(down->Register(Svc("geo", {"g3"}), {}).ok());
    down->fail_get = false;
    CHECK(Eventually([&] { return NodeCount(cache, "geo") == 1; }));
  }
  SECTION("a registry that hangs: served from the file before the caller's deadline") {
    auto hung = std::make_shared<FlakyRegistry>();
    hung->CloseGate();
    reg::Cache cache(hung, opts);
    auto s = cache.Get("geo", std::chrono::steady_clock::now() + 30s);
    CHECK(s.ok());
    CHECK((s.ok() ? (*s)->nodes.size() : 0) == 2);
    hung->OpenGate();
  }
  SECTION("a damaged file is ignored") {
    namespace fs = std::filesystem;
    for (const auto& f : fs::recursive_directory_iterator(dir.path())) {
      if (f.is_regular_file()) std::ofstream(f.path()) << "{not json\n";
    }
    auto down = std::make_shared<FlakyRegistry>();
    down->fail_get = true;
    reg::Cache cache(down, opts);
    auto s = cache.Get("geo");
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(std::string(s.status().message()), Catch::Contains("registry down"));
  }
}

TEST_CASE(
    "a registry that forgot a service (no event removed it) is not believed for empty_grace") {
  auto r = std::make_shared<FlakyRegistry>();
  REQUIRE(r->Register(Svc("geo", {"g1"}), {}).ok());
  reg::CacheOptions opts;
  opts.ttl = 0ms;  // every Get asks the registry
  opts.backoff_min = 1ms;
  opts.backoff_max = 2ms;
  SECTION("within the grace the known node stays, and the registry is asked again") {
    opts.empty_grace = std::chrono::hours(1);
    reg::Cache cache(r, opts);
    REQUIRE(NodeCount(cache, "geo") == 1);
    r->forget = true;  // a restarted registry, empty
    int before = r->get_calls;
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(20ms);  // past the 1-2 ms backoff: the registry is asked again
      CHECK(NodeCount(cache, "geo") == 1);
    }
    CHECK(r->get_calls > before);
    r->forget = false;
    CHECK(NodeCount(cache, "other") == 0);  // a service never seen: "not found" is believed
  }
  SECTION("past the grace it is believed") {
    opts.empty_grace = 0ms;
    reg::Cache cache(r, opts);
    REQUIRE(NodeCount(cache, "geo") == 1);
    r->forget = true;
    CHECK(Eventually([&] { return NodeCount(cache, "geo") == 0; }));
  }
  SECTION("an event that removes the node is believed at once") {
    opts.empty_grace = std::chrono::hours(1);
    opts.ttl = std::chrono::hours(1);
    reg::Cache cache(r, opts);
    REQUIRE(NodeCount(cache, "geo") == 1);
    REQUIRE(r->Deregister(Svc("geo", {"g1"})).ok());
    CHECK(Eventually([&] { return NodeCount(cache, "geo") == 0; }));
  }
}
