#include "gateway.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/tls_config.h"
#include "limiter.h"
#include "metrics.h"
#include "micro/errors.h"
#include "micro/log.h"
#include "micro/metrics.h"
#include "micro/plugin/net.h"
#include "micro/trace.h"
#include "request.h"
#include "websocket.h"

namespace micro::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr char kCorsMethods[] = "POST, PATCH, GET, OPTIONS, PUT, DELETE";
constexpr char kCorsHeaders[] =
    "Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization";

std::string ErrorJson(int code, absl::string_view detail) {
  Error e;
  e.id = kErrorId;
  e.code = code;
  e.detail = std::string(detail);
  e.status = errors::HttpStatusText(code);
  return e.ToJson();
}

}  // namespace

struct Gateway::Impl : std::enable_shared_from_this<Gateway::Impl> {
  Impl(GatewayOptions o, std::shared_ptr<client::Client> c)
      : options(std::move(o)),
        client(std::move(c)),
        io(std::max(1, options.threads)),
        acceptor(io),
        admin_acceptor(io),
        accept_pause(io),
        admin_pause(io) {
    if (options.rate_limit > 0) {
      limiter = std::make_unique<RateLimiter>(
          options.rate_limit, options.rate_burst > 0 ? options.rate_burst : options.rate_limit);
    }
    if (options.tls.server_enabled())
      ssl = std::make_unique<internal::SslContexts>(options.tls, tls::Side::kServer);
  }

  void Accept();
  void AcceptAdmin();
  void Accepted(tcp::socket socket, bool admin);
  void Refuse(tcp::socket socket);

