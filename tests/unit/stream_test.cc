// Streaming calls in one process: real gRPC on 127.0.0.1, the memory registry.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"
#include "test_util.h"

namespace reg = micro::registry;
using namespace std::chrono_literals;
using helloworld::Request;
using helloworld::Response;
using micro::testing::Eventually;

namespace {

// The greeter's streams, with hooks the tests watch.
class Streamer : public helloworld::GreeterHandler {
 public:
  std::atomic<int> open{0}, cancelled{0}, sent{0};
  std::atomic<bool> slow{false};  // Stream: 1 KiB messages until cancelled or count
  std::string seen_metadata;
  std::mutex mu;

  absl::Status Hello(micro::server::Context&, const Request& req, Response* rsp) override {
    rsp->set_msg("Hello " + req.name());
    return absl::OkStatus();
  }

  absl::Status Stream(micro::server::Context& ctx, const helloworld::StreamRequest& req,
                      micro::server::ServerWriter<Response>& stream) override {
    Guard g(this);
    {
      std::lock_guard<std::mutex> l(mu);
      seen_metadata = std::string(ctx.Metadata("x-who"));
    }
    if (req.name() == "fail-after-2") {
      Response r;
      for (int i = 1; i <= 2; ++i) {
        r.set_msg("m" + std::to_string(i));
        if (absl::Status s = stream.Send(r); !s.ok()) return s;
      }
      return micro::errors::Conflict("stream.test", "went wrong after 2");
    }
    Response r;
    if (req.name() == "big") r.set_msg(std::string(1024, 'x'));
    for (int i = 1; req.count() == 0 || i <= req.count(); ++i) {
      if (req.name() != "big") r.set_msg(req.name() + " " + std::to_string(i));
      if (absl::Status s = stream.Send(r); !s.ok()) {
        if (ctx.cancelled()) ++cancelled;
        return s;
      }
      ++sent;
      if (req.count() == 0) std::this_thread::sleep_for(5ms);
    }
    return absl::OkStatus();
  }

  absl::Status Collect(micro::server::Context&, micro::server::ServerReader<Request>& stream,
                       Response* rsp) override {
    Guard g(this);
    Request req;
    absl::Status s;
    std::string all;
    while ((s = stream.Recv(&req)).ok()) all += req.name();
    if (!micro::IsEndOfStream(s)) return s;
    rsp->set_msg(all);
    return absl::OkStatus();
  }

  absl::Status Chat(micro::server::Context& ctx,
                    micro::server::ServerReaderWriter<Request, Response>& stream) override {
    Guard g(this);
    Request req;
    Response rsp;
    absl::Status s;
    while ((s = stream.Recv(&req)).ok()) {
      if (req.name().empty()) return micro::errors::BadRequest("stream.test", "empty name");
      rsp.set_msg("Hello " + req.name());
      if (absl::Status w = stream.Send(rsp); !w.ok()) return w;
    }
    if (ctx.cancelled()) ++cancelled;
    return micro::IsEndOfStream(s) ? absl::OkStatus() : s;
  }

 private:
  struct Guard {
    Streamer* s;
    explicit Guard(Streamer* x) : s(x) { ++s->open; }
    ~Guard() { --s->open; }
  };
};

struct Fixture {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::shared_ptr<Streamer> handler = std::make_shared<Streamer>();
  std::unique_ptr<micro::server::Server> server;
  std::shared_ptr<micro::client::Client> client;
  std::unique_ptr<helloworld::GreeterService> greeter;

  explicit Fixture(const std::string& name = "stream.test", micro::server::ServerOptions o = {},
                   micro::client::ClientOptions co = {}) {
    o.name = name;
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    server = std::make_unique<micro::server::Server>(o);
    REQUIRE(helloworld::RegisterGreeterHandler(*server, handler).ok());
    REQUIRE(server->Start().ok());
    co.registry = registry;
    co.backoff = [](int) { return 1ms; };
    client = std::make_shared<micro::client::Client>(co);
    greeter = std::make_unique<helloworld::GreeterService>(name, client);
  }
};

Request Named(const std::string& n) {
  Request r;
  r.set_name(n);
  return r;
}

helloworld::StreamRequest Count(const std::string& n, int count) {
  helloworld::StreamRequest r;
  r.set_name(n);
  r.set_count(count);
  return r;
}

// Reads to the end; returns the messages and sets `end` to how it ended.
std::vector<std::string> ReadAll(micro::client::ClientReader<Response>& reader, absl::Status* end) {
  std::vector<std::string> got;
  Response r;
  while ((*end = reader.Recv(&r)).ok()) got.push_back(r.msg());
  return got;
}

}  // namespace

