// Client streams. A StreamState is the stream the caller holds; each node it tries is an Attempt,
// a gRPC callback reactor. Every operation is decided under the state's lock and started outside
// it (gRPC may complete an operation on the thread that starts it): Pump starts what can start.
// An attempt holds gRPC's OnDone back (AddHold) while the caller may still start operations on it;
// the hold goes once its reading side ended, a write failed, or the stream was cancelled.
#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/client_callback.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/stream_call.h"
#include "core/blocking.h"
#include "core/wire.h"
#include "micro/client/client.h"
#include "micro/errors.h"

namespace micro::client {

namespace detail {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReplayMessages = 64;
constexpr std::size_t kReplayBytes = std::size_t(4) << 20;
constexpr std::size_t kReadAhead = 16;
using Run = std::vector<std::function<void()>>;

}  // namespace

class Attempt;

class StreamState : public std::enable_shared_from_this<StreamState> {
 public:
  StreamState(std::shared_ptr<StreamHost> host, StreamSetup setup, selector::Next next)
      : host_(std::move(host)), setup_(std::move(setup)), next_(std::move(next)) {
    path_ = internal::PathFor(setup_.service, setup_.endpoint);
    span_ = ClientSpan::Begin(setup_.options);
    span_.AddTo(&setup_.metadata);
    if (setup_.stats != nullptr) setup_.stats->Begin();
    started_ = Clock::now();
  }

  // The client may go with this (its last reference): on its timer thread, as Attempt's channel.
  ~StreamState() {
    StreamHost* h = host_.get();
    h->After(std::chrono::milliseconds(0), [keep = std::move(host_)] {});
  }

  void Begin() {
    if (setup_.options.cancel != nullptr) {
      std::weak_ptr<StreamState> weak = weak_from_this();
      cancel_handle_ = setup_.options.cancel->OnCancel([weak] {
        if (auto s = weak.lock()) s->Cancel(CancelledError(s->setup_.service));
      });
    }
    NewAttempt();
  }

  bool json() const { return setup_.json; }

  std::string peer() {
    std::lock_guard<std::mutex> l(mu_);
    return peer_;
  }

  void Send(grpc::ByteBuffer message, std::function<void(absl::Status)> done) {
    Run run;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (final_.has_value()) {
        run.push_back([done, s = SendError()] { done(s); });
      } else if (close_send_) {
        run.push_back(
            [done] { done(absl::FailedPreconditionError("stream: Send after CloseSend")); });
      } else if (pending_.size() < std::size_t(setup_.window)) {
        pending_.push_back(std::move(message));
        run.push_back([done] { done(absl::OkStatus()); });
        Pump(l, &run);
      } else if (send_waiter_) {
        run.push_back(
            [done] { done(absl::FailedPreconditionError("stream: one Send at a time")); });
      } else {
        waiting_message_ = std::move(message);
        send_waiter_ = std::move(done);
      }
    }
    for (auto& f : run) f();
  }

