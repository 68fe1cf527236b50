// A todo list service, built outside micro-cpp against the installed package
// (find_package(micro)), as a project of your own would be. It registers as
// "todo" on the registry its flags name (mDNS by default):
//
//   ./todo --max_items 100
//   micro call todo Todo.Add '{"item": "milk"}'
//   micro call todo Todo.List
#include <mutex>
#include <vector>

#include "micro/micro.h"
#include "todo.micro.h"

class Todo : public todo::TodoHandler {
 public:
  explicit Todo(int max_items) : max_items_(max_items) {}

  absl::Status Add(micro::server::Context&, const todo::AddRequest& req,
                   todo::AddResponse* rsp) override {
    if (req.item().empty()) return micro::errors::BadRequest("todo", "item is required");
    std::lock_guard<std::mutex> l(mu_);
    if (static_cast<int>(items_.size()) >= max_items_) {
      return micro::errors::New("todo", "the list is full", 409);
    }
    items_.push_back(req.item());
    rsp->set_count(static_cast<int>(items_.size()));
    return absl::OkStatus();
  }

  absl::Status List(micro::server::Context&, const todo::ListRequest&,
                    todo::ListResponse* rsp) override {
    std::lock_guard<std::mutex> l(mu_);
    for (const std::string& item : items_) rsp->add_items(item);
    return absl::OkStatus();
  }

 private:
  const int max_items_;
  std::mutex mu_;
  std::vector<std::string> items_;
};

int main(int argc, char** argv) {
  auto service = micro::NewService(micro::Name("todo"), micro::Version("1.0.0"));
  int max_items = 1000;
  service->AddFlag("max_items", "how many items the list holds", &max_items, "TODO_MAX_ITEMS");
  if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
  if (absl::Status s =
          todo::RegisterTodoHandler(service->server(), std::make_shared<Todo>(max_items));
      !s.ok()) {
    micro::log::Error(s.message());
    return 1;
  }
  return service->Run().ok() ? 0 : 1;
}
