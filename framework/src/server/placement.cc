#include "server/placement.h"

#include <sys/resource.h>

#include <algorithm>

#include "core/blocking.h"

namespace micro::server::detail {
namespace {

long VoluntarySwitches() {
  rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return -1;
  return ru.ru_nvcsw;
}

}  // namespace

Placement::Probe Placement::Start(bool measure) {
  Probe p;
  p.outer = internal::handler_blocked;
  internal::handler_blocked = false;
  if (measure) p.switches = VoluntarySwitches();
  return p;
}

bool Placement::Blocked(const Probe& probe, bool* by_call) {
  *by_call = internal::handler_blocked;
  internal::handler_blocked = probe.outer;
  if (*by_call) return true;
  if (probe.switches < 0) return false;
  long now = VoluntarySwitches();
  return now < 0 || now > probe.switches;
}

bool Placement::Sample() {
  thread_local std::uint32_t n = 0;
  return ++n % kSampleEvery == 0;
}

void Placement::Pooled(bool blocked, bool by_call) {
  if (pinned_.load(std::memory_order_relaxed)) return;
  if (by_call) pinned_.store(true, std::memory_order_relaxed);
  if (blocked) {
    streak_.store(0, std::memory_order_relaxed);
    return;
  }
  std::uint32_t s = streak_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (s >= needed_.load(std::memory_order_relaxed)) inline_.store(true, std::memory_order_relaxed);
}

void Placement::Inlined(bool blocked, bool by_call) {
  if (!blocked) return;
  bool was = inline_.exchange(false, std::memory_order_relaxed);
  streak_.store(0, std::memory_order_relaxed);
  if (by_call) pinned_.store(true, std::memory_order_relaxed);
  if (!was) return;  // another thread demoted it already
  std::uint32_t n = needed_.load(std::memory_order_relaxed);
  needed_.store(std::min(kMaxStreak, n * 2), std::memory_order_relaxed);
}

}  // namespace micro::server::detail
