#include "new.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "micro/version.h"

namespace micro::tools {
namespace {

namespace fs = std::filesystem;

// {{name}}: the service name (todo-list); {{pkg}}: proto package and C++
// namespace (todo_list); {{Type}}: the proto service (TodoList); {{version}}:
// micro-cpp's version (find_package asks for this minor version).
constexpr char kProto[] = R"tmpl(syntax = "proto3";

package {{pkg}};

// The {{name}} service. Add RPCs here; protoc-gen-micro turns each into a
// method of {{Type}}Handler (server side) and {{Type}}Service (client side).
service {{Type}} {
  rpc Call(CallRequest) returns (CallResponse) {}
}

message CallRequest {
  string name = 1;
}

message CallResponse {
  string msg = 1;
}
)tmpl";

constexpr char kHandlerH[] =
    R"tmpl(// The {{name}} service's handler: one method per RPC of proto/{{name}}.proto.
#pragma once

#include "{{name}}.micro.h"

namespace {{pkg}} {

class Handler : public {{Type}}Handler {
 public:
  absl::Status Call(micro::server::Context& ctx, const CallRequest& req,
                    CallResponse* rsp) override;
};

}  // namespace {{pkg}}
)tmpl";

constexpr char kHandlerCc[] = R"tmpl(#include "handler/{{name}}.h"

#include "micro/errors.h"

namespace {{pkg}} {

absl::Status Handler::Call(micro::server::Context&, const CallRequest& req, CallResponse* rsp) {
  if (req.name().empty()) return micro::errors::BadRequest("{{name}}", "name is required");
  rsp->set_msg("Hello " + req.name());
  return absl::OkStatus();
}

}  // namespace {{pkg}}
)tmpl";

constexpr char kMain[] =
    R"tmpl(// The {{name}} service: registers in the registry (mDNS unless --registry
// says otherwise), serves until SIGINT/SIGTERM, then deregisters and drains.
#include "handler/{{name}}.h"
#include "micro/micro.h"

int main(int argc, char** argv) {
  auto service = micro::NewService(micro::Name("{{name}}"), micro::Version("latest"));
  if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
  if (absl::Status s = {{pkg}}::Register{{Type}}Handler(service->server(),
                                                     std::make_shared<{{pkg}}::Handler>());
      !s.ok()) {
    micro::log::Error(s.message());
    return 1;
  }
  return service->Run().ok() ? 0 : 1;
}
)tmpl";

constexpr char kCMake[] = R"tmpl(cmake_minimum_required(VERSION 3.22)
project({{pkg}} LANGUAGES CXX)

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo)
endif()

# micro-cpp, installed (the micro-cpp-dev package, or cmake --install; set CMAKE_PREFIX_PATH
# for a prefix CMake does not search). It finds Protobuf and gRPC and gives micro_proto_library.
find_package(micro {{version}} CONFIG REQUIRED)

micro_proto_library({{pkg}}_proto PROTOS {{name}}.proto IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR}/proto)

add_executable({{name}} main.cc handler/{{name}}.cc)
target_include_directories({{name}} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries({{name}} PRIVATE micro::micro {{pkg}}_proto)
install(TARGETS {{name}} RUNTIME DESTINATION bin)
)tmpl";

constexpr char kReadme[] = R"tmpl(# {{name}}

A micro-cpp service, made by `micro new {{name}}`.

## Build

```sh
cmake -S . -B build && cmake --build build
```

## Run

```sh
./build/{{name}}                                  # registers over mDNS
./build/{{name}} --registry consul --registry_address 127.0.0.1:8500
./build/{{name}} --help                           # every flag and MICRO_* variable
```

## Call it

```sh
micro call {{name}} {{Type}}.Call '{"name": "John"}'
```

or through the API gateway, with /rpc on and no namespace (`api-gateway --enable_rpc --namespace ''`, on
127.0.0.1:8080):

