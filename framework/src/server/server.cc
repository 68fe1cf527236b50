// The server serves every endpoint through one dispatch function, reached two ways:
// - per proto service, a typed gRPC service whose methods are raw callbacks, so
//   "/<package>.<Service>/<Method>" arrives as bytes (we own the codec) and the
//   stock reflection plugin lists the service;
// - a callback generic service for every other path, which is how go-micro's
//   "/<registered name>.<Service>/<Method>" form arrives.
// Handlers start on a thread pool: go-micro handlers block (they call other
// services), and blocking a gRPC callback thread would stall the server. An
// endpoint whose handler shows it does not block moves inline onto gRPC's
// thread (server/placement.h).
#include "micro/server/server.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_callback.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/net.h"
#include "core/runtime.h"
#include "core/thread_pool.h"
#include "core/tls_config.h"
#include "core/wire.h"
#include "micro/errors.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "server/call.h"
#include "server/placement.h"
#include "server/registrar.h"
#include "server/server_span.h"

namespace micro::server {

absl::string_view Context::Metadata(absl::string_view key) const {
  auto it = metadata.find(absl::AsciiStrToLower(key));
  return it == metadata.end() ? absl::string_view() : absl::string_view(it->second);
}

namespace {

namespace pb = google::protobuf;
using internal::Codec;
using internal::ServerSpan;

using detail::Endpoint;

}  // namespace

class Server::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {}
  ~Impl() { (void)Stop(); }

  absl::Status Handle(std::vector<Method> methods) {
    std::lock_guard<std::mutex> l(mu_);
    if (running_) return absl::FailedPreconditionError("server: Handle after Start");
    for (Method& m : methods) {
      if (m.descriptor == nullptr || m.request_prototype == nullptr ||
          m.response_prototype == nullptr) {
        return absl::InvalidArgumentError("server: incomplete method");
      }
      std::string name = absl::StrCat(m.descriptor->service()->name(), ".", m.descriptor->name());
      if (endpoints_.contains(name)) {
        return absl::AlreadyExistsError(
            absl::StrCat("server: endpoint ", name, " is already handled"));
      }
      bool streaming = m.descriptor->client_streaming() || m.descriptor->server_streaming();
      if (streaming ? !m.stream : !m.handler) {
        return absl::InvalidArgumentError(
            absl::StrCat("server: ", name,
                         streaming ? " streams: it needs Method::stream"
                                   : " is unary: it needs Method::handler"));
      }
      endpoints_.emplace(name, Endpoint{std::move(m), nullptr, nullptr, nullptr, nullptr});
    }
    return absl::OkStatus();
  }

  absl::Status Start() {
    std::lock_guard<std::mutex> l(mu_);
    if (running_) return absl::FailedPreconditionError("server: already started");
    if (options_.name.empty())
      return absl::InvalidArgumentError("server: a service name is required");
    if (options_.registry == nullptr)
      return absl::InvalidArgumentError("server: a registry is required");
    if (options_.id.empty()) options_.id = absl::StrCat(options_.name, "-", internal::NewUuid());
    internal::ApplyRuntimeDefaults();

    std::string host;
    int port = 0;
    std::string address = options_.address.empty() ? ":0" : options_.address;
    if (absl::Status s = internal::SplitHostPort(address, &host, &port); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("server address: ", s.message()));
    }
    std::string listen_host = internal::IsUnspecified(host) ? "0.0.0.0" : host;

    for (auto& [name, ep] : endpoints_) {
      if (ep.streaming()) {
        StreamHandlerFn fn = ep.method.stream;
        for (auto it = options_.stream_wrappers.rbegin(); it != options_.stream_wrappers.rend();
             ++it)
          fn = (*it)(fn);
        ep.stream = std::move(fn);
      } else {
        HandlerFn fn = ep.method.handler;
        for (auto it = options_.wrappers.rbegin(); it != options_.wrappers.rend(); ++it)
          fn = (*it)(fn);
        ep.wrapped = std::move(fn);
        ep.placement = std::make_shared<detail::Placement>();
      }
      if (options_.metrics)
        ep.stats = metrics::ServerStats(options_.name, options_.version, options_.id, name);
    }
    BuildTypedServices();
    streams_.service = options_.name;
    streams_.send_window = std::max(1, options_.stream_send_window);
    streams_.threads =
        std::make_shared<detail::StreamThreads>(std::max(1, options_.max_open_streams));

