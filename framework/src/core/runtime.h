// Internal: process-wide settings the framework applies once, before its first server or client
// starts.
#pragma once

namespace micro::internal {

// Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on: every
// lock of every gRPC mutex then updates a global lock-order graph (GraphCycles), a few percent of
// a busy server's CPU (docs/benchmarks.md). Turns it off, unless MICRO_ABSL_DEADLOCK_DETECTION=1
// asks to keep it (to debug lock order). Idempotent and thread-safe.
void ApplyRuntimeDefaults();

}  // namespace micro::internal
