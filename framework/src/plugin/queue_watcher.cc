#include "micro/plugin/queue_watcher.h"

#include "absl/strings/str_cat.h"

namespace micro::plugin {
namespace {

using registry::Result;
using registry::Watcher;

class WatcherHandle : public Watcher {
 public:
  explicit WatcherHandle(std::shared_ptr<QueueWatcher> w) : w_(std::move(w)) {}
  ~WatcherHandle() override { w_->Stop(); }
  absl::StatusOr<Result> Next() override { return w_->Next(); }
  void Stop() override { w_->Stop(); }

 private:
  std::shared_ptr<QueueWatcher> w_;
};

}  // namespace

absl::StatusOr<Result> QueueWatcher::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || overflowed_ || !queue_.empty(); });
  if (stopped_) return absl::CancelledError("watcher stopped");
  if (!queue_.empty()) {
    Result r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }
  return absl::ResourceExhaustedError(absl::StrCat(owner_, ": watcher fell more than ", max_queued_,
                                                   " events behind; watch again"));
}

void QueueWatcher::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool QueueWatcher::stopped() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

void QueueWatcher::Push(const Result& r) {
  if (!service_.empty() && r.service.name != service_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_ || overflowed_) return;
  if (queue_.size() >= max_queued_) {
    overflowed_ = true;
    queue_.clear();
  } else {
    queue_.push_back(r);
  }
  cv_.notify_one();
}

std::unique_ptr<Watcher> QueueWatcher::Handle(std::shared_ptr<QueueWatcher> w) {
  return std::make_unique<WatcherHandle>(std::move(w));
}

}  // namespace micro::plugin
