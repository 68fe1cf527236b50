// Internal: keeps a server's node registered. Registers once at Start, then every
// register_interval (sooner, with backoff, while unregistered), runs the register check
// (a failing one deregisters the node), logs failures once per episode, and tracks
// what the HTTP health endpoint answers: Ready() = registered, serving, not stopping.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "micro/registry/service.h"
#include "micro/server/options.h"

namespace micro::server::detail {

class Registrar {
 public:
  // `options` outlives the registrar; `serving` is told whether grpc.health.v1 should
  // answer SERVING (SetServing and the register check), on the caller's or the loop thread.
  Registrar(const ServerOptions& options, registry::Service registration,
            std::function<void(bool)> serving);
  ~Registrar();  // stops the loop

  // Registered as RegisterOptions::health_url instead of the one options.health_address
  // gives (an HTTPS endpoint, say); before RegisterOnce.
  void set_health_url(std::string url) { register_options_.health_url = std::move(url); }
  absl::Status RegisterOnce();  // the first registration (Start's thread)
  void StartLoop();
  void StopLoop();  // joins the loop; Ready() is false from here
  absl::Status Deregister();

  void SetServing(bool serving);
  bool Ready() const;
  bool registered() const { return registered_; }
  const registry::Service& registration() const { return registration_; }
  const registry::RegisterOptions& register_options() const { return register_options_; }

 private:
  void Loop();
  absl::Status Check();  // runs register_check; tells `serving_fn_` when it flips
  void Tell();

  const ServerOptions& options_;
  const registry::Service registration_;
  registry::RegisterOptions register_options_;
  const std::function<void(bool)> serving_fn_;
  std::atomic<bool> registered_{false};
  std::atomic<bool> serving_{true};
  std::atomic<bool> check_ok_{true};
  int failures_ = 0;  // re-registrations failed in a row; the loop thread only
  std::mutex tell_mu_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  std::atomic<bool> stopping_{false};
  std::thread loop_;
};

// "http://<host>:<port>/health" for a health endpoint listening on `listen`, with the node's
// advertised host in place of an unspecified listen host; "" when `listen` is empty or invalid.
std::string HealthUrl(const std::string& listen, const std::string& advertised);

}  // namespace micro::server::detail