  GatewayOptions options;
  std::shared_ptr<client::Client> client;
  asio::io_context io;
  tcp::acceptor acceptor;
  tcp::acceptor admin_acceptor;  // open when options.admin_address is set
  int admin_port = 0;
  std::unique_ptr<RateLimiter> limiter;        // null: no rate limit
  std::unique_ptr<internal::SslContexts> ssl;  // null: plain HTTP
  std::vector<std::thread> threads;
  Metrics metrics;
  std::atomic<bool> draining{false};
  int port = 0;
  std::atomic<std::size_t> connections{0};
  // Accept errors (EMFILE: out of descriptors) pause accepting instead of
  // spinning; one log line per episode. Touched by the one pending accept only.
  asio::steady_timer accept_pause;
  asio::steady_timer admin_pause;  // the admin listener's
  std::chrono::milliseconds accept_backoff{0};
  std::uint64_t accept_errors = 0;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `admin`: the admin listener's connection (/metrics and /health only). `ssl`: HTTPS.
  Session(tcp::socket socket, Gateway::Impl* gw, bool admin,
          std::shared_ptr<asio::ssl::context> ssl)
      : stream_(std::move(socket)),
        timer_(stream_.get_executor()),
        gw_(gw),
        admin_(admin),
        ssl_context_(std::move(ssl)) {
    gw_->connections.fetch_add(1, std::memory_order_relaxed);
    if (ssl_context_ != nullptr) tls_.emplace(stream_, *ssl_context_);
    if (gw_->limiter != nullptr || log::Enabled(log::Level::kDebug)) {  // who uses client_
      beast::error_code ec;
      auto remote = stream_.socket().remote_endpoint(ec);
      if (!ec) client_ = remote.address().to_string();
    }
  }
  ~Session() { gw_->connections.fetch_sub(1, std::memory_order_relaxed); }

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->tls_) return self->Read();
      self->Deadline(self->options().read_timeout);
      self->tls_->async_handshake(asio::ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) {
          if (log::Enabled(log::Level::kDebug)) {
            log::Debug(absl::StrCat("api gateway: TLS handshake with ", self->client_, ": ",
                                    internal::SslErrorText(self->tls_->native_handle(), ec)));
          }
          return self->Close();
        }
        self->Read();
      });
    });
  }

 private:
  const GatewayOptions& options() const { return gw_->options; }

  // Runs `op` on the connection's stream: the TLS one for HTTPS, else the TCP one.
  template <typename Op>
  void OnStream(Op op) {
    if (tls_) {
      op(*tls_);
    } else {
      op(stream_);
    }
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header));
    parser_->body_limit(options().max_body);
    // A kept-alive connection may wait idle; a request that has begun must come in whole.
    Deadline(served_ == 0 ? options().read_timeout : options().idle_timeout);
    OnStream([&](auto& s) {
      http::async_read_header(
          s, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
    });
  }

  // A failed read: answer when the client deserves an answer, then close.
  void ReadFailed(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset ||
        (ec == asio::error::operation_aborted && !timed_out_)) {
      return Close();
    }
    route_ = "invalid";
    if (ec == asio::error::operation_aborted && timed_out_) {
      if (buffer_.size() == 0 && !parser_->got_some()) return Close();  // idle keep-alive
      return Fail(408, "the request did not arrive in time");
    }
    if (ec == http::error::header_limit) {
      return Fail(431,
                  absl::StrCat("request headers are larger than ", options().max_header, " bytes"));
    }
    if (ec == http::error::body_limit) {
      return Fail(413, absl::StrCat("request body is larger than ", options().max_body, " bytes"));
    }
    Fail(400, absl::StrCat("malformed HTTP request: ", ec.message()));
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return ReadFailed(ec);
    if (parser_->content_length() && *parser_->content_length() > options().max_body) {
      return ReadFailed(http::error::body_limit);  // Beast 1.74 may not, see http_client.cc
    }
    Deadline(options().read_timeout);
    auto& req = parser_->get();
    if (!parser_->is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      OnStream([&](auto& s) {
        http::async_write(s, *cont,
                          [self = shared_from_this(), cont](beast::error_code e, std::size_t) {
                            if (e) return self->Close();
                            self->ReadBody();
                          });
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return Handle();
    OnStream([&](auto& s) {
      http::async_read(s, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return self->ReadFailed(ec);
                         self->Handle();
                       });
    });
  }

  void Handle() {
    http::request<http::string_body> req = parser_->release();
    const bool upgrade = websocket::is_upgrade(req) && !admin_;
    http::request<http::string_body> upgrade_req;
    if (upgrade) upgrade_req = req;  // the handshake answers it
    start_ = Clock::now();
    gw_->metrics.Begin();
    counted_ = true;
    keep_alive_ = req.keep_alive();
    origin_ = std::string(req[http::field::origin]);
    timer_.cancel();  // the call has its own deadline
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    const std::string method(req.method_string());
    if (method == "OPTIONS" && options().cors) {
      route_ = "preflight";
      return Send(204, "", "");
    }
    if (path == "/health") {
      route_ = "/health";
      bool up = !gw_->draining.load();
      return Send(up ? 200 : 503, up ? R"({"status":"ok"})" : R"({"status":"draining"})");
    }
    if (admin_) {
      if (path == "/metrics") {
        route_ = "/metrics";
        // The gateway's HTTP side, then its client's calls by target service and its tracer.
        return Send(200, gw_->metrics.Text() + micro::metrics::Text(), "text/plain; version=0.0.4");
      }
      route_ = "unmatched";
      return Fail(404, "the admin address serves /metrics and /health only");
    }
    if (path == "/metrics") {
      route_ = "unmatched";
      return SendError(errors::NotFound(kErrorId, "/metrics is served on the admin address"));
    }
    if (gw_->limiter != nullptr) {
      if (int wait = gw_->limiter->Take(client_); wait > 0) {
        route_ = "limited";
        retry_after_ = wait;
        return SendError(errors::New(
            kErrorId, absl::StrCat("too many requests from ", client_, "; retry in ", wait, " s"),
            429));
      }
    }
    beast::string_view rid = req["X-Request-Id"];
    request_id_ = RequestId(absl::string_view(rid.data(), rid.size()));
    HttpRequest in;
    in.method = method;
    in.target = std::move(target);
    for (const auto& field : req) {
      in.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    in.body = std::move(req.body());
    absl::StatusOr<Call> call = PlanCall(in, options().policy);
    if (!call.ok()) {
      route_ = "unmatched";
      return SendError(call.status());
    }
    route_ = absl::StrCat(call->route.service, " ", call->route.endpoint);
    service_ = call->route.service;
    client::CallOptions co = CallOptionsFor(&*call, request_id_);
    if (upgrade) {  // a WebSocket: the call is a stream, for as long as the socket lives
      auto finished = [self = shared_from_this()](int c) { self->EndCount(c); };
      OnStream([&](auto& s) {
        StartBridge(s, shared_from_this(), gw_->shared_from_this(), gw_->io, gw_->client,
                    std::move(upgrade_req), std::move(*call), std::move(co), std::move(finished));
      });
      return;
    }
    co.timeout = options().request_timeout;
    // The callback runs on a gRPC thread: it only posts the answer to this
    // connection's strand. `keep` holds the gateway's io_context alive for it.
    auto keep = gw_->shared_from_this();
    gw_->client->CallRawAsync(
        call->route.service, call->route.endpoint, std::move(call->body),
        [self = shared_from_this(), keep](absl::StatusOr<std::string> r) {
          asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
            if (r.ok()) {
              self->Send(200, std::move(*r));
            } else {
              self->SendError(r.status());
            }
          });
        },
        co);
  }

  void EndCount(int code) { gw_->metrics.End(route_, code, Clock::now() - start_); }

  void SendError(const absl::Status& status) {
    Error e = errors::FromStatus(status, kErrorId);
    const bool timed_out = status.code() == absl::StatusCode::kDeadlineExceeded ||
                           (e.code == 408 && e.id == "go.micro.client");
    // The server ends the call when the deadline we sent runs out, and gRPC
    // servers measure it from a cached clock that can run a few ms ahead of
    // ours: an answer that close to our deadline is our timeout too.
    const Clock::duration slack =
        std::min<Clock::duration>(std::chrono::milliseconds(25), options().request_timeout / 10);
    if (timed_out && Clock::now() - start_ + slack >= options().request_timeout) {
      e = Error{kErrorId, 504,
                absl::StrCat(service_, " did not answer within ", options().request_timeout.count(),
                             " ms"),
                errors::HttpStatusText(504)};
    }
    int code = e.code >= 400 && e.code <= 599 ? e.code : 500;
    Send(code, e.ToJson());
  }

  void Fail(int code, absl::string_view detail) {
    if (!counted_) {
      start_ = Clock::now();
      gw_->metrics.Begin();
      counted_ = true;
    }
    keep_alive_ = false;
    Send(code, ErrorJson(code, detail));
  }

  void Send(int status, std::string body, std::string type = "application/json") {
    auto res =
        std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
    res->set(http::field::server, "micro-cpp-api");
    if (!request_id_.empty()) res->set("X-Request-Id", request_id_);
    request_id_.clear();
    if (retry_after_ > 0) res->set(http::field::retry_after, std::to_string(retry_after_));
    retry_after_ = 0;
    if (!type.empty()) res->set(http::field::content_type, type);
    if (options().cors) AddCors(*res);
    res->keep_alive(keep_alive_ && !gw_->draining.load());
    res->body() = std::move(body);
    res->prepare_payload();
    if (counted_) {
      gw_->metrics.End(route_, status, Clock::now() - start_);
      counted_ = false;
    }
    ++served_;
    Deadline(options().read_timeout);  // a client too slow to read its answer
    OnStream([&](auto& s) {
      http::async_write(s, *res,
                        [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                          if (ec) return self->Close();
                          if (!res->keep_alive()) return self->Linger();
                          self->Read();
                        });
    });
  }

  void AddCors(http::response<http::string_body>& res) const {
    const auto& allowed = options().cors_origins;
    bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
    bool listed = std::find(allowed.begin(), allowed.end(), origin_) != allowed.end();
    if (!any && !listed) return;
    res.set(http::field::access_control_allow_origin, origin_.empty() ? "*" : origin_);
    res.set(http::field::access_control_allow_credentials, "true");
    res.set(http::field::access_control_allow_methods, kCorsMethods);
    res.set(http::field::access_control_allow_headers, kCorsHeaders);
  }

  // After a last answer: stop sending, read and drop what the client still
  // sends for a moment (closing on unread data would reset the connection and
  // could destroy the answer before the client reads it), then close.
  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    Deadline(std::chrono::seconds(2));
    scratch_.resize(16384);
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code e, std::size_t n) {
                              self->drained_ += n;
                              if (e || self->drained_ > (4u << 20)) return self->Close();
                              self->Linger();
                            });
  }

  // Our own timer rather than tcp_stream's expiry: that one closes the socket,
  // and a request that timed out still deserves its 408. On expiry the
  // pending operation is cancelled and fails with operation_aborted.
  void Deadline(std::chrono::steady_clock::duration d) {
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // re-armed or cancelled
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void Close() {
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  Gateway::Impl* gw_;
  const bool admin_;
  std::shared_ptr<asio::ssl::context> ssl_context_;           // kept while tls_ lives
  std::optional<asio::ssl::stream<beast::tcp_stream&>> tls_;  // over stream_, for HTTPS
  std::string client_;   // the remote address, the rate limit's key
  int retry_after_ = 0;  // seconds, for the next answer
  bool timed_out_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::vector<char> scratch_;
  std::size_t drained_ = 0;
  Clock::time_point start_;
  std::string route_, service_, origin_;
  std::string request_id_;  // of the request being answered
  bool keep_alive_ = true;
  bool counted_ = false;
  std::uint64_t served_ = 0;
};

}  // namespace

