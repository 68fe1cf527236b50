// A real Consul agent for tests: `consul agent -dev` (or a server of a
// cluster) on free loopback ports, killed when the object goes. The binary is
// the one deploy/install-deps.sh installs (Debian 11's consul 1.8.7), found as
// $MICRO_CONSUL_BIN, /usr/local/bin/consul or on PATH. Its log goes to a file
// in the test's temporary directory, printed when the agent does not start.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.h"
#include "process.h"
#include "test_util.h"

namespace micro::testing {

inline std::string ConsulBinary() {
  if (const char* b = std::getenv("MICRO_CONSUL_BIN")) return b;
  if (access("/usr/local/bin/consul", X_OK) == 0) return "/usr/local/bin/consul";
  return "consul";
}

inline std::string TempDir(const std::string& prefix) {
  std::string t = "/tmp/" + prefix + "-XXXXXX";
  if (mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return t;
}

struct ConsulAgentOptions {
  bool dev = true;                // dev mode: in memory, its own leader
  std::string hcl;                // extra configuration, e.g. ACLs
  std::string node = "dev";       // node name
  bool server = true;             // dev = false: a server, or a client agent
  int bootstrap_expect = 0;       // servers of a cluster (dev = false)
  std::vector<std::string> join;  // serf LAN addresses to retry-join
};

class ConsulAgent {
 public:
  using Options = ConsulAgentOptions;

  ConsulAgent() : ConsulAgent(Options()) {}
  explicit ConsulAgent(Options options) : options_(std::move(options)) {
    http_port_ = StablePort();
    server_port_ = StablePort();
    serf_lan_port_ = StablePort();
    serf_wan_port_ = StablePort();
    dir_ = TempDir("consul-" + options_.node);
    Start();
  }
  ~ConsulAgent() { Kill(); }

  std::string http_address() const { return "127.0.0.1:" + std::to_string(http_port_); }
  std::string serf_address() const { return "127.0.0.1:" + std::to_string(serf_lan_port_); }
  std::string server_address() const { return "127.0.0.1:" + std::to_string(server_port_); }
  std::string uri() const { return "consul://" + http_address(); }
  const std::string& log_path() const { return log_; }

  // Starts the agent again on the same ports (a dev agent starts empty).
  void Start() {
    std::vector<std::string> args{ConsulBinary(),   "agent",
                                  "-node",          options_.node,
                                  "-bind",          "127.0.0.1",
                                  "-client",        "127.0.0.1",
                                  "-http-port",     std::to_string(http_port_),
                                  "-server-port",   std::to_string(server_port_),
                                  "-serf-lan-port", std::to_string(serf_lan_port_),
                                  "-serf-wan-port", std::to_string(serf_wan_port_),
                                  "-dns-port",      "-1",
                                  "-grpc-port",     "-1",
                                  "-log-level",     "warn"};
    if (options_.dev) {
      args.push_back("-dev");
    } else if (!options_.server) {
      args.insert(args.end(), {"-data-dir", dir_ + "/data"});
      for (const std::string& j : options_.join) args.insert(args.end(), {"-retry-join", j});
    } else {
      args.insert(args.end(), {"-server", "-data-dir", dir_ + "/data", "-bootstrap-expect",
                               std::to_string(options_.bootstrap_expect), "-hcl",
                               "performance { raft_multiplier = 1 }"});
      for (const std::string& j : options_.join) args.insert(args.end(), {"-retry-join", j});
    }
    if (!options_.hcl.empty()) args.insert(args.end(), {"-hcl", options_.hcl});
    log_ = dir_ + "/consul.log";
    process_ = std::make_unique<Process>(args, log_);
  }

  // SIGSTOP, SIGCONT...
  void Signal(int sig) {
    if (process_) process_->Signal(sig);
  }

  // SIGTERM, as `docker stop` sends: a client agent leaves the cluster (leave_on_terminate).
  void Terminate() {
    if (process_) {
      process_->Signal(SIGTERM);
      process_->Wait();
      process_.reset();
    }
  }

  void Kill() {
    if (process_) {
      process_->Signal(SIGKILL);
      process_->Wait();
      process_.reset();
    }
  }

  // The agent answers and its cluster has a leader.
  bool WaitReady(std::chrono::seconds deadline = std::chrono::seconds(60)) {
    bool ok = Eventually([&] { return !Leader().empty(); }, deadline);
    if (!ok) {
      std::ifstream in(log_);
      std::stringstream s;
      s << in.rdbuf();
      std::fprintf(stderr, "consul did not become ready; its log:\n%s\n", s.str().c_str());
    }
    return ok;
  }

  // The leader's server address ("127.0.0.1:port"), or empty.
  std::string Leader() {
    auto r = Http("GET", "/v1/status/leader");
    if (!r.ok() || r->status != 200 || r->body.size() < 3) return "";
    return r->body.substr(1, r->body.find('"', 1) - 1);
  }

  // The checks the agent holds for service (node) `id`, by CheckID; each is Consul's JSON
  // ({"Status", "Type", "Output", ...}).
  std::map<std::string, nlohmann::json> Checks(const std::string& id) {
    std::map<std::string, nlohmann::json> out;
    auto r = Http("GET", "/v1/agent/checks");
    if (!r.ok() || r->status != 200) return out;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object()) return out;
    for (auto& [check_id, c] : j.items())
      if (c.is_object() && c.value("ServiceID", "") == id) out[check_id] = c;
    return out;
  }

  // The agent has service `id` registered (critical or not).
  bool HasService(const std::string& id) {
    auto r = Http("GET", "/v1/agent/service/" + id);
    return r.ok() && r->status == 200;
  }

  absl::StatusOr<consul::HttpResponse> Http(const std::string& method, const std::string& target,
                                            const std::string& body = "",
                                            const std::string& token = "") {
    if (!http_) {
      consul::HttpOptions o;
      o.addresses = {http_address()};
      o.connect_timeout = std::chrono::seconds(2);
      http_ = std::move(*consul::HttpClient::New(o));
    }
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("X-Consul-Token", token);
    return http_->Do(method, target, body, headers, std::chrono::seconds(10));
  }

 private:
  Options options_;
  int http_port_, server_port_, serf_lan_port_, serf_wan_port_;
  std::string dir_, log_;
  std::unique_ptr<Process> process_;
  std::unique_ptr<consul::HttpClient> http_;
};

}  // namespace micro::testing
