// A small blocking HTTP/1.1 client for Consul's agent API, over Boost.Beast.
//
// Keeps idle keep-alive connections for reuse, puts a deadline on connecting
// and on every request, caps response bodies, speaks TLS when asked, and fails
// over to the next agent address when one cannot be reached (the address that
// answered last is tried first). Thread-safe: each request runs on a
// connection of its own. A request may be aborted from another thread through
// its Cancel token (a watch's Stop uses that to end a 25 s blocking query).
// Beast stays inside http_client.cc; this header pulls in none of it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::consul {

struct HttpOptions {
  std::vector<std::string> addresses;  // "host:port", "[v6]:port"; tried in order
  bool tls = false;                    // https
  std::string ca_file;                 // PEM bundle to verify the agent; empty = system store
  std::string cert_file;               // client certificate (PEM), with key_file
  std::string key_file;
  bool tls_skip_verify = false;                     // accept any agent certificate
  std::chrono::milliseconds connect_timeout{5000};  // resolve + connect + TLS handshake
  std::size_t max_body = 16u << 20;                 // larger responses are refused
  std::size_t max_idle = 16;                        // idle connections kept for reuse
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string consul_index;  // the X-Consul-Index header, empty when absent
  std::string address;       // the agent that answered
};

// Aborts a request in flight from another thread. One token serves one
// request at a time; Cancel() is sticky until Reset().
class Cancel {
 public:
  void Fire();
  bool fired();
  void Reset();

 private:
  friend class HttpClient;
  std::mutex mu_;
  bool fired_ = false;
  void* io_ = nullptr;  // the io_context of the request in flight
};

class HttpClient {
 public:
  // InvalidArgument when the options cannot work (no address, unreadable TLS files).
  static absl::StatusOr<std::unique_ptr<HttpClient>> New(HttpOptions options);
  ~HttpClient();

  // Sends `method` `target` ("/v1/...") with `body` and `headers`, and waits for
  // the whole response, at most `timeout` after the request is written.
  // Unavailable when no agent can be reached, DeadlineExceeded on a timeout,
  // Cancelled when `cancel` fired, ResourceExhausted for an oversized body.
  // Any HTTP status is a successful exchange; the caller judges it.
  absl::StatusOr<HttpResponse> Do(absl::string_view method, absl::string_view target,
                                  absl::string_view body,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  std::chrono::milliseconds timeout, Cancel* cancel = nullptr);

  const HttpOptions& options() const { return options_; }

  struct Impl;

 private:
  explicit HttpClient(HttpOptions options);
  HttpOptions options_;
  std::unique_ptr<Impl> impl_;
};

// "%XX"-escapes everything but unreserved characters, for a path segment or query value.
std::string UrlEscape(absl::string_view s);

}  // namespace micro::consul
