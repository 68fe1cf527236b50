// Calls Greeter.Hello on the "helloworld" service and prints the answer.
//
//   greeter-client --name World [--registry mdns://127.0.0.1]
//   greeter-client --name World --node 127.0.0.1:50051   (skip discovery: call this node)
#include <iostream>

#include "greeter.micro.h"
#include "micro/micro.h"
#include "micro/registry/memory.h"

int main(int argc, char** argv) {
  std::string name = "World", node, count = "1";
  auto service = micro::NewService(micro::Name("helloworld.client"));
  service->AddFlag("name", "who to greet", &name);
  service->AddFlag("node", "call this host:port instead of looking the service up", &node);
  service->AddFlag("count", "how many calls to make", &count);
  if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
  std::shared_ptr<micro::client::Client> client;
  if (node.empty()) {
    client = service->client();
  } else {
    // Skip discovery: a client whose own registry knows just this node.
    std::shared_ptr<micro::registry::Registry> fixed = micro::registry::NewMemoryRegistry();
    micro::registry::Service svc{"helloworld", "latest", {}, {}, {{"helloworld-static", node, {}}}};
    if (absl::Status s = fixed->Register(svc); !s.ok()) {
      std::cerr << s.message() << "\n";
      return 2;
    }
    micro::client::ClientOptions o = service->options().client;
    o.registry = fixed;
    client = std::make_shared<micro::client::Client>(o);
  }
  helloworld::GreeterService greeter("helloworld", client);
  helloworld::Request req;
  req.set_name(name);
  int n = std::max(1, std::atoi(count.c_str()));
  for (int i = 0; i < n; ++i) {
    auto rsp = greeter.Hello(req);
    if (!rsp.ok()) {
      std::cerr << "error: " << micro::errors::FromStatus(rsp.status()).ToJson() << "\n";
      return 1;
    }
    std::cout << rsp->msg() << std::endl;
  }
  return 0;
}
