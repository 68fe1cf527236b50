// micro: the command line for a micro-cpp (or go-micro) fleet, on any registry.
//
//   micro services                           list services
//   micro service NAME                       versions, endpoints, nodes, metadata
//   micro call NAME Endpoint '{json}'        call an endpoint with JSON, print the JSON answer
//   micro stream NAME Endpoint ['{json}']    a stream: requests from stdin, answers as JSON lines
//   micro health NAME                        gRPC health of every node of NAME
//   micro watch [NAME]                       print registry events as they happen
//   micro publish TOPIC '{json}'             publish a JSON message on the broker
//   micro subscribe TOPIC                    print the topic's messages as JSON lines
//   micro new NAME [--dir D]                 write a new service project (find_package(micro))
//   micro version                            print micro-cpp's version
//
// Exit codes: 0 done, 1 the operation failed (call error, node not serving,
// registry unreachable), 2 usage error, 3 service not found.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "micro/broker/plugin.h"
#include "micro/client/client.h"
#include "micro/errors.h"
#include "micro/flagset.h"
#include "micro/plugins/builtin.h"
#include "micro/registry/json.h"
#include "micro/registry/plugin.h"
#include "micro/tls.h"
#include "micro/version.h"
#include "new.h"
#include "pubsub.h"

namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2, kNotFound = 3;

struct Command {
  const char* name;
  const char* args;
  const char* help;
};

const Command kCommands[] = {
    {"services", "", "List the services in the registry, one name a line."},
    {"service", "NAME",
     "Describe NAME: each version with its endpoints and nodes (--json: as JSON)."},
    {"call", "NAME ENDPOINT [JSON|-]",
     "Call ENDPOINT (\"Greeter.Hello\") of NAME with a JSON request (default {}, - reads stdin);\n"
     "print the JSON answer. An error is printed as go-micro error JSON on stderr."},
    {"stream", "NAME ENDPOINT [JSON]",
     "Open a stream to ENDPOINT (\"Greeter.Chat\") of NAME: send JSON (when given), then each\n"
     "line of stdin as one JSON request (stdin's end closes the sending side); print each\n"
     "answer as a JSON line. Exit 0 when the service ends the stream OK; its error as\n"
     "go-micro error JSON on stderr otherwise. --timeout does not bound a stream."},
    {"health", "NAME",
     "Ask every node of NAME for its gRPC health; exit 1 unless all are SERVING."},
    {"watch", "[NAME]", "Print registry events (create, update, delete) until Ctrl-C or --count."},
    {"publish", "TOPIC JSON",
     "Publish JSON on TOPIC through the broker (--broker, default http: go-micro's, subscribers\n"
     "found in the registry), with Content-Type application/json and --metadata as headers."},
    {"subscribe", "TOPIC",
     "Print each message of TOPIC as a JSON line {\"topic\",\"header\",\"body\"} until Ctrl-C\n"
     "or --count; --queue joins a queue group (one member of it gets each message)."},
    {"new", "NAME",
     "Write a new service project into ./NAME (or --dir): proto, handler, main.cc, a\n"
     "CMakeLists.txt using find_package(micro), README and Dockerfile. Then:\n"
     "  cmake -S NAME -B NAME/build && cmake --build NAME/build && NAME/build/NAME"},
    {"version", "", "Print micro-cpp's version."},
};

void Usage(const micro::FlagSet& flags) {
  std::string out = "usage: micro [flags] COMMAND [ARGS]\n\ncommands:\n";
  for (const Command& c : kCommands) {
    absl::StrAppend(&out, "  ", c.name, " ", c.args, "\n");
  }
  absl::StrAppend(&out, "\n'micro COMMAND --help' describes one command.\n\n", flags.Usage(),
                  "\nexit codes: 0 done, 1 failed, 2 usage error, 3 service not found\n");
  std::fputs(out.c_str(), stdout);
}

// "todo-list" -> "TodoList", the proto service `micro new` writes.
std::string ServiceType(const std::string& name) {
  std::string out;
  bool up = true;
  for (char ch : name) {
    if (ch == '-') {
      up = true;
    } else {
      out.push_back(up ? absl::ascii_toupper(ch) : ch);
      up = false;
    }
  }
  return out;
}

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "micro: %s\n", std::string(message).c_str());
  return code;
}

int FromRegistry(const absl::Status& s, absl::string_view name) {
  if (absl::IsNotFound(s)) return Fail(kNotFound, absl::StrCat("service ", name, " not found"));
  return Fail(kFailed, s.message());
}

std::string Shape(const std::optional<micro::registry::Value>& v) { return v ? v->name : "-"; }

