#include "micro/plugin/contract.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace micro::plugin {
namespace {

using Clock = std::chrono::steady_clock;
using registry::Action;
using registry::Node;
using registry::Registry;
using registry::Result;
using registry::Service;

// Reads a watch on a thread of its own, so waits can have deadlines.
class WatchReader {
 public:
  explicit WatchReader(std::unique_ptr<registry::Watcher> w)
      : w_(std::move(w)), thread_([this] {
          while (true) {
            absl::StatusOr<Result> r = w_->Next();
            std::lock_guard<std::mutex> l(mu_);
            if (!r.ok()) {
              end_ = r.status();
              cv_.notify_all();
              return;
            }
            all_.push_back(*r);
            queue_.push_back(std::move(*r));
            cv_.notify_all();
          }
        }) {}
  ~WatchReader() {
    w_->Stop();
    thread_.join();
  }

  // The first event about node `id` (skipping others); false on timeout or
  // when the watch ends. `*why` says which.
  bool Next(const std::string& id, Clock::duration timeout, Result* out, std::string* why) {
    std::unique_lock<std::mutex> l(mu_);
    Clock::time_point deadline = Clock::now() + timeout;
    while (true) {
      while (!queue_.empty()) {
        Result r = std::move(queue_.front());
        queue_.pop_front();
        for (const Node& n : r.service.nodes) {
          if (n.id == id) {
            *out = std::move(r);
            return true;
          }
        }
      }
      if (!end_.ok()) {
        *why = absl::StrCat("the watch ended: ", end_.ToString());
        return false;
      }
      if (cv_.wait_until(l, deadline) == std::cv_status::timeout && queue_.empty()) {
        *why = "no event in time";
        return false;
      }
    }
  }

  std::vector<Result> All() {
    std::lock_guard<std::mutex> l(mu_);
    return all_;
  }

 private:
  std::unique_ptr<registry::Watcher> w_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result> queue_;
  std::vector<Result> all_;
  absl::Status end_;
  std::thread thread_;
};

Service Make(const std::string& name, const std::string& version, const std::string& id, int port) {
  Service s;
  s.name = name;
  s.version = version;
  registry::Endpoint e;
  e.name = "Contract.Call";
  e.request = registry::Value{"Request", "Request", {registry::Value{"name", "string", {}}}};
  e.response = registry::Value{"Response", "Response", {registry::Value{"msg", "string", {}}}};
  e.metadata = {{"stream", "false"}};
  s.endpoints = {e};
  s.metadata = {{"owner", "contract"}};
  s.nodes.push_back(
      Node{id, absl::StrCat("127.0.0.1:", port), {{"protocol", "grpc"}, {"zone", "z1"}}});
  return s;
}

const Node* FindNode(const absl::StatusOr<std::vector<Service>>& got, const std::string& id,
                     const Service** in = nullptr) {
  if (!got.ok()) return nullptr;
  for (const Service& s : *got) {
    for (const Node& n : s.nodes) {
      if (n.id == id) {
        if (in != nullptr) *in = &s;
        return &n;
      }
    }
  }
  return nullptr;
}

// Polls `pred` until it holds or `timeout` passes.
template <typename F>
bool Eventually(Clock::duration timeout, F pred) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string Describe(const absl::StatusOr<std::vector<Service>>& got) {
  if (!got.ok()) return got.status().ToString();
  std::vector<std::string> parts;
  for (const Service& s : *got) {
    std::vector<std::string> ids;
    for (const Node& n : s.nodes) ids.push_back(n.id);
    parts.push_back(absl::StrCat(s.name, "@", s.version, "[", absl::StrJoin(ids, ","), "]"));
  }
  return parts.empty() ? "nothing" : absl::StrJoin(parts, " ");
}

class Checker {
 public:
  explicit Checker(const RegistryContract& c) : c_(c) {}

  std::vector<std::string> Run() {
    auto a = c_.make ? c_.make() : absl::InvalidArgumentError("RegistryContract::make is empty");
    auto b = a.ok() ? c_.make() : a.status();
    if (!a.ok() || !b.ok() || *a == nullptr || *b == nullptr) {
      Fail("make",
           a.ok() ? (b.ok() ? "returned null" : b.status().ToString()) : a.status().ToString());
      return failures_;
    }
    writer_ = *a;
    reader_ = *b;
    name_a_ = c_.prefix + ".a";
    name_b_ = c_.prefix + ".b";
    BadInput();
    RegisterAndGet();
    Versions();
    List();
    Watch();
    Refresh();
    if (c_.expires_without_refresh) Expiry();
    StopUnblocks();
    Cleanup();
    return failures_;
  }

 private:
  void Clause(const std::string& name) {
    clause_ = name;
    if (c_.log) c_.log(name);
  }
  void Fail(const std::string& clause, const std::string& what) {
    failures_.push_back(absl::StrCat(clause, ": ", what));
  }
  void Fail(const std::string& what) { Fail(clause_, what); }
  void Registered(const Service& s) { registered_.push_back(s); }

