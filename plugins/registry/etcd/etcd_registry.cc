#include "etcd_registry.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "etcd_client.h"
#include "etcd_codec.h"
#include "etcd_watch.h"
#include "micro/log.h"
#include "micro/plugin/backoff.h"
#include "micro/plugin/query.h"
#include "micro/plugin/registration.h"

namespace micro::etcd {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using KeepAliveStream = grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                                 etcdserverpb::LeaseKeepAliveResponse>;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// One registered node, as this process last wrote it.
struct NodeReg {
  std::string value;
  int64_t lease = 0;           // 0: no TTL, nothing to keep alive
  int64_t ttl_s = 0;           // requested lease TTL
  milliseconds interval{0};    // keepalive period: granted TTL / 3
  milliseconds granted{0};     // granted TTL
  bool lost = false;           // etcd said the lease is gone: put again
  Clock::time_point due;       // next keepalive request
  Clock::time_point answered;  // last keepalive answer (or the put)
  Clock::time_point retry;     // lost and the last re-put failed: not before this
  int failures = 0;
};

class EtcdRegistry : public registry::Registry {
 public:
  explicit EtcdRegistry(std::shared_ptr<EtcdClient> client) : client_(std::move(client)) {}

  ~EtcdRegistry() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (keeper_.joinable()) keeper_.join();
  }

  absl::Status Register(const registry::Service& service,
                        const registry::RegisterOptions& options) override {
    if (absl::Status s = plugin::CheckRegistration("etcd", service); !s.ok()) return s;
    int64_t ttl_s = 0;
    if (options.ttl.count() > 0) ttl_s = std::max<int64_t>(1, (options.ttl.count() + 999) / 1000);
    for (const registry::Node& node : service.nodes) {
      if (node.id.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("etcd: a node of \"", service.name, "\" has no id"));
      }
      if (absl::Status s =
              RegisterNode(NodeKey(service.name, node.id), NodeValue(service, node), ttl_s);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Deregister(const registry::Service& service) override {
    absl::Status first;
    for (const registry::Node& node : service.nodes) {
      const std::string key = NodeKey(service.name, node.id);
      std::lock_guard<std::mutex> ops(ops_mu_);
      int64_t lease = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = nodes_.find(key);
        if (it != nodes_.end()) {
          lease = it->second.lease;
          leases_.erase(lease);
          nodes_.erase(it);
        }
      }
      etcdserverpb::DeleteRangeRequest req;
      req.set_key(key);
      etcdserverpb::DeleteRangeResponse res;
      absl::Status s = client_->Call(absl::StrCat("delete ", key),
                                     [&](EtcdClient::Member& m, grpc::ClientContext& ctx) {
                                       return m.kv->DeleteRange(&ctx, req, &res);
                                     });
      if (!s.ok() && first.ok()) first = s;
      if (lease != 0) Revoke(lease);
    }
    return first;
  }

  absl::StatusOr<std::vector<registry::Service>> GetService(absl::string_view name) override {
    std::vector<WatchState::Kv> kvs;
    absl::Status s = RangePrefix(*client_, ServicePrefix(name), &kvs, nullptr);
    if (!s.ok()) return s;
    std::vector<registry::Service> out = Group(kvs);
    if (out.empty()) return registry::ServiceNotFoundError(name);
    return out;
  }

  absl::StatusOr<std::vector<registry::Service>> ListServices() override {
    std::vector<WatchState::Kv> kvs;
    absl::Status s = RangePrefix(*client_, std::string(kPrefix), &kvs, nullptr);
    if (!s.ok()) return s;
    return Group(kvs);
  }

  absl::StatusOr<std::unique_ptr<registry::Watcher>> Watch(
      const registry::WatchOptions& options) override {
    return NewEtcdWatcher(client_, options.service);
  }

  std::string String() const override { return client_->Uri(); }

 private:
  // Decoded values grouped into one Service per name and version; bad values
  // are skipped with one warning per key for the registry's lifetime.
  std::vector<registry::Service> Group(const std::vector<WatchState::Kv>& kvs) {
    std::map<std::pair<std::string, std::string>, registry::Service> by_version;
    for (const WatchState::Kv& kv : kvs) {
      absl::StatusOr<registry::Service> s = DecodeNode(kv.key, kv.value);
      if (!s.ok()) {
        WarnOnce(kv.key, std::string(s.status().message()));
        continue;
      }
      auto [it, fresh] = by_version.try_emplace({s->name, s->version});
      if (fresh) {
        it->second = *s;
        it->second.nodes.clear();
      }
      it->second.nodes.push_back(std::move(s->nodes[0]));
    }
    std::vector<registry::Service> out;
    out.reserve(by_version.size());
    for (auto& [k, svc] : by_version) out.push_back(std::move(svc));
    return out;
  }

  void WarnOnce(const std::string& key, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (bad_keys_.First(key)) log::Warn(absl::StrCat("etcd: skipping ", message));
  }

  absl::StatusOr<std::pair<int64_t, int64_t>> Grant(int64_t ttl_s) {
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl_s);
    etcdserverpb::LeaseGrantResponse res;
    absl::Status s =
        client_->Call("lease grant", [&](EtcdClient::Member& m, grpc::ClientContext& ctx) {
          return m.lease->LeaseGrant(&ctx, req, &res);
        });
    if (!s.ok()) return s;
    if (!res.error().empty()) {
      return absl::UnavailableError(absl::StrCat("etcd lease grant: ", res.error()));
    }
    return std::make_pair(res.id(), res.ttl());
  }

