#include "etcd_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "micro/log.h"

namespace micro::etcd {
namespace {

absl::StatusOr<std::string> ReadFile(absl::string_view what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd ", what, " file \"", path, "\" cannot be read"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const EtcdOptions& o) {
  if (!o.tls) {
    if (!o.ca_file.empty() || !o.cert_file.empty() || !o.key_file.empty()) {
      return absl::InvalidArgumentError(
          "etcd: ca, cert and key are TLS settings; add tls=true to use them");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    return absl::InvalidArgumentError("etcd: a client certificate needs both cert and key");
  }
  grpc::SslCredentialsOptions ssl;
  if (!o.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("ca", o.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!o.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile("cert", o.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("key", o.key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

bool Retriable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::shared_ptr<EtcdClient>> EtcdClient::Create(EtcdOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("etcd: no endpoint given");
  if (options.username.empty() != options.password.empty()) {
    return absl::InvalidArgumentError(
        "etcd: give both a user name and a password (username/password or "
        "ETCD_USERNAME/ETCD_PASSWORD), or neither");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = Credentials(options);
  if (!creds.ok()) return creds.status();
  std::shared_ptr<EtcdClient> client(new EtcdClient(std::move(options)));
  client->creds_ = *creds;
  for (const std::string& address : client->options_.endpoints) {
    client->members_.push_back(client->NewMember(address));
    client->failing_since_.emplace_back();
  }
  return client;
}

std::shared_ptr<EtcdClient::Member> EtcdClient::NewMember(const std::string& address) const {
  grpc::ChannelArguments args;
  // Notice a member that went silent (partition, SIGSTOP) within ~15 s;
  // etcd allows pings every 5 s, and only while a call is open.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // A restarted member is back within a second, not after gRPC's 2-minute backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A connection attempt waits this long for the server's first HTTP/2 frame.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 3000);
  args.SetMaxReceiveMessageSize(static_cast<int>(options_.max_response_bytes));
  auto m = std::make_shared<Member>();
  m->address = address;
  m->channel = grpc::CreateCustomChannel(address, creds_, args);
  m->kv = etcdserverpb::KV::NewStub(m->channel);
  m->lease = etcdserverpb::Lease::NewStub(m->channel);
  m->watch = etcdserverpb::Watch::NewStub(m->channel);
  m->auth = etcdserverpb::Auth::NewStub(m->channel);
  m->maintenance = etcdserverpb::Maintenance::NewStub(m->channel);
  return m;
}

std::shared_ptr<EtcdClient::Member> EtcdClient::Get(std::size_t i) {
  std::lock_guard<std::mutex> lock(members_mu_);
  return members_[i % members_.size()];
}

void EtcdClient::Outcome(std::size_t i, const grpc::Status& status) {
  constexpr std::chrono::seconds kStuckAfter(5);
  const bool connect_failure = status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                               absl::StrContains(status.error_message(), "failed to connect");
  std::lock_guard<std::mutex> lock(members_mu_);
  auto& since = failing_since_[i];
  if (!connect_failure) {
    since = {};
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (since == std::chrono::steady_clock::time_point()) {
    since = now;
  } else if (now - since > kStuckAfter) {
    log::Debug(absl::StrCat("etcd: a new channel to ", members_[i]->address));
    members_[i] = NewMember(members_[i]->address);
    since = {};
  }
}

std::string EtcdClient::Uri() const {
  return absl::StrCat("etcd://", absl::StrJoin(options_.endpoints, ","));
}

absl::Status EtcdClient::Error(const grpc::Status& status, absl::string_view what,
                               absl::string_view member) const {
  const std::string& msg = status.error_message();
  if (absl::StrContains(msg, "user name is empty")) {
    return absl::PermissionDeniedError(
        absl::StrCat("etcd at ", member,
                     " has authentication enabled: give a user name and password "
                     "(etcd://...?username=..&password=.. or ETCD_USERNAME and ETCD_PASSWORD)"));
  }
  if (absl::StrContains(msg, "authentication failed")) {
    return absl::PermissionDeniedError(absl::StrCat("etcd at ", member, " refused user \"",
                                                    options_.username,
                                                    "\": wrong user name or password"));
  }
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
    return absl::PermissionDeniedError(
        absl::StrCat("etcd user \"", options_.username, "\" may not ", what, " (", msg,
                     "): grant it a role with readwrite on ", "/micro/registry/"));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd ", what, " at ", member, ": ", msg));
}

absl::StatusOr<std::string> EtcdClient::Token(Member& m) {
  if (options_.username.empty()) return std::string();
  {
    std::lock_guard<std::mutex> lock(token_mu_);
    if (auth_disabled_) return std::string();
    if (!token_.empty()) return token_;
  }
  etcdserverpb::AuthenticateRequest req;
  req.set_name(options_.username);
  req.set_password(options_.password);
  etcdserverpb::AuthenticateResponse res;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  grpc::Status st = m.auth->Authenticate(&ctx, req, &res);
  std::lock_guard<std::mutex> lock(token_mu_);
  if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
      absl::StrContains(st.error_message(), "not enabled")) {
    if (!auth_disabled_) {
      log::Warn(absl::StrCat("etcd at ", m.address,
                             " does not have authentication enabled; going on without it"));
    }
    auth_disabled_ = true;
    return std::string();
  }
  if (!st.ok()) return Error(st, "authenticate", m.address);
  token_ = res.token();
  return token_;
}

void EtcdClient::DropToken(const std::string& token) {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (token_ == token) token_.clear();
}

absl::Status EtcdClient::Call(absl::string_view what, const Unary& call) {
  std::vector<std::string> failures;
  const std::size_t n = members_.size();
  const std::size_t start = preferred_.load();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    std::shared_ptr<Member> member = Get(i);
    Member& m = *member;
    for (int attempt = 0; attempt < 2; ++attempt) {
      absl::StatusOr<std::string> token = Token(m);
      if (!token.ok()) {
        if (token.status().code() != absl::StatusCode::kUnavailable &&
            token.status().code() != absl::StatusCode::kDeadlineExceeded) {
          return token.status();
        }
        failures.push_back(absl::StrCat(m.address, ": ", token.status().message()));
        break;
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
      if (!token->empty()) ctx.AddMetadata("token", *token);
      grpc::Status st = call(m, ctx);
      Outcome(i, st);
      if (st.ok()) {
        preferred_.store(i);
        return absl::OkStatus();
      }
      if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED && !token->empty() && attempt == 0) {
        DropToken(*token);  // etcd restarted or the token expired: authenticate again
        continue;
      }
      if (!Retriable(st)) return Error(st, what, m.address);
      failures.push_back(absl::StrCat(m.address, ": ", st.error_message()));
      break;
    }
  }
  return absl::UnavailableError(
      absl::StrCat("etcd ", what, ": no member answered (", absl::StrJoin(failures, "; "), ")"));
}

absl::StatusOr<EtcdClient::Stream> EtcdClient::OpenStream(bool require_leader) {
  const std::size_t n = members_.size();  // fixed after Create
  const std::size_t i = preferred_.load() % n;
  std::shared_ptr<Member> m = Get(i);
  absl::StatusOr<std::string> token = Token(*m);
  if (!token.ok()) {
    preferred_.store((i + 1) % n);
    return token.status();
  }
  Stream s;
  s.member = std::move(m);
  s.index = i;
  s.context = std::make_unique<grpc::ClientContext>();
  if (!token->empty()) s.context->AddMetadata("token", *token);
  if (require_leader) s.context->AddMetadata("hasleader", "true");
  return s;
}

void EtcdClient::StreamFailed(std::size_t index, const grpc::Status& status) {
  Outcome(index, status);
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    std::lock_guard<std::mutex> lock(token_mu_);
    token_.clear();
    return;  // same member, new token
  }
  std::size_t expected = index;
  preferred_.compare_exchange_strong(expected, (index + 1) % members_.size());
}

}  // namespace micro::etcd
