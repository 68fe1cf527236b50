#include "core/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace micro::internal {

bool IsUnspecified(absl::string_view host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

absl::Status CheckPortFree(const std::string& host, int port) {
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* addr = nullptr;
  socklen_t len = 0;
  std::string h = host.size() > 1 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  if (inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
    addr = reinterpret_cast<const sockaddr*>(&v4);
    len = sizeof(v4);
  } else if (inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<std::uint16_t>(port));
    addr = reinterpret_cast<const sockaddr*>(&v6);
    len = sizeof(v6);
  } else {
    return absl::OkStatus();  // a host name: gRPC resolves it and reports what fails
  }
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = ::bind(fd, addr, len);
  int err = errno;
  ::close(fd);
  if (rc != 0) return absl::UnavailableError(std::strerror(err));
  return absl::OkStatus();
}

}  // namespace micro::internal