TEST_CASE("server streaming: every message, then the end, on go-micro's path too", "[stream]") {
  // "stream.test" is not the proto package: calls go to /stream.test.Greeter/Stream (go-micro's
  // path, the generic service); "helloworld" to the typed /helloworld.Greeter/Stream.
  for (std::string name : {"stream.test", "helloworld"}) {
    Fixture f(name);
    auto reader = f.greeter->Stream(Count("n", 50));
    REQUIRE(reader.ok());
    absl::Status end;
    auto got = ReadAll(*reader, &end);
    CHECK(micro::IsEndOfStream(end));
    REQUIRE(got.size() == 50);
    CHECK(got.front() == "n 1");
    CHECK(got.back() == "n 50");
    // After the end, Recv keeps saying so.
    Response r;
    CHECK(micro::IsEndOfStream(reader->Recv(&r)));
  }
}

TEST_CASE("client streaming and bidirectional streams", "[stream]") {
  Fixture f;
  auto writer = f.greeter->Collect();
  REQUIRE(writer.ok());
  for (std::string n : {"a", "b", "c"}) REQUIRE(writer->Send(Named(n)).ok());
  Response rsp;
  REQUIRE(writer->CloseAndRecv(&rsp).ok());
  CHECK(rsp.msg() == "abc");

  auto chat = f.greeter->Chat();
  REQUIRE(chat.ok());
  for (int i = 0; i < 200; ++i) {
    REQUIRE(chat->Send(Named("p" + std::to_string(i))).ok());
    REQUIRE(chat->Recv(&rsp).ok());
    REQUIRE(rsp.msg() == "Hello p" + std::to_string(i));
  }
  chat->CloseSend();
  CHECK(micro::IsEndOfStream(chat->Recv(&rsp)));
  CHECK(Eventually([&] { return f.handler->open == 0; }));
}

TEST_CASE("a go-micro error mid-stream arrives after the messages sent before it", "[stream]") {
  Fixture f;
  auto reader = f.greeter->Stream(Count("fail-after-2", 0));
  REQUIRE(reader.ok());
  absl::Status end;
  auto got = ReadAll(*reader, &end);
  CHECK(got == std::vector<std::string>{"m1", "m2"});
  micro::Error e = micro::errors::FromStatus(end);
  CHECK(e.code == 409);
  CHECK(e.id == "stream.test");
  CHECK(e.detail == "went wrong after 2");

  auto chat = f.greeter->Chat();
  REQUIRE(chat.ok());
  Response rsp;
  REQUIRE(chat->Send(Named("x")).ok());
  REQUIRE(chat->Recv(&rsp).ok());
  REQUIRE(chat->Send(Named("")).ok());
  absl::Status s = chat->Recv(&rsp);
  CHECK(micro::errors::FromStatus(s).code == 400);
  CHECK(micro::errors::FromStatus(s).detail == "empty name");
  // Sends after the end report it too.
  CHECK(micro::errors::FromStatus(chat->Send(Named("y"))).code == 400);
}

TEST_CASE("streams carry metadata and JSON, and a unary call to a stream is a stream of one",
          "[stream]") {
  Fixture f;
  micro::client::CallOptions o;
  o.metadata["X-Who"] = "tester";
  auto reader = f.greeter->Stream(Count("m", 1), o);
  REQUIRE(reader.ok());
  absl::Status end;
  CHECK(ReadAll(*reader, &end).size() == 1);
  {
    std::lock_guard<std::mutex> l(f.handler->mu);
    CHECK(f.handler->seen_metadata == "tester");
  }

  micro::client::CallOptions json;
  json.content_type = "application/grpc+json";
  auto raw = f.client->OpenStream("stream.test", "Greeter.Stream", json);
  REQUIRE(raw.ok());
  REQUIRE((*raw)->SendRaw(R"({"name":"j","count":2})").ok());
  (*raw)->CloseSend();
  std::string m;
  REQUIRE((*raw)->RecvRaw(&m).ok());
  CHECK(m == R"({"msg":"j 1"})");
  REQUIRE((*raw)->RecvRaw(&m).ok());
  CHECK(micro::IsEndOfStream((*raw)->RecvRaw(&m)));

  // As in gRPC, a unary call to a server-streaming method is a stream of one each way.
  helloworld::StreamRequest req = Count("u", 1);
  Response rsp;
  REQUIRE(f.client->Call("stream.test", "Greeter.Stream", req, &rsp).ok());
  CHECK(rsp.msg() == "u 1");
}

