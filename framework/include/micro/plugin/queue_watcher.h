// Plugin kit: watcher fan-out. A Watcher fed by its registry through Push, for registries that
// produce events on their own threads (memory, mdns). Events are kept in order;
// a watcher more than `max_queued` behind fails with ResourceExhausted rather
// than growing. Push, Stop and stopped are thread-safe; Next is for one thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "micro/registry/watcher.h"

namespace micro::plugin {

class QueueWatcher {
 public:
  QueueWatcher(std::string service, std::size_t max_queued, std::string owner)
      : service_(std::move(service)), max_queued_(max_queued), owner_(std::move(owner)) {}

  absl::StatusOr<registry::Result> Next();
  void Stop();
  bool stopped();
  // Queues `r` unless it is for another service than the one watched.
  void Push(const registry::Result& r);

  // The handle a registry returns: stops the shared watcher when destroyed.
  static std::unique_ptr<registry::Watcher> Handle(std::shared_ptr<QueueWatcher> w);

 private:
  const std::string service_;
  const std::size_t max_queued_;
  const std::string owner_;  // for messages: "memory registry"
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<registry::Result> queue_;
  bool stopped_ = false;
  bool overflowed_ = false;
};

}  // namespace micro::plugin
