#include "core/http.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/net.h"

namespace micro::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

}  // namespace

absl::StatusOr<HttpTarget> ParseHttpUrl(absl::string_view url, absl::string_view default_path) {
  absl::string_view rest = url;
  if (absl::StartsWith(rest, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\": https is not supported here; use http://host:port"));
  }
  if (absl::StartsWith(rest, "http://")) rest.remove_prefix(7);
  HttpTarget t;
  std::size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  t.path = slash == absl::string_view::npos ? std::string(default_path)
                                            : std::string(rest.substr(slash));
  if (absl::Status s = SplitHostPort(hostport, &t.host, &t.port);
      !s.ok() || t.port == 0 || t.host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not http://host:port[/path] with a host and a port"));
  }
  return t;
}

absl::StatusOr<int> HttpPost(const HttpTarget& target, absl::string_view content_type,
                             absl::string_view body, std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code failure;
  int status = 0;
  http::request<http::string_body> req{http::verb::post, target.path, 11};
  req.set(http::field::host, JoinHostPort(target.host, target.port));
  req.set(http::field::content_type, std::string(content_type));
  req.body() = std::string(body);
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  tcp::resolver resolver(io);
  stream.expires_after(timeout);
  resolver.async_resolve(
      target.host, std::to_string(target.port),
      [&](beast::error_code ec, tcp::resolver::results_type results) {
        if (ec) {
          failure = ec;
          return;
        }
        stream.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
          if (ec) {
            failure = ec;
            return;
          }
          http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
            if (ec) {
              failure = ec;
              return;
            }
            http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
              if (ec) {
                failure = ec;
                return;
              }
              status = static_cast<int>(parser.get().result_int());
            });
          });
        });
      });
  io.run_for(timeout + std::chrono::milliseconds(100));
  std::string where = absl::StrCat("http://", JoinHostPort(target.host, target.port), target.path);
  if (status != 0) return status;
  if (failure == beast::error::timeout || !failure) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": no answer within ", timeout.count(), " ms"));
  }
  return absl::UnavailableError(absl::StrCat(where, ": ", failure.message()));
}

class HttpServer::Impl {
 public:
  std::map<std::string, Handler> handlers;
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  std::string address;

  void Accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Connection>(this, std::move(socket))->Read();
      Accept();
    });
  }

  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(Impl* impl, tcp::socket socket) : impl(impl), stream(std::move(socket)) {}
    Impl* impl;
    beast::tcp_stream stream;
    beast::flat_buffer buffer{8192};
    std::unique_ptr<http::request_parser<http::string_body>> parser;
    http::response<http::string_body> rsp;

    void Read() {
      parser = std::make_unique<http::request_parser<http::string_body>>();
      parser->header_limit(8192);
      parser->body_limit(8192);
      stream.expires_after(std::chrono::seconds(30));
      http::async_read(
          stream, buffer, *parser,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
    }

    void OnRead(beast::error_code ec) {
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      rsp = {};
      rsp.version(11);
      bool keep = false;
      if (ec) {
        rsp.result(http::status::bad_request);
        rsp.body() = absl::StrCat("bad request: ", ec.message(), "\n");
      } else {
        const auto& req = parser->get();
        keep = req.keep_alive();
        std::string target(req.target());
        target = target.substr(0, target.find('?'));
        auto it = impl->handlers.find(target);
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
          rsp.result(http::status::method_not_allowed);
          rsp.set(http::field::allow, "GET, HEAD");
          rsp.body() = "only GET and HEAD\n";
        } else if (it == impl->handlers.end()) {
          rsp.result(http::status::not_found);
          rsp.body() = absl::StrCat("no ", target, " here\n");
        } else {
          Answer a = it->second();
          rsp.result(a.status);
          rsp.set(http::field::content_type, a.content_type);
          if (req.method() != http::verb::head) rsp.body() = std::move(a.body);
        }
      }
      if (rsp.find(http::field::content_type) == rsp.end())
        rsp.set(http::field::content_type, "text/plain; charset=utf-8");
      rsp.keep_alive(keep);
      rsp.prepare_payload();
      http::async_write(stream, rsp,
                        [self = shared_from_this(), keep](beast::error_code ec, std::size_t) {
                          if (!ec && keep) {
                            self->Read();
                            return;
                          }
                          beast::error_code ignored;
                          self->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
                        });
    }
  };
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {}
HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, Handler handler) {
  impl_->handlers[std::move(path)] = std::move(handler);
}

absl::Status HttpServer::Start(absl::string_view address) {
  std::string host;
  int port = 0;
  if (absl::Status s = SplitHostPort(address, &host, &port); !s.ok()) return s;
  if (IsUnspecified(host)) host = "0.0.0.0";
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty())
      return absl::InvalidArgumentError(absl::StrCat("cannot resolve \"", host, "\""));
    addr = results.begin()->endpoint().address();
  }
  auto acceptor = std::make_unique<tcp::acceptor>(impl_->io);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  impl_->address = JoinHostPort(host, acceptor->local_endpoint().port());
  impl_->acceptor = std::move(acceptor);
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
  impl_->acceptor.reset();
}

std::string HttpServer::address() const { return impl_->address; }

}  // namespace micro::internal