  absl::Status Put(const std::string& key, const std::string& value, int64_t lease) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    req.set_lease(lease);
    etcdserverpb::PutResponse res;
    return client_->Call(absl::StrCat("put ", key),
                         [&](EtcdClient::Member& m, grpc::ClientContext& ctx) {
                           return m.kv->Put(&ctx, req, &res);
                         });
  }

  void Revoke(int64_t lease) {
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(lease);
    etcdserverpb::LeaseRevokeResponse res;
    absl::Status s =
        client_->Call("lease revoke", [&](EtcdClient::Member& m, grpc::ClientContext& ctx) {
          return m.lease->LeaseRevoke(&ctx, req, &res);
        });
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
      log::Debug(absl::StrCat("etcd: revoking lease ", lease, ": ", s.message()));
    }
  }

  // Writes `key` unless it is there already with this value and a live lease.
  // Takes ops_mu_: register, deregister and the keeper's re-puts do not interleave.
  absl::Status RegisterNode(const std::string& key, const std::string& value, int64_t ttl_s) {
    std::lock_guard<std::mutex> ops(ops_mu_);
    int64_t old_lease = 0;
    bool reuse = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = nodes_.find(key);
      if (it != nodes_.end()) {
        const NodeReg& n = it->second;
        if (n.value == value && n.ttl_s == ttl_s && !n.lost) return absl::OkStatus();
        old_lease = n.lease;
        reuse = !n.lost && n.ttl_s == ttl_s && n.lease != 0;
      }
    }
    return Write(key, value, ttl_s, reuse ? old_lease : 0, old_lease);
  }

  // Puts `key` with `lease` (0: a new one when ttl_s > 0) and records it.
  // Caller holds ops_mu_.
  absl::Status Write(const std::string& key, const std::string& value, int64_t ttl_s, int64_t lease,
                     int64_t old_lease) {
    milliseconds granted(ttl_s * 1000);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (ttl_s > 0 && lease == 0) {
        absl::StatusOr<std::pair<int64_t, int64_t>> g = Grant(ttl_s);
        if (!g.ok()) return g.status();
        lease = g->first;
        granted = milliseconds(g->second * 1000);
      }
      absl::Status s = Put(key, value, lease);
      if (s.code() == absl::StatusCode::kNotFound && lease != 0 && attempt == 0) {
        lease = 0;  // the lease we meant to reuse expired meanwhile: take a new one
        continue;
      }
      if (!s.ok()) return s;
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      NodeReg& n = nodes_[key];
      if (n.lease != 0 && n.lease != lease) leases_.erase(n.lease);
      if (n.lease == lease && n.granted.count() > 0) granted = n.granted;
      n.value = value;
      n.lease = lease;
      n.ttl_s = ttl_s;
      n.granted = granted;
      n.interval = std::max(milliseconds(500), granted / 3);
      n.lost = false;
      n.failures = 0;
      n.answered = Clock::now();
      n.due = n.answered + n.interval;
      if (lease != 0) {
        leases_[lease] = key;
        if (!keeper_.joinable()) keeper_ = std::thread([this] { Keep(); });
      }
    }
    cv_.notify_all();
    if (old_lease != 0 && old_lease != lease) Revoke(old_lease);
    return absl::OkStatus();
  }

  // The keeper: one LeaseKeepAlive stream for every lease of this registry,
  // a request per lease every TTL/3, and a new lease for a node whose lease
  // etcd no longer knows.
  void Keep() {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<KeepAliveStream> stream;
    std::shared_ptr<EtcdClient::Member> stream_member;  // keeps the channel alive
    std::thread reader;
    std::size_t member = 0;
    int failures = 0;
    auto close = [&](bool failed) {
      if (!stream) return;
      bool reader_done;
      {
        std::lock_guard<std::mutex> l(mu_);
        reader_done = reader_done_;
      }
      // A stream that ended by itself keeps etcd's status for the log.
      if (!reader_done || !failed) context->TryCancel();
      reader.join();
      grpc::Status st = stream->Finish();
      if (failed) {
        client_->StreamFailed(member, st);
        if (failures++ == 0) {
          log::Warn(absl::StrCat("etcd: lease keepalive stream lost (", st.error_message(),
                                 "); reconnecting"));
        }
      }
      stream.reset();
      context.reset();
      stream_member.reset();
    };
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      // Nodes whose lease is gone: put them again with a new lease.
      std::vector<std::string> lost;
      const Clock::time_point now = Clock::now();
      Clock::time_point next = now + std::chrono::seconds(60);
      for (auto& [key, n] : nodes_) {
        if (!n.lost) continue;
        if (n.retry <= now) lost.push_back(key);
        next = std::min(next, n.retry);
      }
      if (!lost.empty()) {
        lock.unlock();
        for (const std::string& key : lost) Reput(key);
        lock.lock();
        continue;
      }
      if (stream_answered_) {
        stream_answered_ = false;
        if (failures > 0) log::Info("etcd: lease keepalive stream back");
        failures = 0;
      }
      if (leases_.empty()) {
        if (stream) {
          lock.unlock();
          close(false);
          lock.lock();
        }
        cv_.wait_until(lock, next);
        continue;
      }
      if (stream_broken_ && stream) {
        lock.unlock();
        close(true);
        lock.lock();
        continue;
      }
      if (!stream) {
        if (failures > 0 &&
            cv_.wait_for(lock, plugin::RetryBackoff(failures), [&] { return stop_; })) {
          break;
        }
        lock.unlock();
        absl::StatusOr<EtcdClient::Stream> s = client_->OpenStream(false);
        lock.lock();
        if (!s.ok()) {
          failures++;
          continue;
        }
        member = s->index;
        stream_member = s->member;
        context = std::move(s->context);
        stream = s->member->lease->LeaseKeepAlive(context.get());
        stream_broken_ = false;
        reader_done_ = false;
        for (auto& [key, n] : nodes_) {
          n.due = now;  // tell etcd about every lease at once
          n.answered = now;
        }
        reader = std::thread([this, st = stream.get()] { Read(st); });
        continue;
      }
      // Requests that are due; a lease unanswered for longer than its TTL
      // means this member is not getting through: try the next.
      std::vector<int64_t> due;
      bool silent = false;
      for (auto& [key, n] : nodes_) {
        if (n.lease == 0 || n.lost) continue;
        if (now - n.answered > n.granted + n.interval) silent = true;
        if (n.due <= now) {
          due.push_back(n.lease);
          n.due = now + n.interval;
        }
        // Wake a little after the next lease is due (a quarter period, at
        // most 500 ms), so the leases due meanwhile go in the same batch: a
        // few batches a second, not a wakeup per lease, and none sent early.
        next = std::min(next, n.due + std::min(milliseconds(500), n.interval / 4));
      }
      if (silent) {
        log::Warn("etcd: no keepalive answer within a lease TTL; trying the next member");
        for (auto& [key, n] : nodes_) n.answered = now;
        stream_broken_ = true;
        continue;
      }
      if (!due.empty()) {
        lock.unlock();
        bool ok = true;
        for (std::size_t i = 0; i < due.size() && ok; ++i) {
          etcdserverpb::LeaseKeepAliveRequest req;
          req.set_id(due[i]);
          // One flush for the batch, not one TCP segment per lease.
          grpc::WriteOptions wo;
          if (i + 1 < due.size()) wo.set_buffer_hint();
          ok = stream->Write(req, wo);
        }
        lock.lock();
        if (!ok) stream_broken_ = true;
        continue;
      }
      cv_.wait_until(lock, next);
    }
    lock.unlock();
    close(false);
  }

  // The keepalive stream's reader: records answers, marks lost leases.
  void Read(KeepAliveStream* stream) {
    etcdserverpb::LeaseKeepAliveResponse res;
    bool ok_seen = false;
    while (stream->Read(&res)) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = leases_.find(res.id());
      if (it == leases_.end()) continue;
      auto node = nodes_.find(it->second);
      if (node == nodes_.end()) continue;
      NodeReg& n = node->second;
      if (res.ttl() <= 0) {
        log::Info(absl::StrCat("etcd: the lease of ", it->second,
                               " expired; registering it again with a new lease"));
        n.lost = true;
        leases_.erase(it);
        cv_.notify_all();
      } else {
        n.answered = Clock::now();
        if (!ok_seen) {
          ok_seen = true;
          stream_answered_ = true;
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    stream_broken_ = true;
    reader_done_ = true;
    cv_.notify_all();
  }

  void Reput(const std::string& key) {
    std::lock_guard<std::mutex> ops(ops_mu_);
    std::string value;
    int64_t ttl_s = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = nodes_.find(key);
      if (it == nodes_.end() || !it->second.lost) return;  // deregistered or done meanwhile
      value = it->second.value;
      ttl_s = it->second.ttl_s;
    }
    absl::Status s = Write(key, value, ttl_s, 0, 0);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(key);
    if (it == nodes_.end()) return;
    if (s.ok()) {
      log::Info(absl::StrCat("etcd: ", key, " registered again"));
      return;
    }
    NodeReg& n = it->second;
    if (n.failures++ == 0)
      log::Warn(absl::StrCat("etcd: registering ", key, " again: ", s.message()));
    n.retry = Clock::now() + plugin::RetryBackoff(n.failures);
  }

  const std::shared_ptr<EtcdClient> client_;
  std::mutex ops_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, NodeReg> nodes_;   // guarded by mu_, by key
  std::map<int64_t, std::string> leases_;  // guarded by mu_: live lease -> key
  plugin::Reported bad_keys_{10000};       // guarded by mu_
  bool stream_broken_ = false;             // guarded by mu_
  bool reader_done_ = false;               // guarded by mu_: Read() returned false
  bool stream_answered_ = false;           // guarded by mu_: the new stream works
  bool stop_ = false;                      // guarded by mu_
  std::thread keeper_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<registry::Registry>> NewEtcdRegistry(EtcdOptions options) {
  absl::StatusOr<std::shared_ptr<EtcdClient>> client = EtcdClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  return std::unique_ptr<registry::Registry>(new EtcdRegistry(std::move(*client)));
}

absl::StatusOr<EtcdOptions> EtcdOptionsFrom(const registry::RegistryAddress& address) {
  EtcdOptions o;
  if (!address.hosts.empty()) o.endpoints = address.hosts;
  o.username = Env("ETCD_USERNAME");
  o.password = Env("ETCD_PASSWORD");
  static const char* const kKnown[] = {"username", "password", "tls",    "ca",
                                       "cert",     "key",      "timeout"};
  for (const auto& [key, value] : address.params) {
    const std::string what = absl::StrCat("registry \"", address.uri, "\" parameter ", key);
    if (key == "username") {
      o.username = value;
    } else if (key == "password") {
      o.password = value;
    } else if (key == "ca") {
      o.ca_file = value;
    } else if (key == "cert") {
      o.cert_file = value;
    } else if (key == "key") {
      o.key_file = value;
    } else if (key == "tls") {
      absl::StatusOr<bool> b = plugin::ParseBoolParam(what, value);
      if (!b.ok()) return b.status();
      o.tls = *b;
    } else if (key == "timeout") {
      absl::StatusOr<milliseconds> d = plugin::ParseDurationParam(what, value);
      if (!d.ok()) return d.status();
      o.timeout = *d;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("registry \"", address.uri, "\": unknown parameter \"", key,
                       "\" (known: ", absl::StrJoin(kKnown, ", "), ")"));
    }
  }
  if (o.username.empty() != o.password.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "registry \"", address.uri,
        "\": give both username and password (or ETCD_USERNAME and ETCD_PASSWORD), or neither"));
  }
  return o;
}

}  // namespace micro::etcd
