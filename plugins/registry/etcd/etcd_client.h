// Internal: the gRPC side of the etcd registry. One channel per member, calls
// that move on to the next member when one does not answer (starting with the
// last one that did), the auth token (Authenticate once, again when etcd
// forgets it), and etcd's errors turned into messages that say what to do.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "etcd_registry.h"
#include "etcdserverpb/rpc.grpc.pb.h"

namespace micro::etcd {

class EtcdClient {
 public:
  struct Member {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
    std::unique_ptr<etcdserverpb::Auth::Stub> auth;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  };

  static absl::StatusOr<std::shared_ptr<EtcdClient>> Create(EtcdOptions options);

  // Runs `call` on one member after another until one answers; `what` names
  // the operation in errors ("put /micro/registry/a/b"). The context carries
  // the deadline and the token.
  using Unary = std::function<grpc::Status(Member&, grpc::ClientContext&)>;
  absl::Status Call(absl::string_view what, const Unary& call);

  // A context for a long-lived stream on the member to use now (token
  // attached; `require_leader` makes the member end the stream when it loses
  // its leader, as etcd's own client does for watches).
  struct Stream {
    std::shared_ptr<Member> member;
    std::size_t index = 0;
    std::unique_ptr<grpc::ClientContext> context;
  };
  absl::StatusOr<Stream> OpenStream(bool require_leader);
  // A stream on member `index` ended with `status`: the next stream goes to
  // the next member, and a token etcd refused is dropped.
  void StreamFailed(std::size_t index, const grpc::Status& status);

  // etcd's error as a Status whose message says what to do.
  absl::Status Error(const grpc::Status& status, absl::string_view what,
                     absl::string_view member) const;

  const EtcdOptions& options() const { return options_; }
  std::string Uri() const;

 private:
  explicit EtcdClient(EtcdOptions options);
  // The token to send ("" without auth), authenticating on `m` if needed.
  absl::StatusOr<std::string> Token(Member& m);
  std::shared_ptr<Member> Get(std::size_t i);
  std::shared_ptr<Member> NewMember(const std::string& address) const;
  // Records how a call on member `i` went. gRPC 1.51 can leave a channel that
  // lost its server unable to connect again (attempts time out waiting for
  // the first HTTP/2 frame while a fresh channel connects at once), so a
  // member that failed to connect for kStuckAfter gets a new channel.
  void Outcome(std::size_t i, const grpc::Status& status);
  void DropToken(const std::string& token);

  const EtcdOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  std::mutex members_mu_;
  std::vector<std::shared_ptr<Member>> members_;  // guarded by members_mu_ (the pointers)
  std::vector<std::chrono::steady_clock::time_point> failing_since_;  // guarded by members_mu_
  std::atomic<std::size_t> preferred_{0};
  std::mutex token_mu_;
  std::string token_;           // guarded by token_mu_
  bool auth_disabled_ = false;  // guarded by token_mu_: credentials given, auth off
};

// Whether a call that failed with `status` may succeed on another member.
bool Retriable(const grpc::Status& status);

}  // namespace micro::etcd
