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