TEST_CASE("async forms: open without waiting, read by callbacks", "[stream]") {
  Fixture f;
  std::promise<std::vector<std::string>> result;
  struct Loop {
    micro::client::ClientReader<Response> reader;
    Response r;
    std::vector<std::string> got;
    std::promise<std::vector<std::string>>* out;
    void Next(std::shared_ptr<Loop> self) {
      reader.RecvAsync(&r, [self](absl::Status s) {
        if (!s.ok()) {
          if (!micro::IsEndOfStream(s)) self->got.push_back(std::string(s.message()));
          self->out->set_value(self->got);
          return;
        }
        self->got.push_back(self->r.msg());
        self->Next(self);
      });
    }
  };
  f.greeter->StreamAsync(
      Count("a", 20), [&](absl::StatusOr<micro::client::ClientReader<Response>> reader) {
        if (!reader.ok()) {
          result.set_value({std::string(reader.status().message())});
          return;
        }
        auto loop = std::make_shared<Loop>(Loop{std::move(*reader), {}, {}, &result});
        loop->Next(loop);
      });
  auto got = result.get_future().get();
  REQUIRE(got.size() == 20);
  CHECK(got[19] == "a 20");
}

TEST_CASE("cancellation from either side and deadline expiry end the stream at once", "[stream]") {
  Fixture f;
  SECTION("the client closes: the handler's Send fails and it sees the cancellation") {
    auto reader = f.greeter->Stream(Count("forever", 0));
    REQUIRE(reader.ok());
    Response r;
    REQUIRE(reader->Recv(&r).ok());
    reader->Close();
    CHECK(Eventually([&] { return f.handler->cancelled == 1 && f.handler->open == 0; }));
    CHECK_FALSE(reader->Recv(&r).ok());
  }
  SECTION("an abandoned stream (dropped without Close) is cleaned up on the server") {
    {
      auto chat = f.greeter->Chat();
      REQUIRE(chat.ok());
      Response r;
      REQUIRE(chat->Send(Named("x")).ok());
      REQUIRE(chat->Recv(&r).ok());
    }
    // The handler's Recv ends (cancelled, or the end of the stream: the reset and the cancel
    // race on the server) and the stream's thread is gone.
    CHECK(Eventually([&] { return f.handler->open == 0; }));
  }
  SECTION("the deadline passes mid-stream: 408 on the client, the handler cancelled") {
    micro::client::CallOptions o;
    o.timeout = 300ms;
    auto reader = f.greeter->Stream(Count("forever", 0), o);
    REQUIRE(reader.ok());
    absl::Status end;
    auto got = ReadAll(*reader, &end);
    CHECK(got.size() >= 1);
    CHECK(micro::errors::FromStatus(end).code == 408);
    CHECK(Eventually([&] { return f.handler->cancelled == 1 && f.handler->open == 0; }));
  }
  SECTION("the caller's Cancellation ends a stream made for it") {
    auto cancel = std::make_shared<micro::Cancellation>();
    micro::client::CallOptions o;
    o.cancel = cancel;
    auto reader = f.greeter->Stream(Count("forever", 0), o);
    REQUIRE(reader.ok());
    Response r;
    REQUIRE(reader->Recv(&r).ok());
    cancel->Cancel();
    absl::Status end;
    ReadAll(*reader, &end);
    CHECK(micro::errors::FromStatus(end).code == 408);
    CHECK(Eventually([&] { return f.handler->cancelled == 1 && f.handler->open == 0; }));
  }
}

TEST_CASE("a slow reader holds its writer back, and every message still arrives", "[stream]") {
  Fixture f;
  constexpr int kTotal = 100000;  // 100 MB of 1 KiB messages if nothing held the writer
  auto reader = f.greeter->Stream(Count("big", kTotal));
  REQUIRE(reader.ok());
  // Wait until the writer stops making progress (flow control), then compare with the total.
  int last = -1;
  REQUIRE(Eventually(
      [&] {
        int now = f.handler->sent;
        if (now == last && now > 0) return true;
        last = now;
        std::this_thread::sleep_for(500ms);
        return false;
      },
      60s));
  CHECK(f.handler->sent < kTotal / 4);
  absl::Status end;
  CHECK(ReadAll(*reader, &end).size() == std::size_t(kTotal));
  CHECK(micro::IsEndOfStream(end));
}