int Services(micro::registry::Registry& r) {
  auto list = r.ListServices();
  if (!list.ok()) return Fail(kFailed, list.status().message());
  std::set<std::string> names;
  for (const auto& s : *list) names.insert(s.name);
  for (const auto& n : names) std::printf("%s\n", n.c_str());
  return kOk;
}

int Describe(micro::registry::Registry& r, const std::string& name, bool json) {
  auto got = r.GetService(name);
  if (!got.ok()) return FromRegistry(got.status(), name);
  if (json) {
    std::vector<std::string> parts;
    for (const auto& s : *got) parts.push_back(micro::registry::ToJson(s));
    std::printf("[%s]\n", absl::StrJoin(parts, ",").c_str());
    return kOk;
  }
  for (const auto& s : *got) {
    std::printf("service  %s\nversion  %s\n\nendpoints:\n", s.name.c_str(),
                s.version.empty() ? "(none)" : s.version.c_str());
    for (const auto& e : s.endpoints) {
      std::printf("  %-32s %s -> %s%s\n", e.name.c_str(), Shape(e.request).c_str(),
                  Shape(e.response).c_str(), e.metadata.count("stream") ? "  (stream)" : "");
    }
    std::printf("\nnodes:\n");
    for (const auto& n : s.nodes) {
      std::vector<std::string> md;
      for (const auto& [k, v] : n.metadata) md.push_back(k + "=" + v);
      std::printf("  %-44s %-22s %s\n", n.id.c_str(), n.address.c_str(),
                  absl::StrJoin(md, " ").c_str());
    }
    std::printf("\n");
  }
  return kOk;
}

// TLS towards services (--tls_* flags, as the services' own).
micro::tls::Options tls_options;

// What `call` and `stream` share: a JSON client, --metadata as call metadata, and an error printed
// as go-micro JSON with its exit code.
micro::client::ClientOptions JsonClient(std::shared_ptr<micro::registry::Registry> r) {
  micro::client::ClientOptions co;
  co.registry = std::move(r);
  co.content_type = "application/grpc+json";
  co.tls = tls_options;
  return co;
}

