// Internal to gateway.cc: a WebSocket on a gateway route bridged to a streaming call, as go-micro's
// `micro api` does it. The upgrade request resolves like any other (/[service]/[method], the
// policy, headers as metadata); its query or body, when not empty, is the stream's first message.
// Then each text (or binary) frame from the socket is one JSON message to the service and each
// message from the service one text frame back. The socket's close (from the browser) closes the
// stream's sending side; the stream's end closes the socket: normal closure (1000) when the
// service finished OK, else a last text frame with the go-micro error JSON and close code
// 4000 + its code (4400, 4404, 4500, ...), the detail as the reason. One message is in flight each
// way, so a slow side holds the other back. An idle socket is pinged; one that does not answer
// closes.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "micro/client/client.h"
#include "micro/errors.h"
#include "request.h"

namespace micro::api {

namespace websocket = boost::beast::websocket;

template <typename Next>
class Bridge : public std::enable_shared_from_this<Bridge<Next>> {
 public:
  Bridge(Next& next, std::shared_ptr<void> keep, std::shared_ptr<void> gateway,
         std::shared_ptr<void> work, std::shared_ptr<client::Client> client, Call call,
         client::CallOptions options, std::function<void(int)> finished)
      : ws_(next),
        keep_(std::move(keep)),
        gateway_(std::move(gateway)),
        work_(std::move(work)),
        client_(std::move(client)),
        call_(std::move(call)),
        options_(std::move(options)),
        finished_(std::move(finished)) {}

  void Start(boost::beast::http::request<boost::beast::http::string_body> req) {
    // Beast's server defaults (30 s handshake, 300 s idle), with pings when idle: a quiet stream (a
    // watch) stays open while the client answers them.
    auto timeouts = websocket::stream_base::timeout::suggested(boost::beast::role_type::server);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(boost::beast::http::field::server, "micro-cpp-api");
    }));
    ws_.read_message_max(1 << 20);
    auto self = this->shared_from_this();
    ws_.async_accept(req, [self](boost::beast::error_code ec) {
      if (ec) return self->Done(400);
      self->Open();
    });
  }

 private:
  void Open() {
    auto self = this->shared_from_this();
    client_->OpenStreamAsync(
        call_.route.service, call_.route.endpoint,
        [self](absl::StatusOr<std::unique_ptr<client::Stream>> s) {
          boost::asio::post(self->ws_.get_executor(), [self, s = std::move(s)]() mutable {
            if (!s.ok()) return self->Fail(s.status());
            self->stream_ = std::move(*s);
            if (!self->call_.body.empty() && self->call_.body != "{}")
              self->stream_->SendRawAsync(std::move(self->call_.body), [](absl::Status) {});
            self->ReadSocket();
            self->ReadStream();
          });
        },
        options_);
  }

  // Socket -> stream, one message at a time.
  void ReadSocket() {
    auto self = this->shared_from_this();
    ws_.async_read(in_, [self](boost::beast::error_code ec, std::size_t) {
      if (ec) {
        // A close frame from the client: it sends no more. Anything else: it is gone.
        if (ec == websocket::error::closed) {
          self->stream_->CloseSend();
        } else {
          self->gone_ = true;
          self->stream_->Close();
        }
        return;
      }
      std::string message = boost::beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      self->stream_->SendRawAsync(std::move(message), [self](absl::Status s) {
        boost::asio::post(self->ws_.get_executor(), [self, s] {
          if (s.ok()) self->ReadSocket();  // else the stream ended: ReadStream reports it
        });
      });
    });
  }

  // Stream -> socket, one message at a time.
  void ReadStream() {
    auto self = this->shared_from_this();
    stream_->RecvRawAsync([self](absl::StatusOr<std::string> m) {
      boost::asio::post(self->ws_.get_executor(), [self, m = std::move(m)]() mutable {
        if (self->gone_) return self->Done(499);
        if (!m.ok()) {
          if (IsEndOfStream(m.status()))
            return self->CloseSocket(websocket::close_code::normal, "");
          return self->Fail(m.status());
        }
        self->out_ = std::move(*m);
        self->ws_.text(true);
        self->ws_.async_write(boost::asio::buffer(self->out_),
                              [self](boost::beast::error_code ec, std::size_t) {
                                if (ec) {
                                  self->gone_ = true;
                                  self->stream_->Close();
                                  return self->Done(499);
                                }
                                self->ReadStream();
                              });
      });
    });
  }

  // The go-micro error as the last frame, then its code in the close.
  void Fail(const absl::Status& status) {
    Error e = errors::FromStatus(status, kErrorId);
    code_ = e.code >= 400 && e.code <= 599 ? e.code : 500;
    out_ = e.ToJson();
    auto self = this->shared_from_this();
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(out_), [self, e](boost::beast::error_code ec, std::size_t) {
      if (ec) return self->Done(self->code_);
      std::string reason = e.detail.substr(0, 120);  // a close reason holds 123 bytes
      self->CloseSocket(static_cast<std::uint16_t>(4000 + self->code_), reason);
    });
  }

  void CloseSocket(std::uint16_t code, std::string reason) {
    auto self = this->shared_from_this();
    websocket::close_reason why;
    why.code = code;
    why.reason = reason;
    ws_.async_close(why, [self](boost::beast::error_code) { self->Done(self->code_); });
  }

  void Done(int code) {
    if (done_) return;
    done_ = true;
    finished_(code);
    work_.reset();
  }

  websocket::stream<Next&> ws_;
  std::shared_ptr<void> keep_;  // the HTTP session that owns the socket
  // The gateway, whose io_context the stream's callbacks post to: a stream still open when the
  // gateway stops ends later, and its last callbacks post (to a stopped io_context, not a freed
  // one).
  std::shared_ptr<void> gateway_;
  // Work on the io_context while the bridge waits on the service (no socket operation pending):
  // else a gateway that stops accepting could leave run() with a stream's last message unsent.
  std::shared_ptr<void> work_;
  std::shared_ptr<client::Client> client_;
  Call call_;
  client::CallOptions options_;
  std::function<void(int)> finished_;
  std::unique_ptr<client::Stream> stream_;
  boost::beast::flat_buffer in_;
  std::string out_;
  int code_ = 200;
  bool gone_ = false, done_ = false;
};

template <typename Next>
void StartBridge(Next& next, std::shared_ptr<void> keep, std::shared_ptr<void> gateway,
                 boost::asio::io_context& io, std::shared_ptr<client::Client> client,
                 boost::beast::http::request<boost::beast::http::string_body> req, Call call,
                 client::CallOptions options, std::function<void(int)> finished) {
  auto work =
      std::make_shared<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          io.get_executor());
  auto bridge = std::make_shared<Bridge<Next>>(next, std::move(keep), std::move(gateway),
                                               std::move(work), std::move(client), std::move(call),
                                               std::move(options), std::move(finished));
  bridge->Start(std::move(req));
}

}  // namespace micro::api
