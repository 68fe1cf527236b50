// An OTLP/HTTP trace collector for tests: tests/tools/otlp_collector.py (the
// official OTLP protos, in the venv tests/tools/otel-venv.sh makes) on a free
// loopback port, writing the spans it decodes to a file as JSON lines.
#pragma once

#include <unistd.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "http_util.h"
#include "nlohmann/json.hpp"
#include "process.h"
#include "test_util.h"

namespace micro::testing {

// MICRO_SOURCE_DIR: the source tree (a compile definition).
struct Collector {
  ScratchDir dir;
  int port = FreePort();
  std::string out = dir.path() + "/spans.jsonl";
  std::unique_ptr<Process> process;

  Collector() {
    std::string python = RunOutput(
        absl::StrCat("bash ", MICRO_SOURCE_DIR, "/tests/tools/otel-venv.sh 2>&1 | tail -1"));
    while (!python.empty() && python.back() == '\n') python.pop_back();
    INFO("otel venv: " << python);
    REQUIRE(access(python.c_str(), X_OK) == 0);
    process = std::make_unique<Process>(
        std::vector<std::string>{python,
                                 absl::StrCat(MICRO_SOURCE_DIR, "/tests/tools/otlp_collector.py"),
                                 std::to_string(port), out},
        dir.path() + "/collector.log");
    REQUIRE(Eventually([&] { return HttpConnection(port, 200).connected(); }));
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port); }
  std::string endpoint() const { return absl::StrCat("http://127.0.0.1:", port, "/v1/traces"); }

  // Spans received so far, by trace id.
  std::vector<nlohmann::json> Spans(const std::string& trace_id = "") const {
    std::ifstream in(out);
    std::vector<nlohmann::json> spans;
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (trace_id.empty() || j["trace_id"] == trace_id) spans.push_back(std::move(j));
    }
    return spans;
  }
};

}  // namespace micro::testing
