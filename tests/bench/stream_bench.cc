// Streams: micro-cpp (server and client in this process, 127.0.0.1) against raw gRPC C++ callback
// streams (a CallbackService with ServerWriteReactor / ServerBidiReactor, the sync generated
// client), interleaved A B C D for `rounds` rounds; medians with min-max and micro / raw ratios.
//  - server stream: `threads` concurrent streams of 10,000 messages each, reopened until the run
//    ends; messages/s over all, and per message the gap between two arrivals (p50, p99).
//  - bidirectional ping-pong: `threads` streams, each sending one message and waiting for its
//    answer; round trips/s and per round trip p50, p99.
// Also the raw client against the micro-cpp server, which isolates the server's share. Asserts
// nothing.
//
//   build/tests/bench/stream_bench [threads=8] [seconds per run=3] [rounds=3]
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <map>

#include "bench/load.h"
#include "greeter.grpc.pb.h"
#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

using helloworld::Request;
using helloworld::Response;
using micro::bench::Median;
using micro::bench::Result;
using micro::bench::Stats;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPerStream = 10000;

std::string Msg(const std::string& name, int i) { return name + " " + std::to_string(i); }

class MicroStreams : public helloworld::GreeterHandler {
 public:
  absl::Status Hello(micro::server::Context&, const Request&, Response*) override {
    return absl::OkStatus();
  }
  absl::Status Stream(micro::server::Context&, const helloworld::StreamRequest& req,
                      micro::server::ServerWriter<Response>& stream) override {
    Response r;
    for (int i = 1; i <= req.count(); ++i) {
      r.set_msg(Msg(req.name(), i));
      if (absl::Status s = stream.Send(r); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status Chat(micro::server::Context&,
                    micro::server::ServerReaderWriter<Request, Response>& stream) override {
    Request req;
    Response rsp;
    while (stream.Recv(&req).ok()) {
      rsp.set_msg("Hello " + req.name());
      if (!stream.Send(rsp).ok()) break;
    }
    return absl::OkStatus();
  }
};

class RawStreams final : public helloworld::Greeter::CallbackService {
  grpc::ServerWriteReactor<Response>* Stream(grpc::CallbackServerContext*,
                                             const helloworld::StreamRequest* req) override {
    class Writer : public grpc::ServerWriteReactor<Response> {
     public:
      Writer(std::string name, int n) : name_(std::move(name)), n_(n) { Next(); }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (i_ >= n_) return Finish(grpc::Status::OK);
        rsp_.set_msg(Msg(name_, ++i_));
        StartWrite(&rsp_);
      }
      std::string name_;
      int n_, i_ = 0;
      Response rsp_;
    };
    return new Writer(req->name(), req->count());
  }
  grpc::ServerBidiReactor<Request, Response>* Chat(grpc::CallbackServerContext*) override {
    class Echo : public grpc::ServerBidiReactor<Request, Response> {
     public:
      Echo() { StartRead(&req_); }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        rsp_.set_msg("Hello " + req_.name());
        StartWrite(&rsp_);
      }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        StartRead(&req_);
      }
      void OnDone() override { delete this; }

     private:
      Request req_;
      Response rsp_;
    };
    return new Echo();
  }
};

// Runs `session` on `threads` threads until `seconds` pass; each records its per-message times.
template <typename Session>
Result Sessions(int threads, double seconds, Session session) {
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0};
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      lat[t].reserve(1 << 20);
      while (!stop.load(std::memory_order_relaxed)) {
        if (!session(stop, &lat[t])) ++errors;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  return micro::bench::Summarize(lat, std::chrono::duration<double>(Clock::now() - start).count(),
                                 errors);
}

double Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  const micro::bench::RunArgs run = micro::bench::ParseRunArgs(argc, argv);
  std::shared_ptr<micro::registry::Registry> registry = micro::registry::NewMemoryRegistry();
  micro::server::ServerOptions so;
  so.name = "bench.streams";
  so.address = "127.0.0.1:0";
  so.registry = registry;
  so.drain_grace = std::chrono::milliseconds(0);
  micro::server::Server server(so);
  if (!helloworld::RegisterGreeterHandler(server, std::make_shared<MicroStreams>()).ok() ||
      !server.Start().ok())
    return 1;
  micro::client::ClientOptions co;
  co.registry = registry;
  helloworld::GreeterService micro_stub("bench.streams",
                                        std::make_shared<micro::client::Client>(co));

  RawStreams raw_service;
  int raw_port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &raw_port);
  b.RegisterService(&raw_service);
  auto raw_server = b.BuildAndStart();
  auto raw_stub = helloworld::Greeter::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(raw_port), grpc::InsecureChannelCredentials()));

  auto mixed_stub = helloworld::Greeter::NewStub(
      grpc::CreateChannel(server.listen_address(), grpc::InsecureChannelCredentials()));
  helloworld::StreamRequest sreq;
  sreq.set_name("bench");
  sreq.set_count(kPerStream);
  // One server stream read to its end; false on a failure or a short stream.
  auto micro_stream = [&](std::atomic<bool>&, std::vector<double>* lat) {
    auto reader = micro_stub.Stream(sreq);
    if (!reader.ok()) return false;
    Response r;
    int n = 0;
    auto last = Clock::now();
    while (reader->Recv(&r).ok()) {
      auto now = Clock::now();
      lat->push_back(Us(last, now));
      last = now;
      ++n;
    }
    return n == kPerStream;
  };
  auto raw_stream_to = [&](helloworld::Greeter::Stub* stub, std::vector<double>* lat) {
    grpc::ClientContext ctx;
    auto reader = stub->Stream(&ctx, sreq);
    Response r;
    int n = 0;
    auto last = Clock::now();
    while (reader->Read(&r)) {
      auto now = Clock::now();
      lat->push_back(Us(last, now));
      last = now;
      ++n;
    }
    return reader->Finish().ok() && n == kPerStream;
  };
  auto raw_stream = [&](std::atomic<bool>&, std::vector<double>* lat) {
    return raw_stream_to(raw_stub.get(), lat);
  };
  // The raw client against the micro-cpp server: the server's share alone.
  auto mixed_stream = [&](std::atomic<bool>&, std::vector<double>* lat) {
    return raw_stream_to(mixed_stub.get(), lat);
  };
  // One ping-pong stream, until the run ends.
  auto micro_chat = [&](std::atomic<bool>& stop, std::vector<double>* lat) {
    auto chat = micro_stub.Chat();
    if (!chat.ok()) return false;
    Request q;
    q.set_name("ping");
    Response r;
    while (!stop.load(std::memory_order_relaxed)) {
      auto t0 = Clock::now();
      if (!chat->Send(q).ok() || !chat->Recv(&r).ok()) return false;
      lat->push_back(Us(t0, Clock::now()));
    }
    chat->CloseSend();
    return micro::IsEndOfStream(chat->Recv(&r));
  };
  auto raw_chat = [&](std::atomic<bool>& stop, std::vector<double>* lat) {
    grpc::ClientContext ctx;
    auto chat = raw_stub->Chat(&ctx);
    Request q;
    q.set_name("ping");
    Response r;
    while (!stop.load(std::memory_order_relaxed)) {
      auto t0 = Clock::now();
      if (!chat->Write(q) || !chat->Read(&r)) return false;
      lat->push_back(Us(t0, Clock::now()));
    }
    chat->WritesDone();
    return chat->Finish().ok();
  };

  using Session = std::function<bool(std::atomic<bool>&, std::vector<double>*)>;
  struct Config {
    const char* name;
    Session session;
  };
  Config configs[] = {{"server stream, micro-cpp", micro_stream},
                      {"server stream, raw gRPC C++ callback", raw_stream},
                      {"server stream, raw client -> micro-cpp server", mixed_stream},
                      {"bidi ping-pong, micro-cpp", micro_chat},
                      {"bidi ping-pong, raw gRPC C++ callback", raw_chat}};
  for (Config& c : configs) Sessions(run.threads, 0.5, c.session);  // warm up
  std::map<std::string, Stats> stats;
  for (int r = 0; r < run.rounds; ++r) {
    for (Config& c : configs) stats[c.name].Add(Sessions(run.threads, run.seconds, c.session));
  }
  std::printf(
      "streams, client and servers in one process, %d concurrent streams, %d rounds of %.0f s, "
      "interleaved (rates: messages/s for server streams, round trips/s for ping-pong; latency: "
      "gap between messages, round trip)\n",
      run.threads, run.rounds, run.seconds);
  for (Config& c : configs) micro::bench::Print(c.name, stats[c.name]);
  struct Pair {
    int ours, raw;
  };
  for (Pair p : {Pair{0, 1}, Pair{2, 1}, Pair{3, 4}}) {
    const Stats& m = stats[configs[p.ours].name];
    const Stats& raw = stats[configs[p.raw].name];
    std::printf("  %-44s throughput %.3fx, p50 %.2fx, p99 %.2fx\n",
                (std::string(configs[p.ours].name) + " / raw:").c_str(),
                Median(m.rps) / Median(raw.rps), Median(m.p50) / Median(raw.p50),
                Median(m.p99) / Median(raw.p99));
  }
  raw_server->Shutdown();
  (void)server.Stop();
  return 0;
}
