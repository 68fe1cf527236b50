#include "micro/plugin/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdint>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace micro::plugin {

absl::Status SplitHostPort(absl::string_view address, std::string* host, int* port) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\": ", why));
  };
  std::size_t colon;
  if (!address.empty() && address.front() == '[') {
    std::size_t close = address.find(']');
    if (close == absl::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return bad("expected [ipv6]:port");
    }
    *host = std::string(address.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == absl::string_view::npos) return bad("expected host:port");
    if (address.find(':') != colon) return bad("write IPv6 addresses as [addr]:port");
    *host = std::string(address.substr(0, colon));
  }
  absl::string_view p = address.substr(colon + 1);
  if (p.empty() || !absl::SimpleAtoi(p, port) || *port < 0 || *port > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  return absl::OkStatus();
}

absl::Status SplitHostPort(absl::string_view address, int default_port, std::string* host,
                           int* port) {
  bool bracketed = !address.empty() && address.front() == '[';
  if ((bracketed && address.back() == ']') ||
      (!bracketed && address.find(':') == absl::string_view::npos)) {
    if (address.empty() || address == "[]") return absl::InvalidArgumentError("address is empty");
    *host = std::string(bracketed ? address.substr(1, address.size() - 2) : address);
    *port = default_port;
    return absl::OkStatus();
  }
  return SplitHostPort(address, host, port);
}

std::string JoinHostPort(absl::string_view host, int port) {
  if (host.find(':') != absl::string_view::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

std::string ReachableHost() {
  ifaddrs* list = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&list) != 0) return found;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char buf[INET_ADDRSTRLEN];
    auto* in = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)) != nullptr) {
      found = buf;
      break;
    }
  }
  freeifaddrs(list);
  return found;
}

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

}  // namespace micro::plugin
