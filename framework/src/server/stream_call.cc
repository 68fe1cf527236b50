// Streaming calls: a gRPC callback reactor on one side, a handler blocking in Recv/Send on its own
// thread on the other. One read is outstanding at a time (Recv asks for it); sends queue up to the
// send window behind the write in flight, and Send waits beyond it, so a client that reads slowly
// holds its writer back instead of growing memory. The handler's return finishes the call once
// what it queued is written (or the call ended).
#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>

#include <deque>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/wire.h"
#include "micro/errors.h"
#include "micro/log.h"
#include "server/call.h"
#include "server/server_span.h"

namespace micro::server::detail {

using micro::internal::Codec;

void FillContext(const grpc::ServerContextBase& call, const std::string& service,
                 const Endpoint& ep, std::shared_ptr<Cancellation> cancel, Context* ctx) {
  ctx->cancel = std::move(cancel);
  ctx->service = service;
  ctx->endpoint =
      absl::StrCat(ep.method.descriptor->service()->name(), ".", ep.method.descriptor->name());
  for (const auto& [k, v] : call.client_metadata()) {
    ctx->metadata[absl::AsciiStrToLower(absl::string_view(k.data(), k.size()))] =
        std::string(v.data(), v.size());
  }
  ctx->deadline = call.deadline();
  if (ctx->deadline == std::chrono::system_clock::time_point::max()) {
    // No gRPC deadline: go-micro's `timeout` metadata (nanoseconds), as its server reads it.
    auto t = ctx->metadata.find("timeout");
    int64_t ns = 0;
    if (t != ctx->metadata.end() && absl::SimpleAtoi(t->second, &ns) && ns > 0) {
      ns = std::min<int64_t>(ns, int64_t{30} * 24 * 3600 * 1000000000);  // at most 30 days
      ctx->deadline = std::chrono::system_clock::now() +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          std::chrono::nanoseconds(ns));
    }
  }
  auto rid = ctx->metadata.find("x-request-id");
  if (rid != ctx->metadata.end()) ctx->request_id = rid->second;
}

bool StreamThreads::Acquire() {
  std::lock_guard<std::mutex> l(mu_);
  if (open_ >= max_) return false;
  ++open_;
  return true;
}

void StreamThreads::Release() {
  std::lock_guard<std::mutex> l(mu_);
  if (--open_ == 0) cv_.notify_all();
}

void StreamThreads::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return open_ == 0; });
}

int StreamThreads::open() {
  std::lock_guard<std::mutex> l(mu_);
  return open_;
}

namespace {

class StreamCall final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public ServerStream {
 public:
  StreamCall(grpc::CallbackServerContext* call, const Endpoint& ep, const StreamSettings& settings)
      : call_(call), ep_(ep), settings_(settings) {}

  void Begin() {
    if (!settings_.threads->Acquire()) {
      Finish(micro::internal::ToGrpcStatus(
          errors::New(settings_.service,
                      absl::StrCat("too many open streams (max_open_streams); try again later"),
                      429),
          settings_.service));
      return;
    }
    std::thread([this] { Run(); }).detach();
  }

  absl::Status Recv(google::protobuf::Message* message) override {
    grpc::ByteBuffer got;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (cancelled_ || reading_) return Ended();
      if (read_end_) return EndOfStream();
      reading_ = true;
      read_done_ = false;
      l.unlock();
      StartRead(&read_);
      l.lock();
      cv_.wait(l, [this] { return read_done_ || cancelled_; });
      if (!read_done_) return Ended();  // the read completes (not ok) on its own
      if (!read_ok_) {
        read_end_ = true;
        return cancelled_ ? Ended() : EndOfStream();
      }
      got = std::move(read_);
    }
    if (absl::Status s = micro::internal::Decode(&got, codec_, message); !s.ok())
      return absl::InvalidArgumentError(s.message());
    return absl::OkStatus();
  }