void Gateway::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      if (accept_errors > 0) {
        log::Info(
            absl::StrCat("api gateway: accepting again after ", accept_errors, " failed accepts"));
        accept_errors = 0;
        accept_backoff = std::chrono::milliseconds(0);
      }
      Accepted(std::move(socket), false);
      return Accept();
    }
    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS): accepting again at
    // once fails again at once. Pause, doubling up to 1 s; log the episode once.
    if (accept_errors++ == 0) {
      log::Warn(absl::StrCat("api gateway: accept: ", ec.message(),
                             "; pausing accepts until it works again (logged once)"));
    }
    accept_backoff = std::clamp(accept_backoff * 2, std::chrono::milliseconds(10),
                                std::chrono::milliseconds(1000));
    accept_pause.expires_after(accept_backoff);
    accept_pause.async_wait([this](beast::error_code e) {
      if (!e && acceptor.is_open()) Accept();
    });
  });
}

// The admin listener: few connections, from monitoring. A failed accept (out of descriptors)
// pauses it 100 ms rather than spinning; the main listener logs such episodes.
void Gateway::Impl::AcceptAdmin() {
  admin_acceptor.async_accept(
      asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !admin_acceptor.is_open()) return;
        if (!ec) {
          Accepted(std::move(socket), true);
          return AcceptAdmin();
        }
        admin_pause.expires_after(std::chrono::milliseconds(100));
        admin_pause.async_wait([this](beast::error_code e) {
          if (!e && admin_acceptor.is_open()) AcceptAdmin();
        });
      });
}

