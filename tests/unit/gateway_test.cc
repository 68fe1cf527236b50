// The API gateway: path resolution and request planning as pure functions,
// then a gateway in this process in front of an in-process greeter (memory
// registry), spoken to with raw HTTP bytes.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

#include "gateway.h"
#include "greeter.micro.h"
#include "http_util.h"
#include "limiter.h"
#include "metrics.h"
#include "micro/flagset.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "process.h"
#include "request.h"
#include "test_util.h"

namespace reg = micro::registry;
using micro::api::HttpRequest;
using micro::api::PlanCall;
using micro::api::Resolve;
using micro::testing::HttpConnection;
using micro::testing::HttpDo;
using namespace std::chrono_literals;

namespace {
// Everything exposed under `ns`, /rpc included.
micro::api::Policy Open(const std::string& ns) {
  micro::api::Policy p;
  p.ns = ns;
  p.rpc = true;
  return p;
}
}  // namespace

TEST_CASE("paths resolve as go-micro's micro api does") {
  struct Case {
    const char* path;
    const char* service;
    const char* endpoint;
  };
  for (const Case& c : std::vector<Case>{
           {"/hotel/rates", "go.micro.api.hotel", "Hotel.Rates"},
           {"/hotel", "go.micro.api.hotel", "Hotel.Call"},
           {"/v1/foo/bar", "go.micro.api.v1.foo", "Foo.Bar"},
           {"/a/b/c/d", "go.micro.api.a.b", "C.D"},
           {"/foo-bar/get-all", "go.micro.api.foo-bar", "FooBar.GetAll"},
           {"//hotel//rates/", "go.micro.api.hotel", "Hotel.Rates"},
           {"/v1/foo", "go.micro.api.v1", "V1.Foo"},
       }) {
    auto r = Resolve(c.path, "go.micro.api");
    INFO(c.path);
    REQUIRE(r.ok());
    CHECK(r->service == c.service);
    CHECK(r->endpoint == c.endpoint);
  }
  CHECK(Resolve("/hotel/rates", "")->service == "hotel");
  for (const char* bad : {"/", "", "/a/b%20c", "/a/../b", "/-/x"}) {
    INFO(bad);
    auto r = Resolve(bad, "go.micro.api");
    CHECK(absl::IsNotFound(r.status()));
    CHECK(micro::errors::FromStatus(r.status()).code == 404);
  }
}

TEST_CASE("requests become calls: bodies, queries, /rpc and headers") {
  HttpRequest post{"POST",
                   "/hotel/rates",
                   {{"Authorization", "Bearer X"},
                    {"Content-Length", "2"},
                    {"X-Trace", "t1"},
                    {"grpc-timeout", "1S"}},
                   R"({"inDate":"2015-04-09"})"};
  auto c = PlanCall(post, Open("go.micro.api"));
  REQUIRE(c.ok());
  CHECK(c->route.endpoint == "Hotel.Rates");
  CHECK(c->body == post.body);
  CHECK(c->metadata ==
        std::map<std::string, std::string>{{"authorization", "Bearer X"}, {"x-trace", "t1"}});

  auto get =
      PlanCall({"GET", "/geo/nearby?lat=37.78&lon=-122.4&tag=a&tag=b%20c", {}, ""}, Open(""));
  REQUIRE(get.ok());
  CHECK(nlohmann::json::parse(get->body) ==
        nlohmann::json{{"lat", "37.78"}, {"lon", "-122.4"}, {"tag", {"a", "b c"}}});
  CHECK(PlanCall({"POST", "/x/y", {}, ""}, Open(""))->body == "{}");
  auto form =
      PlanCall({"POST", "/x/y", {{"Content-Type", "application/x-www-form-urlencoded"}}, "a=1&b=2"},
               Open(""));
  CHECK(nlohmann::json::parse(form->body) == nlohmann::json{{"a", "1"}, {"b", "2"}});

  auto rpc =
      PlanCall({"POST",
                "/rpc",
                {},
                R"({"service":"go.micro.srv.geo","method":"Geo.Nearby","request":"{\"lat\":1}"})"},
               Open(""));
  REQUIRE(rpc.ok());
  CHECK(rpc->route.service == "go.micro.srv.geo");  // names the service whole
  CHECK(rpc->route.endpoint == "Geo.Nearby");
  CHECK(rpc->body == R"({"lat":1})");

  struct Bad {
    HttpRequest r;
    int code;
    const char* says;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"POST", "/x/y", {}, "{\"a\":"}, 400, "malformed JSON body"},
           {{"POST", "/rpc", {}, R"({"endpoint":"A.B"})"}, 400, "\"service\" is required"},
           {{"POST", "/rpc", {}, R"({"service":"s"})"}, 400, "\"endpoint\""},
           {{"POST", "/rpc", {}, R"({"service":"s","endpoint":"A.B","request":"{"})"},
            400,
            "in \"request\""},
           {{"POST", "/rpc", {}, "[1]"}, 400, "JSON object"},
           {{"GET", "/rpc", {}, ""}, 405, "POST"},
           {{"HEAD", "/x/y", {}, ""}, 405, "HEAD"},
           {{"GET", "/x/y?a=%zz", {}, ""}, 400, "percent"},
           {{"POST", "/x/y", {}, std::string(1000, '[')}, 400, "malformed JSON"},
       }) {
    auto got = PlanCall(b.r, Open("go.micro.api"));
    INFO(b.r.method << " " << b.r.target << " " << b.r.body.substr(0, 40));
    REQUIRE_FALSE(got.ok());
    auto e = micro::errors::FromStatus(got.status());
    CHECK(e.code == b.code);
    CHECK(e.id == "go.micro.api");
    CHECK_THAT(e.detail, Catch::Contains(b.says));
  }
}

