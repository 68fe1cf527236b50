#include "client/h2_transport.h"

#include "client/grpc_answer.h"

#include <nghttp2/nghttp2.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <future>
#include <map>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/net.h"
#include "core/tls_config.h"

namespace micro::internal {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kConnectTimeout{5};  // go-micro's connection timeout
constexpr int32_t kWindow = 1 << 20;                // stream and connection receive windows

nghttp2_nv Header(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

// One call on a connection.
struct Stream {
  H2Call call;
  H2Transport::Done done;
  std::string request;  // framed
  std::size_t sent = 0;
  int32_t id = -1;
  GrpcAnswer answer;
  std::unique_ptr<asio::steady_timer> timer;
  std::uint64_t cancel_handle = 0;

  // Ends the call once; later calls do nothing.
  void Finish(const grpc::Status& st, std::string message = {}) {
    if (!done) return;
    if (timer) timer->cancel();
    if (cancel_handle != 0) call.cancel->Remove(cancel_handle);
    cancel_handle = 0;
    auto d = std::move(done);
    done = nullptr;
    d(st, std::move(message));
  }

  // The outcome of a stream the server ended normally.
  void Complete() {
    std::string message;
    grpc::Status st = Outcome(answer, call.max_response, &message);
    Finish(st, std::move(message));
  }
};

struct Conn;

struct H2Transport::State : std::enable_shared_from_this<H2Transport::State> {
  State(std::chrono::milliseconds ttl, const tls::Options& tls) : idle_ttl(ttl), sweep(io) {
    if (tls.client_enabled()) ssl = std::make_unique<SslContexts>(tls, tls::Side::kClient);
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::chrono::milliseconds idle_ttl;
  std::unique_ptr<SslContexts> ssl;  // null without TLS
  asio::steady_timer sweep;
  bool sweeping = false;
  absl::flat_hash_map<std::string, std::shared_ptr<Conn>> conns;  // io thread only
  // Connections replaced while still open (the server sent GOAWAY): their calls run to the end.
  std::vector<std::weak_ptr<Conn>> retired;

  void Start(std::shared_ptr<Stream> s);
  void Drop(const Conn* c);
  void Sweep();
  void CloseAll();
};

// One HTTP/2 connection to one address; every member is used on the io thread only.
struct Conn : std::enable_shared_from_this<Conn> {
  Conn(H2Transport::State* st, std::string addr, bool tls)
      : state(st),
        address(std::move(addr)),
        key(KeyOf(address, tls)),
        tls(tls),
        socket(st->io),
        resolver(st->io),
        connect_timer(st->io) {}
  ~Conn() {
    if (session != nullptr) nghttp2_session_del(session);
  }

  static std::string KeyOf(const std::string& address, bool tls) {
    return tls ? absl::StrCat("tls:", address) : address;
  }

  H2Transport::State* state;
  std::string address;
  std::string key;  // in State::conns
  bool tls;
  tcp::socket socket;
  std::shared_ptr<asio::ssl::context> ssl_context;       // kept while the stream lives
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> ssl;  // over `socket`, when tls
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  nghttp2_session* session = nullptr;
  bool connected = false, writing = false, dead = false;
  std::vector<std::shared_ptr<Stream>> waiting;  // until connected
  std::map<int32_t, std::shared_ptr<Stream>> streams;
  std::string out;
  std::array<char, 16384> in;
  Clock::time_point last_used = Clock::now();

  bool Usable() const {
    return !dead && (!connected || nghttp2_session_check_request_allowed(session) != 0);
  }

  void Connect() {
    std::string host;
    int port = 0;
    if (absl::Status s = SplitHostPort(address, &host, &port); !s.ok() || port <= 0) {
      return Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               absl::StrCat("bad node address \"", address, "\"")));
    }
    if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (tls) {  // the current context, and the name the server must prove (SNI, ALPN h2)
      auto ctx = state->ssl->Get();
      if (!ctx.ok())
        return Fail(
            grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(ctx.status().message())));
      ssl_context = *ctx;
      ssl = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, *ssl_context);
      const std::string& name = state->ssl->options().server_name;
      PrepareClientSsl(ssl->native_handle(), name.empty() ? host : name);
    }
    auto self = shared_from_this();
    connect_timer.expires_after(kConnectTimeout);
    connect_timer.async_wait([self](boost::system::error_code ec) {
      if (!ec && !self->connected) {
        self->Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                absl::StrCat("connect to ", self->address, ": no answer within ",
                                             kConnectTimeout.count(), " s")));
      }
    });
    resolver.async_resolve(
        host, std::to_string(port),
        [self](boost::system::error_code ec, tcp::resolver::results_type results) {
          if (self->dead) return;
          if (ec) return self->FailConnect(ec);
          asio::async_connect(self->socket, results,
                              [self](boost::system::error_code ec, const tcp::endpoint&) {
                                if (self->dead) return;
                                if (ec) return self->FailConnect(ec);
                                if (self->ssl == nullptr) return self->Connected();
                                self->Handshake();
                              });
        });
  }

  void Handshake() {
    auto self = shared_from_this();
    ssl->async_handshake(asio::ssl::stream_base::client, [self](boost::system::error_code ec) {
      if (self->dead) return;
      if (ec) {
        return self->Fail(
            grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         absl::StrCat("TLS handshake with ", self->address,
                                      " failed: ", SslErrorText(self->ssl->native_handle(), ec))));
      }
      self->Connected();
    });
  }

  void FailConnect(const boost::system::error_code& ec) {
    Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("connect to ", address, ": ", ec.message())));
  }

  void Connected() {
    connect_timer.cancel();
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (!Open()) return;
    auto w = std::move(waiting);
    waiting.clear();
    for (auto& s : w) Submit(s);
    Read();
    Flush();
  }

  // Starts the HTTP/2 session (our SETTINGS go out with the first Flush).
  bool Open() {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Conn::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Conn::OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Conn::OnClose);
    int rv = nghttp2_session_client_new(&session, cb, this);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
      Fail(grpc::Status(grpc::StatusCode::INTERNAL, nghttp2_strerror(rv)));
      return false;
    }
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindow}};
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, kWindow);
    connected = true;
    return true;
  }

  // Feeds what the server sent to the session; false (and the connection failed) on an HTTP/2
  // error.
  bool Receive(const uint8_t* data, std::size_t n) {
    ssize_t rv = nghttp2_session_mem_recv(session, data, n);
    if (rv < 0) {
      Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("HTTP/2 error from ", address, ": ",
                                     nghttp2_strerror(static_cast<int>(rv)))));
      return false;
    }
    return true;
  }

  // Moves what the session has to send into `out` (up to 64 KiB); false if the session failed.
  bool Collect() {
    out.clear();
    while (out.size() < 65536) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session, &data);
      if (n < 0) {
        Fail(grpc::Status(grpc::StatusCode::INTERNAL, nghttp2_strerror(static_cast<int>(n))));
        return false;
      }
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    return true;
  }

  void Add(std::shared_ptr<Stream> s) {
    last_used = Clock::now();
    if (!connected) {
      waiting.push_back(std::move(s));
      return;
    }
    Submit(std::move(s));
    Flush();
  }

  void Submit(const std::shared_ptr<Stream>& s) {
    if (!s->done) return;  // timed out while connecting
    Clock::duration left = s->call.deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      return s->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"));
    }
    static const std::string kMethod = ":method", kPost = "POST", kScheme = ":scheme",
                             kHttp = "http", kPath = ":path", kAuthority = ":authority",
                             kContentType = "content-type", kTe = "te", kTrailers = "trailers",
                             kTimeout = "grpc-timeout", kAgent = "user-agent",
                             kAgentValue = "micro-cpp-h2";
    std::string timeout = GrpcTimeout(left);
    std::vector<nghttp2_nv> nva{Header(kMethod, kPost),
                                Header(kScheme, kHttp),
                                Header(kPath, s->call.path),
                                Header(kAuthority, address),
                                Header(kContentType, s->call.content_type),
                                Header(kTe, kTrailers),
                                Header(kTimeout, timeout),
                                Header(kAgent, kAgentValue)};
    for (const auto& [k, v] : s->call.metadata) nva.push_back(Header(k, v));
    nghttp2_data_provider data;
    data.source.ptr = s.get();
    data.read_callback = &Conn::ReadBody;
    int32_t id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), &data, s.get());
    if (id < 0) {
      return s->Finish(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat("cannot start a stream to ", address, ": ", nghttp2_strerror(id))));
    }
    s->id = id;
    streams[id] = s;
  }

  // The stream's deadline passed, or its call was cancelled: reset it and answer `st`. The stream
  // stays known to the session (nghttp2 holds pointers to it) until its close callback.
  void Abort(const std::shared_ptr<Stream>& s, const grpc::Status& st) {
    s->Finish(st);
    if (s->id >= 0 && streams.count(s->id) != 0 && !dead) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
      Flush();
    }
  }

  void Read() {
    auto self = shared_from_this();
    auto on_read = [self](boost::system::error_code ec, std::size_t n) {
      if (self->dead) return;
      if (ec) {
        return self->Fail(
            grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         absl::StrCat("connection to ", self->address, " lost: ", ec.message())));
      }
      if (!self->Receive(reinterpret_cast<const uint8_t*>(self->in.data()), n)) return;
      self->Flush();
      if (!self->dead) self->Read();
    };
    if (ssl != nullptr) {
      ssl->async_read_some(asio::buffer(in), std::move(on_read));
    } else {
      socket.async_read_some(asio::buffer(in), std::move(on_read));
    }
  }

  void Flush() {
    if (writing || !connected || dead) return;
    if (!Collect()) return;
    if (out.empty()) {
      if (nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0) {
        Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("connection to ", address, " closed by the server")));
      }
      return;
    }
    writing = true;
    auto self = shared_from_this();
    auto on_write = [self](boost::system::error_code ec, std::size_t) {
      self->writing = false;
      if (self->dead) return;
      if (ec) {
        return self->Fail(
            grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         absl::StrCat("connection to ", self->address, " lost: ", ec.message())));
      }
      self->Flush();
    };
    if (ssl != nullptr) {
      asio::async_write(*ssl, asio::buffer(out), std::move(on_write));
    } else {
      asio::async_write(socket, asio::buffer(out), std::move(on_write));
    }
  }

  // The connection is over: every call on it ends with `st`.
  void Fail(const grpc::Status& st) {
    if (dead) return;
    dead = true;
    auto self = shared_from_this();
    state->Drop(this);
    boost::system::error_code ignored;
    connect_timer.cancel();
    resolver.cancel();
    socket.close(ignored);
    auto w = std::move(waiting);
    auto s = std::move(streams);
    waiting.clear();
    streams.clear();
    for (auto& x : w) x->Finish(st);
    for (auto& [id, x] : s) x->Finish(st);
  }

  static Stream* StreamOf(nghttp2_session* session, int32_t id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void*) {
    auto* s = static_cast<Stream*>(source->ptr);
    std::size_t n = std::min(length, s->request.size() - s->sent);
    std::memcpy(buf, s->request.data() + s->sent, n);
    s->sent += n;
    if (s->sent == s->request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* s = StreamOf(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    absl::string_view n(reinterpret_cast<const char*>(name), namelen);
    absl::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      int status = 0;
      if (absl::SimpleAtoi(v, &status)) s->answer.http_status = status;
    } else if (n == "grpc-status") {
      s->answer.grpc_status = std::string(v);
    } else if (n == "grpc-message") {
      s->answer.grpc_message = std::string(v);
    }
    return 0;
  }

  static int OnData(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void*) {
    Stream* s = StreamOf(session, id);
    if (s == nullptr || s->answer.too_big) return 0;
    if (s->answer.body.size() + len > s->call.max_response + 5) {
      s->answer.too_big = true;
      s->answer.body.clear();
      return 0;
    }
    s->answer.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int OnClose(nghttp2_session*, int32_t id, uint32_t error, void* user) {
    auto* c = static_cast<Conn*>(user);
    auto it = c->streams.find(id);
    if (it == c->streams.end()) return 0;  // expired, answered already
    std::shared_ptr<Stream> s = std::move(it->second);
    c->streams.erase(it);
    c->last_used = Clock::now();
    if (error == NGHTTP2_NO_ERROR) {
      s->Complete();
    } else {
      s->Finish(FromReset(error));
    }
    return 0;
  }
};

void H2Transport::State::Start(std::shared_ptr<Stream> s) {
  std::shared_ptr<Conn> conn;
  std::string key = Conn::KeyOf(s->call.address, s->call.tls);
  auto it = conns.find(key);
  if (it != conns.end() && it->second->Usable()) {
    conn = it->second;
  } else {
    if (it != conns.end() && !it->second->dead) retired.push_back(it->second);
    conn = std::make_shared<Conn>(this, s->call.address, s->call.tls);
    conns[key] = conn;
    conn->Connect();
    if (conn->dead) {
      s->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             absl::StrCat("bad node address \"", s->call.address, "\"")));
      return;
    }
  }
  s->timer = std::make_unique<asio::steady_timer>(io, s->call.deadline);
  std::weak_ptr<Conn> weak = conn;
  std::weak_ptr<Stream> ws = s;
  s->timer->async_wait([weak, ws](boost::system::error_code ec) {
    auto s = ws.lock();
    if (ec || !s) return;
    grpc::Status expired(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
    if (auto c = weak.lock()) {
      c->Abort(s, expired);
    } else {
      s->Finish(expired);
    }
  });
  if (s->call.cancel != nullptr) {
    std::weak_ptr<State> state = shared_from_this();
    s->cancel_handle = s->call.cancel->OnCancel([state, weak, ws] {
      auto st = state.lock();
      if (st == nullptr) return;
      asio::post(st->io, [weak, ws] {
        auto s = ws.lock();
        if (!s) return;
        grpc::Status cancelled(grpc::StatusCode::CANCELLED, "Cancelled");
        if (auto c = weak.lock()) {
          c->Abort(s, cancelled);
        } else {
          s->Finish(cancelled);
        }
      });
    });
  }
  conn->Add(std::move(s));
  if (!sweeping) {
    sweeping = true;
    Sweep();
  }
}

