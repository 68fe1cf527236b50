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

  bool Inline() const { return inline_.load(std::memory_order_relaxed); }

  // Runs the handler call `run` (on the pool, or inline on gRPC's thread) watched as above, learns
  // from it and returns what it returned.
  template <typename Run>
  auto Watch(bool on_pool, Run&& run) {
    Probe probe = Start(on_pool || Sample());
    auto result = run();
    bool by_call = false;
    bool blocked = Blocked(probe, &by_call);
    if (on_pool) {
      Pooled(blocked, by_call);
    } else {
      Inlined(blocked, by_call);
    }
    return result;
  }

 private:
  struct Probe {
    long switches = -1;  // voluntary context switches at the start; -1 = not measured
    // The flag of a handler this one runs inside of: gRPC may serve a call on the thread of a
    // handler that waits for it (a service calling itself).
    bool outer = false;
  };
  // Sets the blocking flag aside; measures context switches if `measure`.
  static Probe Start(bool measure);
  // Whether the run blocked; `by_call`: it made a framework blocking call. Restores the flag.
  static bool Blocked(const Probe& probe, bool* by_call);
  // One inline run in kSampleEvery, per thread, is measured.
  static bool Sample();
  void Pooled(bool blocked, bool by_call);
  void Inlined(bool blocked, bool by_call);

  std::atomic<bool> inline_{false};
  std::atomic<bool> pinned_{false};  // on the pool for good
  std::atomic<std::uint32_t> streak_{0};
  std::atomic<std::uint32_t> needed_{kFirstStreak};
};

}  // namespace micro::server::detail
