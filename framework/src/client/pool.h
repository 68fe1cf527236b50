// Internal: channels to nodes, one per address, reused; idle ones close.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "micro/tls.h"

namespace micro::internal {

class ChannelPool {
 public:
  struct Conn {
    std::shared_ptr<grpc::Channel> channel;
    grpc::GenericStub stub;
    explicit Conn(std::shared_ptr<grpc::Channel> c) : channel(c), stub(c) {}
  };

  ChannelPool(std::size_t max, std::chrono::milliseconds ttl, tls::Options tls);

  // The channel to `address`, over TLS or in plain text, made on first use.
  std::shared_ptr<Conn> Get(const std::string& address, bool tls);
  std::size_t size();

 private:
  struct Slot {
    std::shared_ptr<Conn> conn;
    bool tls = false;
    std::chrono::steady_clock::time_point last_used;
  };
  void Sweep(std::chrono::steady_clock::time_point now);

  const std::size_t max_;
  const std::chrono::milliseconds ttl_;
  const tls::Options tls_;
  std::shared_ptr<grpc::ChannelCredentials> tls_credentials_;  // made once: they watch the files
  std::mutex mu_;
  absl::flat_hash_map<std::string, Slot> slots_;
  std::chrono::steady_clock::time_point last_sweep_{};
};

}  // namespace micro::internal
