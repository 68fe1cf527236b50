// Minimal logging to stderr: "<time> <level> <message>". The level comes from
// MICRO_LOG_LEVEL (debug, info, warn, error; default info). Thread-safe.
#pragma once

#include "absl/strings/string_view.h"

namespace micro::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

bool Enabled(Level level);
void Write(Level level, absl::string_view message);

inline void Debug(absl::string_view m) { Write(Level::kDebug, m); }
inline void Info(absl::string_view m) { Write(Level::kInfo, m); }
inline void Warn(absl::string_view m) { Write(Level::kWarn, m); }
inline void Error(absl::string_view m) { Write(Level::kError, m); }

}  // namespace micro::log
