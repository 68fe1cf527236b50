// TLS and mutual TLS with real handshakes on 127.0.0.1: certificates made by OpenSSL in the test
// (tests/tls_certs.h), servers and clients of the framework, proto (gRPC C++) and JSON (our
// HTTP/2 transport) calls.
#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include "gateway.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "micro/tls.h"
#include "test_util.h"
#include "tls_certs.h"

using micro::testing::Cert;
using micro::testing::Eventually;
using micro::testing::ScratchDir;
using namespace std::chrono_literals;

namespace {

class HelloHandler : public helloworld::GreeterHandler {
 public:
  absl::Status Hello(micro::server::Context&, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    rsp->set_msg("Hello " + req.name());
    return absl::OkStatus();
  }
};

// A CA, a server and a client certificate signed by it, and trouble: another CA, an expired
// server certificate, one for another name.
struct Pki {
  ScratchDir dir;
  std::string ca, other_ca, server, client, expired, wrong_name, stranger;
  Pki() {
    Cert ca_cert = Cert::Ca("micro test CA"), other = Cert::Ca("another CA");
    ca = Path("ca");
    ca_cert.Write(ca);
    other_ca = Path("other-ca");
    other.Write(other_ca);
    server = Cert::Leaf(ca_cert, "greeter", "DNS:localhost,IP:127.0.0.1").Write(Path("server"));
    client = Cert::Leaf(ca_cert, "client", "DNS:client").Write(Path("client"));
    expired = Cert::Leaf(ca_cert, "greeter", "DNS:localhost,IP:127.0.0.1", -7200, -3600)
                  .Write(Path("expired"));
    wrong_name = Cert::Leaf(ca_cert, "elsewhere", "DNS:elsewhere.test").Write(Path("wrong-name"));
    stranger = Cert::Leaf(other, "stranger", "DNS:stranger").Write(Path("stranger"));
  }
  std::string Path(const std::string& name) const { return dir.path() + "/" + name; }

  // Server side: its certificate, and with mtls client certificates required.
  micro::tls::Options Server(const std::string& id, bool mtls = true) const {
    micro::tls::Options o;
    o.cert_file = id + ".crt";
    o.key_file = id + ".key";
    o.ca_file = ca + ".crt";
    o.client_auth = mtls;
    o.reload_interval = 1s;
    return o;
  }
  // Client side: trusts `trust` CA; presents `id`'s certificate unless id is empty.
  micro::tls::Options Client(const std::string& id, const std::string& trust) const {
    micro::tls::Options o;
    o.ca_file = trust + ".crt";
    if (!id.empty()) {
      o.cert_file = id + ".crt";
      o.key_file = id + ".key";
    }
    return o;
  }
};

struct Node {
  std::shared_ptr<micro::registry::Registry> registry = micro::registry::NewMemoryRegistry();
  std::unique_ptr<micro::server::Server> server;

  absl::Status Start(const micro::tls::Options& tls, const std::string& name = "greeter") {
    micro::server::ServerOptions o;
    o.name = name;
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    o.tls = tls;
    server = std::make_unique<micro::server::Server>(o);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, std::make_shared<HelloHandler>()).ok());
    return server->Start();
  }

  std::shared_ptr<micro::client::Client> Client(const micro::tls::Options& tls) {
    micro::client::ClientOptions o;
    o.registry = registry;
    o.tls = tls;
    o.retries = 1;
    o.backoff = [](int) { return 1ms; };
    o.request_timeout = 5s;
    return std::make_shared<micro::client::Client>(o);
  }
};

absl::StatusOr<std::string> Call(std::shared_ptr<micro::client::Client> c,
                                 const std::string& content_type = "",
                                 const std::string& service = "greeter") {
  helloworld::GreeterService greeter(service, std::move(c));
  helloworld::Request req;
  req.set_name("tls");
  micro::client::CallOptions o;
  o.content_type = content_type;
  auto r = greeter.Hello(req, o);
  if (!r.ok()) return r.status();
  return r->msg();
}

