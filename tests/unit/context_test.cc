// What a call passes on to the calls its handler makes (deadline, metadata,
// cancellation, trace context), and what every service reports about itself
// (metrics, logs, health). Real gRPC on 127.0.0.1, the memory registry.
#include <catch2/catch.hpp>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/wire.h"
#include "flaky_registry.h"
#include "greeter_chain.h"
#include "http_util.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "micro/trace.h"
#include "nlohmann/json.hpp"
#include "process.h"
#include "test_util.h"

namespace reg = micro::registry;
using namespace std::chrono_literals;
using micro::testing::Back;
using micro::testing::Chain;
using micro::testing::Eventually;
using micro::testing::Named;
using Clock = std::chrono::system_clock;

namespace {

long long LeftMs(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

}  // namespace

namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a handler's calls inherit its deadline, and a shorter timeout of their own wins") {
  Chain chain;
  helloworld::GreeterService front("front", chain.client);
  micro::client::CallOptions o;
  o.timeout = 3s;
  auto r = front.Hello(Named("x"), o);
  REQUIRE(r.ok());
  CHECK(r->msg() == "back x");
  // Without propagation the second hop would get the client default (30 s).
  // (gRPC rounds a deadline up to its timeout units, and servers read it from a cached clock:
  // a few ms either way.)
  long long left = LeftMs(chain.Seen().deadline);
  CHECK(left < 3100);
  CHECK(left > 0);

  REQUIRE(front.Hello(Named("short"), o).ok());
  CHECK(LeftMs(chain.Seen().deadline) < 300);

  REQUIRE(front.Hello(Named("async"), o).ok());
  CHECK(LeftMs(chain.Seen().deadline) < 3100);
}

TEST_CASE("a handler's calls carry the incoming metadata, and keys the call sets win") {
  Chain chain;
  helloworld::GreeterService front("front", chain.client);
  micro::client::CallOptions o;
  o.metadata = {{"X-Request-Id", "req-42"}, {"x-tenant", "acme"}};
  REQUIRE(front.Hello(Named("x"), o).ok());
  micro::server::Context seen = chain.Seen();
  CHECK(seen.Metadata("x-request-id") == "req-42");
  CHECK(seen.request_id == "req-42");
  CHECK(seen.Metadata("x-tenant") == "acme");
  // go-micro's own keys are the hop's, not copied: one content type, one timeout.
  CHECK(seen.Metadata("x-content-type") == "application/grpc+proto");

  REQUIRE(front.Hello(Named("own"), o).ok());
  CHECK(chain.Seen().Metadata("x-tenant") == "own");
}

TEST_CASE("cancelling a call cancels the calls its handler made, down the chain") {
  Chain chain;
  auto cancel = std::make_shared<micro::Cancellation>();
  micro::client::CallOptions o;
  o.timeout = 30s;
  o.cancel = cancel;
  helloworld::Response rsp;
  std::promise<absl::Status> done;
  chain.client->CallAsync(
      "front", "Greeter.Hello", Named("wait"), &rsp, [&](absl::Status s) { done.set_value(s); }, o);
  REQUIRE(Eventually([&] { return chain.back->waiting.load(); }));
  cancel->Cancel();
  absl::Status s = done.get_future().get();
  CHECK(absl::IsCancelled(s));
  CHECK(micro::errors::FromStatus(s).id == "go.micro.client");
  // The last hop learnt of it through its own context, long before its deadline.
  REQUIRE(Eventually([&] { return chain.back->saw_cancel.load(); }));
  CHECK(chain.back->left_when_cancelled_ms > 10000);

  // A JSON call (the HTTP/2 transport) the same way: its stream is reset.
  chain.back->saw_cancel = false;
  chain.back->waiting = false;
  auto cancel_json = std::make_shared<micro::Cancellation>();
  micro::client::CallOptions json = o;
  json.cancel = cancel_json;
  json.content_type = "application/grpc+json";
  std::promise<absl::Status> json_done;
  chain.client->CallAsync(
      "front", "Greeter.Hello", Named("wait"), &rsp,
      [&](absl::Status s) { json_done.set_value(s); }, json);
  REQUIRE(Eventually([&] { return chain.back->waiting.load(); }));
  cancel_json->Cancel();
  CHECK(absl::IsCancelled(json_done.get_future().get()));
  REQUIRE(Eventually([&] { return chain.back->saw_cancel.load(); }));

  // A call made with a context already cancelled does not go out.
  helloworld::GreeterService back("back", chain.client);
  micro::client::CallOptions late;
  late.cancel = cancel;
  CHECK(absl::IsCancelled(back.Hello(Named("x"), &rsp, late)));
}

