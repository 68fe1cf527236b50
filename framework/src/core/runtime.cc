#include "core/runtime.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/synchronization/mutex.h"

namespace micro::internal {

void ApplyRuntimeDefaults() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* keep = std::getenv("MICRO_ABSL_DEADLOCK_DETECTION");
    if (keep != nullptr && std::strcmp(keep, "1") == 0) return;
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  });
}

}  // namespace micro::internal