    int threads = options_.handler_threads;
    if (threads == 0)
      threads = std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency()));
    if (threads > 0) pool_ = std::make_unique<internal::ThreadPool>(threads, "micro-handler");

    grpc::EnableDefaultHealthCheckService(options_.health);
    if (options_.reflection) {
      static std::once_flag once;
      std::call_once(once, [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });
    }
    // gRPC opens its listener with SO_REUSEPORT, so a second server on a port in
    // use would start and silently split the traffic; ask the kernel first.
    if (port > 0) {
      if (absl::Status s = internal::CheckPortFree(listen_host, port); !s.ok())
        return absl::UnavailableError(
            absl::StrCat("server: cannot listen on ", address, ": ", s.message()));
    }
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               std::max(1, options_.max_concurrent_streams));
    if (options_.memory_limit_bytes > 0) {
      grpc::ResourceQuota quota(absl::StrCat("micro-server-", options_.name));
      quota.Resize(options_.memory_limit_bytes);
      builder.SetResourceQuota(quota);
    }
    if (absl::Status s = tls::Check(options_.tls, tls::Side::kServer); !s.ok()) {
      pool_.reset();
      return absl::InvalidArgumentError(absl::StrCat("server ", options_.name, ": ", s.message()));
    }
    int selected = 0;
    builder.AddListeningPort(internal::JoinHostPort(listen_host, port),
                             internal::ServerCredentials(options_.tls), &selected);
    builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
    for (auto& svc : typed_) builder.RegisterService(svc.get());
    generic_ = std::make_unique<GenericService>(this);
    builder.RegisterCallbackGenericService(generic_.get());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || selected == 0) {
      server_.reset();
      pool_.reset();
      return absl::UnavailableError(absl::StrCat("server: cannot listen on ", address));
    }
    listen_address_ = internal::JoinHostPort(listen_host, selected);
    if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
      // SERVING for "" (the stock default), the registered name and each proto service.
      health->SetServingStatus(options_.name, true);
      for (auto& [name, ep] : endpoints_)
        health->SetServingStatus(ep.method.descriptor->service()->full_name(), true);
      std::lock_guard<std::mutex> h(health_mu_);
      health_ = health;
    }
    if (!options_.advertise.empty()) {
      std::string ahost;
      int aport = 0;
      if (absl::Status s = internal::SplitHostPort(options_.advertise, &ahost, &aport);
          !s.ok() || aport == 0) {
        Shutdown();
        return absl::InvalidArgumentError(absl::StrCat("server advertise \"", options_.advertise,
                                                       "\" must be host:port with a port"));
      }
      advertised_ = options_.advertise;
    } else {
      advertised_ = internal::JoinHostPort(
          internal::IsUnspecified(host) ? internal::ReachableHost() : host, selected);
    }
    registrar_ = std::make_unique<detail::Registrar>(
        options_, BuildRegistration(), [this](bool serving) { SetGrpcHealth(serving); });
    if (!serving_) registrar_->SetServing(false);

    if (absl::Status s = registrar_->RegisterOnce(); !s.ok()) {
      std::string what = absl::StrCat("server: register ", options_.name, " in ",
                                      options_.registry->String(), ": ", s.message());
      if (options_.register_required) {
        Shutdown();
        return absl::UnavailableError(what);
      }
      log::Warn(absl::StrCat(what, "; serving on ", listen_address_,
                             " anyway and trying again (register_required makes this fatal)"));
    }
    running_ = true;
    registrar_->StartLoop();
    if (registrar_->registered()) {
      log::Info(absl::StrCat("server ", options_.name, " (", options_.id, ") listening on ",
                             listen_address_, " (", tls::Describe(options_.tls, tls::Side::kServer),
                             "), registered as ", advertised_, " in ",
                             options_.registry->String()));
    }
    return absl::OkStatus();
  }

  absl::Status Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!running_) return absl::OkStatus();
      running_ = false;
    }
    registrar_->StopLoop();
    // From here health checks answer NOT_SERVING for every name, so balancers stop sending.
    {
      std::lock_guard<std::mutex> h(health_mu_);
      if (health_ != nullptr) health_->Shutdown();
      health_ = nullptr;
    }
    absl::Status dereg = registrar_->Deregister();
    if (!dereg.ok())
      log::Warn(absl::StrCat("server ", options_.name, ": deregister: ", dereg.message()));
    // Serve late arrivals from clients whose caches still hold us.
    std::this_thread::sleep_for(options_.drain_grace);
    Shutdown();
    log::Info(absl::StrCat("server ", options_.name, " (", options_.id, ") stopped"));
    return dereg;
  }

  std::string listen_address() const { return listen_address_; }
  std::string advertised_address() const { return advertised_; }
  registry::Service Registration() const {
    return registrar_ == nullptr ? registry::Service() : registrar_->registration();
  }
  void SetServing(bool serving) {
    std::lock_guard<std::mutex> l(mu_);
    serving_ = serving;
    if (registrar_ != nullptr) registrar_->SetServing(serving);
  }
  bool Ready() const {
    std::lock_guard<std::mutex> l(mu_);
    return running_ && registrar_ != nullptr && registrar_->Ready();
  }
  ServerOptions& options() { return options_; }

  // Decodes, runs the handler and encodes, on a pool thread; `done` gets the status.
  // `cancel` is cancelled when gRPC cancels the call.
  // The endpoint a path calls, or null.
  const Endpoint* Find(const std::string& path) const {
    std::string name;
    if (!internal::EndpointFromPath(path, &name)) return nullptr;
    auto it = endpoints_.find(name);
    return it == endpoints_.end() ? nullptr : &it->second;
  }

  void Dispatch(const grpc::ServerContextBase* ctx, const std::string& path,
                grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                std::shared_ptr<Cancellation> cancel,
                std::function<void(const grpc::Status&)> done) {
    const Endpoint* ep = Find(path);  // streaming endpoints never get here: they have reactors
    if (ep == nullptr) {
      done(internal::ToGrpcStatus(
          errors::NotImplemented(options_.name, absl::StrCat("unknown endpoint for path ", path)),
          options_.name));
      return;
    }
    if (pool_ == nullptr) {
      done(Invoke(*ctx, *ep, request, response, std::move(cancel)));
      return;
    }
    detail::Placement* placement = options_.adaptive_handlers ? ep->placement.get() : nullptr;
    auto run = [&] { return Invoke(*ctx, *ep, request, response, std::move(cancel)); };
    if (placement != nullptr && placement->Inline()) {
      done(placement->Watch(/*on_pool=*/false, run));  // here, on gRPC's thread
      return;
    }
    pool_->Post([this, ctx, ep, request, response, placement, cancel = std::move(cancel),
                 done = std::move(done)]() mutable {
      auto run = [&] { return Invoke(*ctx, *ep, request, response, std::move(cancel)); };
      done(placement == nullptr ? run() : placement->Watch(/*on_pool=*/true, run));
    });
  }

 private:
  // A typed gRPC service for one proto service whose methods hand raw bytes to Dispatch.
  // Streaming methods are bidirectional on the wire whatever their kind: the handler decides.
  class TypedService : public grpc::Service {
   public:
    TypedService(Impl* impl, const std::vector<std::string>& paths)
        : paths_(paths.begin(), paths.end()) {
      for (std::size_t i = 0; i < paths_.size(); ++i) {
        const Endpoint* ep = impl->Find(paths_[i]);
        if (ep->streaming()) {
          AddMethod(new grpc::internal::RpcServiceMethod(
              paths_[i].c_str(), grpc::internal::RpcMethod::BIDI_STREAMING, nullptr));
          MarkMethodRawCallback(
              static_cast<int>(i),
              new grpc::internal::CallbackBidiHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                  [impl, ep](grpc::CallbackServerContext* ctx) {
                    return detail::NewStreamCall(ctx, *ep, impl->streams_);
                  }));
          continue;
        }
        AddMethod(new grpc::internal::RpcServiceMethod(
            paths_[i].c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
        const std::string* path = &paths_[i];
        MarkMethodRawCallback(
            static_cast<int>(i),
            new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                [impl, path](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
                             grpc::ByteBuffer* rsp) {
                  auto* reactor = new UnaryReactor();
                  impl->Dispatch(ctx, *path, const_cast<grpc::ByteBuffer*>(req), rsp,
                                 reactor->cancel,
                                 [reactor](const grpc::Status& s) { reactor->Finish(s); });
                  return reactor;
                }));
      }
    }

   private:
    std::deque<std::string> paths_;  // RpcServiceMethod keeps the char pointers
  };

  // A unary call's reactor: passes gRPC's cancellation on to the handler's context.
  class UnaryReactor : public grpc::ServerUnaryReactor {
   public:
    std::shared_ptr<Cancellation> cancel = std::make_shared<Cancellation>();
    void OnCancel() override { cancel->Cancel(); }
    void OnDone() override { delete this; }
  };

  // Unary calls on paths no typed service claims.
  class GenericReactor : public grpc::ServerGenericBidiReactor {
   public:
    GenericReactor(Impl* impl, grpc::GenericCallbackServerContext* ctx) : impl_(impl), ctx_(ctx) {
      StartRead(&request_);
    }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
        return;
      }
      impl_->Dispatch(ctx_, ctx_->method(), &request_, &response_, cancel_,
                      [this](const grpc::Status& s) {
                        if (s.ok()) {
                          StartWriteAndFinish(&response_, grpc::WriteOptions(), s);
                        } else {
                          Finish(s);
                        }
                      });
    }
    void OnCancel() override { cancel_->Cancel(); }
    void OnDone() override { delete this; }

   private:
    Impl* impl_;
    grpc::GenericCallbackServerContext* ctx_;
    grpc::ByteBuffer request_, response_;
    std::shared_ptr<Cancellation> cancel_ = std::make_shared<Cancellation>();
  };

  class GenericService : public grpc::CallbackGenericService {
   public:
    explicit GenericService(Impl* impl) : impl_(impl) {}
    grpc::ServerGenericBidiReactor* CreateReactor(
        grpc::GenericCallbackServerContext* ctx) override {
      const Endpoint* ep = impl_->Find(ctx->method());
      if (ep != nullptr && ep->streaming()) return detail::NewStreamCall(ctx, *ep, impl_->streams_);
      return new GenericReactor(impl_, ctx);
    }

   private:
    Impl* impl_;
  };

  void BuildTypedServices() {
    std::map<const pb::ServiceDescriptor*, std::vector<std::string>> by_service;
    for (auto& [name, ep] : endpoints_) {
      const pb::MethodDescriptor* md = ep.method.descriptor;
      by_service[md->service()].push_back(
          absl::StrCat("/", md->service()->full_name(), "/", md->name()));
    }
    typed_.clear();
    for (auto& [svc, paths] : by_service)
      typed_.push_back(std::make_unique<TypedService>(this, paths));
  }

  grpc::Status Invoke(const grpc::ServerContextBase& call, const Endpoint& ep,
                      grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                      std::shared_ptr<Cancellation> cancel) {
    Context ctx;
    detail::FillContext(call, options_.name, ep, std::move(cancel), &ctx);
    ServerSpan span(ctx);
    log::Scope scope(ctx.service, ctx.request_id,
                     ctx.span.valid() ? ctx.span.trace_id.data() : nullptr);
    auto started = std::chrono::steady_clock::now();
    if (ep.stats != nullptr) ep.stats->Begin();
    grpc::Status status = Serve(ctx, ep, request, response);
    if (ep.stats != nullptr) {
      int code =
          status.ok() ? 0 : errors::FromStatus(internal::FromGrpcStatus(status), ctx.service).code;
      ep.stats->End(code, std::chrono::steady_clock::now() - started);
    }
    span.End(ctx, call, status);
    return status;
  }

  grpc::Status Serve(Context& ctx, const Endpoint& ep, grpc::ByteBuffer* request,
                     grpc::ByteBuffer* response) {
    auto ct = ctx.metadata.find("x-content-type");
    ctx.content_type = ct == ctx.metadata.end() ? internal::kContentTypeProto : ct->second;
    Codec codec;
    if (absl::Status s = internal::CodecFor(ctx.content_type, &codec); !s.ok()) {
      return internal::ToGrpcStatus(errors::BadRequest(options_.name, s.message()), options_.name);
    }
    std::unique_ptr<pb::Message> in(ep.method.request_prototype->New());
    std::unique_ptr<pb::Message> out(ep.method.response_prototype->New());
    if (absl::Status s = internal::Decode(request, codec, in.get()); !s.ok()) {
      return internal::ToGrpcStatus(errors::BadRequest(options_.name, s.message()), options_.name);
    }
    absl::Status result;
    try {
      result = ep.wrapped(ctx, *in, out.get());
    } catch (const std::exception& e) {
      result = errors::InternalServerError(options_.name,
                                           absl::StrCat(ctx.endpoint, " threw: ", e.what()));
    } catch (...) {
      result = errors::InternalServerError(options_.name, absl::StrCat(ctx.endpoint, " threw"));
    }
    if (!result.ok()) return internal::ToGrpcStatus(result, options_.name);
    if (absl::Status s = internal::Encode(*out, codec, response); !s.ok()) {
      return internal::ToGrpcStatus(errors::InternalServerError(options_.name, s.message()),
                                    options_.name);
    }
    return grpc::Status::OK;
  }

  registry::Service BuildRegistration() const {
    registry::Service s;
    s.name = options_.name;
    s.version = options_.version;
    for (const auto& [name, ep] : endpoints_)
      s.endpoints.push_back(internal::EndpointFor(*ep.method.descriptor));
    std::sort(
        s.endpoints.begin(), s.endpoints.end(),
        [](const registry::Endpoint& a, const registry::Endpoint& b) { return a.name < b.name; });
    registry::Node node{options_.id, advertised_, options_.metadata};
    std::string reg = options_.registry->String();
    node.metadata.emplace("registry", reg.substr(0, reg.find(':')));
    node.metadata.emplace("server", "grpc");
    node.metadata.emplace("transport", "grpc");
    node.metadata.emplace("broker", "http");
    node.metadata.emplace("protocol", "grpc");
    node.metadata.emplace(internal::kSecureKey, options_.tls.server_enabled() ? "true" : "false");
    s.nodes.push_back(std::move(node));
    return s;
  }

  void SetGrpcHealth(bool serving) {
    std::lock_guard<std::mutex> h(health_mu_);
    if (health_ != nullptr) health_->SetServingStatus(serving);
  }

  void Shutdown() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() + options_.drain_timeout);
      server_->Wait();
      server_.reset();
    }
    // Streams' threads let go right after finishing their calls.
    if (streams_.threads != nullptr) streams_.threads->WaitIdle();
    pool_.reset();  // runs what is queued, then joins
  }

  ServerOptions options_;
  mutable std::mutex mu_;
  bool running_ = false;
  absl::flat_hash_map<std::string, Endpoint> endpoints_;  // fixed once started
  std::vector<std::unique_ptr<TypedService>> typed_;
  std::unique_ptr<GenericService> generic_;
  detail::StreamSettings streams_;
  std::unique_ptr<internal::ThreadPool> pool_;
  std::unique_ptr<grpc::Server> server_;
  std::string listen_address_, advertised_;
  std::unique_ptr<detail::Registrar> registrar_;
  bool serving_ = true;  // SetServing before Start carries over
  std::mutex health_mu_;
  grpc::HealthCheckServiceInterface* health_ = nullptr;  // until Stop shuts it down
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
absl::Status Server::Handle(std::vector<Method> methods) {
  return impl_->Handle(std::move(methods));
}
absl::Status Server::Start() { return impl_->Start(); }
absl::Status Server::Stop() { return impl_->Stop(); }
std::string Server::listen_address() const { return impl_->listen_address(); }
std::string Server::advertised_address() const { return impl_->advertised_address(); }
registry::Service Server::Registration() const { return impl_->Registration(); }
ServerOptions& Server::options() { return impl_->options(); }
void Server::SetServing(bool serving) { impl_->SetServing(serving); }
bool Server::Ready() const { return impl_->Ready(); }

}  // namespace micro::server
