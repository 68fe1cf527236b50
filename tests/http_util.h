// A raw HTTP/1.1 client for tests: sends bytes exactly as given (so tests can
// send malformed requests) and reads one response. Blocking, loopback only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace micro::testing {

struct HttpAnswer {
  int status = 0;                              // 0: no answer (connection closed or timed out)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class HttpConnection {
 public:
  explicit HttpConnection(int port, int timeout_ms = 10000) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    if (!connected_ && errno == EINTR) {
      // Interrupted by a signal: the connection goes on being made; wait for its outcome.
      pollfd p{fd_, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof(err);
      while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
      }
      connected_ = getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 &&
                   (p.revents & POLLOUT) != 0;
    }
  }
  ~HttpConnection() { close(fd_); }
  bool connected() const { return connected_; }
  // errno of the last failed send or receive; 0 when the peer closed the connection.
  int error() const { return error_; }

  bool Send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;  // a signal to this process (a child ended...)
      if (n <= 0) {
        error_ = n < 0 ? errno : 0;
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads one response (Content-Length framed, as the gateway sends them).
  HttpAnswer Read() {
    HttpAnswer out;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return out;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return out;
    (void)absl::SimpleAtoi(status_line.substr(9, 3), &out.status);
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      std::size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        out.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
            std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
      pos = e + 2;
    }
    std::size_t length = 0;
    if (out.headers.count("content-length")) {
      (void)absl::SimpleAtoi(out.headers["content-length"], &length);
    }
    while (buf_.size() < length) {
      if (!Fill()) break;
    }
    out.body = buf_.substr(0, length);
    buf_.erase(0, std::min(length, buf_.size()));
    return out;
  }

  HttpAnswer Exchange(const std::string& bytes) {
    if (!Send(bytes)) return {};
    return Read();
  }

  // True when the peer closed the connection (reads EOF).
  bool ClosedByPeer() {
    char c;
    return buf_.empty() && recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n;
    do {
      n = recv(fd_, tmp, sizeof(tmp), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      error_ = n < 0 ? errno : 0;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  int error_ = 0;
  bool connected_ = false;
  std::string buf_;
};

// One request on a fresh connection.
inline HttpAnswer HttpDo(int port, const std::string& method, const std::string& target,
                         const std::string& body = "", const std::string& extra_headers = "") {
  HttpConnection c(port);
  std::string req = method + " " + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers;
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return c.Exchange(req + "\r\n" + body);
}

}  // namespace micro::testing
