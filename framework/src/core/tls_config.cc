#include "core/tls_config.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/str_cat.h"

namespace micro::internal {
namespace {

namespace ssl = boost::asio::ssl;

unsigned Interval(const tls::Options& o) {
  return static_cast<unsigned>(std::max<long>(1, static_cast<long>(o.reload_interval.count())));
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider(const tls::Options& o,
                                                                           bool identity,
                                                                           bool roots) {
  using grpc::experimental::FileWatcherCertificateProvider;
  if (identity && roots) {
    return std::make_shared<FileWatcherCertificateProvider>(o.key_file, o.cert_file, o.ca_file,
                                                            Interval(o));
  }
  if (identity) {
    return std::make_shared<FileWatcherCertificateProvider>(o.key_file, o.cert_file, Interval(o));
  }
  if (roots) return std::make_shared<FileWatcherCertificateProvider>(o.ca_file, Interval(o));
  return nullptr;
}

std::string FileStamp(const std::string& path) {
  if (path.empty()) return "-";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "?";
  return absl::StrCat(st.st_size, ".", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ".", st.st_ino);
}

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const tls::Options& o) {
  if (!o.server_enabled()) return grpc::InsecureServerCredentials();
  grpc::experimental::TlsServerCredentialsOptions options(Provider(o, true, o.client_auth));
  options.watch_identity_key_cert_pairs();
  if (o.client_auth) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const tls::Options& o) {
  if (!o.client_enabled()) return grpc::InsecureChannelCredentials();
  bool identity = o.server_enabled(), roots = !o.ca_file.empty();
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (auto provider = Provider(o, identity, roots)) options.set_certificate_provider(provider);
  if (identity) options.watch_identity_key_cert_pairs();
  if (roots) options.watch_root_certs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

void AddTlsChannelArgs(const tls::Options& o, grpc::ChannelArguments* args) {
  if (!o.server_name.empty()) args->SetSslTargetNameOverride(o.server_name);
}

NodeTransport TransportFor(const tls::Options& client, const registry::Node& node) {
  bool tls = client.client_enabled();
  auto it = node.metadata.find(kSecureKey);
  if (it == node.metadata.end()) return tls ? NodeTransport::kTls : NodeTransport::kPlain;
  if (it->second == "true") return tls ? NodeTransport::kTls : NodeTransport::kSkip;
  if (!tls || client.allow_plaintext) return NodeTransport::kPlain;
  return NodeTransport::kSkip;
}

std::string SkipReason(const tls::Options& client, const std::string& service) {
  if (client.client_enabled()) {
    return absl::StrCat("every node of ", service,
                        " serves plain text (secure=false) and this client uses TLS; "
                        "serve them with TLS, or allow plain text (tls_allow_plaintext)");
  }
  return absl::StrCat("every node of ", service,
                      " requires TLS (secure=true) and this client has no TLS configured "
                      "(tls_ca, tls_cert, tls_key)");
}

SslContexts::SslContexts(tls::Options options, tls::Side side)
    : options_(std::move(options)), side_(side) {}

std::string SslContexts::Stamp() const {
  return absl::StrCat(FileStamp(options_.cert_file), "/", FileStamp(options_.key_file), "/",
                      FileStamp(options_.ca_file));
}

absl::StatusOr<std::shared_ptr<ssl::context>> SslContexts::Get() {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);
  if (current_ != nullptr && now - checked_ < options_.reload_interval) return current_;
  checked_ = now;
  std::string stamp = Stamp();
  if (current_ != nullptr && stamp == stamp_) return current_;
  auto built = Build();
  if (!built.ok()) {
    // Files half-written during a renewal: keep what worked.
    if (current_ != nullptr) return current_;
    return built.status();
  }
  current_ = *std::move(built);
  stamp_ = std::move(stamp);
  return current_;
}

absl::StatusOr<std::shared_ptr<ssl::context>> SslContexts::Build() const {
  if (absl::Status s = tls::Check(options_, side_); !s.ok()) return s;
  bool server = side_ == tls::Side::kServer;
  auto ctx =
      std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    return absl::InvalidArgumentError(absl::StrCat("tls: ", what, ": ", ec.message()));
  };
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  if (!options_.cert_file.empty()) {
    if (ctx->use_certificate_chain_file(options_.cert_file, ec); ec) return fail("certificate");
    if (ctx->use_private_key_file(options_.key_file, ssl::context::pem, ec); ec) return fail("key");
  }
  bool verify = !server || options_.client_auth;
  if (verify) {
    if (options_.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(options_.ca_file, ec);
    }
    if (ec) return fail("CA");
    ctx->set_verify_mode(
        server ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_peer, ec);
  } else {
    ctx->set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return fail("verify mode");
  return ctx;
}

grpc::Status TlsHint(const grpc::Status& st, const tls::Options& client) {
  if (st.error_code() != grpc::StatusCode::UNAVAILABLE) return st;
  const std::string& m = st.error_message();
  const char* hint = nullptr;
  if (m.find("certificate verify failed") != std::string::npos) {
    hint =
        " (the server's certificate is not signed by a CA in tls_ca, has expired, or is not "
        "valid yet)";
  } else if (m.find("Hostname Verification") != std::string::npos) {
    hint = " (the server's certificate does not name the node's host; see tls_server_name)";
  } else if (client.cert_file.empty() && (m.find("Socket closed") != std::string::npos ||
                                          m.find("stream truncated") != std::string::npos ||
                                          m.find("end of file") != std::string::npos)) {
    // A server that stopped closes connections too; without a certificate of our own, a server
    // requiring one is the likelier cause when it happens at once.
    hint =
        " (this client presents no certificate: if the server requires one (mutual TLS), set "
        "tls_cert and tls_key)";
  }
  if (hint == nullptr) return st;
  return grpc::Status(st.error_code(), m + hint, st.error_details());
}

void PrepareClientSsl(SSL* ssl, const std::string& name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (ec) {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  }
  static const unsigned char kH2[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl, kH2, sizeof(kH2));
}

std::string SslErrorText(SSL* ssl, const boost::system::error_code& ec) {
  if (ssl != nullptr) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return absl::StrCat("certificate verification failed: ",
                          X509_verify_cert_error_string(verify));
    }
  }
  std::string text = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof(buf));
    text = buf;
  }
  return text;
}

}  // namespace micro::internal