void H2Transport::State::Drop(const Conn* c) {
  auto it = conns.find(c->key);
  if (it != conns.end() && it->second.get() == c) conns.erase(it);
}

// Closes connections idle for longer than idle_ttl, every idle_ttl / 2.
void H2Transport::State::Sweep() {
  auto now = Clock::now();
  std::vector<std::shared_ptr<Conn>> idle;
  for (auto& [addr, c] : conns) {
    if (c->streams.empty() && c->waiting.empty() && now - c->last_used > idle_ttl)
      idle.push_back(c);
  }
  for (auto& c : idle) c->Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "idle"));
  retired.erase(std::remove_if(retired.begin(), retired.end(),
                               [](const std::weak_ptr<Conn>& c) { return c.expired(); }),
                retired.end());
  if (conns.empty() && retired.empty()) {
    sweeping = false;
    return;
  }
  sweep.expires_after(std::max<std::chrono::milliseconds>(idle_ttl / 2, std::chrono::seconds(1)));
  auto self = shared_from_this();
  sweep.async_wait([self](boost::system::error_code ec) {
    if (!ec) self->Sweep();
  });
}

void H2Transport::State::CloseAll() {
  std::vector<std::shared_ptr<Conn>> all;
  for (auto& [addr, c] : conns) all.push_back(c);
  for (auto& w : retired) {
    if (auto c = w.lock()) all.push_back(std::move(c));
  }
  for (auto& c : all) c->Fail(grpc::Status(grpc::StatusCode::CANCELLED, "client closed"));
  sweep.cancel();
  work.reset();
}