constexpr char kJson[] = "application/grpc+json";

}  // namespace

TEST_CASE("mutual TLS between a server and a client, proto and JSON calls", "[tls]") {
  Pki pki;
  Node node;
  REQUIRE(node.Start(pki.Server(pki.server)).ok());
  auto services = node.registry->GetService("greeter");
  REQUIRE(services.ok());
  CHECK(services->front().nodes.front().metadata.at("secure") == "true");
  auto client = node.Client(pki.Client(pki.client, pki.ca));
  auto proto = Call(client);
  INFO(proto.status().ToString());
  CHECK(proto.value_or("") == "Hello tls");
  auto json = Call(client, kJson);
  INFO(json.status().ToString());
  CHECK(json.value_or("") == "Hello tls");
}

TEST_CASE("TLS without client certificates: any client that trusts the CA", "[tls]") {
  Pki pki;
  Node node;
  REQUIRE(node.Start(pki.Server(pki.server, false)).ok());
  auto client = node.Client(pki.Client("", pki.ca));
  CHECK(Call(client).value_or("") == "Hello tls");
  CHECK(Call(client, kJson).value_or("") == "Hello tls");
}

TEST_CASE("mTLS refuses a client without a certificate, and one from another CA", "[tls]") {
  Pki pki;
  Node node;
  REQUIRE(node.Start(pki.Server(pki.server)).ok());
  for (const std::string& content_type : {std::string(), std::string(kJson)}) {
    auto anonymous = Call(node.Client(pki.Client("", pki.ca)), content_type);
    INFO(anonymous.status().ToString());
    CHECK(absl::IsUnavailable(anonymous.status()));
    auto stranger = Call(node.Client(pki.Client(pki.stranger, pki.ca)), content_type);
    INFO(stranger.status().ToString());
    CHECK(absl::IsUnavailable(stranger.status()));
  }
}

TEST_CASE("a client that does not trust the server's CA refuses it", "[tls]") {
  Pki pki;
  Node node;
  REQUIRE(node.Start(pki.Server(pki.server, false)).ok());
  auto proto = Call(node.Client(pki.Client("", pki.other_ca)));
  INFO(proto.status().ToString());
  CHECK(absl::IsUnavailable(proto.status()));
  auto json = Call(node.Client(pki.Client("", pki.other_ca)), kJson);
  INFO(json.status().ToString());
  CHECK(absl::IsUnavailable(json.status()));
  CHECK_THAT(std::string(json.status().message()),
             Catch::Contains("unable to get local issuer certificate"));
}

TEST_CASE("a certificate for another name is refused unless that name is expected", "[tls]") {
  Pki pki;
  Node node;
  REQUIRE(node.Start(pki.Server(pki.wrong_name, false)).ok());
  for (const std::string& content_type : {std::string(), std::string(kJson)}) {
    auto mismatch = Call(node.Client(pki.Client("", pki.ca)), content_type);
    INFO(mismatch.status().ToString());
    CHECK(absl::IsUnavailable(mismatch.status()));
    micro::tls::Options named = pki.Client("", pki.ca);
    named.server_name = "elsewhere.test";
    auto ok = Call(node.Client(named), content_type);
    INFO(ok.status().ToString());
    CHECK(ok.value_or("") == "Hello tls");
  }
  auto json = Call(node.Client(pki.Client("", pki.ca)), kJson);
  CHECK_THAT(std::string(json.status().message()), Catch::Contains("mismatch"));
}

