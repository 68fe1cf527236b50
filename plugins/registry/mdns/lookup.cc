#include "lookup.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <map>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "micro/log.h"
#include "micro/plugin/net.h"

namespace micro::mdns {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

constexpr char kGroup[] = "224.0.0.251";
constexpr std::size_t kMaxPacket = 9000;  // RFC 6762 17

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

struct Partial {
  std::string name;
  bool has_srv = false, has_txt = false;
  std::string target;
  std::uint16_t port = 0;
  std::vector<std::string> txt;
  std::uint32_t ttl = UINT32_MAX;
};

}  // namespace

// Complete nodes in `m`; names of instances seen but incomplete go to `incomplete`.
std::vector<Found> Assemble(const Message& m, const std::string& domain,
                            std::set<std::string>* incomplete) {
  std::map<std::string, Partial> parts;
  std::map<std::string, std::vector<const Record*>> addresses;
  std::set<std::string> pointed;
  for (const auto* section : {&m.answers, &m.additionals, &m.authorities}) {
    for (const Record& r : *section) {
      std::string key = Lower(r.name);
      if (r.type == kTypeSRV || r.type == kTypeTXT) {
        Partial& p = parts[key];
        p.name = r.name;
        p.ttl = std::min(p.ttl, r.ttl);
        if (r.type == kTypeSRV) {
          p.has_srv = true;
          p.target = Lower(r.target);
          p.port = r.port;
        } else {
          p.has_txt = true;
          p.txt = r.txt;
        }
      } else if (r.type == kTypeA || r.type == kTypeAAAA) {
        addresses[key].push_back(&r);
      } else if (r.type == kTypePTR) {
        pointed.insert(Lower(r.target));
      }
    }
  }
  auto pick = [&](const std::string& name) -> const Record* {
    auto it = addresses.find(name);
    if (it == addresses.end()) return nullptr;
    for (const Record* r : it->second) {
      if (r->type == kTypeA) return r;  // prefer IPv4, as go-micro does
    }
    return it->second.front();
  };
  std::vector<Found> out;
  for (auto& [key, p] : parts) {
    const Record* addr = p.has_srv ? pick(p.target) : nullptr;
    if (addr == nullptr && p.has_srv) addr = pick(key);
    if (!p.has_srv || !p.has_txt || (addr == nullptr && p.ttl != 0)) {
      if (incomplete != nullptr) incomplete->insert(p.name);
      continue;
    }
    absl::StatusOr<TxtPayload> txt = DecodeTxt(p.txt);
    if (!txt.ok()) {
      log::Debug(absl::StrCat("mdns: skipping ", p.name, ": ", txt.status().message()));
      continue;
    }
    std::string suffix = absl::StrCat(".", txt->service, ".", domain, ".");
    if (p.name.size() <= suffix.size() || !absl::EndsWithIgnoreCase(p.name, suffix)) continue;
    Found f;
    f.key = key;
    f.node_id = p.name.substr(0, p.name.size() - suffix.size());
    f.address = addr != nullptr ? plugin::JoinHostPort(AddressString(*addr), p.port) : "";
    f.ttl = p.ttl;
    f.txt = std::move(*txt);
    out.push_back(std::move(f));
  }
  if (incomplete != nullptr) {
    for (const std::string& t : pointed) {
      if (!parts.count(t)) incomplete->insert(t);
    }
  }
  return out;
}

registry::Service ServiceOf(const Found& f) {
  registry::Service s;
  s.name = f.txt.service;
  s.version = f.txt.version;
  s.endpoints = f.txt.endpoints;
  s.nodes.push_back(registry::Node{f.node_id, f.address, f.txt.metadata});
  return s;
}

// Sends `q` from an ephemeral port and hands every response to `on_response`
// until `timeout`; names it adds to `follow_up` are queried (ANY) once each.
absl::Status Query(const MdnsOptions& o, const std::string& name,
                   const std::function<void(const Message&, std::set<std::string>*)>& on_response) {
  asio::io_context io;
  udp::socket s(io);
  boost::system::error_code ec;
  s.open(udp::v4(), ec);
  if (!ec) s.set_option(asio::ip::multicast::enable_loopback(true), ec);
  if (!ec && !o.interface_address.empty()) {
    s.set_option(
        asio::ip::multicast::outbound_interface(asio::ip::make_address_v4(o.interface_address)),
        ec);
  }
  if (!ec) s.bind(udp::endpoint(asio::ip::address_v4::any(), 0), ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("mdns: cannot open a query socket: ", ec.message()));
  udp::endpoint group(asio::ip::make_address(kGroup), static_cast<unsigned short>(o.port));
  std::set<std::string> asked;
  auto ask = [&](const std::string& n, std::uint16_t type) {
    Message q;
    thread_local std::mt19937 rng{std::random_device{}()};
    q.id = static_cast<std::uint16_t>(rng());
    q.questions.push_back(Question{n, type, kClassIN, false});
    std::string bytes = Serialize(q);
    s.send_to(asio::buffer(bytes), group, 0, ec);
    asked.insert(Lower(n));
  };
  ask(name, kTypePTR);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("mdns: cannot send a query to ", kGroup, ": ", ec.message()));

  std::array<char, kMaxPacket> buf;
  udp::endpoint from;
  std::function<void()> receive = [&] {
    s.async_receive_from(asio::buffer(buf), from,
                         [&](const boost::system::error_code& e, std::size_t n) {
                           if (e) return;
                           absl::StatusOr<Message> m = Parse(absl::string_view(buf.data(), n));
                           if (m.ok() && m->is_response() && m->opcode() == 0) {
                             std::set<std::string> follow_up;
                             on_response(*m, &follow_up);
                             for (const std::string& f : follow_up) {
                               if (!asked.count(Lower(f))) ask(f, kTypeANY);
                             }
                           }
                           receive();
                         });
  };
  receive();
  io.run_for(o.query_timeout);
  return absl::OkStatus();
}

}  // namespace micro::mdns