TEST_CASE("metrics are Prometheus text with a bounded number of routes") {
  micro::api::Metrics m;
  for (int i = 0; i < 600; ++i) {
    m.Begin();
    m.End("route " + std::to_string(i), i % 2 ? 200 : 404, 3ms);
  }
  m.Begin();
  std::string text = m.Text();
  CHECK_THAT(text, Catch::Contains("# TYPE micro_api_requests_total counter"));
  CHECK_THAT(text, Catch::Contains("micro_api_requests_total{route=\"route 1\",code=\"200\"} 1"));
  CHECK_THAT(text, Catch::Contains("micro_api_requests_total{route=\"other\",code=\"404\"} 50"));
  CHECK_THAT(text, Catch::Contains("micro_api_request_duration_seconds_bucket{le=\"0.005\"} 600"));
  CHECK_THAT(text, Catch::Contains("micro_api_request_duration_seconds_count 600"));
  CHECK_THAT(text, Catch::Contains("micro_api_in_flight_requests 1"));
}

TEST_CASE("FlagSet: flag over variable over default, clear errors") {
  setenv("MICRO_TEST_FS_ADDR", ":9000", 1);
  setenv("MICRO_TEST_FS_LIMIT", "64KiB", 1);
  micro::FlagSet f("prog", "test");
  std::string addr, ns;
  std::size_t limit = 0;
  bool cors = false;
  std::chrono::milliseconds timeout{};
  f.String("address", "MICRO_TEST_FS_ADDR", ":8080", "listen", &addr);
  f.String("namespace", "", "go.micro.api", "ns", &ns);
  f.Bytes("limit", "MICRO_TEST_FS_LIMIT", 1, "limit", &limit);
  f.Bool("cors", "", false, "cors", &cors);
  f.Duration("timeout", "", 5s, "timeout", &timeout);
  const char* argv[] = {"prog", "--namespace=x", "pos", "--cors", "--timeout", "250ms"};
  std::vector<std::string> args;
  bool help = false;
  REQUIRE(f.Parse(6, const_cast<char**>(argv), &args, &help).ok());
  CHECK(addr == ":9000");
  CHECK(ns == "x");
  CHECK(limit == 65536);
  CHECK(cors);
  CHECK(timeout == 250ms);
  CHECK(args == std::vector<std::string>{"pos"});
  CHECK_THAT(f.Usage(), Catch::Contains("$MICRO_TEST_FS_ADDR"));

  const char* bad[] = {"prog", "--timeout=soon"};
  absl::Status s = f.Parse(2, const_cast<char**>(bad), &args, &help);
  CHECK_THAT(std::string(s.message()), Catch::Contains("--timeout") && Catch::Contains("soon"));
  setenv("MICRO_TEST_FS_LIMIT", "lots", 1);
  const char* plain[] = {"prog"};
  s = f.Parse(1, const_cast<char**>(plain), &args, &help);
  CHECK_THAT(std::string(s.message()), Catch::Contains("MICRO_TEST_FS_LIMIT"));
  const char* unknown[] = {"prog", "--nope"};
  CHECK_THAT(std::string(f.Parse(2, const_cast<char**>(unknown), &args, &help).message()),
             Catch::Contains("unknown flag --nope"));
  unsetenv("MICRO_TEST_FS_ADDR");
  unsetenv("MICRO_TEST_FS_LIMIT");
}

