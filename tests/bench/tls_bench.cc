// What TLS costs on unary echo: the micro client calling micro servers in this process
// (127.0.0.1) in plain text, over TLS, and over mutual TLS, with protobuf (gRPC C++'s own TLS) and
// JSON (our HTTP/2 transport over OpenSSL) bodies, beside raw gRPC C++ (a generated stub and a
// callback service, in plain text and over TLS, with the same certificates), interleaved A B C ...
// for `rounds` rounds; medians with min-max, and each TLS configuration's ratio against plain text
// of the same kind.
// Connections are reused, as in production: this is the cost of encryption per call, not of
// handshakes. Certificates are made in the run (tests/tls_certs.h). Asserts nothing.
//
//   build/tests/bench/tls_bench [threads=8] [seconds per run=3] [rounds=3]
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "bench/echo.h"
#include "bench/load.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "test_util.h"
#include "tls_certs.h"

using micro::bench::Median;
using micro::bench::Print;
using micro::bench::Stats;

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  const micro::bench::RunArgs run = micro::bench::ParseRunArgs(argc, argv);

  micro::testing::ScratchDir dir;
  auto ca = micro::testing::Cert::Ca("bench CA");
  ca.Write(dir.path() + "/ca");
  std::string node = micro::testing::Cert::Leaf(ca, "node", "DNS:localhost,IP:127.0.0.1")
                         .Write(dir.path() + "/node");
  micro::tls::Options server_tls, mutual;
  server_tls.cert_file = mutual.cert_file = node + ".crt";
  server_tls.key_file = mutual.key_file = node + ".key";
  server_tls.ca_file = mutual.ca_file = dir.path() + "/ca.crt";
  mutual.client_auth = true;
  micro::tls::Options client_tls;  // verifies the server, presents no certificate
  client_tls.ca_file = server_tls.ca_file;

  std::shared_ptr<micro::registry::Registry> registry = micro::registry::NewMemoryRegistry();
  auto serve = [&](const std::string& name, const micro::tls::Options& tls) {
    return micro::bench::ServeEcho(name, registry,
                                   [&](micro::server::ServerOptions& o) { o.tls = tls; });
  };
  auto plain_server = serve("echo.plain", {});
  auto tls_server = serve("echo.tls", server_tls);
  auto mtls_server = serve("echo.mtls", mutual);

  // Raw gRPC C++ servers and stubs, plain text and TLS (server certificate only).
  micro::bench::RawCallbackGreeter raw_service;
  auto raw_server = [&](std::shared_ptr<grpc::ServerCredentials> creds, int* port) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", creds, port);
    b.RegisterService(&raw_service);
    return b.BuildAndStart();
  };
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({Read(node + ".key"), Read(node + ".crt")});
  int raw_plain_port = 0, raw_tls_port = 0;
  auto raw_plain = raw_server(grpc::InsecureServerCredentials(), &raw_plain_port);
  auto raw_tls = raw_server(grpc::SslServerCredentials(ssl), &raw_tls_port);
  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = Read(server_tls.ca_file);
  auto raw_plain_stub = helloworld::Greeter::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(raw_plain_port), grpc::InsecureChannelCredentials()));
  auto raw_tls_stub = helloworld::Greeter::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(raw_tls_port), grpc::SslCredentials(trust)));

  struct Config {
    const char* name;
    const char* service;
    micro::tls::Options tls;
    const char* content_type;
    std::unique_ptr<helloworld::GreeterService> stub;
    helloworld::Greeter::Stub* raw = nullptr;  // a raw gRPC configuration
  };
  const char* kProto = "application/grpc+proto";
  const char* kJson = "application/grpc+json";
  Config configs[] = {{"proto, plain text", "echo.plain", {}, kProto, nullptr},
                      {"proto, TLS", "echo.tls", client_tls, kProto, nullptr},
                      {"proto, mutual TLS", "echo.mtls", mutual, kProto, nullptr},
                      {"JSON, plain text", "echo.plain", {}, kJson, nullptr},
                      {"JSON, TLS", "echo.tls", client_tls, kJson, nullptr},
                      {"JSON, mutual TLS", "echo.mtls", mutual, kJson, nullptr},
                      {"raw gRPC C++, plain text", "", {}, "", nullptr, raw_plain_stub.get()},
                      {"raw gRPC C++, TLS", "", {}, "", nullptr, raw_tls_stub.get()}};
  for (Config& c : configs) {
    if (c.raw != nullptr) continue;
    micro::client::ClientOptions co;
    co.registry = registry;
    co.tls = c.tls;
    co.tls.client_auth = false;
    co.content_type = c.content_type;
    c.stub = std::make_unique<helloworld::GreeterService>(
        c.service, std::make_shared<micro::client::Client>(co));
  }
  helloworld::Request req;
  req.set_name(std::string(64, 'x'));
  auto call = [&](Config& c) {
    helloworld::Response rsp;
    if (c.raw != nullptr) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      return c.raw->Hello(&ctx, req, &rsp).ok();
    }
    return c.stub->Hello(req, &rsp).ok();
  };
  for (Config& c : configs)
    micro::bench::Measure(run.threads, 0.5, [&] { return call(c); });  // warm up
  std::map<std::string, Stats> stats;
  for (int r = 0; r < run.rounds; ++r) {
    for (Config& c : configs) {
      stats[c.name].Add(micro::bench::Measure(run.threads, run.seconds, [&] { return call(c); }));
    }
  }
  std::printf(
      "unary echo, 64-byte payload, client and servers in one process, %d threads, %d rounds of "
      "%.0f s, interleaved; connections reused\n",
      run.threads, run.rounds, run.seconds);
  for (Config& c : configs) Print(c.name, stats[c.name]);
  struct Pair {
    int base, first, last;
  };
  for (Pair p : {Pair{0, 1, 2}, Pair{3, 4, 5}, Pair{6, 7, 7}}) {
    const Stats& plain = stats[configs[p.base].name];
    for (int i = p.first; i <= p.last; ++i) {
      const Stats& s = stats[configs[i].name];
      std::printf("  %-44s throughput %.3fx, p50 %.2fx, p99 %.2fx\n",
                  (std::string(configs[i].name) + " / plain text:").c_str(),
                  Median(s.rps) / Median(plain.rps), Median(s.p50) / Median(plain.p50),
                  Median(s.p99) / Median(plain.p99));
    }
  }
  raw_plain->Shutdown();
  raw_tls->Shutdown();
  return 0;
}