  absl::Status Send(const google::protobuf::Message& message) override {
    grpc::ByteBuffer b;
    if (absl::Status s = micro::internal::Encode(message, codec_, &b); !s.ok())
      return absl::InternalError(s.message());
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] {
      return cancelled_ || write_failed_ || queue_.size() < std::size_t(settings_.send_window);
    });
    if (cancelled_ || write_failed_) return Ended();
    if (writing_) {
      queue_.push_back(std::move(b));
      return absl::OkStatus();
    }
    writing_ = true;
    write_ = std::move(b);
    l.unlock();
    StartWrite(&write_);
    return absl::OkStatus();
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::mutex> l(mu_);
    read_ok_ = ok;
    read_done_ = true;
    reading_ = false;
    cv_.notify_all();
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> l(mu_);
    if (!ok || queue_.empty()) {
      if (!ok) {
        write_failed_ = true;
        queue_.clear();
      }
      writing_ = false;
      cv_.notify_all();
      return;
    }
    write_ = std::move(queue_.front());
    queue_.pop_front();
    // More queued behind it: gRPC may hold this one back and send them together (one frame
    // batch, one syscall); the last of a burst goes without the hint and flushes.
    grpc::WriteOptions options;
    if (!queue_.empty()) options.set_buffer_hint();
    // A Send waiting for room wakes once half the window is free, not for every message.
    if (queue_.size() <= std::size_t(settings_.send_window) / 2) cv_.notify_all();
    l.unlock();
    StartWrite(&write_, options);
  }

  // The context says cancelled before Recv or Send wake up with the news.
  void OnCancel() override {
    cancel_->Cancel();
    std::lock_guard<std::mutex> l(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

  void OnDone() override { delete this; }

 private:
  // What Recv and Send say once the call is over: its deadline passed, or it was cancelled.
  absl::Status Ended() const {
    if (call_->deadline() <= std::chrono::system_clock::now())
      return absl::DeadlineExceededError("stream deadline exceeded");
    return absl::CancelledError("stream cancelled");
  }

  void Run() {
    Context ctx;
    FillContext(*call_, settings_.service, ep_, cancel_, &ctx);
    auto ct = ctx.metadata.find("x-content-type");
    ctx.content_type = ct == ctx.metadata.end() ? micro::internal::kContentTypeProto : ct->second;
    micro::internal::ServerSpan span(ctx);
    grpc::Status status;
    {
      log::Scope scope(ctx.service, ctx.request_id,
                       ctx.span.valid() ? ctx.span.trace_id.data() : nullptr);
      auto started = std::chrono::steady_clock::now();
      if (ep_.stats != nullptr) ep_.stats->Begin();
      absl::Status result = micro::internal::CodecFor(ctx.content_type, &codec_);
      if (!result.ok()) {
        result = errors::BadRequest(settings_.service, result.message());
      } else {
        try {
          result = ep_.stream(ctx, *this);
        } catch (const std::exception& e) {
          result = errors::InternalServerError(settings_.service,
                                               absl::StrCat(ctx.endpoint, " threw: ", e.what()));
        } catch (...) {
          result =
              errors::InternalServerError(settings_.service, absl::StrCat(ctx.endpoint, " threw"));
        }
      }
      status =
          result.ok() ? grpc::Status::OK : micro::internal::ToGrpcStatus(result, settings_.service);
      if (ep_.stats != nullptr) {
        int code =
            status.ok()
                ? 0
                : errors::FromStatus(micro::internal::FromGrpcStatus(status), ctx.service).code;
        ep_.stats->End(code, std::chrono::steady_clock::now() - started);
      }
      span.End(ctx, *call_, status);
    }
    {
      // What was queued goes out first; a read still outstanding (a cancelled Recv) completes.
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return (!writing_ && queue_.empty()) || write_failed_ || cancelled_; });
      cv_.wait(l, [this] { return !reading_ && !writing_; });
    }
    std::shared_ptr<StreamThreads> threads = settings_.threads;
    Finish(status);  // gRPC may delete this from here on
    threads->Release();
  }

  grpc::CallbackServerContext* call_;
  const Endpoint& ep_;
  const StreamSettings settings_;
  std::shared_ptr<Cancellation> cancel_ = std::make_shared<Cancellation>();
  Codec codec_ = Codec::kProto;

  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;  // guarded by mu_, as everything below
  grpc::ByteBuffer read_;
  bool reading_ = false, read_done_ = false, read_ok_ = false, read_end_ = false;
  grpc::ByteBuffer write_;              // the write in flight
  std::deque<grpc::ByteBuffer> queue_;  // the writes behind it
  bool writing_ = false, write_failed_ = false;
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewStreamCall(
    grpc::CallbackServerContext* call, const Endpoint& ep, const StreamSettings& settings) {
  auto* reactor = new StreamCall(call, ep, settings);
  reactor->Begin();
  return reactor;
}

}  // namespace micro::server::detail
