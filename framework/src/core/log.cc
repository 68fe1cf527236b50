#include "micro/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace micro::log {

namespace {

struct Current {
  static const Scope*& Get() {
    thread_local const Scope* scope = nullptr;
    return scope;
  }
};

std::atomic<int>& LevelVar() {
  static std::atomic<int> level = [] {
    const char* env = std::getenv("MICRO_LOG_LEVEL");
    Level l = Level::kInfo;
    if (env != nullptr) (void)ParseLevel(env, &l);
    return static_cast<int>(l);
  }();
  return level;
}

std::atomic<int>& FormatVar() {
  static std::atomic<int> format = [] {
    const char* env = std::getenv("MICRO_LOG_FORMAT");
    Format f = Format::kText;
    if (env != nullptr) (void)ParseFormat(env, &f);
    return static_cast<int>(f);
  }();
  return format;
}

}  // namespace

absl::Status ParseLevel(absl::string_view text, Level* out) {
  std::string v = absl::AsciiStrToLower(text);
  if (v == "debug") {
    *out = Level::kDebug;
  } else if (v == "info") {
    *out = Level::kInfo;
  } else if (v == "warn" || v == "warning") {
    *out = Level::kWarn;
  } else if (v == "error") {
    *out = Level::kError;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("log level \"", text, "\" is not one of debug, info, warn, error"));
  }
  return absl::OkStatus();
}

absl::Status ParseFormat(absl::string_view text, Format* out) {
  std::string v = absl::AsciiStrToLower(text);
  if (v == "text") {
    *out = Format::kText;
  } else if (v == "json") {
    *out = Format::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("log format \"", text, "\" is not one of text, json"));
  }
  return absl::OkStatus();
}

void SetLevel(Level level) { LevelVar().store(static_cast<int>(level)); }
void SetFormat(Format format) { FormatVar().store(static_cast<int>(format)); }

bool Enabled(Level level) {
  return static_cast<int>(level) >= LevelVar().load(std::memory_order_relaxed);
}

Scope::Scope(absl::string_view service, absl::string_view request_id, const unsigned char* trace_id)
    : service(service), request_id(request_id), trace_id(trace_id), previous_(Current::Get()) {
  Current::Get() = this;
}

Scope::~Scope() { Current::Get() = previous_; }

void Write(Level level, absl::string_view message) {
  if (!Enabled(level)) return;
  static const char* kText[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  static const char* kJson[] = {"debug", "info", "warn", "error"};
  const Scope* scope = Current::Get();
  std::string trace_id;
  if (scope != nullptr && scope->trace_id != nullptr) {
    trace_id = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(scope->trace_id), 16));
  }
  absl::Time now = absl::Now();
  std::string line;
  if (FormatVar().load(std::memory_order_relaxed) == static_cast<int>(Format::kJson)) {
    nlohmann::json j;
    j["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
    j["level"] = kJson[static_cast<int>(level)];
    j["msg"] = std::string(message);
    if (scope != nullptr) {
      if (!scope->service.empty()) j["service"] = std::string(scope->service);
      if (!scope->request_id.empty()) j["request_id"] = std::string(scope->request_id);
      if (!trace_id.empty()) j["trace_id"] = trace_id;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%E3S", now, absl::UTCTimeZone()), " ",
                        kText[static_cast<int>(level)], " ", message);
    if (scope != nullptr) {
      if (!scope->service.empty()) absl::StrAppend(&line, " service=", scope->service);
      if (!scope->request_id.empty()) absl::StrAppend(&line, " request_id=", scope->request_id);
      if (!trace_id.empty()) absl::StrAppend(&line, " trace_id=", trace_id);
    }
  }
  line += "\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> l(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace micro::log
