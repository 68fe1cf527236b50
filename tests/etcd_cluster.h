// Real etcd for tests: one member or a cluster of several, Debian's
// etcd-server (deploy/install-deps.sh installs it) on loopback ports outside
// the ephemeral range, each member with its own data directory and log file.
// Members can be killed and started again on the same ports and data. Raw
// access (put, get, compact, status) goes through the plugin's own gRPC client.
#pragma once

#include <signal.h>
#include <stdio.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "etcd_client.h"
#include "etcd_codec.h"
#include "process.h"
#include "test_util.h"

namespace micro::testing {

inline std::string EtcdTempDir(const std::string& base, const std::string& prefix) {
  std::string t = base + "/" + prefix + "-XXXXXX";
  if (mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return t;
}

class EtcdCluster {
 public:
  // `extra` goes to every member's command line; data and logs go under
  // `base` (the benchmark uses /dev/shm, so disk syncs do not drown the figures).
  // With `tls`, clients talk https to members serving tls.cert/tls.key, and
  // Client() trusts tls.ca.
  struct Tls {
    std::string ca, cert, key;
  };
  explicit EtcdCluster(int size = 1, std::vector<std::string> extra = {},
                       const std::string& base = "/tmp", Tls tls = {})
      : extra_(std::move(extra)), tls_(std::move(tls)) {
    dir_ = EtcdTempDir(base, "etcd-test");
    std::vector<std::string> initial;
    for (int i = 0; i < size; ++i) {
      Member m;
      m.name = "m" + std::to_string(i);
      m.client_port = StablePort();
      m.peer_port = StablePort();
      initial.push_back(absl::StrCat(m.name, "=http://127.0.0.1:", m.peer_port));
      members_.push_back(std::move(m));
    }
    initial_cluster_ = absl::StrJoin(initial, ",");
    for (int i = 0; i < size; ++i) Start(i);
  }
  ~EtcdCluster() {
    for (int i = 0; i < size(); ++i) Kill(i);
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir_.c_str());
  }

  int size() const { return static_cast<int>(members_.size()); }
  std::string endpoint(int i) const {
    return "127.0.0.1:" + std::to_string(members_[i].client_port);
  }
  int client_port(int i) const { return members_[i].client_port; }
  std::string endpoints() const {
    std::vector<std::string> e;
    for (int i = 0; i < size(); ++i) e.push_back(endpoint(i));
    return absl::StrJoin(e, ",");
  }
  std::string uri() const { return "etcd://" + endpoints(); }

  // Starts member `i` (again: same ports, same data).
  void Start(int i) {
    Member& m = members_[i];
    std::string data = absl::StrCat(dir_, "/", m.name);
    std::string client = (tls_.cert.empty() ? "http://" : "https://") + endpoint(i);
    std::string peer = absl::StrCat("http://127.0.0.1:", m.peer_port);
    std::vector<std::string> args{"etcd",
                                  "--name",
                                  m.name,
                                  "--data-dir",
                                  data,
                                  "--listen-client-urls",
                                  client,
                                  "--advertise-client-urls",
                                  client,
                                  "--listen-peer-urls",
                                  peer,
                                  "--initial-advertise-peer-urls",
                                  peer,
                                  "--initial-cluster",
                                  initial_cluster_,
                                  "--initial-cluster-token",
                                  dir_,
                                  "--logger",
                                  "zap",
                                  "--log-level",
                                  "warn"};
    if (!tls_.cert.empty()) {
      args.insert(args.end(), {"--cert-file", tls_.cert, "--key-file", tls_.key});
    }
    args.insert(args.end(), extra_.begin(), extra_.end());
    m.process = std::make_unique<Process>(args, absl::StrCat(dir_, "/", m.name, ".log"));
  }

  void Kill(int i) {
    Member& m = members_[i];
    if (m.process) {
      m.process->Signal(SIGKILL);
      m.process->Wait();
      m.process.reset();
    }
  }
  // Removes member `i`'s data (kill it first): it starts again as a new, empty store.
  void Wipe(int i) {
    std::string cmd = absl::StrCat("rm -rf '", dir_, "/", members_[i].name, "'");
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("cannot wipe " + cmd);
  }
  pid_t pid(int i) const { return members_[i].process ? members_[i].process->pid() : -1; }
  bool running(int i) const { return members_[i].process != nullptr; }

  // Every running member answers and knows a leader.
  bool WaitReady(std::chrono::seconds deadline = std::chrono::seconds(60)) {
    bool ok = Eventually(
        [&] {
          for (int i = 0; i < size(); ++i) {
            if (running(i) && Status(i).leader() == 0) return false;
          }
          return true;
        },
        deadline);
    if (!ok) {
      for (int i = 0; i < size(); ++i) std::fprintf(stderr, "%s", Log(i).c_str());
    }
    return ok;
  }

  // The index of the member that leads now, or -1.
  int Leader() {
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      etcdserverpb::StatusResponse s = Status(i);
      if (s.leader() != 0 && s.leader() == s.header().member_id()) return i;
    }
    return -1;
  }

