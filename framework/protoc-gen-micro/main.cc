// protoc-gen-micro for C++: per proto service X in foo.proto, writes
// foo.micro.h/.cc beside foo.pb.h with
//   class XService   a client: XService(service name, client), one sync and
//                    one async method per RPC, calling endpoint "X.Method";
//   class XHandler   the interface a server implements;
//   RegisterXHandler(server, handler)  serves it on a micro::server::Server.
// Streaming RPCs get typed stream handles: a server-streaming method's client returns a
// ClientReader and its handler gets the request and a ServerWriter; client streaming is
// ClientWriter / ServerReader (+ the one response); bidirectional, ClientReaderWriter /
// ServerReaderWriter (micro/client/stream.h, micro/server/stream.h).
#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/compiler/plugin.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/printer.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <cstdio>
#include <cstring>
#include "micro/version.h"

#include <map>
#include <memory>
#include <string>

namespace {

namespace pb = google::protobuf;

std::string StripProto(const std::string& file) {
  for (const char* ext : {".protodevel", ".proto"}) {
    std::string e(ext);
    if (file.size() > e.size() && file.compare(file.size() - e.size(), e.size(), e) == 0) {
      return file.substr(0, file.size() - e.size());
    }
  }
  return file;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

std::string CppType(const pb::Descriptor* d) { return "::" + Replace(d->full_name(), ".", "::"); }

bool Unary(const pb::MethodDescriptor* m) {
  return !m->client_streaming() && !m->server_streaming();
}

// Template variables for one method: $svc$, $m$, $in$, $out$, and for streams $handle$ (the
// client's typed handle) and $kind$.
std::map<std::string, std::string> MethodVars(const pb::MethodDescriptor* md) {
  std::string in = CppType(md->input_type()), out = CppType(md->output_type());
  std::string handle, kind;
  if (md->client_streaming() && md->server_streaming()) {
    handle = "::micro::client::ClientReaderWriter<" + in + ", " + out + ">";
    kind = "bidirectional streaming";
  } else if (md->client_streaming()) {
    handle = "::micro::client::ClientWriter<" + in + ", " + out + ">";
    kind = "client streaming: send the requests, then CloseAndRecv the response";
  } else {
    handle = "::micro::client::ClientReader<" + out + ">";
    kind = "server streaming: the request goes with the opening; Recv the responses";
  }
  return {{"svc", md->service()->name()},
          {"m", md->name()},
          {"in", in},
          {"out", out},
          {"handle", handle},
          {"kind", kind}};
}

// The client's declarations for a streaming method.
void StreamClientDecl(const pb::MethodDescriptor* md, pb::io::Printer* p) {
  std::string req = md->client_streaming() ? "" : "const $in$& request, ";
  std::string fwd = md->client_streaming() ? "" : "request, ";
  p->Print(
      MethodVars(md),
      ("  // $m$: $kind$.\n"
       "  absl::StatusOr<$handle$> $m$(" +
       req +
       "const ::micro::client::CallOptions& options = {}) const;\n"
       "  // Opens without waiting for the registry; `done` runs on a client thread or at once.\n"
       "  void $m$Async(" +
       req +
       "std::function<void(absl::StatusOr<$handle$>)> done,\n"
       "      const ::micro::client::CallOptions& options = {}) const;\n"
       "  absl::StatusOr<$handle$> $m$(const ::micro::server::Context& ctx, " +
       req +
       "\n      const ::micro::client::CallOptions& options = {}) const {\n"
       "    return $m$(" +
       fwd + "::micro::client::FromContext(ctx, options));\n  }\n\n")
          .c_str());
}

// The client's definitions for a streaming method.
void StreamClientDef(const pb::MethodDescriptor* md, pb::io::Printer* p) {
  bool one = !md->client_streaming();  // the request goes with the opening
  std::string send = one ? "  if (absl::Status s = (*stream)->Send(request); !s.ok()) return s;\n"
                           "  (*stream)->CloseSend();\n"
                         : "";
  std::string send_async = one ? "        (*stream)->SendAsync(*request, [](absl::Status) {});\n"
                                 "        (*stream)->CloseSend();\n"
                               : "";
  std::string req = one ? "const $in$& request, " : "";
  p->Print(MethodVars(md),
           ("absl::StatusOr<$handle$> $svc$Service::$m$(" + req +
            "\n    const ::micro::client::CallOptions& options) const {\n"
            "  auto stream = client_->OpenStream(name_, \"$svc$.$m$\", options);\n"
            "  if (!stream.ok()) return stream.status();\n" +
            send +
            "  return $handle$(std::move(*stream));\n}\n\n"
            "void $svc$Service::$m$Async(" +
            req +
            "\n    std::function<void(absl::StatusOr<$handle$>)> done,\n"
            "    const ::micro::client::CallOptions& options) const {\n" +
            (one ? "  auto request_copy = std::make_shared<$in$>(request);\n" : "") +
            "  client_->OpenStreamAsync(name_, \"$svc$.$m$\",\n"
            "      [" +
            (one ? "request = request_copy, " : "") +
            "done = std::move(done)](\n"
            "          absl::StatusOr<std::unique_ptr<::micro::client::Stream>> stream) {\n"
            "        if (!stream.ok()) {\n          done(stream.status());\n          return;\n"
            "        }\n" +
            send_async +
            "        done($handle$(std::move(*stream)));\n"
            "      }, options);\n}\n\n")
               .c_str());
}

// The handler's declaration for a streaming method.
void StreamHandlerDecl(const pb::MethodDescriptor* md, pb::io::Printer* p) {
  if (md->client_streaming() && md->server_streaming()) {
    p->Print(MethodVars(md),
             "  virtual absl::Status $m$(::micro::server::Context& ctx,\n"
             "      ::micro::server::ServerReaderWriter<$in$, $out$>& stream) {\n"
             "    return ::micro::errors::NotImplemented(ctx.service, \"$svc$.$m$ is not "
             "implemented\");\n"
             "  }\n");
  } else if (md->client_streaming()) {
    p->Print(MethodVars(md),
             "  // Recv until micro::IsEndOfStream; `response` is sent when this returns OK.\n"
             "  virtual absl::Status $m$(::micro::server::Context& ctx,\n"
             "      ::micro::server::ServerReader<$in$>& stream, $out$* response) {\n"
             "    return ::micro::errors::NotImplemented(ctx.service, \"$svc$.$m$ is not "
             "implemented\");\n"
             "  }\n");
  } else {
    p->Print(MethodVars(md),
             "  virtual absl::Status $m$(::micro::server::Context& ctx, const $in$& request,\n"
             "      ::micro::server::ServerWriter<$out$>& stream) {\n"
             "    return ::micro::errors::NotImplemented(ctx.service, \"$svc$.$m$ is not "
             "implemented\");\n"
             "  }\n");
  }
}

// The registration of a streaming method: glue from ServerStream to the typed handler.
void StreamRegister(const pb::MethodDescriptor* md, pb::io::Printer* p) {
  std::string body;
  if (md->client_streaming() && md->server_streaming()) {
    body =
        "        ::micro::server::ServerReaderWriter<$in$, $out$> typed(stream);\n"
        "        return handler->$m$(ctx, typed);\n";
  } else if (md->client_streaming()) {
    body =
        "        ::micro::server::ServerReader<$in$> typed(stream);\n"
        "        $out$ response;\n"
        "        absl::Status s = handler->$m$(ctx, typed, &response);\n"
        "        if (!s.ok()) return s;\n"
        "        return stream.Send(response);\n";
  } else {
    body =
        "        $in$ request;\n"
        "        absl::Status s = stream.Recv(&request);\n"
        "        if (::micro::IsEndOfStream(s))\n"
        "          return ::micro::errors::BadRequest(ctx.service, \"$svc$.$m$: no request\");\n"
        "        if (!s.ok()) return s;\n"
        "        ::micro::server::ServerWriter<$out$> typed(stream);\n"
        "        return handler->$m$(ctx, request, typed);\n";
  }
  p->Print(
      MethodVars(md),
      ("  methods.push_back(::micro::server::Method{\n"
       "      d->FindMethodByName(\"$m$\"), &$in$::default_instance(), "
       "&$out$::default_instance(), nullptr,\n"
       "      [handler](::micro::server::Context& ctx, ::micro::server::ServerStream& stream)\n"
       "          -> absl::Status {\n" +
       body + "      }});\n")
          .c_str());
}

class Generator : public pb::compiler::CodeGenerator {
 public:
  bool Generate(const pb::FileDescriptor* file, const std::string& parameter,
                pb::compiler::GeneratorContext* context, std::string* error) const override {
    std::string base = StripProto(file->name());
    std::string ns = Replace(file->package(), ".", "::");
    {
      std::unique_ptr<pb::io::ZeroCopyOutputStream> out(context->Open(base + ".micro.h"));
      pb::io::Printer p(out.get(), '$');
      Header(file, base, ns, &p);
    }
    {
      std::unique_ptr<pb::io::ZeroCopyOutputStream> out(context->Open(base + ".micro.cc"));
      pb::io::Printer p(out.get(), '$');
      Source(file, base, ns, &p);
    }
    return true;
  }

 private:
  static void OpenNs(const std::string& ns, pb::io::Printer* p) {
    if (!ns.empty()) p->Print("namespace $ns$ {\n\n", "ns", ns);
  }
  static void CloseNs(const std::string& ns, pb::io::Printer* p) {
    if (!ns.empty()) p->Print("}  // namespace $ns$\n", "ns", ns);
  }

  void Header(const pb::FileDescriptor* file, const std::string& base, const std::string& ns,
              pb::io::Printer* p) const {
    p->Print(
        "// Generated by protoc-gen-micro from $file$. Do not edit.\n"
        "#pragma once\n\n"
        "#include <functional>\n#include <memory>\n#include <string>\n\n"
        "#include \"$base$.pb.h\"\n"
        "#include \"absl/status/status.h\"\n#include \"absl/status/statusor.h\"\n"
        "#include \"micro/client/client.h\"\n#include \"micro/errors.h\"\n"
        "#include \"micro/server/server.h\"\n\n",
        "file", file->name(), "base", base);
    OpenNs(ns, p);
    for (int i = 0; i < file->service_count(); ++i) {
      const pb::ServiceDescriptor* s = file->service(i);
      std::map<std::string, std::string> v{{"svc", s->name()}};
      p->Print(v,
               "// Client of service $svc$: calls endpoint \"$svc$.<Method>\" of the service "
               "registered\n"
               "// under the name given (go-micro's New$svc$Service). Thread-safe.\n"
               "class $svc$Service {\n public:\n"
               "  $svc$Service(std::string name, std::shared_ptr<::micro::client::Client> client)\n"
               "      : name_(std::move(name)), client_(std::move(client)) {}\n\n");
      for (int m = 0; m < s->method_count(); ++m) {
        const pb::MethodDescriptor* md = s->method(m);
        if (!Unary(md)) {
          StreamClientDecl(md, p);
          continue;
        }
        std::map<std::string, std::string> mv = MethodVars(md);
        p->Print(
            mv,
            "  absl::Status $m$(const $in$& request, $out$* response,\n"
            "      const ::micro::client::CallOptions& options = {}) const;\n"
            "  absl::StatusOr<$out$> $m$(const $in$& request,\n"
            "      const ::micro::client::CallOptions& options = {}) const;\n"
            "  // `done` runs on a client thread once the call ends.\n"
            "  void $m$Async(const $in$& request,\n"
            "      std::function<void(absl::StatusOr<$out$>)> done,\n"
            "      const ::micro::client::CallOptions& options = {}) const;\n"
            "  // From a handler: the call inherits ctx's deadline, metadata, cancellation and "
            "trace.\n"
            "  absl::Status $m$(const ::micro::server::Context& ctx, const $in$& request,\n"
            "      $out$* response, const ::micro::client::CallOptions& options = {}) const {\n"
            "    return $m$(request, response, ::micro::client::FromContext(ctx, options));\n"
            "  }\n"
            "  absl::StatusOr<$out$> $m$(const ::micro::server::Context& ctx,\n"
            "      const $in$& request, const ::micro::client::CallOptions& options = {}) "
            "const {\n"
            "    return $m$(request, ::micro::client::FromContext(ctx, options));\n"
            "  }\n"
            "  void $m$Async(const ::micro::server::Context& ctx, const $in$& request,\n"
            "      std::function<void(absl::StatusOr<$out$>)> done,\n"
            "      const ::micro::client::CallOptions& options = {}) const {\n"
            "    $m$Async(request, std::move(done), ::micro::client::FromContext(ctx, "
            "options));\n"
            "  }\n\n");
      }
      p->Print(v,
               " private:\n  std::string name_;\n  std::shared_ptr<::micro::client::Client> "
               "client_;\n};\n\n"
               "// Implement this to serve $svc$; methods are called on handler threads, "
               "concurrently.\n");
      bool streams = false;
      for (int m = 0; m < s->method_count(); ++m) streams = streams || !Unary(s->method(m));
      if (streams) {
        p->Print(
            "// Streaming methods answer go-micro's 501 until overridden (each open stream holds "
            "a\n"
            "// thread of its own while its method runs).\n");
      }
      p->Print(v, "class $svc$Handler {\n public:\n  virtual ~$svc$Handler() = default;\n");
      for (int m = 0; m < s->method_count(); ++m) {
        const pb::MethodDescriptor* md = s->method(m);
        if (!Unary(md)) {
          StreamHandlerDecl(md, p);
          continue;
        }
        p->Print(MethodVars(md),
                 "  virtual absl::Status $m$(::micro::server::Context& ctx, const $in$& request,\n"
                 "                           $out$* response) = 0;\n");
      }
      p->Print(
          v,
          "};\n\n"
          "// Serves `handler` as endpoints \"$svc$.<Method>\" of `server`; call before Start().\n"
          "absl::Status Register$svc$Handler(::micro::server::Server& server,\n"
          "                                  std::shared_ptr<$svc$Handler> handler);\n\n");
    }
    CloseNs(ns, p);
  }

  void Source(const pb::FileDescriptor* file, const std::string& base, const std::string& ns,
              pb::io::Printer* p) const {
    p->Print(
        "// Generated by protoc-gen-micro from $file$. Do not edit.\n"
        "#include \"$base$.micro.h\"\n\n#include <utility>\n#include <vector>\n\n"
        "#include \"micro/errors.h\"\n#include \"micro/stream.h\"\n\n",
        "file", file->name(), "base", base);
    OpenNs(ns, p);
    for (int i = 0; i < file->service_count(); ++i) {
      const pb::ServiceDescriptor* s = file->service(i);
      for (int m = 0; m < s->method_count(); ++m) {
        const pb::MethodDescriptor* md = s->method(m);
        if (!Unary(md)) {
          StreamClientDef(md, p);
          continue;
        }
        std::map<std::string, std::string> mv = MethodVars(md);
        p->Print(
            mv,
            "absl::Status $svc$Service::$m$(const $in$& request, $out$* response,\n"
            "    const ::micro::client::CallOptions& options) const {\n"
            "  return client_->Call(name_, \"$svc$.$m$\", request, response, options);\n}\n\n"
            "absl::StatusOr<$out$> $svc$Service::$m$(const $in$& request,\n"
            "    const ::micro::client::CallOptions& options) const {\n"
            "  $out$ response;\n"
            "  absl::Status s = client_->Call(name_, \"$svc$.$m$\", request, &response, options);\n"
            "  if (!s.ok()) return s;\n  return response;\n}\n\n"
            "void $svc$Service::$m$Async(const $in$& request,\n"
            "    std::function<void(absl::StatusOr<$out$>)> done,\n"
            "    const ::micro::client::CallOptions& options) const {\n"
            "  auto response = std::make_shared<$out$>();\n"
            "  client_->CallAsync(name_, \"$svc$.$m$\", request, response.get(),\n"
            "      [response, done = std::move(done)](absl::Status s) {\n"
            "        if (s.ok()) {\n          done(std::move(*response));\n        } else {\n"
            "          done(std::move(s));\n        }\n      }, options);\n}\n\n");
      }
      p->Print(
          "absl::Status Register$svc$Handler(::micro::server::Server& server,\n"
          "                                  std::shared_ptr<$svc$Handler> handler) {\n"
          "  const ::google::protobuf::ServiceDescriptor* d =\n"
          "      "
          "::google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(\"$full$\");\n"
          "  if (d == nullptr) return absl::InternalError(\"no descriptor for service $full$\");\n"
          "  std::vector<::micro::server::Method> methods;\n",
          "svc", s->name(), "full", s->full_name());
      for (int m = 0; m < s->method_count(); ++m) {
        const pb::MethodDescriptor* md = s->method(m);
        if (!Unary(md)) {
          StreamRegister(md, p);
          continue;
        }
        p->Print(MethodVars(md),
                 "  methods.push_back(::micro::server::Method{\n"
                 "      d->FindMethodByName(\"$m$\"), &$in$::default_instance(), "
                 "&$out$::default_instance(),\n"
                 "      [handler](::micro::server::Context& ctx, const "
                 "::google::protobuf::Message& in,\n"
                 "                ::google::protobuf::Message* out) {\n"
                 "        return handler->$m$(ctx, static_cast<const $in$&>(in), "
                 "static_cast<$out$*>(out));\n"
                 "      }});\n");
      }
      p->Print("  return server.Handle(std::move(methods));\n}\n\n");
    }
    CloseNs(ns, p);
  }
};

}  // namespace

int main(int argc, char* argv[]) {
  // protoc runs plugins without arguments; a person may ask which one this is.
  if (argc == 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-v") == 0)) {
    std::printf("protoc-gen-micro %s\n", MICRO_VERSION);
    return 0;
  }
  Generator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
