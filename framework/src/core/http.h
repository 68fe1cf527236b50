// Internal: the little HTTP/1.1 the framework speaks itself: a POST with a
// deadline (OTLP export) and a GET-only server (/metrics, /health).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::internal {

// "http://host:port/path" (path default `default_path`). InvalidArgument otherwise.
struct HttpTarget {
  std::string host;
  int port = 0;
  std::string path;
};
absl::StatusOr<HttpTarget> ParseHttpUrl(absl::string_view url, absl::string_view default_path);

// POSTs `body`; the HTTP status, or Unavailable/DeadlineExceeded when it could not be sent or
// answered within `timeout`.
absl::StatusOr<int> HttpPost(const HttpTarget& target, absl::string_view content_type,
                             absl::string_view body, std::chrono::milliseconds timeout);

// Serves GET (and HEAD) for a fixed set of paths on one thread. Requests
// larger than 8 KiB, other methods and unknown paths get 4xx answers.
class HttpServer {
 public:
  struct Answer {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  using Handler = std::function<Answer()>;

  HttpServer();
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Handle(std::string path, Handler handler);  // before Start
  // Listens on host:port ("" host = all interfaces; port 0 = any).
  absl::Status Start(absl::string_view address);
  void Stop();
  std::string address() const;  // host:port it listens on

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace micro::internal
