#include "server/registrar.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/net.h"
#include "micro/log.h"
#include "micro/metrics.h"

namespace micro::server::detail {
namespace {

// Gives memory that calls and connections freed back to the system: glibc keeps freed heap
// pages otherwise, so a burst (a stream flood) would hold its peak for good.
void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace

std::string HealthUrl(const std::string& listen, const std::string& advertised) {
  std::string host, ahost;
  int port = 0, aport = 0;
  if (listen.empty() || !internal::SplitHostPort(listen, &host, &port).ok() || port == 0) return "";
  if (internal::IsUnspecified(host)) {
    if (!internal::SplitHostPort(advertised, &ahost, &aport).ok()) return "";
    host = ahost;
  }
  return absl::StrCat("http://", internal::JoinHostPort(host, port), "/health");
}

Registrar::Registrar(const ServerOptions& options, registry::Service registration,
                     std::function<void(bool)> serving)
    : options_(options), registration_(std::move(registration)), serving_fn_(std::move(serving)) {
  register_options_.ttl = options_.register_ttl;
  if (!registration_.nodes.empty()) {
    register_options_.health_url =
        HealthUrl(options_.health_address, registration_.nodes.front().address);
  }
}

Registrar::~Registrar() { StopLoop(); }

absl::Status Registrar::Check() {
  absl::Status c = options_.register_check ? options_.register_check() : absl::OkStatus();
  if (check_ok_.exchange(c.ok()) != c.ok()) Tell();
  return c;
}

void Registrar::Tell() {
  std::lock_guard<std::mutex> l(tell_mu_);
  if (serving_fn_) serving_fn_(serving_ && check_ok_);
}

void Registrar::SetServing(bool serving) {
  if (serving_.exchange(serving) == serving) return;
  log::Info(absl::StrCat("server ", options_.name, " (", options_.id,
                         "): ", serving ? "serving again" : "marked not serving"));
  Tell();
}

bool Registrar::Ready() const { return registered_ && serving_ && check_ok_ && !stopping_; }

absl::Status Registrar::RegisterOnce() {
  if (absl::Status c = Check(); !c.ok())
    return absl::FailedPreconditionError(absl::StrCat("register check failed: ", c.message()));
  absl::Status s = options_.registry->Register(registration_, register_options_);
  metrics::CountRegistration(options_.name, s.ok());
  registered_ = s.ok();
  if (!s.ok()) failures_ = 1;
  return s;
}

void Registrar::StartLoop() {
  stopping_ = false;
  loop_ = std::thread([this] { Loop(); });
}

void Registrar::StopLoop() {
  {
    std::lock_guard<std::mutex> l(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

absl::Status Registrar::Deregister() {
  registered_ = false;
  return options_.registry->Deregister(registration_);
}

// Re-registers every register_interval; while unregistered, sooner: after 1 s, doubling up to
// register_interval.
void Registrar::Loop() {
  std::unique_lock<std::mutex> l(loop_mu_);
  const std::chrono::milliseconds first_retry =
      std::min<std::chrono::milliseconds>(std::chrono::seconds(1), options_.register_interval);
  std::chrono::milliseconds retry = first_retry;
  auto wait = [&] {
    if (registered_) {
      retry = first_retry;
      return options_.register_interval;
    }
    std::chrono::milliseconds w = retry;
    retry = std::min(retry * 2, options_.register_interval);
    return w;
  };
  while (!loop_cv_.wait_for(l, wait(), [this] { return stopping_.load(); })) {
    if (options_.release_memory) ReleaseFreeMemory();
    if (absl::Status c = Check(); !c.ok()) {
      if (registered_) {
        log::Warn(absl::StrCat("server ", options_.name,
                               ": register check failed, deregistering: ", c.message()));
        (void)options_.registry->Deregister(registration_);
        registered_ = false;
      }
      continue;
    }
    absl::Status s = options_.registry->Register(registration_, register_options_);
    metrics::CountRegistration(options_.name, s.ok());
    // Once per episode: the first failure, then the recovery with how many failed between.
    if (!s.ok()) {
      if (failures_++ == 0) {
        log::Warn(absl::StrCat("server ", options_.name, ": re-register failed: ", s.message(),
                               "; retrying (logged again when it works)"));
      }
    } else if (!registered_) {
      log::Info(absl::StrCat(
          "server ", options_.name, " (", options_.id, "): registered as ",
          registration_.nodes.front().address, " in ", options_.registry->String(),
          failures_ > 0 ? absl::StrCat(" after ", failures_, " failed tries") : std::string()));
      failures_ = 0;
    }
    registered_ = s.ok();
  }
}

}  // namespace micro::server::detail