  bool Register(const Service& s, std::chrono::milliseconds ttl = std::chrono::milliseconds(0)) {
    absl::Status st = writer_->Register(s, registry::RegisterOptions{ttl});
    if (!st.ok()) Fail(absl::StrCat("Register(", s.nodes.at(0).id, "): ", st.ToString()));
    Registered(s);
    return st.ok();
  }

  void BadInput() {
    Clause("bad input is InvalidArgument");
    Service no_name = Make("", "1.0.0", "contract-bad", 10000);
    absl::Status st = writer_->Register(no_name);
    if (!absl::IsInvalidArgument(st)) Fail(absl::StrCat("empty name: got ", st.ToString()));
    Service no_id = Make(name_a_, "1.0.0", "", 10000);
    st = writer_->Register(no_id);
    if (!absl::IsInvalidArgument(st)) Fail(absl::StrCat("empty node id: got ", st.ToString()));
  }

  void RegisterAndGet() {
    Clause("register, then get from the other instance");
    Service s = Make(name_a_, "1.0.0", "contract-n1", 10001);
    if (!Register(s)) return;
    const Service* in = nullptr;
    const Node* n = nullptr;
    absl::StatusOr<std::vector<Service>> got;
    bool seen = Eventually(c_.propagation, [&] {
      got = reader_->GetService(name_a_);
      n = FindNode(got, "contract-n1", &in);
      return n != nullptr;
    });
    if (!seen) return Fail(absl::StrCat("node contract-n1 not found; got ", Describe(got)));
    if (!(*n == s.nodes[0])) {
      Fail(absl::StrCat("node differs: address ", n->address, ", ", n->metadata.size(),
                        " metadata pairs"));
    }
    if (in->version != "1.0.0") Fail(absl::StrCat("version \"", in->version, "\""));
    if (!(in->endpoints == s.endpoints)) Fail("endpoints differ from what was registered");
  }

  void Versions() {
    Clause("one Service per version");
    if (!Register(Make(name_a_, "2.0.0", "contract-n2", 10002))) return;
    absl::StatusOr<std::vector<Service>> got;
    bool ok = Eventually(c_.propagation, [&] {
      got = reader_->GetService(name_a_);
      if (!got.ok()) return false;
      std::set<std::string> versions;
      for (const Service& s : *got) {
        if (!s.nodes.empty()) versions.insert(s.version);
      }
      return versions == std::set<std::string>{"1.0.0", "2.0.0"} && got->size() == 2;
    });
    if (!ok) Fail(absl::StrCat("want 1.0.0[contract-n1] 2.0.0[contract-n2]; got ", Describe(got)));
  }

  void List() {
    Clause("list");
    absl::StatusOr<std::vector<Service>> got;
    bool ok = Eventually(c_.propagation, [&] {
      got = reader_->ListServices();
      if (!got.ok()) return false;
      for (const Service& s : *got) {
        if (s.name == name_a_) return true;
      }
      return false;
    });
    if (!ok) Fail(absl::StrCat(name_a_, " not listed; got ", Describe(got)));
  }

  void Watch() {
    Clause("watch: create, update, delete in order; a service watch sees only its service");
    auto w = reader_->Watch(registry::WatchOptions{name_a_});
    auto all = reader_->Watch(registry::WatchOptions{});
    if (!w.ok() || !all.ok()) {
      return Fail(absl::StrCat("Watch: ", (w.ok() ? all.status() : w.status()).ToString()));
    }
    WatchReader one(std::move(*w)), every(std::move(*all));
    // Watches may start with a burst of what exists; let it pass.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Service other = Make(name_b_, "1.0.0", "contract-other", 10009);
    if (!Register(other)) return;
    Service s = Make(name_a_, "1.0.0", "contract-n3", 10003);
    if (!Register(s)) return;
    Result ev;
    std::string why;
    auto expect = [&](WatchReader& r, const char* which, Action action,
                      const std::string& zone) -> bool {
      if (!r.Next("contract-n3", c_.propagation, &ev, &why)) {
        Fail(absl::StrCat(which, ": waiting for ", registry::ActionName(action),
                          " of contract-n3: ", why));
        return false;
      }
      if (ev.action != action) {
        Fail(absl::StrCat(which, ": want ", registry::ActionName(action), " of contract-n3, got ",
                          registry::ActionName(ev.action)));
        return false;
      }
      const Node* n = nullptr;
      for (const Node& x : ev.service.nodes) {
        if (x.id == "contract-n3") n = &x;
      }
      if (action != Action::kDelete &&
          (n == nullptr || n->metadata.count("zone") == 0 || n->metadata.at("zone") != zone)) {
        Fail(absl::StrCat(which, ": ", registry::ActionName(action), " without zone=", zone));
      }
      if (ev.service.name != name_a_) Fail(absl::StrCat(which, ": event for ", ev.service.name));
      return true;
    };
    bool ok = expect(one, "service watch", Action::kCreate, "z1") &&
              expect(every, "watch of all", Action::kCreate, "z1");
    if (!ok) return;
    s.nodes[0].metadata["zone"] = "z2";
    if (!Register(s)) return;
    ok = expect(one, "service watch", Action::kUpdate, "z2") &&
         expect(every, "watch of all", Action::kUpdate, "z2");
    if (!ok) return;
    absl::Status st = writer_->Deregister(s);
    if (!st.ok()) return Fail(absl::StrCat("Deregister: ", st.ToString()));
    ok = expect(one, "service watch", Action::kDelete, "") &&
         expect(every, "watch of all", Action::kDelete, "");
    if (!ok) return;
    for (const Result& r : one.All()) {
      if (r.service.name != name_a_) {
        Fail(absl::StrCat("the watch of ", name_a_, " reported ", r.service.name));
        break;
      }
    }
    absl::StatusOr<std::vector<Service>> got;
    if (!Eventually(c_.propagation, [&] {
          got = reader_->GetService(name_a_);
          return got.ok() && FindNode(got, "contract-n3") == nullptr;
        })) {
      Fail(absl::StrCat("contract-n3 still found after Deregister: ", Describe(got)));
    }
    Service unknown = Make(name_a_, "1.0.0", "contract-never-registered", 10008);
    st = writer_->Deregister(unknown);
    if (!st.ok()) Fail(absl::StrCat("Deregister of an unknown node: ", st.ToString()));
  }

