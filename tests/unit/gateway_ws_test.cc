// The gateway's WebSocket bridge with a real WebSocket client (Beast): server streaming and
// bidirectional streams, go-micro errors as close codes, on the memory registry.
#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <nlohmann/json.hpp>

#include "gateway.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

namespace reg = micro::registry;
namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

class Streams : public helloworld::GreeterHandler {
 public:
  absl::Status Hello(micro::server::Context&, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    rsp->set_msg("Hello " + req.name());
    return absl::OkStatus();
  }
  absl::Status Stream(micro::server::Context& ctx, const helloworld::StreamRequest& req,
                      micro::server::ServerWriter<helloworld::Response>& stream) override {
    helloworld::Response r;
    for (int i = 1; i <= req.count(); ++i) {
      r.set_msg(req.name() + " " + std::to_string(i) + " " + std::string(ctx.Metadata("x-user")));
      if (absl::Status s = stream.Send(r); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status Chat(micro::server::Context&,
                    micro::server::ServerReaderWriter<helloworld::Request, helloworld::Response>&
                        stream) override {
    helloworld::Request req;
    helloworld::Response rsp;
    absl::Status s;
    while ((s = stream.Recv(&req)).ok()) {
      if (req.name().empty()) return micro::errors::BadRequest("helloworld", "name is required");
      rsp.set_msg("Hello " + req.name());
      if (absl::Status w = stream.Send(rsp); !w.ok()) return w;
    }
    return micro::IsEndOfStream(s) ? absl::OkStatus() : s;
  }
};

struct Fixture {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::unique_ptr<micro::server::Server> server;
  std::unique_ptr<micro::api::Gateway> gateway;
  int port = 0;

  Fixture() {
    micro::server::ServerOptions so;
    so.name = "helloworld";
    so.address = "127.0.0.1:0";
    so.registry = registry;
    so.drain_grace = 0ms;
    server = std::make_unique<micro::server::Server>(so);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, std::make_shared<Streams>()).ok());
    REQUIRE(server->Start().ok());
    micro::client::ClientOptions co;
    co.registry = registry;
    co.backoff = [](int) { return 1ms; };
    micro::api::GatewayOptions o;
    o.address = "127.0.0.1:0";
    o.admin_address = "127.0.0.1:0";
    o.policy.ns = "";
    gateway = std::make_unique<micro::api::Gateway>(o, std::make_shared<micro::client::Client>(co));
    REQUIRE(gateway->Start().ok());
    port = gateway->port();
  }
  ~Fixture() {
    gateway->Stop();
    (void)server->Stop();
  }
};

// A WebSocket client on one gateway route.
struct Socket {
  asio::io_context io;
  websocket::stream<tcp::socket> ws{io};

  Socket(int port, const std::string& target, const std::string& user = "") {
    tcp::resolver resolver(io);
    asio::connect(ws.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    ws.set_option(websocket::stream_base::decorator([user](websocket::request_type& req) {
      if (!user.empty()) req.set("X-User", user);
    }));
    ws.handshake("127.0.0.1:" + std::to_string(port), target);
  }
  void Send(const std::string& text) {
    ws.text(true);
    ws.write(asio::buffer(text));
  }
  // The next text frame, or "" once the gateway closed the socket (see close()).
  std::string Read() {
    boost::beast::flat_buffer b;
    boost::beast::error_code ec;
    ws.read(b, ec);
    if (ec) return "";
    return boost::beast::buffers_to_string(b.data());
  }
  websocket::close_reason close() const { return ws.reason(); }
};

std::string Msg(const std::string& frame) { return nlohmann::json::parse(frame)["msg"]; }

}  // namespace

TEST_CASE("gateway WebSocket: a server stream, its request from the query, headers as metadata",
          "[stream]") {
  Fixture f;
  Socket s(f.port, "/helloworld/greeter/stream?name=w&count=3", "u1");
  CHECK(Msg(s.Read()) == "w 1 u1");
  CHECK(Msg(s.Read()) == "w 2 u1");
  CHECK(Msg(s.Read()) == "w 3 u1");
  CHECK(s.Read().empty());
  CHECK(s.close().code == websocket::close_code::normal);
}

TEST_CASE("gateway WebSocket: bidirectional, the client's close ends the stream", "[stream]") {
  Fixture f;
  Socket s(f.port, "/helloworld/greeter/chat");
  for (std::string n : {"a", "b", "c"}) {
    s.Send(R"({"name":")" + n + R"("})");
    CHECK(Msg(s.Read()) == "Hello " + n);
  }
  s.ws.close(websocket::close_code::normal);  // waits for the gateway's close
  CHECK(s.close().code == websocket::close_code::normal);
}

TEST_CASE("gateway WebSocket: a go-micro error is the last frame and 4000 + its code", "[stream]") {
  Fixture f;
  {
    Socket s(f.port, "/helloworld/greeter/chat");
    s.Send(R"({"name":"x"})");
    CHECK(Msg(s.Read()) == "Hello x");
    s.Send(R"({"name":""})");
    auto e = nlohmann::json::parse(s.Read());
    CHECK(e["code"] == 400);
    CHECK(e["detail"] == "name is required");
    CHECK(e["id"] == "helloworld");
    CHECK(s.Read().empty());
    CHECK(s.close().code == 4400);
    CHECK(s.close().reason == "name is required");
  }
  {
    Socket s(f.port, "/nosuch/greeter/chat");
    auto e = nlohmann::json::parse(s.Read());
    CHECK(e["code"] == 503);  // as a plain call to an unknown service
    CHECK(s.Read().empty());
    CHECK(s.close().code == 4503);
  }
  {
    // A frame that is not the endpoint's JSON: the service's 400 ends the stream.
    Socket s(f.port, "/helloworld/greeter/chat");
    s.Send("not json");
    auto e = nlohmann::json::parse(s.Read());
    CHECK(e["code"] == 400);
    CHECK(s.Read().empty());
    CHECK(s.close().code == 4400);
  }
}
