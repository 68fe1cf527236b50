// The HTTP/2 transport of JSON calls (client/h2_transport.h) against our own gRPC server and
// against hostile or silent peers, go-micro's `timeout` metadata on both sides, and which errors
// send a call to another node.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <future>
#include <thread>

#include "client/grpc_answer.h"
#include "client/h2_transport.h"
#include "core/wire.h"
#include "fake_peer.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

namespace reg = micro::registry;
using micro::internal::H2Call;
using micro::internal::H2Transport;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using micro::testing::FakePeer;

namespace {

// Remembers what the last call saw.
class Recorder : public helloworld::GreeterHandler {
 public:
  std::mutex mu;
  std::string timeout, content_type;
  std::chrono::system_clock::time_point deadline;
  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    std::lock_guard<std::mutex> l(mu);
    timeout = std::string(ctx.Metadata("timeout"));
    content_type = ctx.content_type;
    deadline = ctx.deadline;
    if (req.name() == "big") {
      rsp->set_msg(std::string(64 * 1024, 'x'));
    } else if (req.name() == "none") {
      return micro::errors::NotFound("greeter.test", "nobody");
    } else {
      rsp->set_msg("Hello " + req.name());
    }
    return absl::OkStatus();
  }
};

struct Server {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::shared_ptr<Recorder> handler = std::make_shared<Recorder>();
  std::unique_ptr<micro::server::Server> server;
  Server() {
    micro::server::ServerOptions o;
    o.name = "helloworld";
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    server = std::make_unique<micro::server::Server>(o);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, handler).ok());
    REQUIRE(server->Start().ok());
  }
};

struct Answer {
  grpc::Status status;
  std::string message;
};

Answer Call(H2Transport& t, H2Call c) {
  std::promise<Answer> p;
  t.Call(std::move(c), [&p](const grpc::Status& s, std::string m) { p.set_value({s, m}); });
  return p.get_future().get();
}

H2Call JsonCall(const std::string& address, const std::string& body,
                std::chrono::milliseconds timeout = 5000ms) {
  H2Call c;
  c.address = address;
  c.path = "/helloworld.Greeter/Hello";
  c.content_type = "application/grpc+json";
  c.metadata = {{"x-content-type", "application/grpc+json"}, {"timeout", "5000000000"}};
  c.message = body;
  c.deadline = Clock::now() + timeout;
  return c;
}

}  // namespace