TEST_CASE("an expired certificate is refused with a message that says so", "[tls]") {
  Pki pki;
  SECTION("a server does not start with one") {
    Node node;
    absl::Status s = node.Start(pki.Server(pki.expired));
    INFO(s.ToString());
    CHECK(absl::IsInvalidArgument(s));
    CHECK_THAT(std::string(s.message()), Catch::Contains("has expired"));
  }
  SECTION("a client with one fails every call, saying why") {
    Node node;
    REQUIRE(node.Start(pki.Server(pki.server)).ok());
    auto r = Call(node.Client(pki.Client(pki.expired, pki.ca)));
    INFO(r.status().ToString());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("has expired"));
  }
  SECTION("a server whose certificate expired meanwhile is refused by clients") {
    Node node;
    REQUIRE(node.Start(pki.Server(pki.server, false)).ok());
    // The renewal went wrong: the files now hold an expired certificate. The server reloads it.
    std::filesystem::copy_file(pki.expired + ".crt", pki.server + ".crt",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(pki.expired + ".key", pki.server + ".key",
                               std::filesystem::copy_options::overwrite_existing);
    absl::StatusOr<std::string> json;
    CHECK(Eventually([&] {
      json = Call(node.Client(pki.Client("", pki.ca)), kJson);
      return !json.ok();
    }));
    CHECK_THAT(std::string(json.status().message()), Catch::Contains("certificate has expired"));
    auto proto = Call(node.Client(pki.Client("", pki.ca)));
    INFO(proto.status().ToString());
    CHECK(absl::IsUnavailable(proto.status()));
  }
}

TEST_CASE("renewed certificate files are used without a restart", "[tls]") {
  Pki pki;
  Node node;
  std::string live = pki.Path("live");
  std::filesystem::copy_file(pki.wrong_name + ".crt", live + ".crt");
  std::filesystem::copy_file(pki.wrong_name + ".key", live + ".key");
  REQUIRE(node.Start(pki.Server(live, false)).ok());
  REQUIRE_FALSE(Call(node.Client(pki.Client("", pki.ca))).ok());  // "elsewhere.test"
  std::filesystem::copy_file(pki.server + ".key", live + ".key",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(pki.server + ".crt", live + ".crt",
                             std::filesystem::copy_options::overwrite_existing);
  absl::StatusOr<std::string> r;
  CHECK(Eventually([&] {
    r = Call(node.Client(pki.Client("", pki.ca)));
    return r.ok();
  }));
  CHECK(r.value_or("") == "Hello tls");
}

TEST_CASE("a client passes over nodes it cannot reach, without a handshake", "[tls]") {
  Pki pki;
  SECTION("a plain-text client and a TLS node") {
    Node node;
    REQUIRE(node.Start(pki.Server(pki.server)).ok());
    auto r = Call(node.Client({}));
    INFO(r.status().ToString());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("requires TLS (secure=true)"));
  }
  SECTION("a TLS client and a plain-text node; allowed with allow_plaintext") {
    Node node;
    REQUIRE(node.Start({}).ok());
    auto services = node.registry->GetService("greeter");
    REQUIRE(services.ok());
    CHECK(services->front().nodes.front().metadata.at("secure") == "false");
    auto refused = Call(node.Client(pki.Client(pki.client, pki.ca)));
    CHECK_THAT(std::string(refused.status().message()), Catch::Contains("serves plain text"));
    micro::tls::Options allow = pki.Client(pki.client, pki.ca);
    allow.allow_plaintext = true;
    CHECK(Call(node.Client(allow)).value_or("") == "Hello tls");
    CHECK(Call(node.Client(allow), kJson).value_or("") == "Hello tls");
  }
  SECTION("a mixed fleet: only the nodes the client can reach get calls") {
    Node node;
    REQUIRE(node.Start(pki.Server(pki.server)).ok());
    micro::server::ServerOptions o;
    o.name = "greeter";
    o.address = "127.0.0.1:0";
    o.registry = node.registry;
    o.drain_grace = 0ms;
    micro::server::Server plain(o);
    REQUIRE(helloworld::RegisterGreeterHandler(plain, std::make_shared<HelloHandler>()).ok());
    REQUIRE(plain.Start().ok());
    auto tls_client = node.Client(pki.Client(pki.client, pki.ca));
    auto plain_client = node.Client({});
    for (int i = 0; i < 20; ++i) {
      CHECK(Call(tls_client).ok());
      CHECK(Call(plain_client, i % 2 ? kJson : "").ok());
    }
    (void)plain.Stop();
  }
}

