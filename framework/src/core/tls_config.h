// Internal: micro::tls::Options turned into what gRPC and Boost.Asio need.
#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "micro/registry/service.h"
#include "micro/tls.h"

namespace micro::internal {

// gRPC credentials that re-read the files every reload_interval. Call tls::Check first: these do
// not report bad files (gRPC only logs them and fails handshakes).
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const tls::Options& options);
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const tls::Options& options);
// Channel arguments a TLS channel needs (the server name override).
void AddTlsChannelArgs(const tls::Options& options, grpc::ChannelArguments* args);

// Node metadata key a server advertises its transport in: "true" (TLS) or "false".
inline constexpr char kSecureKey[] = "secure";

// What a client does with a node: call it over TLS, in plain text, or skip it (with the reason).
enum class NodeTransport { kTls, kPlain, kSkip };
NodeTransport TransportFor(const tls::Options& client, const registry::Node& node);
// Why every node of `service` was skipped.
std::string SkipReason(const tls::Options& client, const std::string& service);

// A Boost.Asio SSL context for one side, rebuilt when the files change (checked at most every
// reload_interval). Thread-safe. Contexts handed out stay valid while their holders keep them.
class SslContexts {
 public:
  SslContexts(tls::Options options, tls::Side side);
  // The current context; an error when the files cannot be loaded now.
  absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> Get();
  const tls::Options& options() const { return options_; }

 private:
  absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> Build() const;
  std::string Stamp() const;  // the files' sizes and modification times

  const tls::Options options_;
  const tls::Side side_;
  std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mu_
  std::string stamp_;                                   // guarded by mu_
  std::chrono::steady_clock::time_point checked_{};     // guarded by mu_
};

// A failed TLS call's status with what it most likely means added, for the errors whose words do
// not say: a certificate "verify failed", a name check, and a connection closed right after the
// handshake by a server when this client presents no certificate (`client`'s options).
grpc::Status TlsHint(const grpc::Status& status, const tls::Options& client);

// A client SSL handle for a server that must prove it is `name` (a host name or an IP address):
// SNI (names only), OpenSSL's own name check (so a mismatch is reported as one: "hostname
// mismatch", "IP address mismatch") and ALPN "h2" (gRPC servers expect it).
void PrepareClientSsl(SSL* ssl, const std::string& name);
// An OpenSSL error queue and verify result in words ("certificate has expired").
std::string SslErrorText(SSL* ssl, const boost::system::error_code& ec);

}  // namespace micro::internal