void Gateway::Impl::Accepted(tcp::socket socket, bool admin) {
  if (connections.load(std::memory_order_relaxed) >= options.max_connections)
    return Refuse(std::move(socket));
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::shared_ptr<asio::ssl::context> context;
  if (ssl != nullptr && !admin) {
    auto got = ssl->Get();
    if (!got.ok()) {
      log::Error(absl::StrCat("api gateway: ", got.status().message()));
      socket.close(ignored);
      return;
    }
    context = *got;
  }
  std::make_shared<Session>(std::move(socket), this, admin, std::move(context))->Start();
}

// Past max_connections: a 503 that says why, then close.
void Gateway::Impl::Refuse(tcp::socket socket) {
  static const std::string kBusy = [] {
    std::string body = ErrorJson(503, "too many connections; try again later");
    return absl::StrCat(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ",
        body.size(), "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n", body);
  }();
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  asio::async_write(*s, asio::buffer(kBusy), [s](beast::error_code, std::size_t) {
    beast::error_code ignored;
    s->shutdown(tcp::socket::shutdown_both, ignored);
    s->close(ignored);
  });
}

Gateway::Gateway(GatewayOptions options, std::shared_ptr<client::Client> client)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(client))) {}

Gateway::~Gateway() { Stop(); }

namespace {

// Opens, binds and listens on `address` ("host:port", ":port" = every interface).
absl::Status Listen(tcp::acceptor& acc, const std::string& address) {
  std::string host;
  int port = 0;
  if (absl::Status s = plugin::SplitHostPort(address, &host, &port); !s.ok()) return s;
  if (host.empty()) host = "0.0.0.0";  // ":8080"
  beast::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": \"", host, "\" is not an IP address"));
  }
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Gateway::Start() {
  const GatewayOptions& o = impl_->options;
  if (absl::Status s = tls::Check(o.tls, tls::Side::kServer); !s.ok()) return s;
  for (const auto* list : {&o.policy.allow, &o.policy.deny}) {
    for (const std::string& p : *list) {
      if (absl::Status s = CheckPattern(p); !s.ok()) return s;
    }
  }
  if (absl::Status s = Listen(impl_->acceptor, o.address); !s.ok()) return s;
  impl_->port = impl_->acceptor.local_endpoint().port();
  if (!o.admin_address.empty()) {
    if (absl::Status s = Listen(impl_->admin_acceptor, o.admin_address); !s.ok()) {
      beast::error_code ignored;
      impl_->acceptor.close(ignored);
      return absl::Status(s.code(), absl::StrCat("admin ", s.message()));
    }
    impl_->admin_port = impl_->admin_acceptor.local_endpoint().port();
    impl_->AcceptAdmin();
  }
  impl_->Accept();
  for (int i = 0; i < std::max(1, o.threads); ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
  }
  return absl::OkStatus();
}

int Gateway::port() const { return impl_->port; }
int Gateway::admin_port() const { return impl_->admin_port; }

void Gateway::Stop() {
  if (impl_->threads.empty()) return;
  impl_->draining = true;
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->admin_acceptor.close(ec);
    impl->accept_pause.cancel();
    impl->admin_pause.cancel();
  });
  Clock::time_point deadline = Clock::now() + impl_->options.drain_timeout;
  while (impl_->metrics.in_flight() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace micro::api
