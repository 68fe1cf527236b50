// How the pieces fit:
// - One io thread owns the 5353 socket: it answers queries for local nodes,
//   sends announcements and goodbyes (posted to it, so the socket is used by
//   one thread only), and feeds multicast responses to watchers.
// - A lookup opens its own socket on an ephemeral port and io_context in the
//   calling thread: responders answer it by unicast (RFC 6762 6.7, legacy
//   unicast: id and question echoed, which go-micro's querier checks).
// - Like go-micro, each node answers in a message of its own, so the A record
//   of the shared host name never mixes with another node's.
#include "mdns_registry.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dns.h"
#include "lookup.h"
#include "micro/log.h"
#include "micro/plugin/net.h"
#include "micro/plugin/queue_watcher.h"
#include "micro/plugin/registration.h"
#include "txt.h"

namespace micro::mdns {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;

constexpr char kGroup[] = "224.0.0.251";
constexpr std::size_t kMaxPacket = 9000;  // RFC 6762 17
constexpr std::uint32_t kDefaultTtl = 120;

std::string Lower(absl::string_view s) { return absl::AsciiStrToLower(s); }

// A node address mDNS can announce: host:port with a port above 0.
bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  return plugin::SplitHostPort(address, host, port).ok() && !host->empty() && *port > 0;
}

}  // namespace