TEST_CASE("a synchronous call is cancelled too, and its deadline ends the next hop's wait") {
  Chain chain;
  helloworld::GreeterService front("front", chain.client);
  auto cancel = std::make_shared<micro::Cancellation>();
  micro::client::CallOptions o;
  o.timeout = 30s;
  o.cancel = cancel;
  auto result = std::async(std::launch::async, [&] { return front.Hello(Named("wait"), o); });
  REQUIRE(Eventually([&] { return chain.back->waiting.load(); }));
  cancel->Cancel();
  CHECK(absl::IsCancelled(result.get().status()));
  REQUIRE(Eventually([&] { return chain.back->saw_cancel.load(); }));

  // The incoming deadline passing cancels the hop below as well.
  chain.back->saw_cancel = false;
  chain.back->waiting = false;
  micro::client::CallOptions shortly;
  shortly.timeout = 300ms;
  CHECK(!front.Hello(Named("wait"), shortly).ok());
  REQUIRE(Eventually([&] { return chain.back->saw_cancel.load(); }));
}

TEST_CASE("traceparent: a valid one is continued, a malformed one is ignored") {
  micro::trace::SpanContext c;
  REQUIRE(micro::trace::SpanContext::Parse(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c));
  CHECK(c.TraceId() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(c.SpanId() == "00f067aa0ba902b7");
  CHECK(c.sampled);
  CHECK(c.Traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  // A later version may add fields; version ff, upper case, zero ids and bad lengths are invalid.
  CHECK(micro::trace::SpanContext::Parse(
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra", &c));
  CHECK_FALSE(c.sampled);
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
                          "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"}) {
    INFO(bad);
    CHECK_FALSE(micro::trace::SpanContext::Parse(bad, &c));
  }

  // Without a recorder the caller's trace passes through every hop unchanged.
  Chain chain;
  helloworld::GreeterService front("front", chain.client);
  micro::client::CallOptions o;
  o.metadata["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  o.metadata["tracestate"] = "vendor=1";
  REQUIRE(front.Hello(Named("x"), o).ok());
  micro::server::Context seen = chain.Seen();
  CHECK(seen.span.TraceId() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(seen.span.state == "vendor=1");
  CHECK(seen.Metadata("traceparent") == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  o.metadata["traceparent"] = "garbage";
  REQUIRE(front.Hello(Named("x"), o).ok());
  CHECK_FALSE(chain.Seen().span.valid());
}

TEST_CASE(
    "metrics count requests by endpoint and outcome, client calls by target, in Prometheus text") {
  Chain chain(".metrics");
  helloworld::GreeterService front("front.metrics", chain.client);
  for (int i = 0; i < 3; ++i) REQUIRE(front.Hello(Named("x")).ok());
  micro::client::CallOptions shortly;
  shortly.timeout = 200ms;
  CHECK(!front.Hello(Named("wait"), shortly).ok());
  std::string front_labels =
      absl::StrCat("micro_name=\"front.metrics\",micro_version=\"latest\",micro_id=\"",
                   chain.front_server->options().id, "\",micro_endpoint=\"Greeter.Hello\"");
  // The handler that timed out ends just after its caller gave up.
  std::string text;
  REQUIRE(Eventually([&] {
    text = micro::metrics::Text();
    return text.find(absl::StrCat("micro_requests_in_flight{", front_labels, "} 0")) !=
           std::string::npos;
  }));
  CHECK_THAT(text, Catch::Contains(absl::StrCat("micro_request_total{", front_labels,
                                                ",micro_status=\"success\"} 3")));
  CHECK_THAT(text, Catch::Contains(absl::StrCat("micro_request_total{", front_labels,
                                                ",micro_status=\"failure\"} 1")));
  CHECK_THAT(text, Catch::Contains(
                       absl::StrCat("micro_request_duration_seconds_count{", front_labels, "} 4")));
  CHECK_THAT(text, Catch::Contains(absl::StrCat("micro_request_duration_seconds_bucket{",
                                                front_labels, ",le=\"+Inf\"} 4")));
  CHECK_THAT(text, Catch::Contains("# TYPE micro_request_duration_seconds histogram"));
  CHECK_THAT(text, Catch::Contains("# TYPE micro_latency_microseconds summary"));
  // The client side, by target: front's calls to back, ours to front.
  CHECK_THAT(text, Catch::Contains(
                       "micro_client_request_total{micro_service=\"back.metrics\",micro_endpoint="
                       "\"Greeter.Hello\",micro_status=\"success\"} 3"));
  CHECK_THAT(text,
             Catch::Contains("micro_client_request_errors_total{micro_service=\"front."
                             "metrics\",micro_endpoint=\"Greeter.Hello\",micro_code=\"408\"} 1"));
  CHECK_THAT(text, Catch::Contains("micro_registry_registrations_total{micro_name=\"front."
                                   "metrics\",result=\"ok\"}"));
  // Every family is declared once.
  std::size_t first = text.find("# TYPE micro_request_total counter");
  REQUIRE(first != std::string::npos);
  CHECK(text.find("# TYPE micro_request_total counter", first + 1) == std::string::npos);
}

TEST_CASE("a service serves /metrics on --metrics_address") {
  int port = micro::testing::FreePort();
  auto svc = micro::NewService(micro::Name("metrics.test"), micro::Address("127.0.0.1:0"),
                               micro::Registry("memory://"));
  std::string flag = absl::StrCat("--metrics_address=127.0.0.1:", port);
  char* argv[] = {const_cast<char*>("svc"), const_cast<char*>(flag.c_str())};
  REQUIRE(svc->Init(2, argv).ok());
  REQUIRE(helloworld::RegisterGreeterHandler(svc->server(), std::make_shared<Back>()).ok());
  (void)svc->client();
  REQUIRE(svc->Start().ok());
  helloworld::GreeterService self("metrics.test", svc->client());
  REQUIRE(self.Hello(Named("x")).ok());
  auto a = micro::testing::HttpDo(port, "GET", "/metrics", "");
  CHECK(a.status == 200);
  CHECK_THAT(a.headers["content-type"], Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK_THAT(a.body, Catch::Contains("micro_name=\"metrics.test\""));
  CHECK_THAT(a.body, Catch::Contains("micro_registry_lookups_total{micro_name=\"metrics.test\"}"));
  CHECK_THAT(a.body,
             Catch::Contains("micro_registry_cache_entries{micro_name=\"metrics.test\"} 1"));
  CHECK_THAT(a.body, Catch::Contains("micro_registry_cache_oldest_seconds{micro_name="));
  CHECK_THAT(a.body, Catch::Contains("micro_selector_ejections_total "));
  {
    // A second service in the process: its series join the same families (one TYPE line each).
    auto other =
        micro::NewService(micro::Name("metrics.other"), micro::Address("127.0.0.1:0"),
                          micro::Registry("memory://"), micro::MetricsAddress("127.0.0.1:0"));
    REQUIRE(helloworld::RegisterGreeterHandler(other->server(), std::make_shared<Back>()).ok());
    (void)other->client();
    REQUIRE(other->Start().ok());
    std::string both = micro::testing::HttpDo(port, "GET", "/metrics", "").body;
    CHECK(Count(both, "# TYPE micro_registry_cache_entries gauge") == 1);
    CHECK_THAT(both, Catch::Contains("micro_registry_cache_entries{micro_name=\"metrics.other\"}"));
    CHECK_THAT(both, Catch::Contains("micro_registry_cache_entries{micro_name=\"metrics.test\"}"));
    REQUIRE(other->Stop().ok());
  }
  CHECK(micro::testing::HttpDo(port, "GET", "/nothing", "").status == 404);
  CHECK(micro::testing::HttpDo(port, "POST", "/metrics", "x").status == 405);
  // Garbage gets a 400, and the endpoint keeps serving.
  {
    micro::testing::HttpConnection c(port);
    auto bad = c.Exchange("NOT HTTP AT ALL\r\n\r\n");
    CHECK((bad.status == 400 || bad.status == 0));
  }
  CHECK(micro::testing::HttpDo(port, "GET", "/metrics", "").status == 200);
  REQUIRE(svc->Stop().ok());
  CHECK(micro::testing::HttpDo(port, "GET", "/metrics", "").status == 0);
}

TEST_CASE("a service answers /health from Ready: serving, registered and not stopping") {
  int port = micro::testing::FreePort();
  std::atomic<bool> dependency_up{true};
  auto svc = micro::NewService(
      micro::Name("health.test"), micro::Address("127.0.0.1:0"), micro::Registry("memory://"),
      micro::RegisterInterval(50ms), micro::DrainGrace(200ms), micro::RegisterCheck([&] {
        return dependency_up ? absl::OkStatus() : absl::UnavailableError("database down");
      }));
  std::string flag = absl::StrCat("--health_address=127.0.0.1:", port);
  char* argv[] = {const_cast<char*>("svc"), const_cast<char*>(flag.c_str())};
  REQUIRE(svc->Init(2, argv).ok());
  REQUIRE(helloworld::RegisterGreeterHandler(svc->server(), std::make_shared<Back>()).ok());
  auto health = [&] { return micro::testing::HttpDo(port, "GET", "/health").status; };
  CHECK(health() == 0);  // nothing before Start
  REQUIRE(svc->Start().ok());
  CHECK(svc->server().Ready());
  auto ok = micro::testing::HttpDo(port, "GET", "/health");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  // Marked not serving: 503 while it stays registered.
  svc->server().SetServing(false);
  CHECK_FALSE(svc->server().Ready());
  auto sick = micro::testing::HttpDo(port, "GET", "/health");
  CHECK(sick.status == 503);
  CHECK_THAT(sick.body, Catch::Contains("not ready"));
  CHECK(svc->registry()->GetService("health.test").ok());
  svc->server().SetServing(true);
  CHECK(health() == 200);
  // A failing register check deregisters the node, and /health follows.
  dependency_up = false;
  CHECK(Eventually([&] { return health() == 503; }));
  CHECK(absl::IsNotFound(svc->registry()->GetService("health.test").status()));
  dependency_up = true;
  CHECK(Eventually([&] { return health() == 200; }));
  // Stopping: 503 from the first moment of the drain, then nothing.
  std::thread stop([&] { CHECK(svc->Stop().ok()); });
  CHECK(Eventually([&] { return health() != 200; }));
  stop.join();
  CHECK(health() == 0);
}

namespace {
// The memory registry, as a registry whose checks poll a health URL (Consul's ?check=http).
class PollingRegistry : public micro::registry::Registry {
 public:
  absl::Status Register(const micro::registry::Service& s,
                        const micro::registry::RegisterOptions& o) override {
    std::lock_guard<std::mutex> l(mu);
    url = o.health_url;
    return inner->Register(s, o);
  }
  absl::Status Deregister(const micro::registry::Service& s) override {
    return inner->Deregister(s);
  }
  absl::StatusOr<std::vector<micro::registry::Service>> GetService(absl::string_view n) override {
    return inner->GetService(n);
  }
  absl::StatusOr<std::vector<micro::registry::Service>> ListServices() override {
    return inner->ListServices();
  }
  absl::StatusOr<std::unique_ptr<micro::registry::Watcher>> Watch(
      const micro::registry::WatchOptions& o) override {
    return inner->Watch(o);
  }
  std::string String() const override { return "polling://"; }
  bool PollsHealthUrl() const override { return true; }
  std::string Url() {
    std::lock_guard<std::mutex> l(mu);
    return url;
  }

 private:
  std::shared_ptr<micro::registry::Registry> inner = micro::registry::NewMemoryRegistry();
  std::mutex mu;
  std::string url;
};

int PortOf(const std::string& url) {
  int port = 0;
  auto colon = url.rfind(':');
  (void)absl::SimpleAtoi(url.substr(colon + 1, url.find('/', colon) - colon - 1), &port);
  return port;
}
}  // namespace

TEST_CASE(
    "a registry that polls a health URL is given one on a port of its own or the metrics port") {
  auto polling = std::make_shared<PollingRegistry>();
  auto svc = micro::NewService(micro::Name("polled.test"), micro::Address("127.0.0.1:0"),
                               micro::Registry(polling));
  REQUIRE(helloworld::RegisterGreeterHandler(svc->server(), std::make_shared<Back>()).ok());
  REQUIRE(svc->Start().ok());
  std::string url = polling->Url();
  CHECK_THAT(url, Catch::StartsWith("http://127.0.0.1:") && Catch::EndsWith("/health"));
  CHECK(micro::testing::HttpDo(PortOf(url), "GET", "/health").status == 200);
  CHECK(micro::testing::HttpDo(PortOf(url), "GET", "/metrics").status == 404);  // health only
  REQUIRE(svc->Stop().ok());

  // With --metrics_address, /health is served there too, and that is the URL registered.
  auto with_metrics =
      micro::NewService(micro::Name("polled.metrics"), micro::Address("127.0.0.1:0"),
                        micro::Registry(polling), micro::MetricsAddress("127.0.0.1:0"));
  REQUIRE(
      helloworld::RegisterGreeterHandler(with_metrics->server(), std::make_shared<Back>()).ok());
  REQUIRE(with_metrics->Start().ok());
  url = polling->Url();
  CHECK(micro::testing::HttpDo(PortOf(url), "GET", "/health").status == 200);
  CHECK(micro::testing::HttpDo(PortOf(url), "GET", "/metrics").status == 200);
  REQUIRE(with_metrics->Stop().ok());
}

TEST_CASE("log settings: unknown levels and formats are errors that name the choices") {
  for (const char* flag : {"--log_level=loud", "--log_format=xml"}) {
    auto svc = micro::NewService(micro::Name("log.test"), micro::Registry("memory://"));
    char* argv[] = {const_cast<char*>("svc"), const_cast<char*>(flag)};
    absl::Status s = svc->Init(2, argv);
    INFO(flag);
    REQUIRE(absl::IsInvalidArgument(s));
    CHECK_THAT(std::string(s.message()), Catch::Contains("is not one of"));
  }
  auto svc = micro::NewService(micro::Name("log.test"), micro::Registry("memory://"));
  char* argv[] = {const_cast<char*>("svc"), const_cast<char*>("--trace_sample=2")};
  CHECK(absl::IsInvalidArgument(svc->Init(2, argv)));
}

namespace {

// Captures what this process writes to stderr while it lives.
class CaptureStderr {
 public:
  CaptureStderr() : path_(dir_.path() + "/stderr.txt") {
    fflush(stderr);
    saved_ = dup(2);
    file_ = fopen(path_.c_str(), "w");
    REQUIRE(file_ != nullptr);
    dup2(fileno(file_), 2);
  }
  ~CaptureStderr() { Stop(); }
  std::string Stop() {
    if (saved_ >= 0) {
      fflush(stderr);
      dup2(saved_, 2);
      close(saved_);
      fclose(file_);
      saved_ = -1;
    }
    std::ifstream in(path_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  micro::testing::ScratchDir dir_;
  std::string path_;
  int saved_ = -1;
  FILE* file_ = nullptr;
};

}  // namespace

TEST_CASE("a failing heartbeat is logged once per episode, and its end once") {
  auto flaky = std::make_shared<micro::testing::FlakyRegistry>();
  micro::server::ServerOptions o;
  o.name = "episode.test";
  o.address = "127.0.0.1:0";
  o.registry = flaky;
  o.drain_grace = 0ms;
  o.register_interval = 20ms;
  micro::server::Server server(o);
  REQUIRE(helloworld::RegisterGreeterHandler(server, std::make_shared<Back>()).ok());
  REQUIRE(server.Start().ok());
  CaptureStderr capture;
  auto count = [](const char* result) {
    std::string t = micro::metrics::Text();
    std::string key = absl::StrCat(
        "micro_registry_registrations_total{micro_name=\"episode.test\",result=\"", result, "\"} ");
    std::size_t at = t.find(key);
    return at == std::string::npos ? 0 : std::stoi(t.substr(at + key.size()));
  };
  flaky->fail_register = true;
  REQUIRE(Eventually([&] { return count("failure") >= 10; }));
  int ok = count("ok");
  flaky->fail_register = false;
  REQUIRE(Eventually([&] { return count("ok") > ok + 2; }));
  REQUIRE(server.Stop().ok());
  std::string log = capture.Stop();
  INFO(log);
  CHECK(Count(log, "re-register failed") == 1);
  CHECK(Count(log, "failed tries") == 1);
}

TEST_CASE("log lines written while serving a call carry its service, request id and trace id") {
  CaptureStderr capture;
  micro::log::SetFormat(micro::log::Format::kJson);
  {
    micro::trace::SpanContext span;
    REQUIRE(micro::trace::SpanContext::Parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &span));
    micro::log::Scope scope("geo", "req-7", span.trace_id.data());
    micro::log::Info("looking up \"hotels\"");
  }
  micro::log::Info("outside");
  micro::log::SetFormat(micro::log::Format::kText);
  {
    micro::log::Scope scope("geo", "req-8");
    micro::log::Warn("text line");
  }
  std::string out = capture.Stop();
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 3);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["level"] == "info");
  CHECK(j["msg"] == "looking up \"hotels\"");
  CHECK(j["service"] == "geo");
  CHECK(j["request_id"] == "req-7");
  CHECK(j["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(nlohmann::json::parse(lines[1]).count("request_id") == 0);
  CHECK_THAT(lines[2], Catch::Contains("WARN text line service=geo request_id=req-8"));
}

TEST_CASE(
    "health: SERVING for the registered name and each proto service, NOT_SERVING once the drain "
    "starts") {
  micro::server::ServerOptions o;
  o.name = "health.test";
  o.address = "127.0.0.1:0";
  o.registry = reg::NewMemoryRegistry();
  o.drain_grace = 1500ms;
  micro::server::Server server(o);
  REQUIRE(helloworld::RegisterGreeterHandler(server, std::make_shared<Back>()).ok());
  REQUIRE(server.Start().ok());
  auto channel = grpc::CreateChannel(server.listen_address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // grpc.health.v1.HealthCheckRequest{service = 1} -> HealthCheckResponse{status = 1}:
  // the status number, or minus the gRPC error code.
  auto check = [&](const std::string& name) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Clock::now() + 5s);
    std::string body;
    if (!name.empty()) body = std::string("\x0a") + static_cast<char>(name.size()) + name;
    grpc::ByteBuffer req = micro::internal::BytesOf(body), rsp;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &rsp,
                   [&](grpc::Status s) { done.set_value(s); });
    grpc::Status s = done.get_future().get();
    if (!s.ok()) return -static_cast<int>(s.error_code());
    std::string out = micro::internal::StringOf(rsp);
    return out.size() == 2 && out[0] == 0x08 ? static_cast<int>(out[1]) : 0;
  };
  const int serving = 1, not_serving = 2;
  CHECK(check("") == serving);
  CHECK(check("health.test") == serving);
  CHECK(check("helloworld.Greeter") == serving);
  CHECK(check("nobody") == -grpc::StatusCode::NOT_FOUND);
  auto stopped = std::async(std::launch::async, [&] { return server.Stop(); });
  // During the drain grace the server still answers, and says it is going.
  REQUIRE(Eventually([&] { return check("health.test") == not_serving; }));
  CHECK(check("helloworld.Greeter") == not_serving);
  CHECK(check("") == not_serving);
  CHECK(stopped.get().ok());
}
