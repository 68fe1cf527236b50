#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "micro/plugin/contract.h"
#include "micro/registry/memory.h"
#include "test_util.h"

namespace reg = micro::registry;
using namespace std::chrono_literals;

namespace {

reg::Service Svc(const std::string& name, const std::string& version,
                 std::vector<std::string> node_ids) {
  reg::Service s;
  s.name = name;
  s.version = version;
  for (auto& id : node_ids) s.nodes.push_back(reg::Node{id, "127.0.0.1:1", {{"id", id}}});
  return s;
}

std::string Describe(const reg::Result& r) {
  std::string s =
      std::string(reg::ActionName(r.action)) + " " + r.service.name + "@" + r.service.version;
  for (auto& n : r.service.nodes) s += " " + n.id;
  return s;
}

}  // namespace

TEST_CASE("the registry contract (micro/plugin/contract.h)") {
  std::shared_ptr<reg::Registry> shared = reg::NewMemoryRegistry();
  micro::plugin::RegistryContract c;
  c.make = [&]() -> absl::StatusOr<std::shared_ptr<reg::Registry>> { return shared; };
  c.propagation = 2s;
  c.ttl = 600ms;
  std::vector<std::string> failures = micro::plugin::CheckRegistryContract(c);
  for (const std::string& failure : failures) FAIL_CHECK(failure);
  CHECK(failures.empty());
}

TEST_CASE("register, get by version, list, deregister") {
  auto r = reg::NewMemoryRegistry();
  REQUIRE(r->Register(Svc("geo", "1", {"g1", "g2"})).ok());
  REQUIRE(r->Register(Svc("geo", "2", {"g3"})).ok());
  REQUIRE(r->Register(Svc("auth", "1", {"a1"})).ok());

  auto geo = r->GetService("geo");
  REQUIRE(geo.ok());
  REQUIRE(geo->size() == 2);
  CHECK((*geo)[0].version == "1");
  CHECK((*geo)[0].nodes.size() == 2);
  CHECK((*geo)[1].nodes.at(0).id == "g3");

  auto all = r->ListServices();
  REQUIRE(all.ok());
  CHECK(all->size() == 3);

  REQUIRE(r->Deregister(Svc("geo", "1", {"g1", "g2"})).ok());
  geo = r->GetService("geo");
  REQUIRE(geo->size() == 1);
  CHECK((*geo)[0].version == "2");
  REQUIRE(r->Deregister(Svc("geo", "2", {"g3"})).ok());
  CHECK(absl::IsNotFound(r->GetService("geo").status()));
  CHECK(r->Deregister(Svc("nope", "1", {"x"})).ok());  // unknown is not an error
}

TEST_CASE("register validates its input") {
  auto r = reg::NewMemoryRegistry();
  CHECK(absl::IsInvalidArgument(r->Register(Svc("", "1", {"a"}))));
  CHECK(absl::IsInvalidArgument(r->Register(Svc("x", "1", {}))));
  CHECK(absl::IsInvalidArgument(r->Register(Svc("x", "1", {""}))));
}

TEST_CASE("watch sees create, update and delete in order") {
  auto r = reg::NewMemoryRegistry();
  auto w = r->Watch();
  REQUIRE(w.ok());
  REQUIRE(r->Register(Svc("geo", "1", {"g1"})).ok());
  REQUIRE(r->Register(Svc("geo", "1", {"g1"})).ok());  // unchanged: refresh only, no event
  auto changed = Svc("geo", "1", {"g1", "g2"});
  changed.nodes[0].address = "127.0.0.1:2";
  REQUIRE(r->Register(changed).ok());
  REQUIRE(r->Deregister(Svc("geo", "1", {"g1"})).ok());
  REQUIRE(r->Deregister(Svc("geo", "1", {"g2"})).ok());

  std::vector<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto ev = (*w)->Next();
    REQUIRE(ev.ok());
    seen.push_back(Describe(*ev));
  }
  CHECK(seen == std::vector<std::string>{"create geo@1 g1", "create geo@1 g2", "update geo@1 g1",
                                         "delete geo@1 g1", "delete geo@1 g2"});
  // The delete carries the node as it was.
}

TEST_CASE("a service watch sees only that service") {
  auto r = reg::NewMemoryRegistry();
  auto w = r->Watch({"auth"});
  REQUIRE(w.ok());
  REQUIRE(r->Register(Svc("geo", "1", {"g1"})).ok());
  REQUIRE(r->Register(Svc("auth", "1", {"a1"})).ok());
  auto ev = (*w)->Next();
  REQUIRE(ev.ok());
  CHECK(Describe(*ev) == "create auth@1 a1");
}

TEST_CASE("TTL expiry removes the node and tells watchers") {
  auto r = reg::NewMemoryRegistry();
  auto w = r->Watch();
  REQUIRE(w.ok());
  REQUIRE(r->Register(Svc("geo", "1", {"short"}), {50ms}).ok());
  REQUIRE(r->Register(Svc("geo", "1", {"forever"})).ok());
  CHECK(Describe(*(*w)->Next()) == "create geo@1 short");
  CHECK(Describe(*(*w)->Next()) == "create geo@1 forever");
  auto ev = (*w)->Next();  // blocks until the sweeper sends the expiry
  REQUIRE(ev.ok());
  CHECK(Describe(*ev) == "delete geo@1 short");
  auto geo = r->GetService("geo");
  REQUIRE(geo.ok());
  REQUIRE((*geo)[0].nodes.size() == 1);
  CHECK((*geo)[0].nodes[0].id == "forever");
}

