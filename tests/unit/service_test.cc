// The service layer in one process: real gRPC on 127.0.0.1, the memory registry.
#include <catch2/catch.hpp>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <future>

#include "core/wire.h"
#include "flaky_registry.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "test_util.h"

namespace reg = micro::registry;
using namespace std::chrono_literals;
using micro::testing::Eventually;

namespace {

class Greeter : public helloworld::GreeterHandler {
 public:
  std::atomic<int> calls{0};
  std::string last_trace;
  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    ++calls;
    last_trace = std::string(ctx.Metadata("X-Trace-Id"));
    if (req.name() == "conflict") return micro::errors::Conflict("greeter.test", "already greeted");
    if (req.name() == "plain") return absl::NotFoundError("no such person");
    if (req.name() == "throw") throw std::runtime_error("boom");
    rsp->set_msg("Hello " + req.name());
    return absl::OkStatus();
  }
};

struct Fixture {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::shared_ptr<Greeter> handler = std::make_shared<Greeter>();
  std::unique_ptr<micro::server::Server> server;
  std::shared_ptr<micro::client::Client> client;

  explicit Fixture(const std::string& name = "helloworld", micro::server::ServerOptions o = {}) {
    o.name = name;
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    server = std::make_unique<micro::server::Server>(o);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, handler).ok());
    REQUIRE(server->Start().ok());
    micro::client::ClientOptions co;
    co.registry = registry;
    co.backoff = [](int) { return 1ms; };
    client = std::make_shared<micro::client::Client>(co);
  }
};

helloworld::Request Named(const std::string& n) {
  helloworld::Request r;
  r.set_name(n);
  return r;
}

// A raw call on any path with any content type, bypassing the framework's client.
grpc::Status RawCall(const std::string& address, const std::string& path,
                     const std::string& content_type, const std::string& body, std::string* out) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  if (!content_type.empty()) ctx.AddMetadata("x-content-type", content_type);
  grpc::ByteBuffer req = micro::internal::BytesOf(body), rsp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, path, grpc::StubOptions(), &req, &rsp,
                 [&](grpc::Status s) { done.set_value(s); });
  grpc::Status s = done.get_future().get();
  *out = micro::internal::StringOf(rsp);
  return s;
}

}  // namespace

TEST_CASE("generated client calls the generated handler, sync and async") {
  Fixture f;
  helloworld::GreeterService greeter("helloworld", f.client);
  auto rsp = greeter.Hello(Named("World"));
  REQUIRE(rsp.ok());
  CHECK(rsp->msg() == "Hello World");

  std::promise<absl::StatusOr<helloworld::Response>> p;
  greeter.HelloAsync(Named("Async"),
                     [&](absl::StatusOr<helloworld::Response> r) { p.set_value(std::move(r)); });
  auto async = p.get_future().get();
  REQUIRE(async.ok());
  CHECK(async->msg() == "Hello Async");
}

TEST_CASE("go-micro alias paths and the standard path reach the same handler") {
  Fixture f("go.micro.srv.greeter");
  helloworld::Request req = Named("Alias");
  std::string body = req.SerializeAsString(), out;
  for (const char* path : {"/helloworld.Greeter/Hello", "/go.micro.srv.greeter.Greeter/Hello",
                           "/anything.at.all.Greeter/Hello", "/Greeter/Hello"}) {
    INFO(path);
    grpc::Status s = RawCall(f.server->listen_address(), path, "", body, &out);
    REQUIRE(s.ok());
    helloworld::Response rsp;
    REQUIRE(rsp.ParseFromString(out));
    CHECK(rsp.msg() == "Hello Alias");
  }
  // The framework's client uses go-micro's form: /<registered name>.Greeter/Hello.
  helloworld::GreeterService greeter("go.micro.srv.greeter", f.client);
  CHECK(greeter.Hello(Named("x")).ok());
}

TEST_CASE("a JSON request gets a JSON response") {
  Fixture f;
  std::string out;
  grpc::Status s = RawCall(f.server->listen_address(), "/helloworld.Greeter/Hello",
                           "application/grpc+json", R"({"name":"Json","unknownField":1})", &out);
  REQUIRE(s.ok());
  CHECK(out == R"({"msg":"Hello Json"})");

  std::promise<absl::StatusOr<std::string>> p;
  micro::client::CallOptions o;
  o.content_type = "application/grpc+json";
  f.client->CallRawAsync(
      "helloworld", "Greeter.Hello", R"({"name":"Raw"})",
      [&](absl::StatusOr<std::string> r) { p.set_value(std::move(r)); }, o);
  auto raw = p.get_future().get();
  REQUIRE(raw.ok());
  CHECK(*raw == R"({"msg":"Hello Raw"})");
}