TEST_CASE("tls::Check says what is wrong with the files", "[tls]") {
  Pki pki;
  micro::tls::Options o = pki.Server(pki.server);
  CHECK(micro::tls::Check(o, micro::tls::Side::kServer).ok());
  auto message = [](const micro::tls::Options& x, micro::tls::Side side) {
    return std::string(micro::tls::Check(x, side).message());
  };
  micro::tls::Options missing = o;
  missing.cert_file = pki.Path("nope.crt");
  CHECK_THAT(message(missing, micro::tls::Side::kServer),
             Catch::Contains("cannot read the certificate file") && Catch::Contains("nope.crt"));
  micro::tls::Options swapped = o;
  swapped.key_file = pki.client + ".key";
  CHECK_THAT(message(swapped, micro::tls::Side::kServer),
             Catch::Contains("is not the key of the certificate"));
  micro::tls::Options not_pem = o;
  not_pem.cert_file = pki.server + ".key";
  CHECK_THAT(message(not_pem, micro::tls::Side::kServer), Catch::Contains("no PEM certificate"));
  micro::tls::Options no_ca = o;
  no_ca.ca_file.clear();
  CHECK_THAT(message(no_ca, micro::tls::Side::kServer), Catch::Contains("client_auth needs a CA"));
  micro::tls::Options half;
  half.cert_file = o.cert_file;
  CHECK_THAT(message(half, micro::tls::Side::kClient), Catch::Contains("without its key"));
  CHECK(micro::tls::Check({}, micro::tls::Side::kServer).ok());
  CHECK(micro::tls::Check({}, micro::tls::Side::kClient).ok());
}

namespace {

// curl's answer: "<http code> <body>", or curl's own exit code when it failed ("curl: 60").
std::string Curl(const std::string& args) {
  std::string cmd = "curl -sS --max-time 10 -w ' %{http_code}' " + args + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (p != nullptr && fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  int rc = p != nullptr ? pclose(p) : -1;
  if (rc != 0) return "curl: " + std::to_string(WEXITSTATUS(rc)) + " " + out;
  return out;
}

}  // namespace

TEST_CASE("the gateway over HTTPS, calling services over mTLS, checked with curl", "[tls]") {
  Pki pki;
  Node node;
  REQUIRE(node.Start(pki.Server(pki.server)).ok());
  micro::client::ClientOptions co;
  co.registry = node.registry;
  co.tls = pki.Client(pki.client, pki.ca);
  auto client = std::make_shared<micro::client::Client>(co);
  for (bool client_auth : {false, true}) {
    micro::api::GatewayOptions o;
    o.address = "127.0.0.1:0";
    o.policy.ns = "";
    o.tls = pki.Server(pki.server, client_auth);
    micro::api::Gateway gateway(o, client);
    REQUIRE(gateway.Start().ok());
    std::string url =
        "https://127.0.0.1:" + std::to_string(gateway.port()) + "/greeter/greeter/hello";
    std::string body = " -H 'Content-Type: application/json' -d '{\"name\":\"curl\"}' ";
    std::string trusted = " --cacert " + pki.ca + ".crt ";
    std::string with_cert = " --cert " + pki.client + ".crt --key " + pki.client + ".key ";
    INFO("client_auth " << client_auth);
    // curl does not trust a CA it was not given.
    CHECK_THAT(Curl(body + url), Catch::StartsWith("curl: 60"));
    std::string plain = Curl(body + "http://127.0.0.1:" + std::to_string(gateway.port()) + "/x/y");
    CHECK_THAT(plain, !Catch::EndsWith(" 200"));
    if (client_auth) {
      CHECK_THAT(Curl(body + trusted + url), Catch::StartsWith("curl: "));
      CHECK(Curl(body + trusted + with_cert + url) == R"({"msg":"Hello curl"} 200)");
    } else {
      CHECK(Curl(body + trusted + url) == R"({"msg":"Hello curl"} 200)");
    }
    gateway.Stop();
  }
}