namespace {

class Greeter : public helloworld::GreeterHandler {
 public:
  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    if (req.name() == "slow") std::this_thread::sleep_for(1500ms);
    if (req.name() == "ids") {
      rsp->set_msg(ctx.request_id + " " + ctx.span.TraceId());
      return absl::OkStatus();
    }
    if (req.name().empty()) return micro::errors::BadRequest("helloworld", "name is required");
    rsp->set_msg("Hello " + req.name() + " " + std::string(ctx.Metadata("x-user")));
    return absl::OkStatus();
  }
};

struct Fixture {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::unique_ptr<micro::server::Server> server;
  std::unique_ptr<micro::api::Gateway> gateway;
  int port = 0, admin_port = 0;

  explicit Fixture(micro::api::GatewayOptions o = micro::api::GatewayOptions()) {
    micro::server::ServerOptions so;
    so.name = "helloworld";
    so.address = "127.0.0.1:0";
    so.registry = registry;
    so.drain_grace = 0ms;
    server = std::make_unique<micro::server::Server>(so);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, std::make_shared<Greeter>()).ok());
    REQUIRE(server->Start().ok());
    micro::client::ClientOptions co;
    co.registry = registry;
    co.backoff = [](int) { return 1ms; };
    auto client = std::make_shared<micro::client::Client>(co);
    o.address = "127.0.0.1:0";
    o.admin_address = "127.0.0.1:0";
    o.policy.ns = "";
    o.policy.rpc = true;
    o.request_timeout = 500ms;
    gateway = std::make_unique<micro::api::Gateway>(o, client);
    REQUIRE(gateway->Start().ok());
    port = gateway->port();
    admin_port = gateway->admin_port();
  }
  ~Fixture() {
    gateway->Stop();
    (void)server->Stop();
  }
};

}  // namespace

TEST_CASE("gateway: calls, /rpc, GET queries, headers as metadata, keep-alive") {
  Fixture f;
  auto a =
      HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"Ann"})", "X-User: u1\r\n");
  CHECK(a.status == 200);
  CHECK(a.headers["content-type"] == "application/json");
  CHECK(nlohmann::json::parse(a.body)["msg"] == "Hello Ann u1");

  auto q = HttpDo(f.port, "GET", "/helloworld/greeter/hello?name=Bob");
  CHECK(q.status == 200);
  CHECK(nlohmann::json::parse(q.body)["msg"] == "Hello Bob ");

  auto rpc =
      HttpDo(f.port, "POST", "/rpc",
             R"({"service":"helloworld","endpoint":"Greeter.Hello","request":{"name":"Cy"}})");
  CHECK(rpc.status == 200);
  CHECK(nlohmann::json::parse(rpc.body)["msg"] == "Hello Cy ");

  // One connection, three requests.
  HttpConnection c(f.port);
  for (const char* name : {"d1", "d2", "d3"}) {
    std::string body = std::string(R"({"name":")") + name + "\"}";
    auto r = c.Exchange("POST /helloworld/greeter/hello HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
    CHECK(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains(name));
  }
  auto health = HttpDo(f.port, "GET", "/health");
  CHECK(health.status == 200);
  CHECK(HttpDo(f.port, "GET", "/metrics").status == 404);  // the admin address has it
  CHECK(HttpDo(f.admin_port, "GET", "/health").status == 200);
  CHECK(HttpDo(f.admin_port, "POST", "/helloworld/greeter/hello", "{}").status == 404);
  auto metrics = HttpDo(f.admin_port, "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.body,
             Catch::Contains(
                 "micro_api_requests_total{route=\"helloworld Greeter.Hello\",code=\"200\"} 6"));
}