TEST_CASE("malformed requests get InvalidArgument with a message, and the server keeps serving") {
  Fixture f;
  std::string out;
  struct Case {
    const char* content_type;
    std::string body;
    const char* expect;
  };
  for (const Case& c :
       {Case{"application/grpc+json", "{\"name\":", "malformed JSON"},
        Case{"application/grpc+json", "[1,2]", "malformed JSON"},
        Case{"application/grpc+proto", std::string("\x0a\xff\xff\xff", 4), "malformed protobuf"},
        Case{"text/xml", "<a/>", "unsupported content type"}}) {
    INFO(c.body);
    grpc::Status s = RawCall(f.server->listen_address(), "/helloworld.Greeter/Hello",
                             c.content_type, c.body, &out);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    micro::Error e;
    REQUIRE(e.ParseJson(s.error_message()));
    CHECK(e.code == 400);
    CHECK(e.id == "helloworld");
    CHECK_THAT(e.detail, Catch::Contains(c.expect));
  }
  grpc::Status s = RawCall(f.server->listen_address(), "/helloworld.Greeter/Nope", "", "", &out);
  CHECK(s.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  helloworld::GreeterService greeter("helloworld", f.client);
  CHECK(greeter.Hello(Named("still fine")).ok());
}

TEST_CASE("errors survive the hop: code, id, detail, status") {
  Fixture f;
  helloworld::GreeterService greeter("helloworld", f.client);
  auto r = greeter.Hello(Named("conflict"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kAlreadyExists);
  micro::Error e = micro::errors::FromStatus(r.status());
  CHECK(e == micro::Error{"greeter.test", 409, "already greeted", "Conflict"});

  auto plain = greeter.Hello(Named("plain"));  // a plain absl status: id = service name
  CHECK(micro::errors::FromStatus(plain.status()) ==
        micro::Error{"helloworld", 404, "no such person", "Not Found"});

  auto thrown = greeter.Hello(Named("throw"));  // an exception never crosses the server
  CHECK(micro::errors::FromStatus(thrown.status()).code == 500);
  CHECK_THAT(micro::errors::FromStatus(thrown.status()).detail, Catch::Contains("boom"));
}

TEST_CASE("metadata reaches the handler with lower-case keys") {
  Fixture f;
  helloworld::GreeterService greeter("helloworld", f.client);
  micro::client::CallOptions o;
  o.metadata = {{"X-Trace-Id", "abc123"}, {"Bad Key", "dropped"}, {"x-ok", "line\nbreak"}};
  REQUIRE(greeter.Hello(Named("m"), o).ok());
  CHECK(f.handler->last_trace == "abc123");
}

TEST_CASE("the registration carries endpoints, node metadata and the bound address") {
  Fixture f;
  auto svc = f.registry->GetService("helloworld");
  REQUIRE(svc.ok());
  const reg::Service& s = svc->at(0);
  // Sorted by name: Chat, Collect, Hello, Stream; the streaming ones say so, as go-micro's do.
  REQUIRE(s.endpoints.size() == 4);
  CHECK(s.endpoints[0].metadata.at("stream") == "true");
  CHECK(s.endpoints[3].name == "Greeter.Stream");
  CHECK(s.endpoints[3].metadata.at("stream") == "true");
  CHECK(s.endpoints[2].name == "Greeter.Hello");
  CHECK(s.endpoints[2].metadata.count("stream") == 0);
  CHECK(s.endpoints[2].request->name == "Request");
  CHECK(s.endpoints[2].request->values.at(0).name == "name");
  CHECK(s.endpoints[2].request->values.at(0).type == "string");
  REQUIRE(s.nodes.size() == 1);
  CHECK(s.nodes[0].address == f.server->listen_address());
  CHECK(s.nodes[0].address.rfind("127.0.0.1:", 0) == 0);
  CHECK(s.nodes[0].address != "127.0.0.1:0");
  CHECK(s.nodes[0].id.rfind("helloworld-", 0) == 0);
  CHECK(s.nodes[0].metadata.at("protocol") == "grpc");
  CHECK(s.nodes[0].metadata.at("registry") == "memory");
  REQUIRE(f.server->Stop().ok());
  CHECK(absl::IsNotFound(f.registry->GetService("helloworld").status()));
}

TEST_CASE("a port already in use is an error that names it, not a silent split") {
  Fixture f;
  micro::server::ServerOptions so;
  so.name = "second";
  so.address = f.server->listen_address();
  so.registry = f.registry;
  micro::server::Server second(so);
  absl::Status s = second.Start();
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains(f.server->listen_address()));
  CHECK_THAT(std::string(s.message()), Catch::Contains("Address already in use"));
  CHECK(absl::IsNotFound(f.registry->GetService("second").status()));
}

TEST_CASE("the health service answers SERVING") {
  Fixture f;
  std::string out;
  // grpc.health.v1.HealthCheckRequest{} -> HealthCheckResponse{status: SERVING (1)}
  grpc::Status s =
      RawCall(f.server->listen_address(), "/grpc.health.v1.Health/Check", "", "", &out);
  REQUIRE(s.ok());
  CHECK(out == std::string("\x08\x01", 2));
}

TEST_CASE("a refused connection is retried on another node at once, and the node is ejected") {
  Fixture f;
  // A node that refuses connections, registered beside the real one.
  reg::Service dead{"helloworld", "latest", {}, {}, {reg::Node{"dead-1", "127.0.0.1:1", {}}}};
  REQUIRE(f.registry->Register(dead).ok());
  std::atomic<int> backoffs{0};
  micro::client::ClientOptions co;
  co.registry = f.registry;
  co.selector.strategy = micro::selector::Strategy::kRoundRobin;
  co.selector.outlier.base_ejection = 60s;  // stays out for the whole test
  co.backoff = [&](int) {
    ++backoffs;
    return 1ms;
  };
  std::uint64_t ejections = micro::selector::EjectionCount();
  micro::client::Client client(co);
  helloworld::GreeterService greeter("helloworld",
                                     std::shared_ptr<micro::client::Client>(&client, [](auto*) {}));
  for (int i = 0; i < 20; ++i) REQUIRE(greeter.Hello(Named("r")).ok());
  CHECK(micro::selector::EjectionCount() == ejections + 1);  // micro_selector_ejections_total
  auto dead_stats = client.selector().Stats("helloworld", "dead-1");
  CHECK(dead_stats.failures == 2);  // consecutive_failures (2), then out of rotation
  CHECK(dead_stats.ejected);
  CHECK(dead_stats.successes == 0);
  CHECK(backoffs == 0);  // another node was left to try each time: no wait
  CHECK(f.handler->calls == 20);

  // Async calls (the gateway's path) the same way.
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    std::promise<void> done;
    client.CallRawAsync("helloworld", "Greeter.Hello", std::string("\x0a\x01r", 3),
                        [&](absl::StatusOr<std::string> r) {
                          if (r.ok()) ++ok;
                          done.set_value();
                        });
    done.get_future().wait();
  }
  CHECK(ok == 20);
  CHECK(f.handler->calls == 40);
  CHECK(client.selector().Stats("helloworld", "dead-1").failures == 2);

  // Without ejection and without retries, the dead node shows.
  micro::client::ClientOptions plain = co;
  plain.selector.outlier.enabled = false;
  micro::client::Client unguarded(plain);
  helloworld::GreeterService greeter2(
      "helloworld", std::shared_ptr<micro::client::Client>(&unguarded, [](auto*) {}));
  micro::client::CallOptions none;
  none.retries = 0;
  int failed = 0;
  for (int i = 0; i < 20; ++i) failed += greeter2.Hello(Named("r"), none).ok() ? 0 : 1;
  CHECK(failed > 0);
}