TEST_CASE("refreshing a registration keeps it alive") {
  auto r = reg::NewMemoryRegistry();
  auto w = r->Watch();
  REQUIRE(w.ok());
  // A node refreshed well inside its TTL never expires while a sibling with the
  // same TTL and no refresh does: the watch must report only the sibling.
  REQUIRE(r->Register(Svc("geo", "1", {"kept"}), {2s}).ok());
  REQUIRE(r->Register(Svc("geo", "1", {"lapsed"}), {2s}).ok());
  std::atomic<bool> stop{false};
  std::thread refresher([&] {
    while (!stop) {
      (void)r->Register(Svc("geo", "1", {"kept"}), {2s});
      std::this_thread::sleep_for(20ms);
    }
  });
  (void)(*w)->Next();
  (void)(*w)->Next();
  auto ev = (*w)->Next();
  stop = true;
  refresher.join();
  REQUIRE(ev.ok());
  CHECK(Describe(*ev) == "delete geo@1 lapsed");
  CHECK(r->GetService("geo")->at(0).nodes.at(0).id == "kept");
}

TEST_CASE("stop unblocks a waiting watcher") {
  auto r = reg::NewMemoryRegistry();
  auto w = r->Watch();
  REQUIRE(w.ok());
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    (*w)->Stop();
  });
  auto ev = (*w)->Next();
  stopper.join();
  CHECK(absl::IsCancelled(ev.status()));
}

TEST_CASE("a watcher that falls too far behind fails instead of growing") {
  reg::MemoryOptions opts;
  opts.max_queued_events = 3;
  auto r = reg::NewMemoryRegistry(opts);
  auto w = r->Watch();
  REQUIRE(w.ok());
  for (int i = 0; i < 5; ++i) REQUIRE(r->Register(Svc("s", "1", {"n" + std::to_string(i)})).ok());
  auto ev = (*w)->Next();
  REQUIRE_FALSE(ev.ok());
  CHECK(ev.status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("concurrent register and watch lose nothing") {
  auto r = reg::NewMemoryRegistry();
  auto w = r->Watch();
  REQUIRE(w.ok());
  constexpr int kThreads = 4, kNodes = 250;
  std::atomic<int> failures{0};  // Catch2 assertions are not thread-safe
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kNodes; ++i) {
        std::string id = "n" + std::to_string(t) + "-" + std::to_string(i);
        if (!r->Register(Svc("svc", "1", {id}), {std::chrono::hours(1)}).ok()) ++failures;
        if (i % 2 == 1 && !r->Deregister(Svc("svc", "1", {id})).ok()) ++failures;
      }
    });
  }
  std::set<std::string> live;
  int creates = 0, deletes = 0;
  while (creates < kThreads * kNodes || deletes < kThreads * kNodes / 2) {
    auto ev = (*w)->Next();
    REQUIRE(ev.ok());
    for (auto& n : ev->service.nodes) {
      if (ev->action == reg::Action::kCreate) {
        ++creates;
        CHECK(live.insert(n.id).second);
      } else if (ev->action == reg::Action::kDelete) {
        ++deletes;
        CHECK(live.erase(n.id) == 1);  // a delete never comes before its create
      }
    }
  }
  for (auto& t : writers) t.join();
  CHECK(failures == 0);
  auto svc = r->GetService("svc");
  REQUIRE(svc.ok());
  CHECK(svc->at(0).nodes.size() == kThreads * kNodes / 2);
  CHECK(live.size() == kThreads * kNodes / 2);
}

namespace {

// A registry that forgets to deregister and accepts nodes without ids: the
// contract must say so.
class Forgetful : public reg::Registry {
 public:
  absl::Status Register(const reg::Service& s, const reg::RegisterOptions& o) override {
    reg::Service copy = s;
    for (reg::Node& n : copy.nodes) {
      if (n.id.empty()) n.id = "made-up";
    }
    return inner_->Register(copy, o);
  }
  absl::Status Deregister(const reg::Service&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<reg::Service>> GetService(absl::string_view name) override {
    return inner_->GetService(name);
  }
  absl::StatusOr<std::vector<reg::Service>> ListServices() override {
    return inner_->ListServices();
  }
  absl::StatusOr<std::unique_ptr<reg::Watcher>> Watch(const reg::WatchOptions& o) override {
    return inner_->Watch(o);
  }
  std::string String() const override { return "forgetful://"; }

 private:
  std::unique_ptr<reg::Registry> inner_ = reg::NewMemoryRegistry();
};

}  // namespace

TEST_CASE("the registry contract catches a registry that breaks it") {
  auto shared = std::make_shared<Forgetful>();
  micro::plugin::RegistryContract c;
  c.make = [&]() -> absl::StatusOr<std::shared_ptr<reg::Registry>> { return shared; };
  c.propagation = 1s;
  c.ttl = 600ms;
  c.expires_without_refresh = false;
  std::vector<std::string> failures = micro::plugin::CheckRegistryContract(c);
  std::string all;
  for (const std::string& f : failures) all += f + "\n";
  INFO(all);
  CHECK_THAT(all, Catch::Contains("bad input is InvalidArgument: empty node id: got OK"));
  CHECK_THAT(all, Catch::Contains("waiting for delete of contract-n3"));
  CHECK_THAT(all, Catch::Contains("want NotFound"));
}