  void Recv(std::function<void(absl::StatusOr<grpc::ByteBuffer>)> done) {
    Run run;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (!inbox_.empty()) {
        run.push_back([done, m = std::move(inbox_.front())]() mutable { done(std::move(m)); });
        inbox_.pop_front();
        Pump(l, &run);  // room to read ahead again
      } else if (final_.has_value()) {
        absl::Status s = final_->ok() ? EndOfStream() : *final_;
        run.push_back([done, s] { done(s); });
      } else if (recv_waiter_) {
        run.push_back(
            [done] { done(absl::FailedPreconditionError("stream: one Recv at a time")); });
      } else {
        recv_waiter_ = std::move(done);
        Pump(l, &run);
      }
    }
    for (auto& f : run) f();
  }

  void CloseSend() {
    Run run;
    {
      std::unique_lock<std::mutex> l(mu_);
      close_send_ = true;
      Pump(l, &run);
    }
    for (auto& f : run) f();
  }

  // Ends the stream with `why` unless it ended: the attempt is cancelled, the caller's waits end.
  void Cancel(absl::Status why);

  void WriteDone(Attempt* a, bool ok);
  void ReadDone(Attempt* a, bool ok);
  void Done(Attempt* a, const grpc::Status& status);

 private:
  absl::Status SendError() const { return final_->ok() ? EndOfStream() : *final_; }
  void NewAttempt();
  void Pump(std::unique_lock<std::mutex>& l, Run* run);
  void ReleaseHold(const std::shared_ptr<Attempt>& a, Run* run);
  void End(absl::Status status, Run* run);

  std::shared_ptr<StreamHost> host_;
  StreamSetup setup_;
  selector::Next next_;
  std::string path_;
  ClientSpan span_;
  Clock::time_point started_;
  std::uint64_t cancel_handle_ = 0;

  std::mutex mu_;  // guards everything below and the attempts' flags
  std::shared_ptr<Attempt> current_;
  std::string peer_;
  std::vector<std::string> tried_;
  int attempt_ = 0, rounds_ = 0;
  absl::Status last_;
  std::deque<grpc::ByteBuffer> pending_;   // not yet written on the current attempt
  std::vector<grpc::ByteBuffer> written_;  // written on it, kept while it may move on
  std::size_t written_bytes_ = 0;
  bool replay_ = true;  // may still move to another node
  bool close_send_ = false;
  grpc::ByteBuffer waiting_message_;
  std::function<void(absl::Status)> send_waiter_;
  std::function<void(absl::StatusOr<grpc::ByteBuffer>)> recv_waiter_;
  // Messages read ahead of the caller's Recv (at most kReadAhead): a caller reading in a loop
  // rarely waits for a thread switch per message, and the server's window stays bounded.
  std::deque<grpc::ByteBuffer> inbox_;
  std::optional<absl::Status> final_;
};

class Attempt : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // The channel goes on the client's timer thread: this may be running on a gRPC callback thread
  // (the end of OnDone, or a caller dropping its stream in a callback), and destroying the last
  // channel there shuts down the completion queue that thread serves.
  ~Attempt() override {
    StreamHost* h = host.get();
    h->After(std::chrono::milliseconds(0), [c = std::move(conn), h = std::move(host)] {});
  }
  std::shared_ptr<StreamHost> host;
  grpc::ClientContext ctx;
  std::shared_ptr<StreamState> state;  // until OnDone
  std::shared_ptr<Attempt> self;       // until OnDone
  std::shared_ptr<internal::ChannelPool::Conn> conn;
  registry::Node node;
  bool tls = false;
  grpc::ByteBuffer write, read;
  // Guarded by the state's lock.
  bool writing = false, reading = false, writes_done = false, closing = false, released = false;
  bool finished = false;  // OnDone ran: the call is gone, not even TryCancel may touch it
  int starting = 0;       // operations decided on and not yet started

  void OnWriteDone(bool ok) override { state->WriteDone(this, ok); }
  void OnReadDone(bool ok) override { state->ReadDone(this, ok); }
  void OnDone(const grpc::Status& s) override {
    std::shared_ptr<Attempt> keep = std::move(self);
    std::shared_ptr<StreamState> st = std::move(state);
    st->Done(this, s);
  }
};

void StreamState::NewAttempt() {
  Run run;
  std::shared_ptr<Attempt> a;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (final_.has_value()) return;
    registry::Node node;
    bool tls = false;
    auto conn = host_->Connect(next_, &tried_, &node, &tls);
    if (conn == nullptr) {
      End(attempt_ == 0 ? host_->Unreachable(setup_.service) : last_, &run);
    } else {
      a = std::make_shared<Attempt>();
      a->host = host_;
      a->self = a;
      a->state = shared_from_this();
      a->conn = std::move(conn);
      a->node = std::move(node);
      a->tls = tls;
      if (setup_.deadline != Clock::time_point::max()) {
        a->ctx.set_deadline(std::chrono::system_clock::now() +
                            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                setup_.deadline - Clock::now()));
      }
      for (const auto& [k, v] : setup_.metadata) a->ctx.AddMetadata(k, v);
      if (setup_.deadline != Clock::time_point::max())
        a->ctx.AddMetadata("timeout", TimeoutNanos(setup_.deadline));
      a->conn->stub.PrepareBidiStreamingCall(&a->ctx, path_, grpc::StubOptions(), a.get());
      a->AddHold();
      current_ = a;
      peer_ = a->node.address;
      ++a->starting;
    }
  }
  if (a != nullptr) {
    a->StartCall();
    std::unique_lock<std::mutex> l(mu_);
    --a->starting;
    Pump(l, &run);
  }
  for (auto& f : run) f();
}

