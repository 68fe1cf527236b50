// Pub/sub across processes and languages on go-micro's HTTP broker: micro-cpp (broker-peer, a
// Service with micro::Event and micro::RegisterSubscriber; the `micro` CLI) and go-micro v4
// (go-micro-broker4: micro.NewEvent / micro.RegisterSubscriber with its gRPC plugins, and its
// broker used raw), on a real Consul agent and on real multicast mDNS, each test in a network
// namespace of its own (netns-run.sh). Also: queue groups shared by both languages (each
// message to exactly one member), and hostile input to a C++ subscriber's endpoint.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "http_util.h"
#include "micro/micro.h"
#include "micro/registry/plugin.h"
#include "process.h"
#include "test_util.h"

using micro::testing::ConsulAgent;
using micro::testing::Process;
using namespace std::chrono_literals;

namespace {

bool Until(const std::function<bool()>& done) {
  return micro::testing::Eventually(done, 30s, 100ms);
}

// The JSON lines a peer printed (its log mixes them with log lines).
std::vector<nlohmann::json> Lines(const std::string& log) {
  std::vector<nlohmann::json> out;
  std::istringstream in(micro::testing::ReadFile(log));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// The names (typed peers) or the bodies' names (raw ones) a subscriber printed.
std::multiset<std::string> Names(const std::string& log) {
  std::multiset<std::string> out;
  for (const auto& j : Lines(log)) {
    if (j.contains("name")) {
      out.insert(j["name"].get<std::string>());
    } else if (j.contains("body") && j["body"].is_object()) {
      out.insert(j["body"].value("name", ""));
    } else if (j.contains("body") && j["body"].is_string()) {
      auto b = nlohmann::json::parse(j["body"].get<std::string>(), nullptr, false);
      if (!b.is_discarded()) out.insert(b.value("name", ""));
    }
  }
  return out;
}

bool Ready(const std::string& log) {
  return Until([&] { return absl::StrContains(micro::testing::ReadFile(log), "ready"); });
}

int Run(std::vector<std::string> argv, const std::string& log) {
  Process p(std::move(argv), log);
  return p.Wait();
}

std::multiset<std::string> Expect(const std::string& prefix, int n) {
  std::multiset<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(absl::StrCat(prefix, "-", i));
  return out;
}

// Registry flags for both languages' peers.
struct Fleet {
  std::vector<std::string> cpp, go;
};

void BothDirections(const Fleet& f, const std::string& dir) {
  const std::string cpp_log = dir + "/cpp-sub.log", go_log = dir + "/go-sub.log";
  auto cpp_args = std::vector<std::string>{BROKER_PEER_BIN, "--mode", "sub", "--topic", "to.cpp"};
  cpp_args.insert(cpp_args.end(), f.cpp.begin(), f.cpp.end());
  Process cpp_sub(cpp_args, cpp_log);
  auto go_args = std::vector<std::string>{GOBROKER4_BIN, "sub", "-typed", "-topic", "to.go"};
  go_args.insert(go_args.end(), f.go.begin(), f.go.end());
  Process go_sub(go_args, go_log);
  REQUIRE(Ready(cpp_log));
  REQUIRE(Ready(go_log));

  // go-micro -> C++: typed events in proto and in JSON.
  for (const auto& [ct, prefix] : std::map<std::string, std::string>{
           {"application/grpc+proto", "goproto"}, {"application/json", "gojson"}}) {
    auto args = std::vector<std::string>{GOBROKER4_BIN, "pub",           "-typed", "-topic",
                                         "to.cpp",      "-count",        "3",      "-prefix",
                                         prefix,        "-content_type", ct};
    args.insert(args.end(), f.go.begin(), f.go.end());
    INFO(micro::testing::ReadFile(dir + "/go-pub.log"));
    REQUIRE(Run(args, dir + "/go-pub.log") == 0);
  }
  auto want = Expect("goproto", 3);
  want.merge(Expect("gojson", 3));
  INFO(micro::testing::ReadFile(cpp_log));
  CHECK(Until([&] { return Names(cpp_log) == want; }));
  for (const auto& j : Lines(cpp_log)) {
    CHECK(j["header"].value("x-from", "") == "go");
    CHECK(j["header"].value("micro-topic", "") == "to.cpp");
  }

  // C++ -> go-micro: typed events in proto (the client's default) and in JSON.
  for (const auto& [ct, prefix] :
       std::map<std::string, std::string>{{"", "cppproto"}, {"application/json", "cppjson"}}) {
    auto args = std::vector<std::string>{BROKER_PEER_BIN, "--mode",         "pub", "--topic",
                                         "to.go",         "--count",        "3",   "--prefix",
                                         prefix,          "--content_type", ct};
    args.insert(args.end(), f.cpp.begin(), f.cpp.end());
    INFO(micro::testing::ReadFile(dir + "/cpp-pub.log"));
    REQUIRE(Run(args, dir + "/cpp-pub.log") == 0);
  }
  want = Expect("cppproto", 3);
  want.merge(Expect("cppjson", 3));
  INFO(micro::testing::ReadFile(go_log));
  CHECK(Until([&] { return Names(go_log) == want; }));
  for (const auto& j : Lines(go_log)) CHECK(j["header"].value("X-From", "") == "cpp");
}

}  // namespace

TEST_CASE("http broker: go-micro v4 and micro-cpp publish to each other on consul",
          "[broker][consul]") {
  REQUIRE(micro::testing::InPrivateNetwork());
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::ScratchDir dir;
  Fleet f{{"--registry", agent.uri()},
          {"-registry", "consul", "-registry_address", agent.http_address()}};
  BothDirections(f, dir.path());

  // Raw messages: go-micro's broker used directly, and the micro CLI.
  const std::string cli_log = dir.path() + "/cli-sub.log", go_raw = dir.path() + "/go-raw.log";
  Process cli({MICRO_BIN, "--registry", agent.uri(), "subscribe", "raw.cpp"}, cli_log);
  Process go({GOBROKER4_BIN, "sub", "-topic", "raw.go", "-registry", "consul", "-registry_address",
              agent.http_address()},
             go_raw);
  REQUIRE(Until([&] {
    return absl::StrContains(micro::testing::ReadFile(cli_log), "subscribed to raw.cpp");
  }));
  REQUIRE(Ready(go_raw));
  REQUIRE(Run({GOBROKER4_BIN, "pub", "-topic", "raw.cpp", "-count", "2", "-registry", "consul",
               "-registry_address", agent.http_address()},
              dir.path() + "/p1.log") == 0);
  REQUIRE(Run({MICRO_BIN, "--registry", agent.uri(), "--metadata", "X-From=cli", "publish",
               "raw.go", R"({"name":"cli-0"})"},
              dir.path() + "/p2.log") == 0);
  INFO(micro::testing::ReadFile(cli_log));
  INFO(micro::testing::ReadFile(go_raw));
  CHECK(Until([&] { return Names(cli_log) == Expect("go", 2); }));
  CHECK(Until([&] { return Names(go_raw) == Expect("cli", 1); }));
  for (const auto& j : Lines(go_raw)) {
    CHECK(j["header"].value("X-From", "") == "cli");
    CHECK(j["header"].value("Content-Type", "") == "application/json");
  }
}

TEST_CASE("http broker: a queue group shared by go-micro and micro-cpp gets each message once",
          "[broker][consul]") {
  REQUIRE(micro::testing::InPrivateNetwork());
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::ScratchDir dir;
  const std::string d = dir.path();
  std::vector<std::string> cpp_reg = {"--registry", agent.uri()};
  auto cpp_sub = [&](const std::string& log, const std::string& queue) {
    std::vector<std::string> a = {BROKER_PEER_BIN, "--mode", "sub", "--topic", "work"};
    if (!queue.empty()) a.insert(a.end(), {"--queue", queue});
    a.insert(a.end(), cpp_reg.begin(), cpp_reg.end());
    return std::make_unique<Process>(a, log);
  };
  auto q1 = cpp_sub(d + "/q1.log", "workers");
  auto q2 = cpp_sub(d + "/q2.log", "workers");
  auto all = cpp_sub(d + "/all.log", "");
  Process q3({GOBROKER4_BIN, "sub", "-typed", "-topic", "work", "-queue", "workers", "-registry",
              "consul", "-registry_address", agent.http_address()},
             d + "/q3.log");
  for (const char* log : {"/q1.log", "/q2.log", "/all.log", "/q3.log"}) REQUIRE(Ready(d + log));
  // Both publishers: the group gets 40 + 40 messages between its three members, each once; the
  // subscriber without a queue gets all 80.
  REQUIRE(Run({GOBROKER4_BIN, "pub", "-typed", "-topic", "work", "-count", "40", "-content_type",
               "application/grpc+proto", "-registry", "consul", "-registry_address",
               agent.http_address()},
              d + "/p1.log") == 0);
  REQUIRE(Run({BROKER_PEER_BIN, "--mode", "pub", "--topic", "work", "--count", "40", "--registry",
               agent.uri()},
              d + "/p2.log") == 0);
  auto want = Expect("go", 40);
  want.merge(Expect("cpp", 40));
  auto group = [&] {
    std::multiset<std::string> got;
    for (const char* log : {"/q1.log", "/q2.log", "/q3.log"}) got.merge(Names(d + log));
    return got;
  };
  INFO(micro::testing::ReadFile(d + "/q3.log"));
  CHECK(Until([&] { return group() == want; }));
  CHECK(Until([&] { return Names(d + "/all.log") == want; }));
  // Random choice: over 80 messages every member of the group had some.
  for (const char* log : {"/q1.log", "/q2.log", "/q3.log"}) CHECK(!Names(d + log).empty());
}

TEST_CASE("http broker: go-micro v4 and micro-cpp publish to each other on mdns",
          "[broker][mdns]") {
  REQUIRE(micro::testing::InPrivateNetwork());
  micro::testing::ScratchDir dir;
  Fleet f{{"--registry", "mdns"}, {"-registry", "mdns"}};
  BothDirections(f, dir.path());
}

TEST_CASE("http broker: a subscriber endpoint answers hostile input and keeps serving",
          "[broker][consul]") {
  REQUIRE(micro::testing::InPrivateNetwork());
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::ScratchDir dir;
  const std::string log = dir.path() + "/sub.log";
  Process sub({BROKER_PEER_BIN, "--mode", "sub", "--topic", "hostile", "--registry", agent.uri()},
              log);
  REQUIRE(Ready(log));
  micro::RegisterBuiltinPlugins();
  auto reg = micro::registry::NewRegistry(agent.uri());
  REQUIRE(reg.ok());
  auto services = (*reg)->GetService("micro.http.broker");
  REQUIRE(services.ok());
  REQUIRE(services->size() == 1);
  const micro::registry::Service& s = services->front();
  CHECK(s.version == "ff.http.broadcast");
  REQUIRE(s.nodes.size() == 1);
  const micro::registry::Node& node = s.nodes[0];
  CHECK(node.metadata.at("broker") == "http");
  CHECK(node.metadata.at("topic") == "hostile");
  CHECK(node.metadata.at("secure") == "false");
  CHECK(absl::StartsWith(node.id, "hostile-"));
  int port = std::stoi(node.address.substr(node.address.rfind(':') + 1));
  const std::string target = "/?id=" + node.id;

  using micro::testing::HttpDo;
  auto answer = HttpDo(port, "GET", target);
  CHECK(answer.status == 405);
  CHECK(answer.headers["allow"] == "POST");
  answer = HttpDo(port, "POST", target, "{not json");
  CHECK(answer.status == 400);
  CHECK_THAT(answer.body, Catch::Contains("go.micro.broker"));
  answer = HttpDo(port, "POST", target, R"({"Header":{},"Body":""})");
  CHECK(answer.status == 400);
  CHECK_THAT(answer.body, Catch::Contains("Micro-Topic"));
  answer = HttpDo(port, "POST", target, R"({"Header":{"Micro-Topic":"hostile"},"Body":"%%%"})");
  CHECK(answer.status == 400);
  answer = HttpDo(port, "POST", "/?id=nobody", R"({"Header":{"Micro-Topic":"hostile"}})");
  CHECK(answer.status == 404);
  answer = HttpDo(port, "POST", target, R"({"Header":{"Micro-Topic":"other"}})");
  CHECK(answer.status == 404);
  std::string huge =
      R"({"Header":{"Micro-Topic":"hostile"},"Body":")" + std::string(5u << 20, 'A') + R"("})";
  answer = HttpDo(port, "POST", target, huge);
  CHECK(answer.status == 413);
  // A body that decodes as a message but not as the subscriber's type: taken (200), then
  // logged as failed by the subscriber, which goes on.
  answer = HttpDo(port, "POST", target,
                  R"({"Header":{"Micro-Topic":"hostile","Content-Type":"application/json"},)"
                  R"("Body":"eyJuYW1lIjogM30="})");  // {"name": 3}
  CHECK(answer.status == 200);
  // Still serving: a real message arrives.
  REQUIRE(Run({BROKER_PEER_BIN, "--mode", "pub", "--topic", "hostile", "--registry", agent.uri()},
              dir.path() + "/pub.log") == 0);
  INFO(micro::testing::ReadFile(log));
  CHECK(Until([&] { return Names(log) == Expect("cpp", 1); }));
  CHECK(Until(
      [&] { return absl::StrContains(micro::testing::ReadFile(log), "subscriber of hostile"); }));
}
