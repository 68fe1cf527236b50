#include "micro/plugin/net.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

}  // namespace micro::plugin