class MdnsRegistry : public registry::Registry {
 public:
  explicit MdnsRegistry(MdnsOptions o) : opts_(std::move(o)) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    hostname_ = absl::StrCat(host[0] ? host : "localhost", ".");
  }

  absl::Status Open() {
    boost::system::error_code ec;
    socket_.open(udp::v4(), ec);
    if (!ec) socket_.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (setsockopt(socket_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        ec = boost::system::error_code(errno, boost::system::system_category());
      }
    }
    if (!ec)
      socket_.bind(
          udp::endpoint(asio::ip::address_v4::any(), static_cast<unsigned short>(opts_.port)), ec);
    if (ec) return Fail("bind UDP port " + std::to_string(opts_.port), ec);
    auto group = asio::ip::make_address_v4(kGroup);
    if (opts_.interface_address.empty()) {
      socket_.set_option(asio::ip::multicast::join_group(group), ec);
    } else {
      auto iface = asio::ip::make_address_v4(opts_.interface_address, ec);
      if (!ec) socket_.set_option(asio::ip::multicast::join_group(group, iface), ec);
      if (!ec) socket_.set_option(asio::ip::multicast::outbound_interface(iface), ec);
    }
    if (ec) return Fail(absl::StrCat("join ", kGroup), ec);
    socket_.set_option(asio::ip::multicast::enable_loopback(true), ec);
    if (ec) return Fail("enable multicast loopback", ec);
    Receive();
    Tick();
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  ~MdnsRegistry() override {
    if (thread_.joinable()) {
      std::vector<std::string> goodbyes;
      {
        std::lock_guard<std::mutex> l(mu_);
        for (auto& [key, n] : nodes_) goodbyes.push_back(Serialize(Announcement(n, 0)));
        nodes_.clear();
      }
      for (auto& g : goodbyes) Send(std::move(g));
      asio::post(io_, [this] {
        boost::system::error_code ec;
        tick_.cancel();
        for (auto& t : timers_) t->cancel();
        socket_.close(ec);
      });
      thread_.join();
    }
    std::lock_guard<std::mutex> l(mu_);
    for (auto& w : watchers_) w->Stop();
  }

  absl::Status Register(const registry::Service& service,
                        const registry::RegisterOptions& options) override {
    if (absl::Status s = plugin::CheckRegistration("mdns", service); !s.ok()) return s;
    std::uint32_t ttl = options.ttl.count() > 0
                            ? static_cast<std::uint32_t>(std::ceil(options.ttl.count() / 1000.0))
                            : kDefaultTtl;
    std::vector<LocalNode> made;
    for (const registry::Node& node : service.nodes) {
      LocalNode n;
      int port = 0;
      if (node.id.empty() || !SplitHostPort(node.address, &n.ip, &port) ||
          !SetAddress(n.ip, &n.addr)) {
        return absl::InvalidArgumentError(
            absl::StrCat("mdns register ", service.name, ": node \"", node.id,
                         "\" needs an id and an ip:port address, got \"", node.address, "\""));
      }
      n.service = service.name;
      n.instance = absl::StrCat(node.id, ".", service.name, ".", opts_.domain, ".");
      n.port = static_cast<std::uint16_t>(port);
      n.txt =
          EncodeTxt(TxtPayload{service.name, service.version, node.metadata, service.endpoints});
      n.ttl = ttl;
      // A registration with a TTL lapses here too unless registered again, as
      // in every other registry: a live but stuck process stops answering.
      n.expires = options.ttl.count() > 0 ? Clock::now() + options.ttl : Clock::time_point::max();
      made.push_back(std::move(n));
    }
    for (LocalNode& n : made) {
      std::string key = Lower(n.instance);
      int announcements = 1;  // a refresh: once, so watchers elsewhere renew their TTL
      {
        std::lock_guard<std::mutex> l(mu_);
        auto it = nodes_.find(key);
        if (it == nodes_.end() || it->second.txt != n.txt || it->second.port != n.port ||
            it->second.ip != n.ip || it->second.ttl != n.ttl) {
          announcements = 3;  // new or changed: RFC 6762 8.3, at least twice, a second apart
        }
        nodes_[key] = std::move(n);
      }
      Announce(key, announcements);
    }
    return absl::OkStatus();
  }

  absl::Status Deregister(const registry::Service& service) override {
    for (const registry::Node& node : service.nodes) {
      std::string key = Lower(absl::StrCat(node.id, ".", service.name, ".", opts_.domain, "."));
      std::string goodbye;
      {
        std::lock_guard<std::mutex> l(mu_);
        auto it = nodes_.find(key);
        if (it == nodes_.end()) continue;
        goodbye = Serialize(Announcement(it->second, 0));
        nodes_.erase(it);
      }
      Send(std::move(goodbye));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<registry::Service>> GetService(absl::string_view name) override {
    std::map<std::string, registry::Service> by_version;
    std::set<std::string> ids;
    std::vector<Found> found;
    auto add = [&](const Found& f) {
      if (f.txt.service != name || f.ttl == 0 || f.address.empty() || !ids.insert(f.node_id).second)
        return;
      found.push_back(f);
      registry::Service& s = by_version[f.txt.version];
      if (s.name.empty()) s = ServiceOf(f), s.nodes.clear();
      s.nodes.push_back(registry::Node{f.node_id, f.address, f.txt.metadata});
    };
    // Local nodes answer through the network too; adding them here keeps a
    // process able to find itself where multicast is filtered.
    for (const Found& f : LocalFound()) add(f);
    absl::Status s = Query(opts_, absl::StrCat(name, ".", opts_.domain, "."),
                           [&](const Message& m, std::set<std::string>* follow_up) {
                             for (const Found& f : Assemble(m, opts_.domain, follow_up)) add(f);
                           });
    if (!s.ok()) return s;
    Remember(found);
    if (by_version.empty()) return registry::ServiceNotFoundError(name);
    std::vector<registry::Service> out;
    for (auto& [v, svc] : by_version) out.push_back(std::move(svc));
    return out;
  }

  absl::StatusOr<std::vector<registry::Service>> ListServices() override {
    std::set<std::string> names;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& [key, n] : nodes_) names.insert(n.service);
    }
    std::string suffix = absl::StrCat("._services.", opts_.domain, ".");
    absl::Status s = Query(
        opts_, absl::StrCat("_services.", opts_.domain, "."),
        [&](const Message& m, std::set<std::string>*) {
          for (const Record& r : m.answers) {
            if (r.type != kTypePTR || r.ttl == 0 || !absl::EndsWithIgnoreCase(r.target, suffix)) {
              continue;
            }
            names.insert(r.target.substr(0, r.target.size() - suffix.size()));
          }
        });
    if (!s.ok()) return s;
    std::vector<registry::Service> out;
    for (const std::string& n : names) {
      registry::Service svc;
      svc.name = n;
      out.push_back(std::move(svc));
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<registry::Watcher>> Watch(
      const registry::WatchOptions& options) override {
    auto w = std::make_shared<plugin::QueueWatcher>(options.service, 10000, "mdns registry");
    std::lock_guard<std::mutex> l(mu_);
    watchers_.push_back(w);
    return plugin::QueueWatcher::Handle(std::move(w));
  }

  std::string String() const override {
    return opts_.interface_address.empty() ? "mdns://"
                                           : absl::StrCat("mdns://", opts_.interface_address);
  }

 private:
  struct LocalNode {
    std::string service, instance, ip;
    Record addr;
    std::uint16_t port = 0;
    std::vector<std::string> txt;
    std::uint32_t ttl = kDefaultTtl;
    Clock::time_point expires = Clock::time_point::max();
  };

  static absl::Status Fail(const std::string& what, const boost::system::error_code& ec) {
    return absl::UnavailableError(absl::StrCat("mdns: cannot ", what, ": ", ec.message()));
  }

  // Requires mu_ or a private copy. PTR, SRV, TXT and A of one node, with `ttl`.
  Message Announcement(const LocalNode& n, std::uint32_t ttl) const {
    Message m;
    m.flags = kFlagResponse | kFlagAuthoritative;
    m.answers = NodeRecords(n, ttl, true);
    return m;
  }

  std::vector<Record> NodeRecords(const LocalNode& n, std::uint32_t ttl, bool with_ptr) const {
    std::vector<Record> out;
    if (with_ptr) {
      Record ptr;
      ptr.name = absl::StrCat(n.service, ".", opts_.domain, ".");
      ptr.type = kTypePTR;
      ptr.ttl = ttl;
      ptr.target = n.instance;
      out.push_back(ptr);
    }
    Record srv;
    srv.name = n.instance;
    srv.type = kTypeSRV;
    srv.ttl = ttl;
    srv.priority = 10;
    srv.weight = 1;
    srv.port = n.port;
    srv.target = hostname_;
    out.push_back(srv);
    Record txt;
    txt.name = n.instance;
    txt.type = kTypeTXT;
    txt.ttl = ttl;
    txt.txt = n.txt;
    out.push_back(txt);
    Record a = n.addr;
    a.name = hostname_;
    a.ttl = ttl;
    out.push_back(a);
    return out;
  }

  // The local nodes as a querier would find them.
  std::vector<Found> LocalFound() {
    std::vector<Message> messages;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& [key, n] : nodes_) messages.push_back(Announcement(n, n.ttl));
    }
    std::vector<Found> out;
    for (const Message& m : messages) {
      for (Found& f : Assemble(m, opts_.domain, nullptr)) out.push_back(std::move(f));
    }
    return out;
  }

  void Send(std::string bytes, udp::endpoint to = {}) {
    if (to.port() == 0)
      to = udp::endpoint(asio::ip::make_address(kGroup), static_cast<unsigned short>(opts_.port));
    asio::post(io_, [this, bytes = std::move(bytes), to] {
      boost::system::error_code ec;
      socket_.send_to(asio::buffer(bytes), to, 0, ec);
      if (ec)
        log::Debug(absl::StrCat("mdns: send to ", to.address().to_string(), ": ", ec.message()));
    });
  }

  // Announces node `key` now and `count - 1` more times, a second apart (then 2 s).
  void Announce(const std::string& key, int count) {
    asio::post(io_, [this, key, count] { AnnounceOnIo(key, count, std::chrono::seconds(1)); });
  }

  void AnnounceOnIo(const std::string& key, int count, std::chrono::seconds gap) {
    std::string bytes;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = nodes_.find(key);
      if (it == nodes_.end()) return;
      bytes = Serialize(Announcement(it->second, it->second.ttl));
    }
    boost::system::error_code ec;
    socket_.send_to(
        asio::buffer(bytes),
        udp::endpoint(asio::ip::make_address(kGroup), static_cast<unsigned short>(opts_.port)), 0,
        ec);
    if (count <= 1) return;
    auto timer = std::make_shared<asio::steady_timer>(io_, gap);
    timers_.insert(timer);
    timer->async_wait([this, timer, key, count, gap](const boost::system::error_code& e) {
      timers_.erase(timer);
      if (!e) AnnounceOnIo(key, count - 1, gap * 2);
    });
  }

  void Receive() {
    socket_.async_receive_from(asio::buffer(buf_), from_,
                               [this](const boost::system::error_code& ec, std::size_t n) {
                                 if (ec == asio::error::operation_aborted || !socket_.is_open())
                                   return;
                                 if (!ec) OnPacket(absl::string_view(buf_.data(), n), from_);
                                 Receive();
                               });
  }

  void OnPacket(absl::string_view packet, const udp::endpoint& from) {
    absl::StatusOr<Message> m = Parse(packet);
    if (!m.ok()) {
      if (garbage_++ % 1000 == 0) {
        log::Debug(absl::StrCat("mdns: ignoring a malformed packet from ",
                                from.address().to_string(), ": ", m.status().message()));
      }
      return;
    }
    if (m->opcode() != 0 || (m->flags & 0xf) != 0) return;
    if (m->is_response()) {
      Observe(*m);
    } else {
      AnswerQuery(*m, from);
    }
  }

  // Answers each question from the local nodes: unicast to a querier on
  // another port (id and question echoed), multicast to one on 5353.
  void AnswerQuery(const Message& query, const udp::endpoint& from) {
    bool legacy = from.port() != opts_.port;
    std::vector<std::vector<Record>> groups;
    std::string services_name = absl::StrCat("_services.", opts_.domain, ".");
    std::string enum_name = absl::StrCat("_services._dns-sd._udp.", opts_.domain, ".");
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const Question& q : query.questions) {
        bool any = q.type == kTypeANY;
        std::set<std::string> listed;
        for (auto& [key, n] : nodes_) {
          std::string service_name = absl::StrCat(n.service, ".", opts_.domain, ".");
          if (NameEquals(q.name, service_name) && (any || q.type == kTypePTR)) {
            groups.push_back(NodeRecords(n, n.ttl, true));
          } else if (NameEquals(q.name, n.instance) &&
                     (any || q.type == kTypePTR || q.type == kTypeSRV || q.type == kTypeTXT)) {
            groups.push_back(NodeRecords(n, n.ttl, false));
          } else if (NameEquals(q.name, services_name) && (any || q.type == kTypePTR) &&
                     listed.insert(n.service).second) {
            groups.push_back(ServicesEntry(n));
          } else if (NameEquals(q.name, enum_name) && q.type == kTypePTR &&
                     listed.insert(n.service).second) {
            Record ptr;
            ptr.name = enum_name;
            ptr.type = kTypePTR;
            ptr.ttl = n.ttl;
            ptr.target = service_name;
            groups.push_back({ptr});
          }
        }
      }
    }
    for (auto& answers : groups) {
      Message r;
      r.flags = kFlagResponse | kFlagAuthoritative;
      r.answers = std::move(answers);
      if (legacy) {
        r.id = query.id;
        r.questions = query.questions;
      }
      std::string bytes = Serialize(r);
      boost::system::error_code ec;
      socket_.send_to(asio::buffer(bytes),
                      legacy ? from
                             : udp::endpoint(asio::ip::make_address(kGroup),
                                             static_cast<unsigned short>(opts_.port)),
                      0, ec);
    }
  }

  // go-micro's listing entry: instance <service> under service _services.
  std::vector<Record> ServicesEntry(const LocalNode& n) const {
    std::string instance = absl::StrCat(n.service, "._services.", opts_.domain, ".");
    Record ptr;
    ptr.name = absl::StrCat("_services.", opts_.domain, ".");
    ptr.type = kTypePTR;
    ptr.ttl = n.ttl;
    ptr.target = instance;
    Record srv;
    srv.name = instance;
    srv.type = kTypeSRV;
    srv.ttl = n.ttl;
    srv.priority = 10;
    srv.weight = 1;
    srv.port = 9999;
    srv.target = hostname_;
    Record txt;
    txt.name = instance;
    txt.type = kTypeTXT;
    txt.ttl = n.ttl;
    // go-micro publishes this entry with address 0.0.0.0, and its querier
    // counts an entry only once it has an address.
    Record a;
    a.name = hostname_;
    a.ttl = n.ttl;
    SetAddress("0.0.0.0", &a);
    return {ptr, srv, txt, a};
  }

  // Nodes found by a lookup join what watchers know, so their goodbye or lapse
  // later is reported. A node no watcher knew yet is reported as created: a
  // lookup answered before the node's own announcement arrived must not hide
  // the node from watchers (who upsert creates, so a repeat is harmless).
  void Remember(const std::vector<Found>& found) {
    std::lock_guard<std::mutex> l(mu_);
    for (const Found& f : found) {
      if (!seen_.count(f.key)) {
        registry::Service s = ServiceOf(f);
        Publish({registry::Action::kCreate, s});
        seen_.emplace(f.key, Seen{std::move(s), Clock::now() + std::chrono::seconds(f.ttl)});
      }
    }
  }

  // Announcements and goodbyes, to watchers.
  void Observe(const Message& m) {
    std::vector<Found> found = Assemble(m, opts_.domain, nullptr);
    if (found.empty()) return;
    std::lock_guard<std::mutex> l(mu_);
    for (Found& f : found) {
      auto it = seen_.find(f.key);
      if (f.ttl == 0) {
        if (it == seen_.end()) continue;
        Publish({registry::Action::kDelete, it->second.service});
        seen_.erase(it);
        continue;
      }
      if (f.address.empty()) continue;
      registry::Service s = ServiceOf(f);
      Clock::time_point expires = Clock::now() + std::chrono::seconds(f.ttl);
      if (it == seen_.end()) {
        Publish({registry::Action::kCreate, s});
        seen_.emplace(f.key, Seen{std::move(s), expires});
      } else {
        if (it->second.service != s) Publish({registry::Action::kUpdate, s});
        it->second = Seen{std::move(s), expires};
      }
    }
  }

  // Every second: nodes whose DNS TTL ran out without a refresh are gone.
  void Tick() {
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::vector<std::string> goodbyes;
      std::lock_guard<std::mutex> l(mu_);
      Clock::time_point now = Clock::now();
      for (auto it = nodes_.begin(); it != nodes_.end();) {
        if (it->second.expires <= now) {
          goodbyes.push_back(Serialize(Announcement(it->second, 0)));
          it = nodes_.erase(it);
        } else {
          ++it;
        }
      }
      for (std::string& g : goodbyes) Send(std::move(g));
      for (auto it = seen_.begin(); it != seen_.end();) {
        if (it->second.expires <= now) {
          Publish({registry::Action::kDelete, it->second.service});
          it = seen_.erase(it);
        } else {
          ++it;
        }
      }
      Tick();
    });
  }

  // Requires mu_.
  void Publish(const registry::Result& r) {
    std::vector<std::shared_ptr<plugin::QueueWatcher>> live;
    for (auto& w : watchers_) {
      if (w->stopped()) continue;
      w->Push(r);
      live.push_back(std::move(w));
    }
    watchers_.swap(live);
  }

  struct Seen {
    registry::Service service;
    Clock::time_point expires;
  };

  const MdnsOptions opts_;
  std::string hostname_;
  asio::io_context io_;
  udp::socket socket_{io_};
  asio::steady_timer tick_{io_};
  std::set<std::shared_ptr<asio::steady_timer>> timers_;  // io thread only
  std::array<char, kMaxPacket> buf_{};
  udp::endpoint from_;
  std::atomic<std::uint64_t> garbage_{0};

  std::mutex mu_;
  std::map<std::string, LocalNode> nodes_;  // by lower-case instance name
  std::map<std::string, Seen> seen_;        // announced by anyone, by instance
  std::vector<std::shared_ptr<plugin::QueueWatcher>> watchers_;
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<registry::Registry>> NewMdnsRegistry(const MdnsOptions& options) {
  auto r = std::make_unique<MdnsRegistry>(options);
  if (absl::Status s = r->Open(); !s.ok()) return s;
  return std::unique_ptr<registry::Registry>(std::move(r));
}

}  // namespace micro::mdns
