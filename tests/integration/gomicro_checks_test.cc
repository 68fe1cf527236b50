// Consul's TCP check across languages: a go-micro v4 node registered by the Consul plugin with
// consul.TCPCheck and a micro-cpp node with consul://...?check=tcp, on one real agent (in a network
// namespace of its own, netns-run.sh). Each side sees the other's check pass and calls it; a
// SIGKILLed node of either language turns critical in Consul and leaves the other side's lookups
// while Consul still holds its registration.
#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "consul_agent.h"
#include "greeter.pb.h"
#include "micro/client/client.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/plugin.h"
#include "process.h"
#include "registry_test_util.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::testing::ConsulAgent;
using micro::testing::Process;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool Until(const std::function<bool()>& done) {
  return micro::testing::Eventually(done, 30s, 100ms);
}

// Waits until the node's check has run once (Output set) and reports `status`.
bool CheckIs(ConsulAgent& agent, const std::string& id, const std::string& status) {
  return Until([&] {
    auto checks = agent.Checks(id);
    if (checks.size() != 1) return false;
    auto& c = checks.begin()->second;
    return c.value("Status", "") == status && !c.value("Output", "").empty();
  });
}

nlohmann::json CheckOf(ConsulAgent& agent, const std::string& id) {
  auto checks = agent.Checks(id);
  return checks.size() == 1 ? checks.begin()->second : nlohmann::json();
}

bool Lists(reg::Registry& r, const std::string& service, const std::string& id) {
  return micro::testing::NodeIds(r, service).count(id) == 1;
}

}  // namespace

TEST_CASE("go-micro v4 TCPCheck and micro-cpp check=tcp on consul", "[v4][consul]") {
  REQUIRE(micro::testing::InPrivateNetwork());
  ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::ScratchDir dir;
  const std::string go_log = dir.path() + "/go.log";
  // go-micro's TCPCheck registers no TTL check, and its Register then still passes a TTL check
  // when the register TTL is positive (consul.go); -ttl 0 is how a go-micro service uses it.
  Process go(
      {GOPEER4_BIN, "serve", "-registry", "consul", "-registry_address", agent.http_address(),
       "-name", "go.checks", "-id", "tcp-1", "-ttl", "0s", "-interval", "1s", "-tcp_check", "1s"},
      go_log);
  REQUIRE(Until([&] { return absl::StrContains(micro::testing::ReadFile(go_log), "ready"); }));
  const std::string go_id = "go.checks-tcp-1";
  const std::string uri = agent.uri() + "?check=tcp&check_interval=1s&check_timeout=1s";
  Process cpp({GREETER_BIN, "--registry", uri, "--server_name", "cpp.checks", "--server_id",
               "cpp-tcp-1", "--server_address", "127.0.0.1:0", "--register_interval", "1s"},
              dir.path() + "/cpp.log");

  // Both checks are Consul TCP checks, and both pass once Consul has run them.
  INFO(micro::testing::ReadFile(go_log));
  REQUIRE(CheckIs(agent, go_id, "passing"));
  REQUIRE(CheckIs(agent, "cpp-tcp-1", "passing"));
  auto go_check = CheckOf(agent, go_id), cpp_check = CheckOf(agent, "cpp-tcp-1");
  CHECK(go_check["Type"] == "tcp");
  CHECK(cpp_check["Type"] == "tcp");
  CHECK(go_check["CheckID"] == "service:" + go_id);
  CHECK(cpp_check["CheckID"] == "service:cpp-tcp-1");

  // Each side finds and calls the other.
  micro::RegisterBuiltinPlugins();
  std::shared_ptr<reg::Registry> r = std::move(*reg::NewRegistry(uri));
  REQUIRE(Until([&] { return Lists(*r, "go.checks", go_id); }));
  micro::client::ClientOptions co;
  co.registry = r;
  micro::client::Client client(co);
  helloworld::Request req;
  req.set_name("Ann");
  helloworld::Response rsp;
  absl::Status st = client.Call("go.checks", "Greeter.Hello", req, &rsp);
  INFO(st.ToString());
  CHECK(st.ok());
  CHECK(rsp.msg() == "Hello Ann");
  // Flags before the arguments, as Go's flag package reads them.
  auto go_run = [&](const std::string& verb, const std::string& rest) {
    return micro::testing::RunOutput(absl::StrCat(GOPEER4_BIN, " ", verb,
                                                  " -registry consul -registry_address ",
                                                  agent.http_address(), " ", rest, " 2>&1"));
  };
  REQUIRE(Until([&] { return absl::StrContains(go_run("lookup", "cpp.checks"), "cpp-tcp-1"); }));
  CHECK(go_run("call", "cpp.checks Greeter.Hello Bob") == "Hello Bob\n");

  // A SIGKILLed node of either language: its check turns critical, the other side stops seeing
  // it, and Consul still holds the registration (critical is not deregistered).
  cpp.Signal(SIGKILL);
  cpp.Wait();
  auto killed = Clock::now();
  REQUIRE(Until([&] { return !absl::StrContains(go_run("lookup", "cpp.checks"), "cpp-tcp-1"); }));
  double cpp_gone = std::chrono::duration<double>(Clock::now() - killed).count();
  CHECK(CheckOf(agent, "cpp-tcp-1")["Status"] == "critical");
  go.Signal(SIGKILL);
  go.Wait();
  killed = Clock::now();
  REQUIRE(Until([&] { return !Lists(*r, "go.checks", go_id); }));
  double go_gone = std::chrono::duration<double>(Clock::now() - killed).count();
  CHECK(CheckOf(agent, go_id)["Status"] == "critical");
  std::printf(
      "consul TCP checks across languages (interval 1 s): killed micro-cpp node out of go-micro's "
      "lookup after %.1f s, killed go-micro node out of micro-cpp's after %.1f s\n",
      cpp_gone, go_gone);
}
