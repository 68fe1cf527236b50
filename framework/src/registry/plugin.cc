#include "micro/registry/plugin.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "micro/plugin/query.h"
#include "micro/registry/memory.h"

namespace micro::registry {
namespace {

struct Table {
  std::mutex mu;
  std::map<std::string, RegistryFactory> factories;
};

absl::StatusOr<std::unique_ptr<Registry>> MakeMemory(const RegistryAddress& address);

Table& table() {
  // Never destroyed: plugins may be looked up during exit. memory:// belongs to
  // the framework; every other scheme comes from a plugin.
  static Table* t = [] {
    auto* made = new Table;
    made->factories.emplace("memory", MakeMemory);
    return made;
  }();
  return *t;
}

absl::StatusOr<std::unique_ptr<Registry>> MakeMemory(const RegistryAddress& address) {
  if (!address.params.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry \"", address.uri, "\": the memory registry takes no parameters"));
  }
  if (!address.hosts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the memory registry takes no address, got \"",
                                                   absl::StrJoin(address.hosts, ","), "\" in \"",
                                                   address.uri, "\""));
  }
  return NewMemoryRegistry();
}

bool ValidScheme(absl::string_view s) {
  if (s.empty() || !absl::ascii_isalpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '+' || c == '-' || c == '.';
  });
}

// `text` with the secrets of `uri` (values of secret parameters, user information) masked,
// wherever they appear in it: a message may quote a piece of the URI.
std::string MaskSecretsOf(absl::string_view uri, absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> secrets;
  std::size_t q = uri.find('?');
  if (q != absl::string_view::npos) {
    for (absl::string_view pair : absl::StrSplit(uri.substr(q + 1), '&')) {
      std::size_t eq = pair.find('=');
      if (eq != absl::string_view::npos && eq + 1 < pair.size() &&
          IsSecretParam(pair.substr(0, eq))) {
        secrets.emplace_back(std::string(pair.substr(eq + 1)), "***");
      }
    }
  }
  absl::string_view head = uri.substr(0, q);
  for (std::size_t at = head.find('@'); at != absl::string_view::npos;
       at = head.find('@', at + 1)) {
    std::size_t from = head.find_last_of(",/", at);
    from = from == absl::string_view::npos ? 0 : from + 1;
    if (at > from) secrets.emplace_back(std::string(head.substr(from, at - from)), "***");
  }
  return absl::StrReplaceAll(text, secrets);
}

absl::Status BadAddress(absl::string_view uri, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("registry address \"", RedactUri(uri), "\": ", MaskSecretsOf(uri, why)));
}

// A host as messages may show it: user information ("user:password@") masked.
std::string ShownHost(absl::string_view host) {
  std::size_t at = host.rfind('@');
  return at == absl::string_view::npos ? std::string(host)
                                       : absl::StrCat("***@", host.substr(at + 1));
}

// Checks "host", "host:port" or "[v6]:port".
absl::Status CheckHost(absl::string_view uri, absl::string_view host) {
  if (host.empty()) return BadAddress(uri, "empty host in the address list");
  for (char c : host) {
    if (absl::ascii_isspace(c) || c == '/' || c == '?' || c == '#' || c == '@') {
      return BadAddress(uri,
                        absl::StrCat("unexpected '", std::string(1, c), "' in \"", ShownHost(host),
                                     "\" (expected host:port[,host:port...]; user "
                                     "names and passwords go in parameters)"));
    }
  }
  absl::string_view name = host;
  absl::string_view port;
  if (host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == absl::string_view::npos)
      return BadAddress(uri, absl::StrCat("unclosed '[' in \"", host, "\""));
    name = host.substr(1, close - 1);
    absl::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return BadAddress(uri, absl::StrCat("expected ':' after ']' in \"", host, "\""));
      port = rest.substr(1);
      if (port.empty()) return BadAddress(uri, absl::StrCat("empty port in \"", host, "\""));
    }
  } else {
    std::size_t colon = host.rfind(':');
    if (colon != absl::string_view::npos) {
      if (host.find(':') != colon) {
        return BadAddress(uri,
                          absl::StrCat("IPv6 address \"", host, "\" must be written [addr]:port"));
      }
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (port.empty()) return BadAddress(uri, absl::StrCat("empty port in \"", host, "\""));
    }
  }
  if (name.empty()) return BadAddress(uri, absl::StrCat("empty host name in \"", host, "\""));
  if (!port.empty()) {
    int p = 0;
    if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535 ||
        !std::all_of(port.begin(), port.end(), absl::ascii_isdigit)) {
      return BadAddress(uri, absl::StrCat("port \"", port, "\" is not a number from 1 to 65535"));
    }
  }
  return absl::OkStatus();
}

// "a=1&b=2" -> {a: 1, b: 2}; a key alone means "true".
absl::Status ParseParams(absl::string_view uri, absl::string_view query,
                         std::map<std::string, std::string>* out) {
  absl::StatusOr<std::vector<plugin::QueryPair>> pairs = plugin::ParseQuery(query);
  if (!pairs.ok()) return BadAddress(uri, pairs.status().message());
  for (plugin::QueryPair& p : *pairs) {
    if (p.key.empty()) return BadAddress(uri, "empty parameter name after '?'");
    std::string key = p.key;
    if (!out->emplace(key, p.has_value ? std::move(p.value) : "true").second) {
      return BadAddress(uri, absl::StrCat("parameter \"", key, "\" given twice"));
    }
  }
  return absl::OkStatus();
}

