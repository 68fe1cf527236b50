// JSON calls: the HTTP/2 transport the client uses for them now, against the gRPC C++ generic stub
// that carried them before (it works with C++ nodes only: it always writes content-type
// application/grpc, which a go-micro node then parses as protobuf), with protobuf calls through the
// client as the reference. One in-process greeter on 127.0.0.1, `threads` closed-loop callers, the
// three configurations interleaved for `rounds` rounds; medians with min-max.
//
//   build/tests/bench/json_bench [threads=8] [seconds per run=3] [rounds=3]
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <map>

#include "bench/echo.h"
#include "bench/load.h"
#include "core/wire.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

using micro::bench::Median;
using micro::bench::Print;
using micro::bench::Stats;

int main(int argc, char** argv) {
  const micro::bench::RunArgs args = micro::bench::ParseRunArgs(argc, argv);
  const int threads = args.threads, rounds = args.rounds;
  const double seconds = args.seconds;

  std::shared_ptr<micro::registry::Registry> registry = micro::registry::NewMemoryRegistry();
  micro::server::ServerOptions so;
  so.name = "helloworld";
  so.address = "127.0.0.1:0";
  so.registry = registry;
  micro::server::Server server(so);
  if (!helloworld::RegisterGreeterHandler(server,
                                          std::make_shared<micro::bench::EchoGreeter>("Hello "))
           .ok() ||
      !server.Start().ok()) {
    std::fprintf(stderr, "json_bench: the greeter did not start\n");
    return 1;
  }
  micro::client::ClientOptions co;
  co.registry = registry;
  micro::client::Client client(co);
  auto channel = grpc::CreateChannel(server.listen_address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);

  const std::string json = R"({"name":"Bob"})";
  micro::client::CallOptions as_json;
  as_json.content_type = "application/grpc+json";
  helloworld::Request req;
  req.set_name("Bob");

  auto proto = [&] {
    helloworld::Response rsp;
    return client.Call("helloworld", "Greeter.Hello", req, &rsp).ok();
  };
  auto h2 = [&] {
    std::promise<bool> done;
    client.CallRawAsync(
        "helloworld", "Greeter.Hello", json,
        [&](absl::StatusOr<std::string> r) { done.set_value(r.ok()); }, as_json);
    return done.get_future().get();
  };
  auto old_path = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("x-content-type", "application/grpc+json");
    grpc::ByteBuffer in = micro::internal::BytesOf(json), out;
    std::promise<bool> done;
    stub.UnaryCall(&ctx, "/helloworld.Greeter/Hello", grpc::StubOptions(), &in, &out,
                   [&](grpc::Status s) { done.set_value(s.ok()); });
    return done.get_future().get();
  };
  // Warm every path (connections, selector cache).
  for (int i = 0; i < 100; ++i) proto(), h2(), old_path();

  std::map<std::string, Stats> stats;
  const char* kProto = "protobuf, gRPC C++ channel (client.Call)";
  const char* kH2 = "JSON, HTTP/2 transport (CallRawAsync, now)";
  const char* kOld = "JSON, gRPC C++ generic stub (before)";
  for (int r = 0; r < rounds; ++r) {
    for (const char* name : {kProto, kH2, kOld}) {
      micro::bench::Result res = name == kProto ? micro::bench::Measure(threads, seconds, proto)
                                 : name == kH2  ? micro::bench::Measure(threads, seconds, h2)
                                                : micro::bench::Measure(threads, seconds, old_path);
      stats[name].Add(res);
    }
  }
  std::printf(
      "JSON and protobuf calls to one greeter, %d threads, %d rounds of %.0f s, interleaved\n",
      threads, rounds, seconds);
  for (const char* name : {kProto, kH2, kOld}) Print(name, stats[name]);
  std::printf("  HTTP/2 transport / generic stub: throughput %.2fx, p99 %.2fx\n",
              Median(stats[kH2].rps) / Median(stats[kOld].rps),
              Median(stats[kH2].p99) / Median(stats[kOld].p99));
  server.Stop().IgnoreError();
  return 0;
}
