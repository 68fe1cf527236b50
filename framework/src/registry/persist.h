// Internal: the registry cache's last-known-good files (CacheOptions::persist_dir).
//
// One file per registry and service: <dir>/<registry>/<service>.json, names
// percent-escaped to [A-Za-z0-9._-]. A file holds one go-micro service JSON
// document per line (every version of the service). Written to a temporary
// file and renamed, so a reader sees an old or a new file, never half of one.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "micro/registry/service.h"

namespace micro::registry::internal {

// Files larger than this are refused when read.
inline constexpr std::size_t kMaxPersistedBytes = 4 << 20;

std::string PersistPath(absl::string_view dir, absl::string_view registry,
                        absl::string_view service);

// The file's text for `services`.
std::string EncodeServices(const std::vector<Service>& services);

// Writes `text` to `path` (temporary file and rename), creating its directory.
absl::Status WriteFile(const std::string& path, const std::string& text);

// Reads what WriteServices wrote, and when. NotFound when there is no file;
// DataLoss naming the file and the line when it cannot be read as written.
absl::StatusOr<std::vector<Service>> ReadServices(const std::string& path,
                                                  std::chrono::system_clock::time_point* written);

// One cache's files: `dir` for the registry named `registry`. Thread-safe.
class LastKnownGood {
 public:
  LastKnownGood(std::string dir, std::string registry)
      : dir_(std::move(dir)), registry_(std::move(registry)) {}

  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // What the file of `service` holds; empty when there is none, or it is
  // damaged (logged once, naming the file).
  std::vector<Service> Read(absl::string_view service) const;

  // Rewrites the file of `service` when `services` differ from what was last
  // written. Logs the first failure to write.
  void Write(const std::string& service, const std::vector<Service>& services);

 private:
  const std::string dir_, registry_;
  std::mutex mu_;
  std::map<std::string, std::size_t> written_;  // service -> hash of its file
  bool failed_ = false;
};

}  // namespace micro::registry::internal