```sh
curl -d '{"service": "{{name}}", "endpoint": "{{Type}}.Call", "request": {"name": "John"}}' localhost:8080/rpc
```

## Layout

- `proto/{{name}}.proto`: the API; `micro_proto_library` runs protoc with protoc-gen-micro.
- `handler/{{name}}.{h,cc}`: the implementation of each RPC.
- `main.cc`: the service: name, flags, registration, signals.
- `Dockerfile`: builds and runs it on Debian 12.
)tmpl";

constexpr char kDockerfile[] =
    R"tmpl(# Builds {{name}} on Debian 12 against micro-cpp-dev and runs it in a slim image.
# Put the micro-cpp-dev .deb next to this file first (micro-cpp's deploy/install.sh writes it).
FROM debian:12 AS build
COPY micro-cpp-dev_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates /tmp/micro-cpp-dev_*.deb \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release && cmake --build /build -j"$(nproc)"

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgrpc++1.51 libnghttp2-14 libnats3.4 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/{{name}} /usr/local/bin/{{name}}
ENTRYPOINT ["/usr/local/bin/{{name}}"]
)tmpl";

constexpr char kGitignore[] = "build/\n";

std::string Expand(const char* text, const std::string& name) {
  std::string pkg = absl::StrReplaceAll(name, {{"-", "_"}});
  std::string type;
  for (absl::string_view part : absl::StrSplit(name, '-', absl::SkipEmpty())) {
    std::string p(part);
    p[0] = absl::ascii_toupper(p[0]);
    type += p;
  }
  std::string version = absl::StrCat(MICRO_VERSION_MAJOR, ".", MICRO_VERSION_MINOR);
  return absl::StrReplaceAll(
      text, {{"{{name}}", name}, {"{{pkg}}", pkg}, {"{{Type}}", type}, {"{{version}}", version}});
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> NewServiceFiles(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && absl::ascii_islower(name[0]) &&
            name.back() != '-' && name.find("--") == std::string::npos;
  for (char c : name) ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-');
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("service name \"", name,
                     "\": use lower-case letters, digits and single dashes, starting with a letter "
                     "(it becomes the proto package, the C++ namespace and the registered name)"));
  }
  return std::map<std::string, std::string>{
      {absl::StrCat("proto/", name, ".proto"), Expand(kProto, name)},
      {absl::StrCat("handler/", name, ".h"), Expand(kHandlerH, name)},
      {absl::StrCat("handler/", name, ".cc"), Expand(kHandlerCc, name)},
      {"main.cc", Expand(kMain, name)},
      {"CMakeLists.txt", Expand(kCMake, name)},
      {"README.md", Expand(kReadme, name)},
      {"Dockerfile", Expand(kDockerfile, name)},
      {".gitignore", kGitignore},
  };
}

absl::Status WriteNewService(const std::string& name, const std::string& dir) {
  absl::StatusOr<std::map<std::string, std::string>> files = NewServiceFiles(name);
  if (!files.ok()) return files.status();
  std::error_code ec;
  fs::path root(dir);
  bool existed = fs::exists(root, ec);
  if (existed && (!fs::is_directory(root, ec) || !fs::is_empty(root, ec))) {
    return absl::AlreadyExistsError(
        absl::StrCat("\"", dir, "\" exists and is not an empty directory; choose another --dir"));
  }
  auto undo = [&] {
    std::error_code ignored;
    if (existed) {
      for (const auto& entry : fs::directory_iterator(root, ignored))
        fs::remove_all(entry, ignored);
    } else {
      fs::remove_all(root, ignored);
    }
  };
  for (const auto& [path, text] : *files) {
    fs::path p = root / path;
    fs::create_directories(p.parent_path(), ec);
    std::ofstream out(p, std::ios::binary);
    out << text;
    out.close();
    if (ec || !out) {
      undo();
      return absl::PermissionDeniedError(absl::StrCat("cannot write ", p.string(), ": ",
                                                      ec ? ec.message() : std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace micro::tools
