// Internal: where one endpoint's unary handler runs. Handlers may block (go-micro handlers call
// other services), so a handler starts on the server's handler pool; one that has shown it does
// not block runs inline on gRPC's callback thread, which saves the two thread switches a pool
// hop costs per call. How it is learnt:
// - On the pool, every call is watched: it blocked if it made one of the framework's blocking
//   calls (core/blocking.h) or its thread gave up the CPU of its own accord (a voluntary context
//   switch, getrusage(RUSAGE_THREAD): sleeping, waiting on I/O or a lock; being preempted does
//   not count). After `kFirstStreak` calls in a row that did not block, the endpoint goes inline.
// - Inline, the framework's blocking calls are watched on every call, context switches on one in
//   `kSampleEvery` (a getrusage costs ~0.4 us).
// - A handler seen calling another service, on the pool or inline, stays on the pool for good
//   (its first such call inline still runs on gRPC's thread). One seen blocking otherwise goes back
//   until it has again shown twice as many calls in a row that did not (up to `kMaxStreak`), so a
//   rare blocker settles on the pool.
// What it cannot see: a handler that blocks only rarely (say one call in a thousand) may run that
// call inline before it is caught; ServerOptions::adaptive_handlers = false keeps every handler on
// the pool. Thread-safe; all state is relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>

namespace micro::server::detail {

class Placement {
 public:
  static constexpr std::uint32_t kFirstStreak = 128;
  static constexpr std::uint32_t kMaxStreak = 1u << 16;
  static constexpr std::uint32_t kSampleEvery = 16;

  // What a handler run is watched with.
  struct Probe {
    long switches = -1;  // voluntary context switches at the start; -1 = not measured
    // The flag of a handler this one runs inside of: gRPC may serve a call on the thread of a
    // handler that waits for it (a service calling itself).
    bool outer = false;
  };

  bool Inline() const { return inline_.load(std::memory_order_relaxed); }

  // Before the handler: sets the blocking flag aside; measures context switches if `measure`.
  static Probe Start(bool measure);
  // Whether the run that `probe` started blocked; `by_call` says it made a framework blocking
  // call. Puts back the flag Start set aside.
  static bool Blocked(const Probe& probe, bool* by_call);
  // Whether an inline run should be measured (one in kSampleEvery, per thread).
  static bool Sample();

  // After a run on the pool, and after an inline run.
  void Pooled(bool blocked, bool by_call);
  void Inlined(bool blocked, bool by_call);

  // For tests and metrics: how often the endpoint went back to the pool.
  std::uint32_t demotions() const { return demotions_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> inline_{false};
  std::atomic<bool> pinned_{false};  // on the pool for good
  std::atomic<std::uint32_t> streak_{0};
  std::atomic<std::uint32_t> needed_{kFirstStreak};
  std::atomic<std::uint32_t> demotions_{0};
};

}  // namespace micro::server::detail
