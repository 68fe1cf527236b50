// One trace across go-micro and micro-cpp: a C++ client calls a go-micro v4
// node that carries go-micro's OpenTelemetry wrapper (tests/interop/gotrace),
// which calls a C++ service. Both export to one OTLP collector built on the
// official protos; the spans must form one trace. Real Consul, real processes.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "consul_agent.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/plugin.h"
#include "micro/trace.h"
#include "otlp_collector.h"
#include "process.h"
#include "test_util.h"

using micro::testing::Eventually;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

class Back : public helloworld::GreeterHandler {
 public:
  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    rsp->set_msg("c++ back " + req.name());
    return absl::OkStatus();
  }
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("a trace crossing a go-micro node (OpenTelemetry wrapper) and C++ nodes is one trace") {
  micro::testing::ConsulAgent agent;
  REQUIRE(agent.WaitReady());
  micro::testing::Collector collector;
  micro::trace::Options t;
  t.endpoint = collector.endpoint();
  t.service = "cpp";
  t.interval = 50ms;
  REQUIRE(micro::trace::Configure(t).ok());

  micro::RegisterBuiltinPlugins();
  std::string uri = "consul://" + agent.http_address();
  auto made = micro::registry::NewRegistry(uri);
  REQUIRE(made.ok());
  std::shared_ptr<micro::registry::Registry> registry = std::move(*made);
  micro::server::ServerOptions so;
  so.name = "cpp.back";
  so.address = "127.0.0.1:0";
  so.registry = registry;
  so.drain_grace = 0ms;
  micro::server::Server back(so);
  REQUIRE(helloworld::RegisterGreeterHandler(back, std::make_shared<Back>()).ok());
  REQUIRE(back.Start().ok());

  std::string log = collector.dir.path() + "/gotrace.log";
  micro::testing::Process relay({GOTRACE_BIN, "-registry_address", agent.http_address(), "-name",
                                 "go.relay", "-next", "cpp.back", "-otlp", collector.address()},
                                log);
  if (!Eventually([&] { return absl::StrContains(Slurp(log), "ready"); }, 60s))
    FAIL("the go relay did not start; its log:\n" << Slurp(log));

  micro::client::ClientOptions co;
  co.registry = registry;
  auto client = std::make_shared<micro::client::Client>(co);
  helloworld::GreeterService go("go.relay", client);
  micro::client::CallOptions o;
  o.metadata["traceparent"] = "00-5bf92f3577b34da6a3ce929d0e0e4736-10f067aa0ba902b7-01";
  absl::StatusOr<helloworld::Response> r;
  // The relay finds cpp.back through Consul's catalog: retry until it has.
  helloworld::Request req;
  req.set_name("trace");
  if (!Eventually([&] { return (r = go.Hello(req, o)).ok(); }, 30s))
    FAIL("call: " << r.status().ToString() << "\ngo relay log:\n" << Slurp(log));
  CHECK(r->msg() == "go relay: c++ back trace");

  relay.Signal(SIGTERM);  // the Go SDK flushes its batch on shutdown
  relay.Wait();
  micro::trace::Shutdown();
  std::vector<json> spans = collector.Spans("5bf92f3577b34da6a3ce929d0e0e4736");
  INFO("spans: " << json(spans).dump(1));
  for (const json& s : spans) {  // the trace as the collector has it, for the record
    std::printf("gotrace: %s %s kind=%d span=%s parent=%s status=%d\n",
                s["service"].get<std::string>().c_str(), s["name"].get<std::string>().c_str(),
                s["kind"].get<int>(), s["span_id"].get<std::string>().c_str(),
                s["parent_span_id"].get<std::string>().c_str(), s["status_code"].get<int>());
  }
  // At least our client span, the Go server and client spans, our server span (the retries
  // above may add more of the same trace).
  const json *cpp_client = nullptr, *go_server = nullptr, *go_client = nullptr,
             *cpp_server = nullptr;
  const int kServer = 2, kClient = 3;
  for (const json& s : spans) {
    if (s["service"] == "cpp" && s["kind"] == kClient && s["status_code"] == 0) cpp_client = &s;
    if (s["service"] == "go.relay" && s["kind"] == kServer && s["status_code"] == 0) go_server = &s;
    if (s["service"] == "go.relay" && s["kind"] == kClient && s["status_code"] == 0) go_client = &s;
    if (s["service"] == "cpp" && s["kind"] == kServer) cpp_server = &s;
  }
  REQUIRE(cpp_client != nullptr);
  REQUIRE(go_server != nullptr);
  REQUIRE(go_client != nullptr);
  REQUIRE(cpp_server != nullptr);
  // C++ -> Go: go-micro's wrapper continued our span.
  CHECK((*cpp_client)["parent_span_id"] == "10f067aa0ba902b7");
  CHECK((*go_server)["name"] == "go.relay.Greeter.Hello");
  std::set<std::string> go_ids;
  for (const json& s : spans) {
    if (s["service"] == "go.relay") go_ids.insert(s["span_id"].get<std::string>());
  }
  bool continued = false;
  for (const json& s : spans) {
    if (s["service"] == "go.relay" && s["kind"] == kServer &&
        s["parent_span_id"] == (*cpp_client)["span_id"])
      continued = true;
  }
  CHECK(continued);
  // Go -> C++: our server span is a child of a go-micro span of the same trace.
  CHECK(go_ids.count((*cpp_server)["parent_span_id"].get<std::string>()) == 1);
  CHECK((*cpp_server)["attributes"]["rpc.service"] == "cpp.back");
  CHECK(back.Stop().ok());
}
