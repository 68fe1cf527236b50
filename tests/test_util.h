// Small helpers shared by the tests.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace micro::testing {

// The contents of tests/fixtures/<relative>; the directory comes from
// MICRO_TEST_FIXTURES (set by CTest) or the source tree path.
inline std::string ReadFixture(const std::string& relative) {
  const char* dir = std::getenv("MICRO_TEST_FIXTURES");
  std::string path = std::string(dir ? dir : "tests/fixtures") + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string t =
        std::string(tmp != nullptr && tmp[0] != 0 ? tmp : "/tmp") + "/micro-test-XXXXXX";
    if (mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = t;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `done` until it holds. The deadline only keeps a broken test from
// hanging: it is far above any expected wait and is not what a test asserts.
// `poll` spaces the tries (longer for checks that ask a real daemon).
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds deadline = std::chrono::seconds(20),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(2)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// A file's whole contents ("" when it cannot be read), e.g. a child process's log.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Tests that send real multicast call this first: they must run inside the
// network namespace tests/integration/netns-run.sh makes, never on the host.
inline bool InPrivateNetwork() { return std::getenv("MICRO_TEST_NETNS") != nullptr; }

}  // namespace micro::testing