TEST_CASE("gateway: each error gets its status and go-micro error JSON") {
  Fixture f;
  reg::Service dead;
  dead.name = "dead";
  dead.nodes.push_back(reg::Node{"dead-1", "127.0.0.1:1", {}});
  REQUIRE(f.registry->Register(dead).ok());

  struct Case {
    micro::testing::HttpAnswer answer;
    int status;
    const char* says;
  };
  std::vector<Case> cases = {
      {HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":""})"), 400,
       "name is required"},
      {HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":)"), 400,
       "malformed JSON body"},
      {HttpDo(f.port, "POST", "/nobody/greeter/hello", "{}"), 503, "service not found"},
      {HttpDo(f.port, "POST", "/dead/x/y", "{}"), 503, ""},
      {HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"slow"})"), 504,
       "did not answer within 500 ms"},
      {HttpDo(f.port, "POST", "/helloworld/greeter/nope", "{}"), 501, ""},
      {HttpDo(f.port, "PUT", "/rpc", "{}"), 405, "POST"},
  };
  for (auto& c : cases) {
    INFO(c.status << " " << c.answer.body);
    CHECK(c.answer.status == c.status);
    REQUIRE_FALSE(c.answer.body.empty());
    auto j = nlohmann::json::parse(c.answer.body);
    CHECK(j["code"] == c.status);
    CHECK_THAT(j["detail"].get<std::string>(), Catch::Contains(c.says));
  }
}

TEST_CASE("gateway: limits, malformed and hostile requests, and it keeps serving") {
  micro::api::GatewayOptions o;
  o.max_body = 4096;
  o.max_header = 2048;
  o.read_timeout = 300ms;
  Fixture f(o);

  auto big = HttpDo(f.port, "POST", "/helloworld/greeter/hello", std::string(10000, ' '));
  CHECK(big.status == 413);
  CHECK_THAT(big.body, Catch::Contains("larger than 4096"));

  auto headers = HttpDo(f.port, "GET", "/health", "", "X-Big: " + std::string(4000, 'a') + "\r\n");
  CHECK(headers.status == 431);

  auto garbage =
      HttpConnection(f.port).Exchange(std::string("\x16\x03\x01\x02\x00\x01\xff\r\n\r\n", 12));
  CHECK(garbage.status == 400);

  HttpConnection slow(f.port);
  REQUIRE(slow.Send("POST /helloworld/greeter/hello HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"na"));
  auto timed_out = slow.Read();  // the rest never comes
  CHECK(timed_out.status == 408);

  HttpConnection idle(f.port);
  CHECK(idle.ClosedByPeer());  // nothing sent: closed without an answer

  // Chunked bodies are held to the same limit.
  HttpConnection chunked(f.port);
  std::string req = "POST /helloworld/greeter/hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) req += "400\r\n" + std::string(1024, ' ') + "\r\n";
  auto over = chunked.Exchange(req + "0\r\n\r\n");
  CHECK(over.status == 413);

  auto still = HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"ok"})");
  CHECK(still.status == 200);
}

TEST_CASE("gateway: CORS preflight and headers when enabled, none when not") {
  micro::api::GatewayOptions o;
  o.cors = true;
  Fixture f(o);
  auto pre = HttpDo(f.port, "OPTIONS", "/helloworld/greeter/hello", "",
                    "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n");
  CHECK(pre.status == 204);
  CHECK(pre.headers["access-control-allow-origin"] == "https://app.example");
  CHECK(pre.headers["access-control-allow-credentials"] == "true");
  CHECK(pre.headers["access-control-allow-methods"] == "POST, PATCH, GET, OPTIONS, PUT, DELETE");
  CHECK_THAT(pre.headers["access-control-allow-headers"], Catch::Contains("Authorization"));
  auto call = HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"c"})",
                     "Origin: https://app.example\r\n");
  CHECK(call.status == 200);
  CHECK(call.headers["access-control-allow-origin"] == "https://app.example");

  Fixture plain;
  auto no = HttpDo(plain.port, "OPTIONS", "/helloworld/greeter/hello", "",
                   "Origin: https://app.example\r\n");
  CHECK(no.status == 405);
  CHECK(no.headers.count("access-control-allow-origin") == 0);
}

