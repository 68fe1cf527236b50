// A todo service and its client in one process, on a registry chosen by URI (memory:// here):
// built against an installed micro-cpp, it proves the package links and works.
#include <atomic>

#include "micro/micro.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/plugin.h"
#include "todo.micro.h"

class Todo : public todo::TodoHandler {
 public:
  absl::Status Add(micro::server::Context&, const todo::AddRequest& req,
                   todo::AddResponse* rsp) override {
    if (req.item().empty()) return micro::errors::BadRequest("todo", "item is required");
    rsp->set_count(++count_);
    return absl::OkStatus();
  }

 private:
  std::atomic<int> count_{0};
};

int main() {
  micro::RegisterBuiltinPlugins();
  auto made = micro::registry::NewRegistry("memory://");
  if (!made.ok()) return 1;
  std::shared_ptr<micro::registry::Registry> registry = std::move(*made);
  micro::server::ServerOptions so;
  so.name = "todo";
  so.address = "127.0.0.1:0";
  so.registry = registry;
  micro::server::Server server(so);
  if (!todo::RegisterTodoHandler(server, std::make_shared<Todo>()).ok() || !server.Start().ok())
    return 1;
  micro::client::ClientOptions co;
  co.registry = registry;
  todo::TodoService client("todo", std::make_shared<micro::client::Client>(co));
  todo::AddRequest req;
  req.set_item("milk");
  auto rsp = client.Add(req);
  if (!rsp.ok()) return 1;
  req.clear_item();
  auto bad = client.Add(req);
  std::printf("added milk: %d item(s); empty item: %s\n", rsp->count(),
              micro::errors::FromStatus(bad.status()).detail.c_str());
  return server.Stop().ok() ? 0 : 1;
}
