#include "micro/broker/plugin.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "micro/broker/memory.h"
#include "micro/registry/plugin.h"

namespace micro::broker {
namespace {

struct Table {
  std::mutex mu;
  std::map<std::string, BrokerFactory> factories;
};

absl::StatusOr<std::unique_ptr<Broker>> MakeMemory(const BrokerAddress& address,
                                                   const BrokerContext&) {
  if (!address.params.empty() || !address.hosts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "broker \"", address.uri, "\": the memory broker takes no address and no parameters"));
  }
  return NewMemoryBroker();
}

Table& table() {
  // Never destroyed: plugins may be looked up during exit.
  static Table* t = [] {
    auto* made = new Table;
    made->factories.emplace("memory", MakeMemory);
    return made;
  }();
  return *t;
}

// The registry parser's messages, in a broker's words.
absl::Status AsBroker(const absl::Status& s) {
  std::string m(s.message());
  for (const char* from : {"registry address", "registry"}) {
    if (absl::StartsWith(m, from)) {
      m = absl::StrCat(absl::string_view(from) == "registry" ? "broker" : "broker address",
                       m.substr(std::string(from).size()));
      break;
    }
  }
  return absl::Status(s.code(), m);
}

std::string KnownSchemes() {
  std::string known = absl::StrJoin(BrokerSchemes(), ", ");
  if (known == "memory")
    absl::StrAppend(&known, "; http and nats come with micro/micro.h (target micro::micro)");
  return known;
}

}  // namespace

absl::Status RegisterBrokerPlugin(absl::string_view scheme, BrokerFactory factory) {
  std::string s = absl::AsciiStrToLower(scheme);
  auto parsed = registry::ParseRegistryAddress(absl::StrCat(s, "://"));
  if (s.empty() || !parsed.ok() || parsed->scheme != s) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker plugin: invalid scheme \"", scheme, "\""));
  }
  if (!factory)
    return absl::InvalidArgumentError(absl::StrCat("broker plugin \"", s, "\": no factory"));
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (!t.factories.emplace(s, std::move(factory)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("broker plugin \"", s, "\" is already registered"));
  }
  return absl::OkStatus();
}

std::vector<std::string> BrokerSchemes() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  std::vector<std::string> out;
  for (const auto& [name, f] : t.factories) out.push_back(name);
  return out;
}

absl::StatusOr<BrokerAddress> ParseBrokerAddress(absl::string_view uri) {
  if (absl::StripAsciiWhitespace(uri).empty())
    return absl::InvalidArgumentError("broker address is empty");
  // Port 0 ("any port") makes sense for a broker that listens (http://127.0.0.1:0); the
  // registry's parser wants a port to connect to, so it checks port 1 in its place.
  std::string text(absl::StripAsciiWhitespace(uri));
  std::vector<std::size_t> any_port;
  if (std::size_t sep = text.find("://"); sep != std::string::npos) {
    std::size_t end = std::min(text.find('?'), text.size());
    std::vector<std::string> hosts = absl::StrSplit(text.substr(sep + 3, end - sep - 3), ',');
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      if (absl::EndsWith(hosts[i], ":0") && hosts[i].size() > 2) {
        hosts[i].back() = '1';
        any_port.push_back(i);
      }
    }
    text = absl::StrCat(text.substr(0, sep + 3), absl::StrJoin(hosts, ","), text.substr(end));
  }
  auto parsed = registry::ParseRegistryAddress(text);
  if (!parsed.ok()) return AsBroker(parsed.status());
  for (std::size_t i : any_port) {
    if (i < parsed->hosts.size()) parsed->hosts[i].back() = '0';
  }
  parsed->uri = registry::RedactUri(uri);
  return BrokerAddress{std::move(parsed->scheme), std::move(parsed->hosts), std::move(parsed->uri),
                       std::move(parsed->params)};
}

absl::StatusOr<std::string> BrokerUri(absl::string_view broker, absl::string_view address) {
  broker = absl::StripAsciiWhitespace(broker);
  address = absl::StripAsciiWhitespace(address);
  if (broker.find("://") != absl::string_view::npos) {
    if (!address.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("broker \"", registry::RedactUri(broker),
                       "\" already holds an address; drop the broker address \"",
                       registry::RedactUri(address), "\" or give the broker as a plain name"));
    }
    return std::string(broker);
  }
  if (broker.empty())
    return absl::InvalidArgumentError("a broker address was given without a broker name");
  return absl::StrCat(broker, "://", address);
}

absl::StatusOr<std::unique_ptr<Broker>> NewBroker(absl::string_view uri,
                                                  const BrokerContext& context) {
  absl::StatusOr<BrokerAddress> address = ParseBrokerAddress(uri);
  if (!address.ok()) return address.status();
  BrokerFactory factory;
  {
    Table& t = table();
    std::lock_guard<std::mutex> lock(t.mu);
    auto it = t.factories.find(address->scheme);
    if (it != t.factories.end()) factory = it->second;
  }
  if (!factory) {
    return absl::InvalidArgumentError(absl::StrCat("unknown broker \"", address->scheme, "\" in \"",
                                                   address->uri, "\" (known: ", KnownSchemes(),
                                                   ")"));
  }
  return factory(*address, context);
}

}  // namespace micro::broker