std::string KnownSchemes() {
  std::string known = absl::StrJoin(RegistrySchemes(), ", ");
  // Only memory:// means no plugin was added: say where the others come from.
  if (known == "memory")
    absl::StrAppend(&known,
                    "; mdns, consul and etcd come with micro/micro.h (target micro::micro)");
  return known;
}

}  // namespace

absl::Status RegisterRegistryPlugin(absl::string_view scheme, RegistryFactory factory) {
  std::string s = absl::AsciiStrToLower(scheme);
  if (!ValidScheme(s)) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry plugin: invalid scheme \"", scheme, "\""));
  }
  if (!factory)
    return absl::InvalidArgumentError(absl::StrCat("registry plugin \"", s, "\": no factory"));
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (!t.factories.emplace(s, std::move(factory)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("registry plugin \"", s, "\" is already registered"));
  }
  return absl::OkStatus();
}

std::vector<std::string> RegistrySchemes() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  std::vector<std::string> out;
  for (const auto& [name, f] : t.factories) out.push_back(name);
  return out;
}

bool IsSecretParam(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(key);
  for (const char* s : {"token", "password", "passwd", "secret", "credential", "auth"}) {
    if (k.find(s) != std::string::npos) return true;
  }
  return false;
}

std::string RedactUri(absl::string_view uri) {
  std::string out;
  absl::string_view query;
  absl::string_view head = uri;
  if (std::size_t q = uri.find('?'); q != absl::string_view::npos) {
    head = uri.substr(0, q);
    query = uri.substr(q + 1);
  }
  // "scheme://user:password@host" (or an '@' anywhere in a host list): mask up to the '@'.
  std::size_t start = head.find("://");
  start = start == absl::string_view::npos ? 0 : start + 3;
  for (std::size_t at; (at = head.find('@', start)) != absl::string_view::npos;) {
    std::size_t from = head.find_last_of(",/", at);
    from = from == absl::string_view::npos || from < start ? start : from + 1;
    absl::StrAppend(&out, head.substr(0, from), "***@");
    head = head.substr(at + 1);
    start = 0;
  }
  absl::StrAppend(&out, head);
  if (uri.find('?') == absl::string_view::npos) return out;
  out += '?';
  bool first = true;
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (!first) out += '&';
    first = false;
    std::size_t eq = pair.find('=');
    absl::string_view key = pair.substr(0, eq);
    // A key is percent-encoded at worst; its words still show ("acl%5Ftoken" aside).
    if (eq != absl::string_view::npos && IsSecretParam(key)) {
      absl::StrAppend(&out, key, "=***");
    } else {
      absl::StrAppend(&out, pair);
    }
  }
  return out;
}

absl::StatusOr<RegistryAddress> ParseRegistryAddress(absl::string_view uri) {
  absl::string_view text = absl::StripAsciiWhitespace(uri);
  if (text.empty()) return absl::InvalidArgumentError("registry address is empty");
  RegistryAddress out;
  out.uri = RedactUri(uri);
  absl::string_view rest;
  if (std::size_t q = text.find('?'); q != absl::string_view::npos) {
    if (absl::Status s = ParseParams(uri, text.substr(q + 1), &out.params); !s.ok()) return s;
    text = text.substr(0, q);
  }
  std::size_t sep = text.find("://");
  if (sep == absl::string_view::npos) {
    if (text.find_first_of(":/,") != absl::string_view::npos) {
      return BadAddress(
          uri, "expected scheme://host:port[,host:port...], for example consul://127.0.0.1:8500");
    }
    out.scheme = absl::AsciiStrToLower(text);
  } else {
    out.scheme = absl::AsciiStrToLower(text.substr(0, sep));
    rest = text.substr(sep + 3);
  }
  if (!ValidScheme(out.scheme)) {
    return BadAddress(uri, absl::StrCat("invalid scheme \"", out.scheme, "\""));
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (!rest.empty()) {
    for (absl::string_view host : absl::StrSplit(rest, ',')) {
      if (absl::Status s = CheckHost(uri, host); !s.ok()) return s;
      out.hosts.emplace_back(host);
    }
  }
  return out;
}

absl::StatusOr<std::string> RegistryUri(absl::string_view registry, absl::string_view address) {
  registry = absl::StripAsciiWhitespace(registry);
  address = absl::StripAsciiWhitespace(address);
  if (registry.find("://") != absl::string_view::npos) {
    if (!address.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry \"", RedactUri(registry),
                       "\" already holds an address; drop the registry address \"",
                       RedactUri(address), "\" or give the registry as a plain name"));
    }
    return std::string(registry);
  }
  if (registry.empty()) {
    return absl::InvalidArgumentError("a registry address was given without a registry name");
  }
  return absl::StrCat(registry, "://", address);
}

absl::StatusOr<std::unique_ptr<Registry>> NewRegistry(absl::string_view uri) {
  absl::StatusOr<RegistryAddress> address = ParseRegistryAddress(uri);
  if (!address.ok()) return address.status();
  RegistryFactory factory;
  {
    Table& t = table();
    std::lock_guard<std::mutex> lock(t.mu);
    auto it = t.factories.find(address->scheme);
    if (it != t.factories.end()) factory = it->second;
  }
  if (!factory) {
    return absl::InvalidArgumentError(absl::StrCat("unknown registry \"", address->scheme,
                                                   "\" in \"", RedactUri(uri),
                                                   "\" (known: ", KnownSchemes(), ")"));
  }
  return factory(*address);
}

}  // namespace micro::registry