void StreamState::Pump(std::unique_lock<std::mutex>& l, Run* run) {
  std::shared_ptr<Attempt> a = current_;
  while (a != nullptr && !a->closing && !final_.has_value()) {
    enum { kNone, kWrite, kWritesDone, kRead } op = kNone;
    if (!a->writing && !pending_.empty()) {
      a->writing = true;
      a->write = std::move(pending_.front());
      pending_.pop_front();
      if (replay_) {
        written_bytes_ += a->write.Length();
        written_.push_back(a->write);  // shares the slices
        if (written_.size() > kReplayMessages || written_bytes_ > kReplayBytes) {
          replay_ = false;
          written_.clear();
        }
      }
      if (send_waiter_) {
        pending_.push_back(std::move(waiting_message_));
        run->push_back([f = std::move(send_waiter_)] { f(absl::OkStatus()); });
        send_waiter_ = nullptr;
      }
      op = kWrite;
    } else if (!a->writing && !a->writes_done && close_send_ && pending_.empty()) {
      a->writes_done = true;
      op = kWritesDone;
    } else if (!a->reading && (recv_waiter_ || inbox_.size() < kReadAhead)) {
      a->reading = true;
      op = kRead;
    }
    if (op == kNone) break;
    ++a->starting;
    l.unlock();
    if (op == kWrite) a->StartWrite(&a->write);
    if (op == kWritesDone) a->StartWritesDone();
    if (op == kRead) a->StartRead(&a->read);
    l.lock();
    --a->starting;
  }
  if (a != nullptr) ReleaseHold(a, run);
}

// Lets gRPC finish the attempt once nothing more will be started on it.
void StreamState::ReleaseHold(const std::shared_ptr<Attempt>& a, Run* run) {
  if (!a->closing || a->released || a->starting > 0) return;
  a->released = true;
  run->push_back([a] { a->RemoveHold(); });
}

void StreamState::WriteDone(Attempt* a, bool ok) {
  Run run;
  {
    std::unique_lock<std::mutex> l(mu_);
    a->writing = false;
    if (!ok) a->closing = true;  // the call is over; its status follows in Done
    if (current_.get() == a) Pump(l, &run);
    if (a->closing && current_.get() == a) ReleaseHold(current_, &run);
  }
  for (auto& f : run) f();
}

void StreamState::ReadDone(Attempt* a, bool ok) {
  Run run;
  {
    std::unique_lock<std::mutex> l(mu_);
    a->reading = false;
    if (current_.get() != a) return;
    if (ok) {
      replay_ = false;  // answered: the stream stays on this node
      written_.clear();
      if (recv_waiter_) {
        run.push_back(
            [f = std::move(recv_waiter_), m = std::move(a->read)]() mutable { f(std::move(m)); });
        recv_waiter_ = nullptr;
      } else {
        inbox_.push_back(std::move(a->read));
      }
    } else {
      a->closing = true;  // the server finished (or the call failed): the status follows
    }
    Pump(l, &run);
  }
  for (auto& f : run) f();
}

