#include "client/pool.h"

#include "core/tls_config.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

namespace micro::internal {

ChannelPool::ChannelPool(std::size_t max, std::chrono::milliseconds ttl, tls::Options tls)
    : max_(max), ttl_(ttl), tls_(std::move(tls)) {
  if (tls_.client_enabled()) tls_credentials_ = ChannelCredentials(tls_);
}

std::shared_ptr<ChannelPool::Conn> ChannelPool::Get(const std::string& address, bool tls) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  if (now - last_sweep_ > ttl_ / 2 || slots_.size() >= max_) Sweep(now);
  auto it = slots_.find(address);
  if (it != slots_.end() && it->second.tls != tls) {
    slots_.erase(it);  // the node changed how it serves
    it = slots_.end();
  }
  if (it == slots_.end()) {
    grpc::ChannelArguments args;
    // Calls carry their own deadlines; reconnect quickly to a node that came back.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (tls && tls_credentials_ != nullptr) {
      credentials = tls_credentials_;
      AddTlsChannelArgs(tls_, &args);
    }
    auto channel = grpc::CreateCustomChannel(address, credentials, args);
    it = slots_.emplace(address, Slot{std::make_shared<Conn>(std::move(channel)), tls, now}).first;
  }
  it->second.last_used = now;
  return it->second.conn;
}

std::size_t ChannelPool::size() {
  std::lock_guard<std::mutex> l(mu_);
  return slots_.size();
}

void ChannelPool::Sweep(std::chrono::steady_clock::time_point now) {
  last_sweep_ = now;
  for (auto it = slots_.begin(); it != slots_.end();) {
    auto cur = it++;
    if (now - cur->second.last_used > ttl_) slots_.erase(cur);
  }
  // Still full: drop the least recently used.
  while (slots_.size() >= max_ && !slots_.empty()) {
    auto oldest = slots_.begin();
    for (auto it = slots_.begin(); it != slots_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    slots_.erase(oldest);
  }
}

}  // namespace micro::internal