H2Transport::H2Transport(std::chrono::milliseconds idle_ttl, const tls::Options& tls)
    : state_(std::make_shared<State>(idle_ttl, tls)) {
  // The thread owns the state too, so it may outlive this object (see the destructor).
  thread_ = std::thread([st = state_] { st->io.run(); });
}

H2Transport::~H2Transport() {
  auto st = state_;
  if (st->io.get_executor().running_in_this_thread()) {
    // The last owner let go from a callback: close here, the thread ends by itself.
    st->CloseAll();
    thread_.detach();
    return;
  }
  asio::post(st->io, [st] { st->CloseAll(); });
  thread_.join();
}

void H2Transport::Call(H2Call call, Done done) {
  auto s = std::make_shared<Stream>();
  s->request = Frame(call.message);
  call.message.clear();
  s->call = std::move(call);
  s->done = std::move(done);
  auto st = state_;
  asio::post(st->io, [st, s] { st->Start(s); });
}

std::size_t H2Transport::connections() {
  std::promise<std::size_t> p;
  auto st = state_;
  asio::post(st->io, [&p, st] { p.set_value(st->conns.size()); });
  return p.get_future().get();
}

grpc::Status H2ReplayAnswer(const uint8_t* answer, std::size_t size) {
  auto state = std::make_shared<H2Transport::State>(std::chrono::seconds(60), tls::Options{});
  auto conn = std::make_shared<Conn>(state.get(), "127.0.0.1:1", false);
  grpc::Status result(grpc::StatusCode::UNKNOWN, "the call never ended");
  int ended = 0;
  auto s = std::make_shared<Stream>();
  s->call.path = "/helloworld.Greeter/Hello";
  s->call.content_type = "application/grpc+json";
  s->call.metadata = {{"x-content-type", "application/grpc+json"}};
  s->call.deadline = Clock::now() + std::chrono::seconds(60);
  s->call.max_response = 4096;
  s->request = Frame("{}");
  s->done = [&](const grpc::Status& st, std::string) {
    result = st;
    ++ended;
  };
  if (conn->Open()) {
    conn->Submit(s);
    if (conn->Collect() && conn->Receive(answer, size)) conn->Collect();
  }
  conn->Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, "end of the answer"));
  if (ended != 1) std::abort();  // every call ends exactly once
  return result;
}

}  // namespace micro::internal
