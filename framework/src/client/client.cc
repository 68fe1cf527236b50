#include "micro/client/client.h"

#include "micro/log.h"

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/call_parts.h"
#include "client/h2_transport.h"
#include "client/pool.h"
#include "client/stream_call.h"
#include "client/timer.h"
#include "core/blocking.h"
#include "core/runtime.h"
#include "core/tls_config.h"
#include "core/wire.h"
#include "micro/errors.h"
#include "micro/metrics.h"
#include "micro/server/handler.h"

namespace micro::client {

namespace {

namespace pb = google::protobuf;
using Clock = std::chrono::steady_clock;
using detail::CancelledError;
using detail::ClientSpan;
using detail::Metadata;
using detail::SelectError;
using detail::TimeoutNanos;
using detail::WireMetadata;

std::chrono::milliseconds GoMicroBackoff(int attempt) {
  if (attempt <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<long>(100 * std::pow(attempt, M_E)));
}

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Client::Impl>, public detail::StreamHost {
 public:
  explicit Impl(ClientOptions options)
      : options_(std::move(options)),
        selector_(options_.registry, options_.selector),
        pool_(options_.pool_size, options_.pool_ttl, options_.tls),
        h2_(options_.pool_ttl, options_.tls) {
    internal::ApplyRuntimeDefaults();
    if (!options_.backoff) options_.backoff = GoMicroBackoff;
    tls_status_ = tls::Check(options_.tls, tls::Side::kClient);
    if (!tls_status_.ok()) log::Error(absl::StrCat("client: ", tls_status_.message()));
    CallFn fn = [this](const Request& r, const pb::Message& in, pb::Message* out) {
      return Invoke(r, in, out);
    };
    for (auto it = options_.wrappers.rbegin(); it != options_.wrappers.rend(); ++it) fn = (*it)(fn);
    chain_ = std::move(fn);
  }

  absl::Status Call(absl::string_view service, absl::string_view endpoint, const pb::Message& in,
                    pb::Message* out, const CallOptions& opts) {
    if (!tls_status_.ok()) return TlsError(service);
    Request r{std::string(service), std::string(endpoint), &opts};
    return chain_(r, in, out);
  }

  // One asynchronous call with its retries; owns what the attempts need. A protobuf call goes
  // through gRPC C++ (`request`/`response`); a JSON call through the HTTP/2 transport
  // (`text`/`answer`), which writes `content-type: application/grpc+json` as go-micro needs.
  struct Async {
    std::shared_ptr<Impl> impl;
    std::string service, endpoint, path;
    CallOptions opts;
    Metadata metadata;
    bool json = false;
    grpc::ByteBuffer request, response;
    std::string text, answer;
    std::optional<selector::Next> next;
    Clock::time_point deadline;
    int attempt = 0, retries = 0, rounds = 0;
    std::vector<std::string> tried;            // nodes failed in this round
    std::unique_ptr<grpc::ClientContext> ctx;  // guarded by mu
    std::function<void(absl::Status, Async*)> done;
    ClientSpan span;
    std::string peer;   // the last node tried
    absl::Status last;  // the last attempt's error
    std::uint64_t cancel_handle = 0;
    metrics::CallStats* stats = nullptr;
    Clock::time_point started;
    std::atomic<bool> completed{false};
    std::mutex mu;
  };

  std::shared_ptr<Async> NewAsync(absl::string_view service, absl::string_view endpoint,
                                  const CallOptions& opts, internal::Codec codec) {
    auto call = std::make_shared<Async>();
    call->impl = shared_from_this();
    call->path = internal::PathFor(service, endpoint);
    call->service = std::string(service);
    call->endpoint = std::string(endpoint);
    call->opts = opts;
    call->json = codec == internal::Codec::kJson;
    call->metadata = WireMetadata(opts, ContentType(opts));
    call->deadline = Deadline(opts);
    call->span = ClientSpan::Begin(opts);
    call->span.AddTo(&call->metadata);
    call->retries = opts.retries >= 0 ? opts.retries : options_.retries;
    return call;
  }

  // Never waits for the registry: a lookup the selector needs runs on a cache
  // thread, and the call goes on from there (or fails at its deadline).
  void StartAsync(std::shared_ptr<Async> call) {
    if (options_.metrics) {
      call->stats = metrics::ClientStats(call->service, call->endpoint);
      call->stats->Begin();
      call->started = Clock::now();
    }
    if (!tls_status_.ok()) {
      Complete(call, TlsError(call->service));
      return;
    }
    if (call->opts.cancel != nullptr) {
      std::weak_ptr<Async> weak = call;
      call->cancel_handle = call->opts.cancel->OnCancel([this, weak] {
        std::shared_ptr<Async> c = weak.lock();
        if (c == nullptr) return;
        {
          std::lock_guard<std::mutex> l(c->mu);
          if (c->ctx != nullptr) c->ctx->TryCancel();
        }
        Complete(c, CancelledError(c->service));
      });
      if (call->completed) return;
    }
    absl::StatusOr<selector::Next> now;
    if (selector_.SelectCached(call->service, {call->opts.filters}, &now)) {
      Selected(std::move(call), std::move(now));
      return;
    }
    std::string service = call->service;
    selector::SelectOptions select{call->opts.filters};
    Clock::time_point deadline = call->deadline;
    selector_.SelectAsync(service, std::move(select), deadline,
                          [this, call = std::move(call)](absl::StatusOr<selector::Next> next) {
                            Selected(call, std::move(next));
                          });
  }

  void Selected(std::shared_ptr<Async> call, absl::StatusOr<selector::Next> next) {
    if (!next.ok()) {
      Complete(call, SelectError(call->service, next.status()));
      return;
    }
    call->next.emplace(std::move(*next));
    Attempt(std::move(call));
  }

  selector::Selector& selector() override { return selector_; }
  const ClientOptions& options() const { return options_; }

  absl::Status Setup(absl::string_view service, absl::string_view endpoint, const CallOptions& opts,
                     detail::StreamSetup* setup) override {
    if (!tls_status_.ok()) return TlsError(service);
    internal::Codec codec;
    if (absl::Status s = internal::CodecFor(ContentType(opts), &codec); !s.ok()) return s;
    setup->service = std::string(service);
    setup->endpoint = std::string(endpoint);
    setup->options = opts;
    setup->json = codec == internal::Codec::kJson;
    setup->metadata = WireMetadata(opts, ContentType(opts));
    setup->deadline = Clock::time_point::max();
    if (opts.timeout.count() > 0 || opts.deadline != std::chrono::system_clock::time_point::max()) {
      setup->deadline = Deadline(opts);
    } else if (options_.stream_timeout.count() > 0) {
      setup->deadline = Clock::now() + options_.stream_timeout;
    }
    setup->retries = opts.retries >= 0 ? opts.retries : options_.retries;
    if (options_.metrics) setup->stats = metrics::ClientStats(setup->service, setup->endpoint);
    return absl::OkStatus();
  }

  Clock::time_point SelectDeadline(const detail::StreamSetup& setup) const override {
    return std::min(setup.deadline, Clock::now() + Timeout(setup.options));
  }

  std::shared_ptr<internal::ChannelPool::Conn> Connect(selector::Next& next,
                                                       std::vector<std::string>* tried,
                                                       registry::Node* node, bool* tls) override {
    internal::NodeTransport how;
    const registry::Node* picked = Pick(next, tried, &how);
    if (picked == nullptr) return nullptr;
    *node = *picked;
    *tls = how == internal::NodeTransport::kTls;
    return pool_.Get(node->address, *tls);
  }

  grpc::Status Hint(const grpc::Status& st, bool tls) const override {
    return tls ? internal::TlsHint(st, options_.tls) : st;
  }

  // Ends an asynchronous call, once: the first of its outcome and its cancellation wins.
  void Complete(const std::shared_ptr<Async>& call, absl::Status status) {
    if (call->completed.exchange(true)) return;
    if (call->cancel_handle != 0) call->opts.cancel->Remove(call->cancel_handle);
    if (call->stats != nullptr) {
      call->stats->End(status.ok() ? 0 : errors::FromStatus(status).code,
                       Clock::now() - call->started);
    }
    call->span.End(call->opts, call->service, call->endpoint, call->peer, status);
    call->done(std::move(status), call.get());
  }

  // The call's content type, or the client's default.
  const std::string& ContentType(const CallOptions& o) const {
    return o.content_type.empty() ? options_.content_type : o.content_type;
  }

 private:
  std::chrono::milliseconds Timeout(const CallOptions& o) const {
    return o.timeout.count() > 0 ? o.timeout : options_.request_timeout;
  }

  // When the call must end: after its timeout, or at the caller's deadline if that is earlier.
  Clock::time_point Deadline(const CallOptions& o) const {
    Clock::time_point now = Clock::now();
    Clock::time_point d = now + Timeout(o);
    if (o.deadline != std::chrono::system_clock::time_point::max()) {
      auto left = o.deadline - std::chrono::system_clock::now();
      if (left < d - now) d = now + std::chrono::duration_cast<Clock::duration>(left);
    }
    return d;
  }

  // Unavailable: no connection, or the node refused. Cancelled: this client
  // never cancels its calls, so it comes from the server side (a stream reset
  // while that server shut down). A node that cannot serve this call (no such
  // method, or a body it cannot decode) may have a peer that can. All mean
  // "try another node".
  bool Retryable(const grpc::Status& s) const override {
    return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
           s.error_code() == grpc::StatusCode::CANCELLED || internal::NodeCannotServe(s) ||
           (options_.retry_on_timeout && s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  // The next node, avoiding those that failed in this round when there is a choice, and how to
  // reach it. Nodes this client cannot reach (a TLS node without TLS here, or the other way round,
  // see micro/tls.h) are passed over without a connection attempt; null when no node is left.
  const registry::Node* Pick(selector::Next& next, std::vector<std::string>* tried,
                             internal::NodeTransport* how) {
    std::vector<std::string> skipped;  // allocated only in a mixed fleet
    for (;;) {
      const registry::Node& node = next.Avoiding(tried->size() < next.size() ? *tried : skipped);
      *how = internal::TransportFor(options_.tls, node);
      if (*how != internal::NodeTransport::kSkip) return &node;
      next.Skip();
      if (std::find(skipped.begin(), skipped.end(), node.id) != skipped.end()) return nullptr;
      skipped.push_back(node.id);
      // Counted as tried, so that the round ends (and backs off) when the reachable nodes failed.
      if (std::find(tried->begin(), tried->end(), node.id) == tried->end())
        tried->push_back(node.id);
    }
  }

  absl::Status Unreachable(const std::string& service) const override {
    return SelectError(service,
                       absl::FailedPreconditionError(internal::SkipReason(options_.tls, service)));
  }

  // After a retryable failure of `node`: no wait while a node not tried in this
  // round is left (a refused connection says nothing about the others); the
  // client's backoff once every node has failed, and a new round.
  std::chrono::milliseconds RetryWait(const selector::Next& next, const std::string& node,
                                      std::vector<std::string>* tried, int* rounds) override {
    tried->push_back(node);
    if (tried->size() < next.size()) return std::chrono::milliseconds(0);
    tried->clear();
    return options_.backoff(++*rounds);
  }

  void Prepare(grpc::ClientContext* ctx, const Metadata& md, Clock::time_point deadline) {
    ctx->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(deadline - Clock::now()));
    for (const auto& [k, v] : md) ctx->AddMetadata(k, v);
    ctx->AddMetadata("timeout", TimeoutNanos(deadline));
  }

  absl::Status Invoke(const Request& r, const pb::Message& in, pb::Message* out) {
    const CallOptions& opts = *r.options;
    std::string content_type = ContentType(opts);
    internal::Codec codec;
    if (absl::Status s = internal::CodecFor(content_type, &codec); !s.ok()) return s;
    if (codec == internal::Codec::kJson) return InvokeJson(r, in, out);
    if (opts.cancel != nullptr && opts.cancel->cancelled()) return CancelledError(r.service);
    ClientSpan span = ClientSpan::Begin(opts);
    metrics::CallStats* stats =
        options_.metrics ? metrics::ClientStats(r.service, r.endpoint) : nullptr;
    if (stats != nullptr) stats->Begin();
    auto started = Clock::now();
    std::string peer;
    absl::Status s = InvokeProto(r, in, out, codec, content_type, span, &peer);
    if (stats != nullptr)
      stats->End(s.ok() ? 0 : errors::FromStatus(s).code, Clock::now() - started);
    span.End(opts, r.service, r.endpoint, peer, s);
    return s;
  }

  // What a synchronous call's cancellation reaches: the attempt in flight, and the wait between.
  struct SyncCancel {
    std::mutex mu;
    std::condition_variable cv;
    grpc::ClientContext* attempt = nullptr;  // guarded by mu
    bool cancelled = false;                  // guarded by mu
  };

  absl::Status InvokeProto(const Request& r, const pb::Message& in, pb::Message* out,
                           internal::Codec codec, const std::string& content_type,
                           const ClientSpan& span, std::string* peer) {
    const CallOptions& opts = *r.options;
    grpc::ByteBuffer request;
    if (absl::Status s = internal::Encode(in, codec, &request); !s.ok()) return s;
    Clock::time_point deadline = Deadline(opts);
    auto next = selector_.Select(r.service, {opts.filters}, deadline);
    if (!next.ok()) return SelectError(r.service, next.status());

    SyncCancel cancel;
    std::uint64_t handle = 0;
    if (opts.cancel != nullptr) {
      handle = opts.cancel->OnCancel([&cancel] {
        std::lock_guard<std::mutex> l(cancel.mu);
        cancel.cancelled = true;
        if (cancel.attempt != nullptr) cancel.attempt->TryCancel();
        cancel.cv.notify_all();
      });
    }
    struct Unregister {
      const CallOptions& o;
      std::uint64_t h;
      ~Unregister() {
        if (h != 0) o.cancel->Remove(h);
      }
    } unregister{opts, handle};

    std::string path = internal::PathFor(r.service, r.endpoint);
    int retries = opts.retries >= 0 ? opts.retries : options_.retries;
    Metadata md = WireMetadata(opts, content_type);
    span.AddTo(&md);
    absl::Status last;
    std::vector<std::string> tried;
    int rounds = 0;
    std::chrono::milliseconds wait{0};
    for (int attempt = 0; attempt <= retries; ++attempt) {
      if (wait.count() > 0) {
        if (Clock::now() + wait >= deadline) break;
        std::unique_lock<std::mutex> l(cancel.mu);
        cancel.cv.wait_for(l, wait, [&] { return cancel.cancelled; });
      }
      internal::NodeTransport how;
      const registry::Node* picked = Pick(*next, &tried, &how);
      if (picked == nullptr) return attempt == 0 ? Unreachable(r.service) : last;
      const registry::Node& node = *picked;
      *peer = node.address;
      auto conn = pool_.Get(node.address, how == internal::NodeTransport::kTls);
      grpc::ClientContext ctx;
      Prepare(&ctx, md, deadline);
      {
        std::lock_guard<std::mutex> l(cancel.mu);
        if (cancel.cancelled) return CancelledError(r.service);
        cancel.attempt = &ctx;
      }
      grpc::ByteBuffer response;
      grpc::Status st = grpc::internal::BlockingUnaryCall(
          conn->channel.get(),
          grpc::internal::RpcMethod(path.c_str(), nullptr, grpc::internal::RpcMethod::NORMAL_RPC),
          &ctx, request, &response);
      {
        std::lock_guard<std::mutex> l(cancel.mu);
        cancel.attempt = nullptr;
        if (cancel.cancelled) return CancelledError(r.service);
      }
      if (st.ok()) {
        next->Mark(absl::OkStatus());
        return internal::Decode(&response, codec, out);
      }
      last = internal::FromGrpcStatus(
          how == internal::NodeTransport::kTls ? internal::TlsHint(st, options_.tls) : st);
      if (!Retryable(st)) {
        next->Mark(absl::OkStatus());  // the node answered
        return last;
      }
      next->Mark(last);
      if (attempt < retries) wait = RetryWait(*next, node.id, &tried, &rounds);
    }
    return last;
  }

  // A synchronous JSON call: the asynchronous one, waited for.
  absl::Status InvokeJson(const Request& r, const pb::Message& in, pb::Message* out) {
    auto call = NewAsync(r.service, r.endpoint, *r.options, internal::Codec::kJson);
    if (absl::Status s = internal::EncodeJson(in, &call->text); !s.ok()) return s;
    std::promise<absl::Status> result;
    call->done = [&result, out](absl::Status s, Async* c) {
      result.set_value(s.ok() ? internal::DecodeJson(c->answer, out) : s);
    };
    auto f = result.get_future();
    if (call->opts.cancel != nullptr && call->opts.cancel->cancelled())
      return CancelledError(r.service);
    StartAsync(std::move(call));
    return f.get();
  }

  void Attempt(std::shared_ptr<Async> call) {
    if (call->completed) return;
    internal::NodeTransport how;
    const registry::Node* found = Pick(*call->next, &call->tried, &how);
    if (found == nullptr) {
      Complete(call, call->attempt == 0 ? Unreachable(call->service) : call->last);
      return;
    }
    const registry::Node& node = *found;
    registry::Node picked = node;
    call->peer = node.address;
    bool tls = how == internal::NodeTransport::kTls;
    if (call->json) {
      internal::H2Call h;
      h.address = node.address;
      h.tls = tls;
      h.path = call->path;
      h.content_type = internal::kContentTypeJson;
      h.metadata = call->metadata;
      h.metadata.emplace_back("timeout", TimeoutNanos(call->deadline));
      h.message = call->text;
      h.deadline = call->deadline;
      h.cancel = call->opts.cancel;
      h2_.Call(std::move(h), [this, call, picked, tls](const grpc::Status& st, std::string answer) {
        call->answer = std::move(answer);
        Finished(call, picked, tls ? internal::TlsHint(st, options_.tls) : st);
      });
      return;
    }
    auto conn = pool_.Get(node.address, tls);
    grpc::ClientContext* ctx;
    {
      std::lock_guard<std::mutex> l(call->mu);
      call->ctx = std::make_unique<grpc::ClientContext>();
      ctx = call->ctx.get();
    }
    Prepare(ctx, call->metadata, call->deadline);
    conn->stub.UnaryCall(ctx, call->path, grpc::StubOptions(), &call->request, &call->response,
                         [this, call, picked, conn, tls](grpc::Status st) {
                           Finished(call, picked, tls ? internal::TlsHint(st, options_.tls) : st);
                         });
  }

  void Finished(std::shared_ptr<Async> call, const registry::Node& node, const grpc::Status& st) {
    if (call->completed) return;  // cancelled meanwhile
    if (st.ok()) {
      call->next->Mark(absl::OkStatus());
      Complete(call, absl::OkStatus());
      return;
    }
    absl::Status err = internal::FromGrpcStatus(st);
    if (!Retryable(st) || call->attempt >= call->retries) {
      call->next->Mark(Retryable(st) ? err : absl::OkStatus());
      Complete(call, err);
      return;
    }
    call->next->Mark(err);
    call->last = err;
    ++call->attempt;
    auto wait = RetryWait(*call->next, node.id, &call->tried, &call->rounds);
    if (log::Enabled(log::Level::kDebug)) {
      log::Debug(absl::StrCat("client: ", call->service, " at ", node.address, ": ", err.ToString(),
                              "; retry ", call->attempt, " in ", wait.count(), " ms"));
    }
    if (Clock::now() + wait >= call->deadline) {
      Complete(call, err);
      return;
    }
    // Even a retry at once goes through the timer thread: this may be the
    // transport's own thread, inside its callback.
    After(wait, [this, call] { Attempt(call); });
  }

  // Runs `fn` on the timer thread after `wait`.
  void After(std::chrono::milliseconds wait, std::function<void()> fn) override {
    timer_.After(wait, std::move(fn));
  }

  // Every call fails with this when the TLS files are unusable (checked once, at construction).
  absl::Status TlsError(absl::string_view service) const {
    return SelectError(service, absl::FailedPreconditionError(tls_status_.message()));
  }

  ClientOptions options_;
  absl::Status tls_status_;
  selector::Selector selector_;
  internal::ChannelPool pool_;
  internal::H2Transport h2_;
  CallFn chain_;

  detail::Timer timer_;  // last: what it holds goes before the rest
};

Client::Client(ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))), streams_(impl_) {}
Client::~Client() = default;

absl::Status Client::Call(absl::string_view service, absl::string_view endpoint,
                          const pb::Message& request, pb::Message* response,
                          const CallOptions& options) {
  internal::NoteBlocking();  // a handler making this call blocks (server/placement.h)
  return impl_->Call(service, endpoint, request, response, options);
}

void Client::CallAsync(absl::string_view service, absl::string_view endpoint,
                       const pb::Message& request, pb::Message* response,
                       std::function<void(absl::Status)> done, const CallOptions& options) {
  internal::Codec codec;
  absl::Status s = internal::CodecFor(impl_->ContentType(options), &codec);
  std::shared_ptr<Impl::Async> call;
  if (s.ok()) {
    call = impl_->NewAsync(service, endpoint, options, codec);
    s = call->json ? internal::EncodeJson(request, &call->text)
                   : internal::Encode(request, codec, &call->request);
  }
  if (!s.ok()) {
    done(s);
    return;
  }
  call->done = [response, done = std::move(done)](absl::Status s, Impl::Async* c) {
    if (s.ok()) {
      s = c->json ? internal::DecodeJson(c->answer, response)
                  : internal::Decode(&c->response, internal::Codec::kProto, response);
    }
    done(s);
  };
  impl_->StartAsync(std::move(call));
}

void Client::CallRawAsync(absl::string_view service, absl::string_view endpoint, std::string body,
                          std::function<void(absl::StatusOr<std::string>)> done,
                          const CallOptions& options) {
  internal::Codec codec;
  if (absl::Status s = internal::CodecFor(impl_->ContentType(options), &codec); !s.ok()) {
    done(s);
    return;
  }
  auto call = impl_->NewAsync(service, endpoint, options, codec);
  if (call->json) {
    call->text = std::move(body);
  } else {
    call->request = internal::BytesOf(body);
  }
  call->done = [done = std::move(done)](absl::Status s, Impl::Async* c) {
    if (!s.ok()) {
      done(s);
    } else if (c->json) {
      done(std::move(c->answer));
    } else {
      done(internal::StringOf(c->response));
    }
  };
  impl_->StartAsync(std::move(call));
}

selector::Selector& Client::selector() { return impl_->selector(); }
const ClientOptions& Client::options() const { return impl_->options(); }

}  // namespace micro::client
