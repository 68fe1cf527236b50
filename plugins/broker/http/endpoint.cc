#include "endpoint.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "micro/errors.h"
#include "micro/log.h"
#include "micro/plugin/net.h"
#include "micro/plugin/query.h"

namespace micro::httpbroker {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Answer Fail(int status, std::string detail) {
  Error e;
  e.id = "go.micro.broker";
  e.code = status;
  e.detail = std::move(detail);
  e.status = std::string(http::obsolete_reason(static_cast<http::status>(status)));
  return {status, e.ToJson()};
}

// The value of `key` in the query of `target` ("/?id=x&y=z"), percent-decoded.
std::string QueryValue(absl::string_view target, absl::string_view key) {
  std::size_t q = target.find('?');
  if (q == absl::string_view::npos) return "";
  auto pairs = plugin::ParseQuery(target.substr(q + 1));
  if (!pairs.ok()) return "";
  for (const plugin::QueryPair& p : *pairs) {
    if (p.key == key) return p.value;
  }
  return "";
}

}  // namespace

Answer Handle(absl::string_view method, absl::string_view target, absl::string_view body,
              const Endpoint::Deliver& deliver) {
  if (method != "POST") return Fail(405, "Method not allowed");
  absl::StatusOr<broker::Message> message = broker::DecodeMessage(body);
  if (!message.ok())
    return Fail(400, absl::StrCat("Error parsing request body: ", message.status().message()));
  auto topic = message->header.find(broker::kHeaderTopic);
  if (topic == message->header.end() || topic->second.empty())
    return Fail(400, "Topic not found: the message has no Micro-Topic header");
  std::string id = QueryValue(target, "id");
  if (id.empty()) return Fail(400, "no subscriber id: POST /?id=<subscriber node id>");
  absl::Status s = deliver(id, *std::move(message));
  if (s.ok()) return {200, ""};
  if (absl::IsNotFound(s)) return Fail(404, std::string(s.message()));
  if (absl::IsResourceExhausted(s)) return Fail(503, std::string(s.message()));
  return Fail(500, std::string(s.message()));
}

class Endpoint::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(std::size_t max_body, Deliver deliver) : max_body_(max_body), deliver_(std::move(deliver)) {}

  absl::Status Start(absl::string_view address) {
    std::string host;
    int port = 0;
    if (absl::Status s = plugin::SplitHostPort(address, &host, &port); !s.ok()) return s;
    std::string bind_host = host.empty() || host == "::" ? "0.0.0.0" : host;
    beast::error_code ec;
    auto addr = asio::ip::make_address(bind_host, ec);
    if (ec) {
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(bind_host, std::to_string(port), ec);
      if (ec || results.empty())
        return absl::InvalidArgumentError(absl::StrCat("cannot resolve \"", host, "\""));
      addr = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return absl::UnavailableError(
          absl::StrCat("http broker: cannot listen on ", address, ": ", ec.message()));
    }
    address_ = plugin::JoinHostPort(host, acceptor_.local_endpoint().port());
    Accept();
    thread_ = std::thread([self = shared_from_this()] { self->io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

  std::string address() const { return address_; }

 private:
  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(Impl* impl, tcp::socket socket) : impl(impl), stream(std::move(socket)) {}
    Impl* impl;
    beast::tcp_stream stream;
    beast::flat_buffer buffer{8192};
    std::optional<http::request_parser<http::string_body>> parser;
    http::response<http::string_body> rsp;
    std::vector<char> scratch;
    std::size_t drained = 0;

    void Read() {
      parser.emplace();
      parser->header_limit(16 * 1024);
      parser->body_limit(impl->max_body_);
      // A publisher keeps its connection for the next message: idle ones go after a minute.
      stream.expires_after(std::chrono::seconds(60));
      http::async_read(
          stream, buffer, *parser,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
    }

    void OnRead(beast::error_code ec) {
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == asio::error::eof) {
        return Close();
      }
      Answer a;
      bool keep = false;
      if (ec == http::error::body_limit) {
        a = Fail(413, absl::StrCat("message larger than the ", impl->max_body_,
                                   " bytes this subscriber takes"));
      } else if (ec) {
        a = Fail(400, absl::StrCat("bad request: ", ec.message()));
      } else {
        const auto& req = parser->get();
        keep = req.keep_alive();
        a = Handle(std::string(req.method_string()), std::string(req.target()), req.body(),
                   impl->deliver_);
      }
      rsp = {};
      rsp.version(11);
      rsp.result(a.status);
      if (a.status == 405) rsp.set(http::field::allow, "POST");
      if (!a.body.empty()) rsp.set(http::field::content_type, "application/json");
      rsp.body() = std::move(a.body);
      rsp.keep_alive(keep);
      rsp.prepare_payload();
      stream.expires_after(std::chrono::seconds(30));
      const bool drain = ec == http::error::body_limit;
      http::async_write(
          stream, rsp, [self = shared_from_this(), keep, drain](beast::error_code ec, std::size_t) {
            if (!ec && keep) return self->Read();
            if (!ec && drain) return self->Drain();
            self->Close();
          });
    }

    // After a 413 the publisher may still be sending: closing with its bytes unread would reset
    // the connection before it reads the answer. Say we are done and read what comes (bounded:
    // twice the limit, 5 s), then close.
    void Drain() {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream.expires_after(std::chrono::seconds(5));
      scratch.resize(64 * 1024);
      DrainSome();
    }

    void DrainSome() {
      stream.async_read_some(asio::buffer(scratch),
                             [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                               self->drained += n;
                               if (ec || self->drained > 2 * self->impl->max_body_) {
                                 return self->Close();
                               }
                               self->DrainSome();
                             });
    }

    void Close() {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.socket().close(ignored);
    }
  };

  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        accept_failing_ = false;
        std::make_shared<Connection>(this, std::move(socket))->Read();
        return Accept();
      }
      // Out of descriptors: try again shortly rather than spin; one line per episode.
      if (!accept_failing_) log::Warn(absl::StrCat("http broker: accept: ", ec.message()));
      accept_failing_ = true;
      pause_.expires_after(std::chrono::milliseconds(100));
      pause_.async_wait([this](beast::error_code e) {
        if (!e) Accept();
      });
    });
  }

  const std::size_t max_body_;
  const Deliver deliver_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  asio::steady_timer pause_{io_};
  bool accept_failing_ = false;
  std::thread thread_;
  std::string address_;
};

Endpoint::Endpoint(std::size_t max_body, Deliver deliver)
    : impl_(std::make_shared<Impl>(max_body, std::move(deliver))) {}
Endpoint::~Endpoint() { Stop(); }
absl::Status Endpoint::Start(absl::string_view address) { return impl_->Start(address); }
void Endpoint::Stop() { impl_->Stop(); }
std::string Endpoint::address() const { return impl_->address(); }

}  // namespace micro::httpbroker
