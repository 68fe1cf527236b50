#include "http_client.h"

#include <algorithm>
#include <deque>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "micro/plugin/net.h"

namespace micro::consul {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct HostPort {
  std::string host;
  std::string port;
};

// Addresses were checked when the options were made (ParseRegistryAddress);
// one that still does not split is kept whole, and fails to resolve, naming it.
HostPort SplitHostPort(absl::string_view address) {
  std::string host;
  int port = 0;
  if (!plugin::SplitHostPort(address, 8500, &host, &port).ok())
    return {std::string(address), "8500"};
  return {host, std::to_string(port)};
}

// One connection with an io_context of its own, so a blocking request can run
// it with a deadline and another thread can stop it.
struct Conn {
  explicit Conn(std::size_t index) : address(index) {}
  asio::io_context io;  // first member: destroyed last, after the streams
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::size_t address;
  bool reused = false;

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};

enum class Wait { kDone, kTimeout, kCancelled };

}  // namespace

void Cancel::Fire() {
  std::lock_guard<std::mutex> lock(mu_);
  fired_ = true;
  if (io_ != nullptr) static_cast<asio::io_context*>(io_)->stop();
}

bool Cancel::fired() {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_;
}

void Cancel::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  fired_ = false;
}

struct HttpClient::Impl {
  std::vector<HostPort> addresses;
  std::optional<asio::ssl::context> tls;
  std::mutex mu;
  std::size_t preferred = 0;               // guarded by mu
  std::deque<std::unique_ptr<Conn>> idle;  // guarded by mu

  // Runs `c`'s io_context until `done`, the deadline or a cancel.
  static Wait Run(Conn& c, const bool& done, Clock::time_point deadline, Cancel* cancel) {
    if (cancel != nullptr) {
      std::lock_guard<std::mutex> lock(cancel->mu_);
      if (cancel->fired_) return Wait::kCancelled;
      c.io.restart();  // under the lock, so a Fire() from now on stops this run
      cancel->io_ = &c.io;
    } else {
      c.io.restart();
    }
    while (!done) {
      Clock::time_point now = Clock::now();
      if (now >= deadline) break;
      c.io.run_for(deadline - now);
      if (c.io.stopped()) break;
    }
    bool fired = false;
    if (cancel != nullptr) {
      std::lock_guard<std::mutex> lock(cancel->mu_);
      cancel->io_ = nullptr;
      fired = cancel->fired_;
    }
    if (done) return Wait::kDone;
    return fired ? Wait::kCancelled : Wait::kTimeout;
  }

  std::unique_ptr<Conn> TakeIdle(std::size_t index) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if ((*it)->address == index) {
        std::unique_ptr<Conn> c = std::move(*it);
        idle.erase(it);
        c->reused = true;
        return c;
      }
    }
    return nullptr;
  }

  void PutIdle(std::unique_ptr<Conn> c, std::size_t max_idle) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(std::move(c));
    while (idle.size() > max_idle) idle.pop_front();
  }

  absl::StatusOr<std::unique_ptr<Conn>> Connect(std::size_t index, const HttpOptions& options,
                                                Cancel* cancel) {
    const HostPort& hp = addresses[index];
    auto c = std::make_unique<Conn>(index);
    Clock::time_point deadline = Clock::now() + options.connect_timeout;
    tcp::resolver resolver(c->io);
    tcp::resolver::results_type endpoints;
    beast::error_code ec;
    bool done = false;
    resolver.async_resolve(hp.host, hp.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    Wait w = Run(*c, done, deadline, cancel);
    if (w == Wait::kDone && !ec) {
      if (tls) {
        c->secure.emplace(c->io, *tls);
      } else {
        c->plain.emplace(c->io);
      }
      done = false;
      c->lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
        ec = e;
        done = true;
      });
      w = Run(*c, done, deadline, cancel);
    }
    if (w == Wait::kDone && !ec && tls) {
      if (!SSL_set_tlsext_host_name(c->secure->native_handle(), hp.host.c_str())) {
        return absl::UnavailableError(absl::StrCat("TLS: cannot set server name ", hp.host));
      }
      if (!options.tls_skip_verify) {
        c->secure->set_verify_mode(asio::ssl::verify_peer);
        c->secure->set_verify_callback(asio::ssl::host_name_verification(hp.host));
      }
      done = false;
      c->secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) {
        ec = e;
        done = true;
      });
      w = Run(*c, done, deadline, cancel);
    }
    if (w == Wait::kCancelled) return absl::CancelledError("request cancelled");
    if (w == Wait::kTimeout) {
      return absl::UnavailableError(
          absl::StrCat("no connection within ", options.connect_timeout.count(), " ms"));
    }
    if (ec) return absl::UnavailableError(ec.message());
    return c;
  }

  template <class Stream>
  absl::StatusOr<HttpResponse> Exchange(Conn& c, Stream& stream,
                                        http::request<http::string_body>& req,
                                        const HttpOptions& options,
                                        std::chrono::milliseconds timeout, Cancel* cancel,
                                        bool* keep) {
    Clock::time_point deadline = Clock::now() + timeout;
    beast::error_code ec;
    bool done = false;
    http::async_write(stream, req, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    Wait w = Run(c, done, deadline, cancel);
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_body);
    parser.header_limit(64 * 1024);
    // The header first: Beast 1.74 skips the body limit when an eager read
    // finds header and whole body in one buffer.
    if (w == Wait::kDone && !ec) {
      done = false;
      http::async_read_header(stream, c.buffer, parser, [&](beast::error_code e, std::size_t) {
        ec = e;
        done = true;
      });
      w = Run(c, done, deadline, cancel);
    }
    if (w == Wait::kDone && !ec && parser.content_length() &&
        *parser.content_length() > options.max_body) {
      ec = http::error::body_limit;
    }
    if (w == Wait::kDone && !ec && !parser.is_done()) {
      done = false;
      http::async_read(stream, c.buffer, parser, [&](beast::error_code e, std::size_t) {
        ec = e;
        done = true;
      });
      w = Run(c, done, deadline, cancel);
    }
    if (w == Wait::kCancelled) return absl::CancelledError("request cancelled");
    if (w == Wait::kTimeout) {
      return absl::DeadlineExceededError(absl::StrCat("no answer within ", timeout.count(), " ms"));
    }
    if (ec == http::error::body_limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("response body larger than ", options.max_body, " bytes"));
    }
    if (ec) return absl::UnavailableError(ec.message());
    http::response<http::string_body> res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    auto index = res.find("X-Consul-Index");
    if (index != res.end()) out.consul_index = std::string(index->value());
    *keep = res.keep_alive();
    return out;
  }
};

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::New(HttpOptions options) {
  if (options.addresses.empty()) return absl::InvalidArgumentError("no agent address given");
  std::unique_ptr<HttpClient> client(new HttpClient(std::move(options)));
  const HttpOptions& o = client->options_;
  for (const std::string& a : o.addresses) client->impl_->addresses.push_back(SplitHostPort(a));
  if (o.tls) {
    auto& ctx = client->impl_->tls.emplace(asio::ssl::context::tls_client);
    beast::error_code ec;
    if (o.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(o.ca_file, ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat("TLS CA \"", o.ca_file, "\": ", ec.message()));
    }
    if (o.cert_file.empty() != o.key_file.empty()) {
      return absl::InvalidArgumentError(
          "TLS: give both a client certificate and its key, or neither");
    }
    if (!o.cert_file.empty()) {
      ctx.use_certificate_chain_file(o.cert_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("TLS certificate \"", o.cert_file, "\": ", ec.message()));
      }
      ctx.use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("TLS key \"", o.key_file, "\": ", ec.message()));
      }
    }
  }
  return client;
}