void StreamState::Done(Attempt* a, const grpc::Status& status) {
  Run run;
  bool again = false;
  std::chrono::milliseconds wait{0};
  {
    std::unique_lock<std::mutex> l(mu_);
    a->finished = true;
    grpc::Status st = host_->Hint(status, a->tls);
    bool retryable = !st.ok() && host_->Retryable(st);
    if (current_.get() == a) {
      absl::Status err = st.ok() ? absl::OkStatus() : internal::FromGrpcStatus(st);
      next_.Mark(retryable ? err : absl::OkStatus());
      if (retryable && replay_ && !final_.has_value() && attempt_ < setup_.retries) {
        ++attempt_;
        last_ = err;
        wait = host_->RetryWait(next_, a->node.id, &tried_, &rounds_);
        if (setup_.deadline == Clock::time_point::max() || Clock::now() + wait < setup_.deadline) {
          again = true;
          for (auto it = written_.rbegin(); it != written_.rend(); ++it) pending_.push_front(*it);
          written_.clear();
          written_bytes_ = 0;
          current_.reset();
        }
      }
      if (!again) End(err, &run);
    }
  }
  for (auto& f : run) f();
  if (again) {
    std::shared_ptr<StreamState> self = shared_from_this();
    host_->After(wait, [self] { self->NewAttempt(); });
  }
}

void StreamState::Cancel(absl::Status why) {
  Run run;
  std::shared_ptr<Attempt> a;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (!final_.has_value()) inbox_.clear();  // cancelled: what was read ahead is not delivered
    End(std::move(why), &run);                // unless it ended
    if (current_ != nullptr && !current_->finished) {
      a = current_;
      a->closing = true;
      ++a->starting;  // keeps the hold (and the call) until TryCancel returned
    }
  }
  if (a != nullptr) {
    a->ctx.TryCancel();
    std::unique_lock<std::mutex> l(mu_);
    --a->starting;
    ReleaseHold(a, &run);
  }
  for (auto& f : run) f();
}

void StreamState::End(absl::Status status, Run* run) {
  if (final_.has_value()) return;
  final_ = status;
  if (setup_.stats != nullptr)
    setup_.stats->End(status.ok() ? 0 : errors::FromStatus(status).code, Clock::now() - started_);
  span_.End(setup_.options, setup_.service, setup_.endpoint, peer_, status);
  if (recv_waiter_) {
    absl::Status s = status.ok() ? EndOfStream() : status;
    run->push_back([f = std::move(recv_waiter_), s] { f(s); });
    recv_waiter_ = nullptr;
  }
  if (send_waiter_) {
    run->push_back([f = std::move(send_waiter_), s = SendError()] { f(s); });
    send_waiter_ = nullptr;
  }
  pending_.clear();
  written_.clear();
  if (cancel_handle_ != 0) {
    std::uint64_t h = cancel_handle_;
    cancel_handle_ = 0;
    run->push_back([c = setup_.options.cancel, h] { c->Remove(h); });
  }
}

std::shared_ptr<StreamState> StartStream(std::shared_ptr<StreamHost> host, StreamSetup setup,
                                         selector::Next next) {
  auto state = std::make_shared<StreamState>(std::move(host), std::move(setup), std::move(next));
  state->Begin();
  return state;
}

}  // namespace detail

namespace {

// Waits for one callback's result.
template <typename T>
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<T> result;
  void Set(T v) {
    std::lock_guard<std::mutex> l(mu);
    result.emplace(std::move(v));
    cv.notify_all();
  }
  T Wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [this] { return result.has_value(); });
    return std::move(*result);
  }
};

}  // namespace

Stream::Stream(std::shared_ptr<detail::StreamState> state) : state_(std::move(state)) {}

Stream::~Stream() { state_->Cancel(absl::CancelledError("stream closed")); }

void Stream::Close() { state_->Cancel(absl::CancelledError("stream closed")); }

void Stream::CloseSend() { state_->CloseSend(); }

std::string Stream::peer() const { return state_->peer(); }

absl::Status Stream::Send(const google::protobuf::Message& message) {
  grpc::ByteBuffer b;
  if (absl::Status s = internal::Encode(
          message, state_->json() ? internal::Codec::kJson : internal::Codec::kProto, &b);
      !s.ok())
    return s;
  Waiter<absl::Status> w;
  state_->Send(std::move(b), [&w](absl::Status s) { w.Set(std::move(s)); });
  return w.Wait();
}