TEST_CASE("h2: JSON calls reach our server with go-micro's content type and timeout") {
  Server s;
  H2Transport t(60s);
  Answer a = Call(t, JsonCall(s.server->listen_address(), R"({"name":"Json"})"));
  INFO(a.status.error_message());
  REQUIRE(a.status.ok());
  CHECK(a.message == R"({"msg":"Hello Json"})");
  {
    std::lock_guard<std::mutex> l(s.handler->mu);
    CHECK(s.handler->content_type == "application/grpc+json");
    CHECK(s.handler->timeout == "5000000000");
    auto left = s.handler->deadline - std::chrono::system_clock::now();
    CHECK(left > 0s);
    CHECK(left <= 5s);  // grpc-timeout
  }

  // One connection carries every call, also concurrent ones.
  std::vector<std::future<Answer>> many;
  for (int i = 0; i < 50; ++i) {
    many.push_back(std::async(std::launch::async, [&] {
      return Call(t, JsonCall(s.server->listen_address(), R"({"name":"n"})"));
    }));
  }
  for (auto& f : many) CHECK(f.get().status.ok());
  CHECK(t.connections() == 1);

  // A handler's go-micro error arrives as the gRPC status the server sent.
  a = Call(t, JsonCall(s.server->listen_address(), R"({"name":"none"})"));
  CHECK(a.status.error_code() == grpc::StatusCode::NOT_FOUND);
  micro::Error e;
  REQUIRE(e.ParseJson(a.status.error_message()));
  CHECK(e.id == "greeter.test");
  CHECK(e.detail == "nobody");

  // Malformed JSON: the server's 400, and the connection still serves.
  a = Call(t, JsonCall(s.server->listen_address(), R"({"name":)"));
  CHECK(a.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Call(t, JsonCall(s.server->listen_address(), R"({"name":"again"})")).status.ok());

  // An answer over the limit is refused, not truncated.
  H2Call big = JsonCall(s.server->listen_address(), R"({"name":"big"})");
  big.max_response = 1024;
  a = Call(t, big);
  CHECK(a.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  big.max_response = 1 << 20;
  CHECK(Call(t, big).message.size() > 64 * 1024);

  // An unknown method and a past deadline.
  H2Call unknown = JsonCall(s.server->listen_address(), "{}");
  unknown.path = "/helloworld.Greeter/Nope";
  a = Call(t, unknown);
  CHECK(!a.status.ok());
  H2Call late = JsonCall(s.server->listen_address(), "{}");
  late.deadline = Clock::now() - 1ms;
  CHECK(Call(t, late).status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_CASE("h2: refused, silent, garbage and vanishing peers end calls with clear statuses") {
  H2Transport t(60s);
  // Nothing listens.
  Answer a = Call(t, JsonCall("127.0.0.1:1", "{}"));
  CHECK(a.status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(a.status.error_message().find("127.0.0.1:1") != std::string::npos);
  // Malformed addresses.
  for (const char* bad : {"", "nohostport", "127.0.0.1:", "[::1"}) {
    INFO(bad);
    CHECK(Call(t, JsonCall(bad, "{}")).status.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  // Accepts and never answers: the call's own deadline ends it.
  {
    FakePeer silent([](int) {});
    auto start = Clock::now();
    a = Call(t, JsonCall(silent.address(), "{}", 300ms));
    CHECK(a.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
    CHECK(Clock::now() - start >= 300ms);
  }
  // Answers HTTP/1.1 and closes.
  {
    FakePeer http1([](int c) {
      const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      (void)!write(c, reply, sizeof(reply) - 1);
      shutdown(c, SHUT_WR);
    });
    a = Call(t, JsonCall(http1.address(), "{}"));
    CHECK(a.status.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  // Accepts, then drops the connection while the call is open.
  {
    FakePeer dropper([](int c) {
      char buf[256];
      (void)!read(c, buf, sizeof(buf));
      shutdown(c, SHUT_RDWR);
    });
    a = Call(t, JsonCall(dropper.address(), "{}"));
    CHECK(a.status.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  // A server that went away and came back on another port: the old connection is gone, a call to
  // the new one works.
  auto s = std::make_unique<Server>();
  std::string first = s->server->listen_address();
  CHECK(Call(t, JsonCall(first, R"({"name":"a"})")).status.ok());
  REQUIRE(s->server->Stop().ok());
  s.reset();
  CHECK(Call(t, JsonCall(first, R"({"name":"a"})")).status.error_code() ==
        grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("h2: destroying the transport ends open calls once") {
  FakePeer silent([](int) {});
  std::atomic<int> ended{0};
  grpc::StatusCode code = grpc::StatusCode::OK;
  {
    H2Transport t(60s);
    t.Call(JsonCall(silent.address(), "{}", 30000ms), [&](const grpc::Status& s, std::string) {
      code = s.error_code();
      ++ended;
    });
    std::this_thread::sleep_for(50ms);
  }
  CHECK(ended == 1);
  CHECK(code == grpc::StatusCode::CANCELLED);
}

TEST_CASE("h2: grpc-message is percent-decoded") {
  using micro::internal::PercentDecode;
  CHECK(PercentDecode("plain") == "plain");
  CHECK(PercentDecode("a%20b%25c") == "a b%c");
  CHECK(PercentDecode("%E2%82%AC") == "\xE2\x82\xAC");
  CHECK(PercentDecode("bad%2") == "bad%2");
  CHECK(PercentDecode("bad%zz") == "bad%zz");
  CHECK(PercentDecode("%") == "%");
}

TEST_CASE("h2: what a finished stream means") {
  using micro::internal::Frame;
  using micro::internal::GrpcAnswer;
  using micro::internal::Outcome;
  auto outcome = [](GrpcAnswer a, std::string* m = nullptr) {
    std::string unused;
    return Outcome(a, 1024, m != nullptr ? m : &unused);
  };
  std::string m;
  CHECK(outcome({200, "0", "", Frame(R"({"msg":"hi"})"), false}, &m).ok());
  CHECK(m == R"({"msg":"hi"})");
  CHECK(outcome({200, "0", "", Frame(""), false}).ok());  // an empty message is a message
  auto st = outcome({200, "5", "no%20such%20thing", "", false});
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(st.error_message() == "no such thing");
  CHECK(outcome({503, "", "", "", false}).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(outcome({404, "", "", "", false}).error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(outcome({200, "", "", Frame("x"), false}).error_code() == grpc::StatusCode::INTERNAL);
  CHECK(outcome({200, "17", "", "", false}).error_code() == grpc::StatusCode::INTERNAL);
  CHECK(outcome({200, "zero", "", "", false}).error_code() == grpc::StatusCode::INTERNAL);
  CHECK(outcome({200, "0", "", "", true}).error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(outcome({200, "0", "", "", false}).error_code() == grpc::StatusCode::INTERNAL);
  std::string compressed = Frame("x");
  compressed[0] = 1;
  CHECK(outcome({200, "0", "", compressed, false}).error_code() == grpc::StatusCode::INTERNAL);
  CHECK(outcome({200, "0", "", Frame("ab").substr(0, 6), false}).error_code() ==
        grpc::StatusCode::INTERNAL);
  CHECK(outcome({200, "0", "", Frame("a") + Frame("b"), false}).error_code() ==
        grpc::StatusCode::INTERNAL);
  CHECK(micro::internal::GrpcTimeout(std::chrono::microseconds(499700)) == "500m");
  CHECK(micro::internal::GrpcTimeout(std::chrono::hours(24 * 365 * 10)) == "99999999S");
}

TEST_CASE("the server takes a handler deadline from go-micro's timeout metadata") {
  Server s;
  auto channel =
      grpc::CreateChannel(s.server->listen_address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  for (bool grpc_deadline : {false, true}) {
    INFO(grpc_deadline);
    grpc::ClientContext ctx;
    ctx.AddMetadata("timeout", "2000000000");  // 2 s, as go-micro writes it
    if (grpc_deadline) ctx.set_deadline(std::chrono::system_clock::now() + 500ms);
    helloworld::Request req;
    req.set_name("t");
    grpc::ByteBuffer in = micro::internal::BytesOf(req.SerializeAsString()), out;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&ctx, "/helloworld.Greeter/Hello", grpc::StubOptions(), &in, &out,
                   [&](grpc::Status st) { done.set_value(st); });
    REQUIRE(done.get_future().get().ok());
    std::lock_guard<std::mutex> l(s.handler->mu);
    auto left = s.handler->deadline - std::chrono::system_clock::now();
    CHECK(left > 0s);
    if (grpc_deadline) {
      CHECK(left < 1s);  // a gRPC deadline wins
    } else {
      CHECK(left <= 2s);
      CHECK(left > 1s);
    }
  }
}

TEST_CASE("errors that mean 'this node cannot serve this call' are told apart") {
  using grpc::StatusCode;
  using micro::internal::NodeCannotServe;
  CHECK(NodeCannotServe(grpc::Status(
      StatusCode::INTERNAL,
      "grpc: failed to unmarshal the received message: proto: cannot parse invalid wire-format "
      "data")));
  CHECK(NodeCannotServe(grpc::Status(StatusCode::INTERNAL, "grpc: error unmarshalling request")));
  CHECK(NodeCannotServe(grpc::Status(StatusCode::UNIMPLEMENTED, "unknown service helloworld.X")));
  CHECK(NodeCannotServe(grpc::Status(
      StatusCode::INTERNAL,
      R"({"id":"go.micro.server","code":500,"detail":"Unsupported Content-Type: a/b"})")));
  CHECK_FALSE(NodeCannotServe(
      grpc::Status(StatusCode::UNIMPLEMENTED, R"({"id":"x","code":501,"detail":"not yet"})")));
  CHECK_FALSE(NodeCannotServe(
      grpc::Status(StatusCode::INTERNAL, R"({"id":"x","code":500,"detail":"boom"})")));
  CHECK_FALSE(NodeCannotServe(grpc::Status(StatusCode::INVALID_ARGUMENT, "bad")));
  CHECK_FALSE(NodeCannotServe(grpc::Status(StatusCode::UNAVAILABLE, "down")));
}

TEST_CASE("a call a node cannot decode moves to another node") {
  // A node that answers every call with grpc-go's decode failure, registered beside a real one.
  Server good;
  grpc::ServerBuilder b;
  class Refuser : public grpc::CallbackGenericService {
    grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
      // Reads the request, then fails it as grpc-go does when it cannot decode a body.
      class R : public grpc::ServerGenericBidiReactor {
       public:
        R() { StartRead(&request_); }
        void OnReadDone(bool) override {
          Finish(grpc::Status(grpc::StatusCode::INTERNAL,
                              "grpc: failed to unmarshal the received message: proto: cannot "
                              "parse invalid wire-format data"));
        }
        void OnDone() override { delete this; }

       private:
        grpc::ByteBuffer request_;
      };
      return new R;
    }
  } refuser;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterCallbackGenericService(&refuser);
  auto srv = b.BuildAndStart();
  REQUIRE(srv);
  reg::Service s{
      "helloworld", "latest", {}, {}, {reg::Node{"go-1", "127.0.0.1:" + std::to_string(port), {}}}};
  REQUIRE(good.registry->Register(s).ok());
  micro::client::ClientOptions co;
  co.registry = good.registry;
  co.selector.strategy = micro::selector::Strategy::kRoundRobin;
  co.backoff = [](int) { return 1ms; };
  micro::client::Client client(co);
  micro::client::CallOptions json;
  json.content_type = "application/grpc+json";
  for (int i = 0; i < 10; ++i) {
    std::promise<absl::StatusOr<std::string>> p;
    client.CallRawAsync(
        "helloworld", "Greeter.Hello", R"({"name":"x"})",
        [&](absl::StatusOr<std::string> r) { p.set_value(std::move(r)); }, json);
    auto r = p.get_future().get();
    INFO(r.status().ToString());
    CHECK(r.ok());
  }
  srv->Shutdown();
}
