#include "micro/log.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace micro::log {
namespace {

Level Threshold() {
  static const Level level = [] {
    const char* env = std::getenv("MICRO_LOG_LEVEL");
    std::string v = absl::AsciiStrToLower(env ? env : "");
    if (v == "debug") return Level::kDebug;
    if (v == "warn" || v == "warning") return Level::kWarn;
    if (v == "error") return Level::kError;
    return Level::kInfo;
  }();
  return level;
}

}  // namespace

bool Enabled(Level level) { return level >= Threshold(); }

void Write(Level level, absl::string_view message) {
  if (!Enabled(level)) return;
  static const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line = absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(), absl::UTCTimeZone());
  line += " ";
  line += kNames[static_cast<int>(level)];
  line += " ";
  line.append(message.data(), message.size());
  line += "\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> l(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace micro::log
