// The greeter service: go-micro's helloworld, in C++.
#include "greeter.micro.h"
#include "micro/micro.h"

class Greeter : public helloworld::GreeterHandler {
 public:
  absl::Status Hello(micro::server::Context& ctx, const helloworld::Request& req,
                     helloworld::Response* rsp) override {
    if (req.name().empty()) return micro::errors::BadRequest("helloworld", "name is required");
    rsp->set_msg("Hello " + req.name());
    return absl::OkStatus();
  }

  // "Hello NAME i" for i = 1..count (at most 10000).
  absl::Status Stream(micro::server::Context& ctx, const helloworld::StreamRequest& req,
                      micro::server::ServerWriter<helloworld::Response>& stream) override {
    if (req.name().empty()) return micro::errors::BadRequest("helloworld", "name is required");
    if (req.count() < 0 || req.count() > 10000)
      return micro::errors::BadRequest("helloworld", "count must be 0..10000");
    helloworld::Response rsp;
    for (int i = 1; i <= req.count(); ++i) {
      rsp.set_msg("Hello " + req.name() + " " + std::to_string(i));
      if (absl::Status s = stream.Send(rsp); !s.ok()) return s;  // the client went away
    }
    return absl::OkStatus();
  }

  // "Hello A, B and C" for the names sent.
  absl::Status Collect(micro::server::Context& ctx,
                       micro::server::ServerReader<helloworld::Request>& stream,
                       helloworld::Response* rsp) override {
    std::vector<std::string> names;
    helloworld::Request req;
    absl::Status s;
    while ((s = stream.Recv(&req)).ok()) names.push_back(req.name());
    if (!micro::IsEndOfStream(s)) return s;
    if (names.empty()) return micro::errors::BadRequest("helloworld", "no names sent");
    std::string msg = "Hello " + names[0];
    for (std::size_t i = 1; i < names.size(); ++i)
      msg += (i + 1 == names.size() ? " and " : ", ") + names[i];
    rsp->set_msg(msg);
    return absl::OkStatus();
  }

  // "Hello NAME" for each request as it arrives; an empty name ends the stream with a 400.
  absl::Status Chat(micro::server::Context& ctx,
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

int main(int argc, char** argv) {
  auto service = micro::NewService(micro::Name("helloworld"), micro::Version("latest"));
  if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
  if (absl::Status s =
          helloworld::RegisterGreeterHandler(service->server(), std::make_shared<Greeter>());
      !s.ok()) {
    micro::log::Error(s.message());
    return 1;
  }
  return service->Run().ok() ? 0 : 1;
}