absl::StatusOr<HttpResponse> HttpClient::Do(
    absl::string_view method, absl::string_view target, absl::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout, Cancel* cancel) {
  Impl& impl = *impl_;
  const std::size_t n = impl.addresses.size();
  std::size_t first;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    first = impl.preferred;
  }
  std::vector<std::string> failures;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t index = (first + k) % n;
    const HostPort& hp = impl.addresses[index];
    http::request<http::string_body> req;
    req.method(http::string_to_verb(beast::string_view(method.data(), method.size())));
    req.target(beast::string_view(target.data(), target.size()));
    req.version(11);
    req.set(http::field::host, hp.host.find(':') == std::string::npos
                                   ? absl::StrCat(hp.host, ":", hp.port)
                                   : absl::StrCat("[", hp.host, "]:", hp.port));
    req.set(http::field::user_agent, "micro-cpp");
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
    req.prepare_payload();

    // A reused connection the agent closed meanwhile fails at once; one fresh try then.
    for (int round = 0; round < 2; ++round) {
      std::unique_ptr<Conn> conn = round == 0 ? impl.TakeIdle(index) : nullptr;
      if (conn == nullptr) {
        absl::StatusOr<std::unique_ptr<Conn>> fresh = impl.Connect(index, options_, cancel);
        if (!fresh.ok()) {
          if (absl::IsCancelled(fresh.status())) return fresh.status();
          failures.push_back(
              absl::StrCat(options_.addresses[index], ": ", fresh.status().message()));
          break;
        }
        conn = std::move(*fresh);
      }
      bool keep = false;
      absl::StatusOr<HttpResponse> res =
          conn->plain ? impl.Exchange(*conn, *conn->plain, req, options_, timeout, cancel, &keep)
                      : impl.Exchange(*conn, *conn->secure, req, options_, timeout, cancel, &keep);
      if (res.ok()) {
        res->address = options_.addresses[index];
        {
          std::lock_guard<std::mutex> lock(impl.mu);
          impl.preferred = index;
        }
        if (keep) impl.PutIdle(std::move(conn), options_.max_idle);
        return res;
      }
      const bool retry_fresh = conn->reused && absl::IsUnavailable(res.status());
      if (!absl::IsUnavailable(res.status())) {
        if (absl::IsDeadlineExceeded(res.status())) {
          // The agent hangs: the next request starts with the next one.
          std::lock_guard<std::mutex> lock(impl.mu);
          if (impl.preferred == index) impl.preferred = (index + 1) % n;
        }
        return absl::Status(res.status().code(),
                            absl::StrCat(options_.addresses[index], ": ", res.status().message()));
      }
      if (!retry_fresh) {
        failures.push_back(absl::StrCat(options_.addresses[index], ": ", res.status().message()));
        break;
      }
    }
  }
  return absl::UnavailableError(
      absl::StrCat("no agent reachable (", absl::StrJoin(failures, "; "), ")"));
}

std::string UrlEscape(absl::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace micro::consul