micro::client::CallOptions WithMetadata(const std::string& metadata) {
  micro::client::CallOptions opts;
  for (absl::string_view kv : absl::StrSplit(metadata, ',', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    opts.metadata[p.first] = p.second;
  }
  return opts;
}

int PrintError(const absl::Status& s) {
  micro::Error e = micro::errors::FromStatus(s, "micro");
  std::fprintf(stderr, "%s\n", e.ToJson().c_str());
  bool missing = e.id == "go.micro.client" && absl::StrContains(e.detail, "service not found");
  return missing ? kNotFound : kFailed;
}

int Call(std::shared_ptr<micro::registry::Registry> r, const std::string& name,
         const std::string& endpoint, std::string body, std::chrono::milliseconds timeout,
         const std::string& metadata) {
  if (body == "-") {
    body.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  micro::client::Client client(JsonClient(std::move(r)));
  micro::client::CallOptions opts = WithMetadata(metadata);
  opts.timeout = timeout;
  std::promise<absl::StatusOr<std::string>> done;
  client.CallRawAsync(
      name, endpoint, body.empty() ? "{}" : body,
      [&](absl::StatusOr<std::string> rsp) { done.set_value(std::move(rsp)); }, opts);
  absl::StatusOr<std::string> rsp = done.get_future().get();
  if (!rsp.ok()) return PrintError(rsp.status());
  std::printf("%s\n", rsp->c_str());
  return kOk;
}

int Stream(std::shared_ptr<micro::registry::Registry> r, const std::string& name,
           const std::string& endpoint, const std::string& first, const std::string& metadata) {
  micro::client::Client client(JsonClient(std::move(r)));
  auto opened = client.OpenStream(name, endpoint, WithMetadata(metadata));
  if (!opened.ok()) return PrintError(opened.status());
  std::shared_ptr<micro::client::Stream> stream = std::move(*opened);
  if (!first.empty() && !stream->SendRaw(first).ok()) {
    stream->CloseSend();  // the stream ended: Recv says how
  } else {
    // Requests from stdin on their own thread; it may still wait for a line when the stream ends.
    std::thread([stream] {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (absl::StripAsciiWhitespace(line).empty()) continue;
        if (!stream->SendRaw(line).ok()) return;
      }
      stream->CloseSend();
    }).detach();
  }
  std::string message;
  absl::Status s;
  while ((s = stream->RecvRaw(&message)).ok()) {
    std::printf("%s\n", message.c_str());
    std::fflush(stdout);
  }
  if (micro::IsEndOfStream(s)) return kOk;
  return PrintError(s);
}

std::string FileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A channel to a node for the health check: TLS when the node registered secure=true and TLS
// is configured, or when the node says nothing and TLS is configured (micro/tls.h).
std::shared_ptr<grpc::Channel> HealthChannel(const micro::registry::Node& n) {
  auto it = n.metadata.find("secure");
  bool secure = it != n.metadata.end() ? it->second == "true" : tls_options.client_enabled();
  if (!secure || !tls_options.client_enabled()) {
    return grpc::CreateChannel(n.address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions o;
  if (!tls_options.ca_file.empty()) o.pem_root_certs = FileText(tls_options.ca_file);
  if (!tls_options.cert_file.empty()) {
    o.pem_cert_chain = FileText(tls_options.cert_file);
    o.pem_private_key = FileText(tls_options.key_file);
  }
  grpc::ChannelArguments args;
  if (!tls_options.server_name.empty()) args.SetSslTargetNameOverride(tls_options.server_name);
  return grpc::CreateCustomChannel(n.address, grpc::SslCredentials(o), args);
}

int Health(micro::registry::Registry& r, const std::string& name,
           std::chrono::milliseconds timeout) {
  auto got = r.GetService(name);
  if (!got.ok()) return FromRegistry(got.status(), name);
  int bad = 0;
  for (const auto& s : *got) {
    for (const auto& n : s.nodes) {
      auto channel = HealthChannel(n);
      grpc::GenericStub stub(channel);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + timeout);
      grpc::Slice empty("");  // HealthCheckRequest{service: ""} encodes to no bytes
      grpc::ByteBuffer req(&empty, 1), rsp;
      std::promise<grpc::Status> done;
      stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &rsp,
                     [&](grpc::Status st) { done.set_value(st); });
      grpc::Status st = done.get_future().get();
      std::string status = "UNKNOWN";
      if (st.ok()) {
        std::vector<grpc::Slice> slices;
        (void)rsp.Dump(&slices);
        std::string bytes;
        for (auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
        // HealthCheckResponse{status = 1}: field 1, varint.
        int code = bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
        status = code == 1 ? "SERVING" : code == 2 ? "NOT_SERVING" : "UNKNOWN";
      } else {
        status = "UNREACHABLE (" + st.error_message() + ")";
      }
      if (status != "SERVING") ++bad;
      std::printf("%-44s %-22s %s\n", n.id.c_str(), n.address.c_str(), status.c_str());
    }
  }
  return bad == 0 ? kOk : kFailed;
}

int Watch(micro::registry::Registry& r, const std::string& name, int count) {
  auto w = r.Watch(micro::registry::WatchOptions{name});
  if (!w.ok()) return Fail(kFailed, w.status().message());
  for (int seen = 0; count <= 0 || seen < count; ++seen) {
    auto ev = (*w)->Next();
    if (!ev.ok()) return Fail(kFailed, ev.status().message());
    for (const auto& n : ev->service.nodes) {
      std::printf("%-7s %s %s %s %s\n", micro::registry::ActionName(ev->action),
                  ev->service.name.c_str(),
                  ev->service.version.empty() ? "-" : ev->service.version.c_str(), n.id.c_str(),
                  n.address.c_str());
    }
    std::fflush(stdout);
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::string registry, registry_address, metadata;
  std::chrono::milliseconds timeout{};
  bool json = false;
  int count = 0;
  micro::FlagSet flags("micro", "inspect and call the services of a registry");
  flags.String("registry", "MICRO_REGISTRY", "mdns",
               "registry: mdns, consul, etcd, or a full URI such as consul://host:8500", &registry);
  flags.String("registry_address", "MICRO_REGISTRY_ADDRESS", "", "registry addresses",
               &registry_address);
  flags.Duration("timeout", "MICRO_CLIENT_REQUEST_TIMEOUT", std::chrono::seconds(10),
                 "deadline of call and health", &timeout);
  flags.String("metadata", "", "", "call metadata, k=v[,k=v...]", &metadata);
  flags.Bool("json", "", false, "service: print JSON", &json);
  flags.Int("count", "", 0, "watch, subscribe: stop after this many events (0 = never)", &count);
  std::string broker, broker_address, queue;
  flags.String("broker", "MICRO_BROKER", "http",
               "publish/subscribe: broker, http, memory or a URI such as http://0.0.0.0:0",
               &broker);
  flags.String("broker_address", "MICRO_BROKER_ADDRESS", "", "broker address", &broker_address);
  flags.String("queue", "", "", "subscribe: the queue group to join", &queue);
  std::string dir;
  flags.String("dir", "", "", "new: the directory to write (default ./NAME)", &dir);
  micro::tls::Options& t = tls_options;
  flags.String("tls_ca", "MICRO_TLS_CA", "",
               "call and health over TLS: CA bundle (PEM) services' certificates are verified "
               "against",
               &t.ca_file);
  flags.String("tls_cert", "MICRO_TLS_CERT", "",
               "client certificate (PEM) for services that require one (mTLS)", &t.cert_file);
  flags.String("tls_key", "MICRO_TLS_KEY", "", "private key of --tls_cert (PEM)", &t.key_file);
  flags.String("tls_server_name", "MICRO_TLS_SERVER_NAME", "",
               "name services' certificates must carry (default: the node's host)", &t.server_name);
  flags.Bool("tls_allow_plaintext", "MICRO_TLS_ALLOW_PLAINTEXT", false,
             "with TLS on, still call services that register secure=false in plain text",
             &t.allow_plaintext);
  bool version = false;
  flags.Bool("version", "", false, "print the version and exit", &version);
  std::vector<std::string> args;
  bool help = false;
  absl::Status parsed = flags.Parse(argc, argv, &args, &help);
  if (!parsed.ok()) return Fail(kUsage, parsed.message());
  if (absl::Status s = micro::tls::Check(tls_options, micro::tls::Side::kClient); !s.ok()) {
    return Fail(kUsage, s.message());
  }
  if (version || (!args.empty() && args[0] == "version" && !help)) {
    std::printf("micro %s\n", micro::kVersion);
    return kOk;
  }
  const Command* cmd = nullptr;
  if (!args.empty()) {
    for (const Command& c : kCommands) {
      if (args[0] == c.name) cmd = &c;
    }
    if (cmd == nullptr && args[0] != "help") {
      return Fail(kUsage, absl::StrCat("unknown command \"", args[0], "\" (see micro --help)"));
    }
  }
  if (help || args.empty() || args[0] == "help") {
    if (cmd == nullptr && args.size() > 1) {
      for (const Command& c : kCommands) {
        if (args[1] == c.name) cmd = &c;
      }
    }
    if (cmd != nullptr) {
      std::printf("usage: micro [flags] %s %s\n\n%s\n", cmd->name, cmd->args, cmd->help);
    } else {
      Usage(flags);
    }
    return args.empty() && !help ? kUsage : kOk;
  }
  const std::string c = args[0];
  const bool call = c == "call" || c == "stream";
  const std::size_t want_min = c == "services" || c == "watch" ? 1 : call || c == "publish" ? 3 : 2;
  const std::size_t want_max = c == "services" ? 1 : call ? 4 : c == "publish" ? 3 : 2;
  if (args.size() < want_min || args.size() > want_max) {
    return Fail(kUsage, absl::StrCat("usage: micro ", cmd->name, " ", cmd->args));
  }
  if (c == "new") {
    const std::string& name = args[1];
    std::string where = dir.empty() ? name : dir;
    if (absl::Status s = micro::tools::WriteNewService(name, where); !s.ok()) {
      return Fail(absl::IsInvalidArgument(s) || absl::IsAlreadyExists(s) ? kUsage : kFailed,
                  s.message());
    }
    std::printf(
        "wrote the %s service to %s/\n\nbuild and run it:\n  cmake -S %s -B %s/build && cmake "
        "--build %s/build\n  %s/build/%s\n\ncall it:\n  micro call %s %s '{\"name\": \"John\"}'\n",
        name.c_str(), where.c_str(), where.c_str(), where.c_str(), where.c_str(), where.c_str(),
        name.c_str(), name.c_str(), (ServiceType(name) + ".Call").c_str());
    return kOk;
  }

  micro::RegisterBuiltinPlugins();
  absl::StatusOr<std::string> uri = micro::registry::RegistryUri(registry, registry_address);
  if (!uri.ok()) return Fail(kUsage, uri.status().message());
  auto made = micro::registry::NewRegistry(*uri);
  if (!made.ok()) return Fail(kUsage, made.status().message());
  std::shared_ptr<micro::registry::Registry> r(std::move(*made));
  if (c == "services") return Services(*r);
  if (c == "service") return Describe(*r, args[1], json);
  if (c == "call")
    return Call(r, args[1], args[2], args.size() > 3 ? args[3] : "{}", timeout, metadata);
  if (c == "stream") {
    // The process ends with the stream: exit at once, whatever the stdin thread is waiting for.
    std::fflush(stdout);
    std::_Exit(Stream(r, args[1], args[2], args.size() > 3 ? args[3] : "", metadata));
  }
  if (c == "health") return Health(*r, args[1], timeout);
  if (c == "publish" || c == "subscribe") {
    absl::StatusOr<std::string> b = micro::broker::BrokerUri(broker, broker_address);
    if (!b.ok()) return Fail(kUsage, b.status().message());
    micro::tools::BrokerCommand bc{*b, r, WithMetadata(metadata).metadata};
    if (c == "publish") return micro::tools::Publish(bc, args[1], args[2]);
    return micro::tools::Subscribe(bc, args[1], queue, count);
  }
  return Watch(*r, args.size() > 1 ? args[1] : "", count);
}
