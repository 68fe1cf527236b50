// broker-peer: micro-cpp's side of the pub/sub tests across processes and languages, a Service
// using micro::Event and micro::RegisterSubscriber with helloworld.Request messages.
//
//   broker-peer --mode sub --topic T [--queue Q] [service flags]   prints "ready", then one JSON
//       line per message: {"name": ..., "header": {...}} (header: the metadata it carried)
//   broker-peer --mode pub --topic T [--count N] [--prefix P] [--content_type CT] [service flags]
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "greeter.pb.h"
#include "micro/event.h"
#include "micro/micro.h"

int main(int argc, char** argv) {
  auto service = micro::NewService(micro::Name("cpp.broker.peer"), micro::Address("127.0.0.1:0"),
                                   micro::AfterStart([] {
                                     std::printf("ready\n");
                                     std::fflush(stdout);
                                     return absl::OkStatus();
                                   }));
  std::string mode, topic, queue, prefix = "cpp", content_type;
  int count = 1;
  service->AddFlag("mode", "sub or pub", &mode);
  service->AddFlag("topic", "the topic", &topic);
  service->AddFlag("queue", "sub: queue group", &queue);
  service->AddFlag("count", "pub: messages", &count);
  service->AddFlag("prefix", "pub: names are <prefix>-<i>", &prefix);
  service->AddFlag("content_type", "pub: content type (default: the client's)", &content_type);
  if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
  if (mode == "pub") {
    micro::Event event(topic, *service);
    for (int i = 0; i < count; ++i) {
      helloworld::Request m;
      m.set_name(absl::StrCat(prefix, "-", i));
      micro::client::CallOptions o;
      o.content_type = content_type;
      o.metadata["X-From"] = "cpp";
      if (absl::Status s = event.Publish(m, o); !s.ok()) {
        std::fprintf(stderr, "publish %d: %s\n", i, std::string(s.message()).c_str());
        return 1;
      }
    }
    return 0;
  }
  std::mutex mu;
  absl::Status s = micro::RegisterSubscriber<helloworld::Request>(
      topic, *service,
      [&](micro::server::Context& ctx, const helloworld::Request& m) {
        nlohmann::json line{
            {"name", m.name()}, {"header", ctx.metadata}, {"content_type", ctx.content_type}};
        std::lock_guard<std::mutex> l(mu);
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
        return absl::OkStatus();
      },
      {queue});
  if (!s.ok()) return 1;
  return service->Run().ok() ? 0 : 1;
}
