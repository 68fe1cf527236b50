// A real nats-server (Debian's nats-server package) on loopback ports, alone or as a member of a
// cluster (routes between members), for the NATS broker's tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "process.h"
#include "test_util.h"

namespace micro::testing {

class NatsServer {
 public:
  // `routes`: the cluster ports of the other members ("" cluster: alone).
  NatsServer(const std::string& log, int cluster_port = 0, std::vector<int> routes = {})
      : port_(StablePort()), cluster_port_(cluster_port), routes_(std::move(routes)), log_(log) {
    Start();
  }

  void Start() {
    std::vector<std::string> argv = {"nats-server", "-a", "127.0.0.1", "-p", std::to_string(port_)};
    if (cluster_port_ != 0) {
      argv.insert(argv.end(), {"--cluster_name", "micro-test", "--cluster",
                               "nats://127.0.0.1:" + std::to_string(cluster_port_)});
      std::string r;
      for (int p : routes_) r += (r.empty() ? "" : ",") + ("nats://127.0.0.1:" + std::to_string(p));
      if (!r.empty()) argv.insert(argv.end(), {"--routes", r});
    }
    process_ = std::make_unique<Process>(argv, log_);
  }
  void Kill() { process_.reset(); }  // SIGKILL

  // Accepting clients (its port answers).
  bool WaitReady() {
    return Eventually([&] { return ReadFile(log_).find("Server is ready") != std::string::npos; });
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_, cluster_port_;
  std::vector<int> routes_;
  std::string log_;
  std::unique_ptr<Process> process_;
};

}  // namespace micro::testing