absl::Status Stream::Recv(google::protobuf::Message* message) {
  Waiter<absl::StatusOr<grpc::ByteBuffer>> w;
  state_->Recv([&w](absl::StatusOr<grpc::ByteBuffer> m) { w.Set(std::move(m)); });
  absl::StatusOr<grpc::ByteBuffer> got = w.Wait();
  if (!got.ok()) return got.status();
  return internal::Decode(&*got, state_->json() ? internal::Codec::kJson : internal::Codec::kProto,
                          message);
}

absl::Status Stream::SendRaw(std::string message) {
  Waiter<absl::Status> w;
  SendRawAsync(std::move(message), [&w](absl::Status s) { w.Set(std::move(s)); });
  return w.Wait();
}

absl::Status Stream::RecvRaw(std::string* message) {
  Waiter<absl::StatusOr<std::string>> w;
  RecvRawAsync([&w](absl::StatusOr<std::string> m) { w.Set(std::move(m)); });
  absl::StatusOr<std::string> got = w.Wait();
  if (!got.ok()) return got.status();
  *message = std::move(*got);
  return absl::OkStatus();
}

void Stream::SendAsync(const google::protobuf::Message& message,
                       std::function<void(absl::Status)> done) {
  grpc::ByteBuffer b;
  if (absl::Status s = internal::Encode(
          message, state_->json() ? internal::Codec::kJson : internal::Codec::kProto, &b);
      !s.ok()) {
    done(s);
    return;
  }
  state_->Send(std::move(b), std::move(done));
}

void Stream::RecvAsync(google::protobuf::Message* message, std::function<void(absl::Status)> done) {
  bool json = state_->json();
  state_->Recv([message, json, done = std::move(done)](absl::StatusOr<grpc::ByteBuffer> m) {
    if (!m.ok()) {
      done(m.status());
      return;
    }
    done(internal::Decode(&*m, json ? internal::Codec::kJson : internal::Codec::kProto, message));
  });
}

void Stream::SendRawAsync(std::string message, std::function<void(absl::Status)> done) {
  state_->Send(internal::BytesOf(message), std::move(done));
}

void Stream::RecvRawAsync(std::function<void(absl::StatusOr<std::string>)> done) {
  state_->Recv([done = std::move(done)](absl::StatusOr<grpc::ByteBuffer> m) {
    if (!m.ok()) {
      done(m.status());
    } else {
      done(internal::StringOf(*m));
    }
  });
}

absl::StatusOr<std::unique_ptr<Stream>> Client::OpenStream(absl::string_view service,
                                                           absl::string_view endpoint,
                                                           const CallOptions& options) {
  internal::NoteBlocking();  // a handler opening a stream waits on it (server/placement.h)
  detail::StreamSetup setup;
  if (absl::Status s = streams_->Setup(service, endpoint, options, &setup); !s.ok()) return s;
  auto next = streams_->selector().Select(setup.service, {options.filters},
                                          streams_->SelectDeadline(setup));
  if (!next.ok()) return detail::SelectError(service, next.status());
  return std::make_unique<Stream>(
      detail::StartStream(streams_, std::move(setup), std::move(*next)));
}

void Client::OpenStreamAsync(absl::string_view service, absl::string_view endpoint,
                             std::function<void(absl::StatusOr<std::unique_ptr<Stream>>)> done,
                             const CallOptions& options) {
  auto setup = std::make_shared<detail::StreamSetup>();
  if (absl::Status s = streams_->Setup(service, endpoint, options, setup.get()); !s.ok()) {
    done(s);
    return;
  }
  std::shared_ptr<detail::StreamHost> impl = streams_;
  auto opened = [impl, setup, done = std::move(done)](absl::StatusOr<selector::Next> next) {
    if (!next.ok()) {
      done(detail::SelectError(setup->service, next.status()));
      return;
    }
    done(std::make_unique<Stream>(detail::StartStream(impl, std::move(*setup), std::move(*next))));
  };
  absl::StatusOr<selector::Next> now;
  if (streams_->selector().SelectCached(setup->service, {options.filters}, &now)) {
    opened(std::move(now));
    return;
  }
  streams_->selector().SelectAsync(setup->service, {options.filters},
                                   streams_->SelectDeadline(*setup), std::move(opened));
}

}  // namespace micro::client