TEST_CASE("drain: open streams finish within drain_timeout, then are cancelled", "[stream]") {
  micro::server::ServerOptions o;
  o.drain_timeout = 20s;
  Fixture f("stream.test", o);
  auto chat = f.greeter->Chat();
  REQUIRE(chat.ok());
  Response r;
  REQUIRE(chat->Send(Named("before")).ok());
  REQUIRE(chat->Recv(&r).ok());
  auto stopped = std::async(std::launch::async, [&] { return f.server->Stop(); });
  // Stopping: the open stream is still served.
  REQUIRE(stopped.wait_for(300ms) == std::future_status::timeout);
  REQUIRE(chat->Send(Named("during")).ok());
  REQUIRE(chat->Recv(&r).ok());
  CHECK(r.msg() == "Hello during");
  chat->CloseSend();
  CHECK(micro::IsEndOfStream(chat->Recv(&r)));
  CHECK(stopped.get().ok());

  micro::server::ServerOptions quick;
  quick.drain_timeout = 200ms;
  Fixture g("stream.test", quick);
  auto forever = g.greeter->Stream(Count("forever", 0));
  REQUIRE(forever.ok());
  REQUIRE(forever->Recv(&r).ok());
  CHECK(g.server->Stop().ok());  // returns: the stream was cancelled after 200 ms
  CHECK(g.handler->open == 0);
  absl::Status end;
  ReadAll(*forever, &end);
  CHECK_FALSE(end.ok());
  CHECK_FALSE(micro::IsEndOfStream(end));
}

TEST_CASE("max_open_streams refuses more with a 429, and stream wrappers run", "[stream]") {
  micro::server::ServerOptions o;
  o.max_open_streams = 2;
  std::atomic<int> wrapped{0};
  o.stream_wrappers.push_back([&](micro::server::StreamHandlerFn next) {
    return [&, next](micro::server::Context& ctx, micro::server::ServerStream& s) {
      ++wrapped;
      if (ctx.Metadata("x-deny") == "1") return micro::errors::Forbidden("stream.test", "denied");
      return next(ctx, s);
    };
  });
  Fixture f("stream.test", o);
  auto a = f.greeter->Stream(Count("forever", 0));
  auto b = f.greeter->Stream(Count("forever", 0));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  Response r;
  REQUIRE(a->Recv(&r).ok());
  REQUIRE(b->Recv(&r).ok());
  auto c = f.greeter->Stream(Count("forever", 0));
  REQUIRE(c.ok());
  absl::Status refused = c->Recv(&r);
  CHECK(micro::errors::FromStatus(refused).code == 429);
  a->Close();
  b->Close();
  REQUIRE(Eventually([&] { return f.handler->open == 0; }));

  micro::client::CallOptions deny;
  deny.metadata["x-deny"] = "1";
  auto d = f.greeter->Stream(Count("x", 1), deny);
  REQUIRE(d.ok());
  CHECK(micro::errors::FromStatus(d->Recv(&r)).code == 403);
  CHECK(wrapped == 3);
}

TEST_CASE("a node that refuses the connection: the stream moves on before any answer", "[stream]") {
  Fixture f;
  // A dead node beside the live one: nothing listens on this port.
  reg::Service dead{"stream.test", "latest", {}, {}, {{"dead-1", "127.0.0.1:1", {}}}};
  REQUIRE(f.registry->Register(dead).ok());
  for (int i = 0; i < 10; ++i) {
    auto reader = f.greeter->Stream(Count("r", 3));
    REQUIRE(reader.ok());
    absl::Status end;
    CHECK(ReadAll(*reader, &end).size() == 3);
    CHECK(micro::IsEndOfStream(end));
    CHECK(reader->stream().peer() != "127.0.0.1:1");
  }
  // With no retries left the refusal is the answer: 503-class, not a hang.
  micro::client::CallOptions none;
  none.retries = 0;
  none.filters.push_back([](const reg::Service&, const reg::Node& n) { return n.id == "dead-1"; });
  // It surfaces at the request's Send, or at the first Recv if the refusal comes after that.
  auto reader = f.greeter->Stream(Count("r", 3), none);
  absl::Status end = reader.status();
  if (reader.ok()) ReadAll(*reader, &end);
  CHECK(absl::IsUnavailable(end));
}

TEST_CASE("a registry without the service: OpenStream fails at once", "[stream]") {
  Fixture f;
  auto s = f.client->OpenStream("no.such.service", "Greeter.Chat");
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(micro::errors::FromStatus(s.status()).detail, Catch::Contains("not found"));
}

TEST_CASE("CloseSend while a Recv is waiting: the server sees the end, the Recv the stream's end",
          "[stream]") {
  Fixture f;
  micro::client::CallOptions json;
  json.content_type = "application/grpc+json";
  auto chat = f.client->OpenStream("stream.test", "Greeter.Chat", json);
  REQUIRE(chat.ok());
  REQUIRE((*chat)->SendRaw(R"({"name":"a"})").ok());
  std::string m;
  REQUIRE((*chat)->RecvRaw(&m).ok());
  std::promise<absl::Status> end;
  (*chat)->RecvRawAsync([&](absl::StatusOr<std::string> r) { end.set_value(r.status()); });
  std::this_thread::sleep_for(50ms);  // the Recv is outstanding (not asserted: either order works)
  (*chat)->CloseSend();
  CHECK(micro::IsEndOfStream(end.get_future().get()));
}