TEST_CASE("gateway: past max_connections a new connection gets 503 and is closed") {
  micro::api::GatewayOptions o;
  o.max_connections = 2;
  Fixture f(o);
  HttpConnection a(f.port);
  auto b = std::make_unique<HttpConnection>(f.port);
  // Two requests make sure both connections are sessions before the third arrives.
  CHECK(a.Exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  CHECK(b->Exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  HttpConnection c(f.port);
  REQUIRE(c.connected());
  micro::testing::HttpAnswer refused = c.Read();
  CHECK(refused.status == 503);
  CHECK_THAT(refused.body, Catch::Contains("too many connections"));
  CHECK(c.ClosedByPeer());
  // The open ones still work; once one closes, a new connection is served.
  CHECK(a.Exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  b.reset();
  CHECK(micro::testing::Eventually([&] { return HttpDo(f.port, "GET", "/health").status == 200; }));
}

TEST_CASE("gateway: out of file descriptors it pauses accepting, logs once, and serves again") {
  int port = micro::testing::FreePort();
  std::string log = "/tmp/micro-gateway-emfile-" + std::to_string(getpid()) + ".log";
  std::remove(log.c_str());
  // 64 descriptors: enough to start and serve a few connections, not the 100 held below.
  micro::testing::Process gw({"bash", "-c",
                              std::string("ulimit -n 64 && exec ") + GATEWAY_BIN +
                                  " --registry memory --address 127.0.0.1:" + std::to_string(port)},
                             log);
  REQUIRE(micro::testing::Eventually([&] { return HttpDo(port, "GET", "/health").status == 200; }));
  auto count = [&](const std::string& what) {
    std::ifstream in(log);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line.find(what) != std::string::npos ? 1 : 0;
    return n;
  };
  {
    std::vector<std::unique_ptr<HttpConnection>> held;
    for (int i = 0; i < 100; ++i) held.push_back(std::make_unique<HttpConnection>(port, 500));
    REQUIRE(micro::testing::Eventually([&] { return count("pausing accepts") > 0; }));
    std::this_thread::sleep_for(1s);  // the failures go on while every descriptor is taken
    // One line per episode, not one per failure (seven failures a second at this point). A
    // descriptor freed meanwhile (a connection timing out on a loaded machine) ends an episode
    // ("accepting again") and the next failure starts another: each has its own line.
    int pausing = count("pausing accepts"), again = count("accepting again");
    CHECK(pausing >= 1);
    CHECK(pausing - again >= 0);
    CHECK(pausing - again <= 1);
  }
  // Descriptors come back: it accepts again, says so, and serves.
  CHECK(micro::testing::Eventually([&] { return HttpDo(port, "GET", "/health").status == 200; }));
  CHECK(count("accepting again") >= 1);
  gw.Signal(SIGTERM);
  gw.Wait();
  std::remove(log.c_str());
}

TEST_CASE(
    "gateway: request ids are taken or made, returned, and reach the service with the trace") {
  Fixture f;
  const std::string body = R"({"name":"ids"})";
  auto given = HttpDo(f.port, "POST", "/helloworld/greeter/hello", body,
                      "X-Request-Id: abc-123\r\nTraceparent: "
                      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n");
  CHECK(given.status == 200);
  CHECK(given.headers["x-request-id"] == "abc-123");
  CHECK(nlohmann::json::parse(given.body)["msg"] == "abc-123 4bf92f3577b34da6a3ce929d0e0e4736");

  auto made = HttpDo(f.port, "POST", "/helloworld/greeter/hello", body);
  std::string id = made.headers["x-request-id"];
  CHECK(id.size() == 32);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK_THAT(nlohmann::json::parse(made.body)["msg"].get<std::string>(), Catch::StartsWith(id));
  CHECK(HttpDo(f.port, "POST", "/helloworld/greeter/hello", body).headers["x-request-id"] != id);

  // Not a sane token (too long, or with spaces): replaced, not passed on.
  auto odd = HttpDo(f.port, "POST", "/helloworld/greeter/hello", body,
                    "X-Request-Id: " + std::string(200, 'a') + "\r\n");
  CHECK(odd.headers["x-request-id"].size() == 32);
  // Errors carry it too.
  auto err = HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":""})",
                    "X-Request-Id: e-1\r\n");
  CHECK(err.status == 400);
  CHECK(err.headers["x-request-id"] == "e-1");
}

TEST_CASE("the gateway forwards only what its policy exposes") {
  micro::api::Policy p;  // the defaults: namespace go.micro.api, /rpc off, micro- reserved
  HttpRequest rpc{
      "POST", "/rpc", {}, R"({"service":"go.micro.srv.auth","endpoint":"Auth.VerifyToken"})"};
  auto off = PlanCall(rpc, p);
  REQUIRE_FALSE(off.ok());
  CHECK(micro::errors::FromStatus(off.status()).code == 404);
  CHECK_THAT(std::string(off.status().message()), Catch::Contains("--enable_rpc"));

  p.rpc = true;
  auto outside = PlanCall(rpc, p);
  REQUIRE_FALSE(outside.ok());
  CHECK(micro::errors::FromStatus(outside.status()).code == 403);
  CHECK_THAT(std::string(outside.status().message()),
             Catch::Contains("outside the namespace go.micro.api"));
  // A name that only starts like the namespace is outside it too.
  HttpRequest lookalike{"POST", "/rpc", {}, R"({"service":"go.micro.apix.a","endpoint":"A.B"})"};
  CHECK_FALSE(PlanCall(lookalike, p).ok());
  HttpRequest inside{
      "POST", "/rpc", {}, R"({"service":"go.micro.api.hotel","endpoint":"Hotel.Rates"})"};
  CHECK(PlanCall(inside, p).ok());

  p.deny = {"go.micro.api.hotel/Hotel.Admin*", "go.micro.api.secret"};
  p.allow = {"go.micro.api.hotel", "go.micro.api.secret", "go.micro.api.geo/Geo.Nearby"};
  struct Case {
    const char* path;
    bool forwarded;
  };
  for (const Case& c : std::vector<Case>{{"/hotel/rates", true},
                                         {"/hotel/admin-reset", false},
                                         {"/secret/x", false},
                                         {"/geo/nearby", true},
                                         {"/geo/everything", false},
                                         {"/profile/get", false}}) {
    auto got = PlanCall({"GET", c.path, {}, ""}, p);
    INFO(c.path);
    CHECK(got.ok() == c.forwarded);
    if (!got.ok()) CHECK(micro::errors::FromStatus(got.status()).code == 403);
  }
  CHECK_FALSE(micro::api::CheckPattern("a*b").ok());
  CHECK_FALSE(micro::api::CheckPattern("").ok());
  CHECK(micro::api::CheckPattern("go.micro.api.*/Hotel.*").ok());

  // Headers under the reserved prefix never reach a service; the rest do.
  HttpRequest h{"GET",
                "/hotel/rates",
                {{"Micro-From-Service", "go.micro.api.auth"}, {"micro-id", "x"}, {"X-User", "u"}},
                ""};
  auto call = PlanCall(h, p);
  REQUIRE(call.ok());
  CHECK(call->metadata == std::map<std::string, std::string>{{"x-user", "u"}});
}

TEST_CASE("the gateway's rate limit: a token bucket per client, 429 with Retry-After") {
  micro::api::RateLimiter limiter(2, 3);  // 2/s, bursts of 3
  auto t = micro::api::RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) CHECK(limiter.Take("10.0.0.1", t) == 0);
  CHECK(limiter.Take("10.0.0.1", t) == 1);
  CHECK(limiter.Take("10.0.0.2", t) == 0);          // another client has its own bucket
  CHECK(limiter.Take("10.0.0.1", t + 500ms) == 0);  // one token back after 1/rate
  CHECK(limiter.Take("10.0.0.1", t + 500ms) > 0);
  // The table stays bounded: quiet clients are dropped.
  micro::api::RateLimiter small(1000, 1, 160);
  for (int i = 0; i < 10000; ++i)
    small.Take("c" + std::to_string(i), t + std::chrono::milliseconds(i));
  CHECK(small.clients() <= 160);

  micro::api::GatewayOptions o;
  o.rate_limit = 0.1;  // a token every 10 s: the third request is limited however slow this runs
  o.rate_burst = 2;
  Fixture f(o);
  CHECK(HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"a"})").status == 200);
  CHECK(HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"b"})").status == 200);
  auto limited = HttpDo(f.port, "POST", "/helloworld/greeter/hello", R"({"name":"c"})");
  CHECK(limited.status == 429);
  int retry_after = std::atoi(limited.headers["retry-after"].c_str());
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 10);
  CHECK(nlohmann::json::parse(limited.body)["code"] == 429);
  CHECK(HttpDo(f.port, "GET", "/health").status == 200);  // never limited
}
