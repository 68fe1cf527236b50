// Logging to stderr, one line per event, as text or JSON.
//
//   text: 2026-12-03 10:00:00.123 INFO message service=geo request_id=... trace_id=...
//   json: {"time":"2026-12-03T10:00:00.123Z","level":"info","msg":"message","service":"geo",...}
//
// The level and format come from Configure (Service::Init: --log_level,
// --log_format, MICRO_LOG_LEVEL, MICRO_LOG_FORMAT); before that from the
// variables alone (an unknown value there means info/text). Lines written
// while serving a call carry its service, request id and trace id (a Scope
// the server opens on the handler's thread). Thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace micro::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText = 0, kJson = 1 };

// "debug", "info", "warn"/"warning", "error" (any case); InvalidArgument naming the choices.
absl::Status ParseLevel(absl::string_view text, Level* out);
// "text" or "json"; InvalidArgument naming the choices.
absl::Status ParseFormat(absl::string_view text, Format* out);
void SetLevel(Level level);
void SetFormat(Format format);

bool Enabled(Level level);
void Write(Level level, absl::string_view message);

inline void Debug(absl::string_view m) { Write(Level::kDebug, m); }
inline void Info(absl::string_view m) { Write(Level::kInfo, m); }
inline void Warn(absl::string_view m) { Write(Level::kWarn, m); }
inline void Error(absl::string_view m) { Write(Level::kError, m); }

// Fields added to every line this thread writes while the Scope lives (scopes nest). It keeps
// views: what they view must outlive it. `trace_id`: 16 bytes, or null (printed as hex).
class Scope {
 public:
  Scope(absl::string_view service, absl::string_view request_id,
        const unsigned char* trace_id = nullptr);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  const absl::string_view service, request_id;
  const unsigned char* const trace_id;

 private:
  const Scope* previous_;
};

}  // namespace micro::log
