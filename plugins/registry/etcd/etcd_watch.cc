#include "etcd_watch.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "etcd_codec.h"
#include "micro/log.h"
#include "micro/plugin/backoff.h"
#include "micro/plugin/queue_watcher.h"

namespace micro::etcd {

absl::Status RangePrefix(EtcdClient& client, const std::string& prefix,
                         std::vector<WatchState::Kv>* out, int64_t* revision) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixEnd(prefix));
  req.set_serializable(true);
  etcdserverpb::RangeResponse res;
  absl::Status s = client.Call(absl::StrCat("range ", prefix),
                               [&](EtcdClient::Member& m, grpc::ClientContext& ctx) {
                                 return m.kv->Range(&ctx, req, &res);
                               });
  if (!s.ok()) return s;
  out->clear();
  out->reserve(res.kvs_size());
  for (const mvccpb::KeyValue& kv : res.kvs()) out->push_back({kv.key(), kv.value()});
  if (revision != nullptr) *revision = res.header().revision();
  return absl::OkStatus();
}

namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMaxQueued = 10000;

class EtcdWatcher : public registry::Watcher {
 public:
  EtcdWatcher(std::shared_ptr<EtcdClient> client, std::string service)
      : client_(std::move(client)),
        service_(std::move(service)),
        prefix_(ServicePrefix(service_)),
        queue_(std::make_shared<plugin::QueueWatcher>(service_, kMaxQueued, "etcd registry")),
        state_([](const std::string& m) { log::Warn(m); }) {}

  ~EtcdWatcher() override {
    Stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Start() {
    std::vector<WatchState::Kv> kvs;
    if (absl::Status s = RangePrefix(*client_, prefix_, &kvs, &revision_); !s.ok()) return s;
    state_.Reset(kvs, false);
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  absl::StatusOr<registry::Result> Next() override { return queue_->Next(); }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    cv_.notify_all();
    queue_->Stop();
  }

 private:
  enum class End { kStopped, kResync, kFailed };

  void Push(const std::vector<registry::Result>& results) {
    for (const registry::Result& r : results) queue_->Push(r);
  }

  bool Stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  bool Sleep(milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [&] { return stopped_; });
    return !stopped_;
  }

  // Reads the prefix again and reports what changed since the state last seen.
  absl::Status Resync() {
    std::vector<WatchState::Kv> kvs;
    int64_t revision = 0;
    if (absl::Status s = RangePrefix(*client_, prefix_, &kvs, &revision); !s.ok()) return s;
    Push(state_.Reset(kvs, true));
    revision_ = revision;
    return absl::OkStatus();
  }

  void Run() {
    int failures = 0;
    bool resync = false;
    while (!Stopped()) {
      if (resync) {
        absl::Status s = Resync();
        if (!s.ok()) {
          failures++;
          if (failures == 1) log::Warn(absl::StrCat("etcd watch on ", prefix_, ": ", s.message()));
          if (!Sleep(plugin::RetryBackoff(failures))) return;
          continue;
        }
        resync = false;
      }
      grpc::Status status;
      std::size_t member = 0;
      End end = WatchOnce(&status, &member, &failures);
      if (end == End::kStopped) return;
      if (end == End::kResync) {
        resync = true;
        continue;
      }
      client_->StreamFailed(member, status);
      failures++;
      log::Debug(absl::StrCat("etcd watch on ", prefix_, ": stream failure ", failures, ": ",
                              status.error_message()));
      if (failures == 1) {
        log::Warn(absl::StrCat("etcd watch on ", prefix_, " lost its stream (",
                               status.error_message(), "); resuming after revision ", revision_));
      }
      if (!Sleep(plugin::RetryBackoff(failures))) return;
    }
  }

  // One watch stream, from revision_ + 1, until it ends.
  End WatchOnce(grpc::Status* status, std::size_t* member, int* failures) {
    absl::StatusOr<EtcdClient::Stream> stream = client_->OpenStream(true);
    if (!stream.ok()) {
      *status = grpc::Status(static_cast<grpc::StatusCode>(stream.status().code()),
                             std::string(stream.status().message()));
      return End::kFailed;
    }
    *member = stream->index;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return End::kStopped;
      context_ = stream->context.get();
    }
    std::unique_ptr<
        grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
        rw = stream->member->watch->Watch(stream->context.get());
    etcdserverpb::WatchRequest req;
    etcdserverpb::WatchCreateRequest* create = req.mutable_create_request();
    create->set_key(prefix_);
    create->set_range_end(PrefixEnd(prefix_));
    create->set_start_revision(revision_ + 1);
    create->set_prev_kv(true);
    create->set_progress_notify(true);
    End end = End::kFailed;
    bool open = false;  // left the loop with the stream still open
    if (rw->Write(req)) {
      etcdserverpb::WatchResponse res;
      while ((open = rw->Read(&res))) {
        if (res.created()) {
          if (*failures > 0) {
            log::Info(absl::StrCat("etcd watch on ", prefix_, " resumed on ",
                                   stream->member->address, " after revision ", revision_));
          }
          *failures = 0;
          if (res.header().revision() < revision_) {
            // The store is older than what we saw: etcd lost its data.
            log::Warn(absl::StrCat("etcd at ", stream->member->address, " is at revision ",
                                   res.header().revision(), ", before ", revision_,
                                   " seen already; reading ", prefix_, " again"));
            end = End::kResync;
            break;
          }
        }
        if (res.canceled()) {
          if (res.compact_revision() > 0) {
            log::Info(absl::StrCat("etcd watch on ", prefix_, ": revision ", revision_ + 1,
                                   " was compacted (now ", res.compact_revision(),
                                   "); reading the prefix again"));
            end = End::kResync;
          } else {
            *status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   absl::StrCat("watch cancelled by etcd: ", res.cancel_reason()));
          }
          break;
        }
        for (const mvccpb::Event& ev : res.events()) {
          if (ev.type() == mvccpb::Event::DELETE) {
            Push(state_.Delete(ev.kv().key()));
          } else {
            Push(state_.Put({ev.kv().key(), ev.kv().value()}));
          }
          revision_ = std::max(revision_, ev.kv().mod_revision());
        }
        if (res.events_size() == 0 && !res.created()) {
          revision_ = std::max(revision_, res.header().revision());  // progress notification
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      context_ = nullptr;
    }
    if (open) stream->context->TryCancel();
    grpc::Status finish = rw->Finish();
    if (Stopped()) return End::kStopped;
    if (end == End::kResync) return end;
    if (status->ok())
      *status = finish.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended") : finish;
    return End::kFailed;
  }

  const std::shared_ptr<EtcdClient> client_;
  const std::string service_;
  const std::string prefix_;
  std::shared_ptr<plugin::QueueWatcher> queue_;
  WatchState state_;      // watch thread only (after Start)
  int64_t revision_ = 0;  // watch thread only: last revision fully seen
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;                    // guarded by mu_
  grpc::ClientContext* context_ = nullptr;  // guarded by mu_: the open stream's
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<registry::Watcher>> NewEtcdWatcher(
    std::shared_ptr<EtcdClient> client, std::string service) {
  auto w = std::make_unique<EtcdWatcher>(std::move(client), std::move(service));
  if (absl::Status s = w->Start(); !s.ok()) return s;
  return std::unique_ptr<registry::Watcher>(std::move(w));
}

}  // namespace micro::etcd