  etcdserverpb::StatusResponse Status(int i) {
    etcdserverpb::StatusResponse res;
    auto c = Client(i);
    etcdserverpb::StatusRequest req;
    (void)c->Call("status", [&](etcd::EtcdClient::Member& m, grpc::ClientContext& ctx) {
      return m.maintenance->Status(&ctx, req, &res);
    });
    return res;
  }

  // Raw access to the store through member `i` (as `user`, if given).
  std::shared_ptr<etcd::EtcdClient> Client(int i, const std::string& user = "",
                                           const std::string& password = "") {
    etcd::EtcdOptions o;
    o.endpoints = {endpoint(i)};
    o.username = user;
    o.password = password;
    o.timeout = std::chrono::seconds(3);
    if (!tls_.ca.empty()) {
      o.tls = true;
      o.ca_file = tls_.ca;
    }
    return *etcd::EtcdClient::Create(o);
  }

  std::string Log(int i) const {
    std::ifstream in(absl::StrCat(dir_, "/", members_[i].name, ".log"));
    std::stringstream s;
    s << in.rdbuf();
    return absl::StrCat("--- etcd ", members_[i].name, " log:\n", s.str());
  }

  // etcdctl against member 0 (v3 API); its output, or "" when it fails.
  std::string Etcdctl(const std::string& args, int member = 0) {
    std::string cmd =
        absl::StrCat("ETCDCTL_API=3 etcdctl --endpoints ", endpoint(member), " ", args, " 2>&1");
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return "";
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    int rc = pclose(p);
    if (rc != 0) {
      std::fprintf(stderr, "etcdctl %s failed: %s\n", args.c_str(), out.c_str());
      return "";
    }
    return out.empty() ? "ok" : out;
  }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::unique_ptr<Process> process;
  };
  std::vector<std::string> extra_;
  Tls tls_;
  std::string dir_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

// Raw reads and writes for tests.
inline etcdserverpb::RangeResponse EtcdRange(etcd::EtcdClient& c, const std::string& prefix) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(etcd::PrefixEnd(prefix));
  etcdserverpb::RangeResponse res;
  absl::Status s = c.Call("range", [&](etcd::EtcdClient::Member& m, grpc::ClientContext& ctx) {
    return m.kv->Range(&ctx, req, &res);
  });
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  return res;
}

inline int64_t EtcdPut(etcd::EtcdClient& c, const std::string& key, const std::string& value) {
  etcdserverpb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  etcdserverpb::PutResponse res;
  absl::Status s = c.Call("put", [&](etcd::EtcdClient::Member& m, grpc::ClientContext& ctx) {
    return m.kv->Put(&ctx, req, &res);
  });
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  return res.header().revision();
}

inline int64_t EtcdDelete(etcd::EtcdClient& c, const std::string& key) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(key);
  etcdserverpb::DeleteRangeResponse res;
  absl::Status s = c.Call("delete", [&](etcd::EtcdClient::Member& m, grpc::ClientContext& ctx) {
    return m.kv->DeleteRange(&ctx, req, &res);
  });
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
  return res.header().revision();
}

inline void EtcdCompact(etcd::EtcdClient& c, int64_t revision) {
  etcdserverpb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(true);
  etcdserverpb::CompactionResponse res;
  absl::Status s = c.Call("compact", [&](etcd::EtcdClient::Member& m, grpc::ClientContext& ctx) {
    return m.kv->Compact(&ctx, req, &res);
  });
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
}

}  // namespace micro::testing
