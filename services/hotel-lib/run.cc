#include "run.h"

#include "absl/strings/str_cat.h"

namespace hotel_example {

int RunService(int argc, char** argv, const char* name,
               const std::function<absl::Status(micro::Service&, const std::string&)>& setup,
               const std::function<void()>& after_run) {
  std::string data_dir = MICRO_HOTEL_DATA_DIR;
  auto service = micro::NewService(micro::Name(name));
  service->AddFlag("data_dir",
                   absl::StrCat("directory of the JSON data files (default ", data_dir, ")"),
                   &data_dir);
  if (absl::Status s = service->Init(argc, argv); !s.ok()) {
    if (micro::InitAskedToExit(s)) return 0;
    micro::log::Error(absl::StrCat(name, ": ", s.message()));
    return 2;
  }
  if (absl::Status s = setup(*service, data_dir); !s.ok()) {
    micro::log::Error(absl::StrCat(name, ": ", s.message()));
    return 1;
  }
  int rc = service->Run().ok() ? 0 : 1;
  if (after_run) after_run();
  return rc;
}

}  // namespace hotel_example
