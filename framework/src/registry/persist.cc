#include "registry/persist.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "micro/log.h"
#include "micro/registry/json.h"

namespace micro::registry::internal {
namespace {

std::string Escape(absl::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool plain = absl::ascii_isalnum(c) || c == '_' || c == '-' || (c == '.' && i > 0);
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out.empty() ? "%00" : out;
}

}  // namespace

std::string PersistPath(absl::string_view dir, absl::string_view registry,
                        absl::string_view service) {
  return absl::StrCat(dir, "/", Escape(registry), "/", Escape(service), ".json");
}

std::string EncodeServices(const std::vector<Service>& services) {
  std::string text;
  for (const Service& s : services) absl::StrAppend(&text, ToJson(s), "\n");
  return text;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return absl::UnavailableError(absl::StrCat(path, ": ", ec.message()));
  std::ostringstream tmp_name;
  tmp_name << path << ".tmp." << getpid() << "." << std::this_thread::get_id();
  std::string tmp = tmp_name.str();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      int err = errno;
      std::remove(tmp.c_str());
      return absl::UnavailableError(absl::StrCat(tmp, ": ", std::strerror(err)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Service>> ReadServices(const std::string& path,
                                                  std::chrono::system_clock::time_point* written) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return absl::NotFoundError(path);
    return absl::UnavailableError(absl::StrCat(path, ": ", ec.message()));
  }
  if (size > kMaxPersistedBytes) {
    return absl::DataLossError(absl::StrCat(path, ": ", size, " bytes, more than the ",
                                            kMaxPersistedBytes, " a cache file may hold"));
  }
  auto mtime = fs::last_write_time(path, ec);
  if (!ec && written != nullptr) {
    // file_clock to system_clock, as C++17 allows.
    *written = std::chrono::system_clock::now() +
               std::chrono::duration_cast<std::chrono::system_clock::duration>(
                   mtime - fs::file_time_type::clock::now());
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::vector<Service> services;
  int line = 0;
  for (absl::string_view l : absl::StrSplit(text.str(), '\n')) {
    ++line;
    if (absl::StripAsciiWhitespace(l).empty()) continue;
    absl::StatusOr<Service> s = ServiceFromJson(l);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat(path, ":", line, ": ", s.status().message()));
    }
    services.push_back(std::move(*s));
  }
  if (services.empty()) return absl::DataLossError(absl::StrCat(path, ": no service in it"));
  return services;
}

std::vector<Service> LastKnownGood::Read(absl::string_view service) const {
  if (dir_.empty()) return {};
  absl::StatusOr<std::vector<Service>> read =
      ReadServices(PersistPath(dir_, registry_, service), nullptr);
  if (!read.ok()) {
    if (!absl::IsNotFound(read.status())) {
      log::Warn(absl::StrCat("registry cache: ignoring ", read.status().message()));
    }
    return {};
  }
  return std::move(*read);
}

void LastKnownGood::Write(const std::string& service, const std::vector<Service>& services) {
  if (dir_.empty() || services.empty()) return;
  std::string text = EncodeServices(services);
  std::size_t hash = std::hash<std::string>{}(text);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = written_.emplace(service, hash);
  if (!added && it->second == hash) return;
  it->second = hash;
  if (absl::Status s = WriteFile(PersistPath(dir_, registry_, service), text); !s.ok()) {
    if (!failed_) log::Warn(absl::StrCat("registry cache: cannot keep ", s.message()));
    failed_ = true;
    written_.erase(service);
  }
}

}  // namespace micro::registry::internal