  void Refresh() {
    Clause("a registration refreshed within its TTL stays");
    Service s = Make(name_a_, "1.0.0", "contract-n5", 10005);
    if (!Register(s, c_.ttl)) return;
    if (!Eventually(c_.propagation, [&] {
          return FindNode(reader_->GetService(name_a_), "contract-n5") != nullptr;
        })) {
      return Fail("contract-n5 never seen");
    }
    Clock::time_point end = Clock::now() + 2 * c_.ttl;
    while (Clock::now() < end) {
      std::this_thread::sleep_for(c_.ttl / 3);
      if (!Register(s, c_.ttl)) return;
    }
    auto got = reader_->GetService(name_a_);
    if (FindNode(got, "contract-n5") == nullptr)
      Fail(absl::StrCat("contract-n5 gone although refreshed; got ", Describe(got)));
    absl::Status st = writer_->Deregister(s);
    if (!st.ok()) Fail(absl::StrCat("Deregister: ", st.ToString()));
  }

  void Expiry() {
    Clause("a registration not refreshed goes after its TTL, and watchers hear of it");
    auto w = reader_->Watch(registry::WatchOptions{name_a_});
    if (!w.ok()) return Fail(absl::StrCat("Watch: ", w.status().ToString()));
    WatchReader reader(std::move(*w));
    Service s = Make(name_a_, "1.0.0", "contract-n6", 10006);
    if (!Register(s, c_.ttl)) return;
    Result ev;
    std::string why;
    if (!reader.Next("contract-n6", c_.propagation, &ev, &why))
      return Fail(absl::StrCat("no create of contract-n6: ", why));
    // Any later event about it must be its delete, within TTL + propagation.
    Clock::duration limit = c_.ttl + c_.propagation;
    bool gone = false;
    while (!gone) {
      if (!reader.Next("contract-n6", limit, &ev, &why))
        return Fail(absl::StrCat("no delete of contract-n6 within TTL + propagation: ", why));
      gone = ev.action == Action::kDelete;
    }
    auto got = reader_->GetService(name_a_);
    if (FindNode(got, "contract-n6") != nullptr)
      Fail("contract-n6 still found after its delete event");
  }

  void StopUnblocks() {
    Clause("Stop unblocks Next");
    auto w = reader_->Watch(registry::WatchOptions{c_.prefix + ".quiet"});
    if (!w.ok()) return Fail(absl::StrCat("Watch: ", w.status().ToString()));
    std::unique_ptr<registry::Watcher> watcher = std::move(*w);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      watcher->Stop();
    });
    absl::StatusOr<Result> r = watcher->Next();
    stopper.join();
    if (r.ok()) Fail("Next returned an event for a service nobody registered");
    r = watcher->Next();
    if (r.ok()) Fail("Next after Stop returned an event");
  }

  void Cleanup() {
    Clause("cleanup: the last node gone means NotFound");
    for (const Service& s : registered_) (void)writer_->Deregister(s);
    absl::StatusOr<std::vector<Service>> got;
    if (!Eventually(c_.propagation, [&] {
          got = reader_->GetService(name_a_);
          return absl::IsNotFound(got.status());
        })) {
      Fail(absl::StrCat("GetService(", name_a_, ") after every Deregister: want NotFound, got ",
                        Describe(got)));
    }
  }

  const RegistryContract& c_;
  std::shared_ptr<Registry> writer_, reader_;
  std::string name_a_, name_b_, clause_;
  std::vector<Service> registered_;
  std::vector<std::string> failures_;
};

}  // namespace

std::vector<std::string> CheckRegistryContract(const RegistryContract& contract) {
  return Checker(contract).Run();
}

}  // namespace micro::plugin