TEST_CASE("when every node fails, the client backs off between rounds") {
  auto registry = std::shared_ptr<reg::Registry>(reg::NewMemoryRegistry());
  reg::Service dead{"gone",
                    "latest",
                    {},
                    {},
                    {reg::Node{"d1", "127.0.0.1:1", {}}, reg::Node{"d2", "127.0.0.1:2", {}}}};
  REQUIRE(registry->Register(dead).ok());
  std::atomic<int> backoffs{0};
  micro::client::ClientOptions co;
  co.registry = registry;
  co.retries = 3;  // four attempts: two rounds of two nodes
  co.selector.outlier.enabled = false;
  co.backoff = [&](int) {
    ++backoffs;
    return 1ms;
  };
  micro::client::Client client(co);
  helloworld::GreeterService greeter("gone",
                                     std::shared_ptr<micro::client::Client>(&client, [](auto*) {}));
  REQUIRE_FALSE(greeter.Hello(Named("r")).ok());
  CHECK(backoffs == 1);  // after the first round only: the second is the last
  CHECK(client.selector().Stats("gone", "d1").failures == 2);
  CHECK(client.selector().Stats("gone", "d2").failures == 2);
}

TEST_CASE("server and client wrappers run in order around the handler") {
  std::vector<std::string> order;
  std::mutex mu;
  auto note = [&](std::string s) {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(std::move(s));
  };
  micro::server::ServerOptions so;
  for (std::string tag : {"outer", "inner"}) {
    so.wrappers.push_back([&, tag](micro::server::HandlerFn next) -> micro::server::HandlerFn {
      return [&, tag, next](micro::server::Context& c, const google::protobuf::Message& in,
                            google::protobuf::Message* out) {
        note("server " + tag);
        return next(c, in, out);
      };
    });
  }
  Fixture f("helloworld", so);
  micro::client::ClientOptions co;
  co.registry = f.registry;
  co.wrappers.push_back([&](micro::client::CallFn next) -> micro::client::CallFn {
    return [&, next](const micro::client::Request& r, const google::protobuf::Message& in,
                     google::protobuf::Message* out) {
      note("client " + r.endpoint);
      return next(r, in, out);
    };
  });
  auto client = std::make_shared<micro::client::Client>(co);
  REQUIRE(helloworld::GreeterService("helloworld", client).Hello(Named("w")).ok());
  CHECK(order == std::vector<std::string>{"client Greeter.Hello", "server outer", "server inner"});
}

TEST_CASE("a failing register check deregisters the node until it passes") {
  std::atomic<bool> healthy{true};
  micro::server::ServerOptions so;
  so.register_interval = 20ms;
  so.register_check = [&] {
    return healthy ? absl::OkStatus() : absl::UnavailableError("db down");
  };
  Fixture f("helloworld", so);
  REQUIRE(f.registry->GetService("helloworld").ok());
  healthy = false;
  CHECK(
      Eventually([&] { return absl::IsNotFound(f.registry->GetService("helloworld").status()); }));
  healthy = true;
  CHECK(Eventually([&] { return f.registry->GetService("helloworld").ok(); }));
}

TEST_CASE("calls to an unknown service fail at once with a 503 error") {
  Fixture f;
  helloworld::GreeterService nobody("nobody", f.client);
  auto r = nobody.Hello(Named("x"));
  REQUIRE_FALSE(r.ok());
  micro::Error e = micro::errors::FromStatus(r.status());
  CHECK(e.code == 503);
  CHECK(e.id == "go.micro.client");
  CHECK_THAT(e.detail, Catch::Contains("nobody"));
  CHECK_THAT(e.detail, Catch::Contains("service not found"));
}

TEST_CASE("server reflection lists the service") {
  Fixture f;
  auto channel =
      grpc::CreateChannel(f.server->listen_address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::CompletionQueue cq;
  auto stream =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&](auto&& op) {
    op();
    void* tag;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
  grpc::ByteBuffer req = micro::internal::BytesOf(std::string("\x3a\x00", 2)), rsp;
  REQUIRE(step([&] { stream->StartCall(reinterpret_cast<void*>(1)); }));
  REQUIRE(step([&] { stream->Write(req, reinterpret_cast<void*>(2)); }));
  REQUIRE(step([&] { stream->WritesDone(reinterpret_cast<void*>(3)); }));
  REQUIRE(step([&] { stream->Read(&rsp, reinterpret_cast<void*>(4)); }));
  CHECK_THAT(micro::internal::StringOf(rsp), Catch::Contains("helloworld.Greeter"));
  grpc::Status status;
  step([&] { stream->Finish(&status, reinterpret_cast<void*>(5)); });
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

namespace {

// A helloworld server's options on a registry that refuses registrations for now.
micro::server::ServerOptions Unregistrable(
    std::shared_ptr<micro::testing::FlakyRegistry> registry) {
  registry->fail_register = true;
  micro::server::ServerOptions o;
  o.name = "helloworld";
  o.address = "127.0.0.1:0";
  o.registry = std::move(registry);
  o.drain_grace = 0ms;
  return o;
}

}  // namespace

TEST_CASE("a service whose first registration fails serves anyway and registers once it can") {
  auto registry = std::make_shared<micro::testing::FlakyRegistry>();
  micro::server::ServerOptions o = Unregistrable(registry);
  o.register_interval = 50ms;
  micro::server::Server server(o);
  REQUIRE(helloworld::RegisterGreeterHandler(server, std::make_shared<Greeter>()).ok());
  REQUIRE(server.Start().ok());
  CHECK(absl::IsNotFound(registry->GetService("helloworld").status()));
  // It serves already: a call straight to its address is answered.
  std::string out;
  helloworld::Request req = Named("direct");
  grpc::Status st = RawCall(server.listen_address(), "/helloworld.Greeter/Hello",
                            "application/grpc", req.SerializeAsString(), &out);
  CHECK(st.ok());
  registry->fail_register = false;
  CHECK(Eventually([&] { return registry->GetService("helloworld").ok(); }));
  CHECK(server.Stop().ok());
}

TEST_CASE("register_required makes a failed first registration fatal, naming the registry") {
  auto registry = std::make_shared<micro::testing::FlakyRegistry>();
  micro::server::ServerOptions o = Unregistrable(registry);
  o.register_required = true;
  micro::server::Server server(o);
  REQUIRE(helloworld::RegisterGreeterHandler(server, std::make_shared<Greeter>()).ok());
  absl::Status s = server.Start();
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(std::string(s.message()), Catch::Contains("register helloworld in flaky://"));
  CHECK_THAT(std::string(s.message()), Catch::Contains("registry down"));
}

TEST_CASE("advertise overrides the registered address, and a wildcard bind registers a real host") {
  auto registry = std::shared_ptr<reg::Registry>(reg::NewMemoryRegistry());
  micro::server::ServerOptions o;
  o.name = "adv";
  o.address = "127.0.0.1:0";
  o.advertise = "greeter.example:8443";
  o.registry = registry;
  o.drain_grace = 0ms;
  micro::server::Server s(o);
  REQUIRE(helloworld::RegisterGreeterHandler(s, std::make_shared<Greeter>()).ok());
  REQUIRE(s.Start().ok());
  CHECK(registry->GetService("adv")->at(0).nodes.at(0).address == "greeter.example:8443");
  REQUIRE(s.Stop().ok());

  o.name = "wild";
  o.address = ":0";
  o.advertise.clear();
  micro::server::Server w(o);
  REQUIRE(helloworld::RegisterGreeterHandler(w, std::make_shared<Greeter>()).ok());
  REQUIRE(w.Start().ok());
  std::string addr = registry->GetService("wild")->at(0).nodes.at(0).address;
  CHECK(addr.rfind("0.0.0.0", 0) != 0);
  CHECK(addr.substr(addr.rfind(':') + 1) != "0");
  REQUIRE(w.Stop().ok());

  o.advertise = "no-port";
  micro::server::Server bad(o);
  REQUIRE(helloworld::RegisterGreeterHandler(bad, std::make_shared<Greeter>()).ok());
  absl::Status st = bad.Start();
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(std::string(st.message()), Catch::Contains("no-port"));
}

namespace {
// Times out (408) on its first call, then answers.
class SlowOnce : public helloworld::GreeterHandler {
 public:
  std::atomic<int> calls{0};
  absl::Status Hello(micro::server::Context&, const helloworld::Request&,
                     helloworld::Response* rsp) override {
    if (calls++ == 0) return micro::errors::Timeout("slow", "downstream timed out");
    rsp->set_msg("late");
    return absl::OkStatus();
  }
};
}  // namespace

TEST_CASE("timeouts are retried only when asked, as go-micro does") {
  for (bool retry : {false, true}) {
    INFO(retry);
    auto registry = std::shared_ptr<reg::Registry>(reg::NewMemoryRegistry());
    micro::server::ServerOptions o;
    o.name = "slow";
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    micro::server::Server s(o);
    auto handler = std::make_shared<SlowOnce>();
    REQUIRE(helloworld::RegisterGreeterHandler(s, handler).ok());
    REQUIRE(s.Start().ok());
    micro::client::ClientOptions co;
    co.registry = registry;
    co.retry_on_timeout = retry;
    co.backoff = [](int) { return 1ms; };
    auto client = std::make_shared<micro::client::Client>(co);
    auto r = helloworld::GreeterService("slow", client).Hello(Named("t"));
    CHECK(r.ok() == retry);
    CHECK(handler->calls == (retry ? 2 : 1));
    if (!retry) CHECK(micro::errors::FromStatus(r.status()).code == 408);
    REQUIRE(s.Stop().ok());
  }
}
