#include "etcd_codec.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "micro/registry/json.h"

namespace micro::etcd {
namespace {

std::string Part(absl::string_view s) { return absl::StrReplaceAll(s, {{"/", "-"}}); }

registry::Result Event(registry::Action action, registry::Service service) {
  registry::Result r;
  r.action = action;
  r.service = std::move(service);
  return r;
}

}  // namespace

std::string NodeKey(absl::string_view service, absl::string_view node_id) {
  return absl::StrCat(kPrefix, Part(service), "/", Part(node_id));
}

std::string ServicePrefix(absl::string_view service) {
  if (service.empty()) return std::string(kPrefix);
  return absl::StrCat(kPrefix, Part(service), "/");
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::string NodeValue(const registry::Service& service, const registry::Node& node) {
  registry::Service one = service;
  one.nodes = {node};
  return registry::ToJson(one);
}

absl::StatusOr<registry::Service> DecodeNode(absl::string_view key, absl::string_view value) {
  absl::string_view rest = key;
  if (!absl::ConsumePrefix(&rest, kPrefix)) {
    return absl::InvalidArgumentError(absl::StrCat("key \"", key, "\" is not under ", kPrefix));
  }
  std::size_t slash = rest.find('/');
  if (slash == 0 || slash == absl::string_view::npos || slash + 1 == rest.size() ||
      rest.find('/', slash + 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("key \"", key, "\" is not ", kPrefix, "<service>/<node id>"));
  }
  absl::StatusOr<registry::Service> s = registry::ServiceFromJson(value);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key \"", key, "\": value is not a go-micro service: ", s.status().message()));
  }
  if (s->name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("key \"", key, "\": service has no name"));
  }
  if (s->nodes.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key \"", key, "\": holds ", s->nodes.size(),
                     " nodes, not the one node of go-micro's layout"));
  }
  if (s->nodes[0].id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("key \"", key, "\": node has no id"));
  }
  return s;
}

WatchState::WatchState(Warn warn) : warn_(std::move(warn)) {}

bool WatchState::Decode(const Kv& kv, Entry* entry) {
  absl::StatusOr<registry::Service> s = DecodeNode(kv.key, kv.value);
  if (!s.ok()) {
    if (bad_.First(kv.key) && warn_) {
      warn_(absl::StrCat("etcd: skipping ", s.status().message()));
    }
    return false;
  }
  bad_.Forget(kv.key);
  entry->value = kv.value;
  entry->service = std::move(*s);
  return true;
}

std::vector<registry::Result> WatchState::Put(const Kv& kv) {
  std::vector<registry::Result> out;
  Entry entry;
  auto it = known_.find(kv.key);
  if (!Decode(kv, &entry)) {
    if (it != known_.end()) {
      out.push_back(Event(registry::Action::kDelete, std::move(it->second.service)));
      known_.erase(it);
    }
    return out;
  }
  if (it == known_.end()) {
    out.push_back(Event(registry::Action::kCreate, entry.service));
    known_.emplace(kv.key, std::move(entry));
  } else if (it->second.value != kv.value) {
    out.push_back(Event(registry::Action::kUpdate, entry.service));
    it->second = std::move(entry);
  }
  return out;
}

std::vector<registry::Result> WatchState::Delete(absl::string_view key) {
  std::vector<registry::Result> out;
  bad_.Forget(std::string(key));
  auto it = known_.find(std::string(key));
  if (it == known_.end()) return out;
  out.push_back(Event(registry::Action::kDelete, std::move(it->second.service)));
  known_.erase(it);
  return out;
}

std::vector<registry::Result> WatchState::Reset(const std::vector<Kv>& kvs, bool report) {
  std::map<std::string, Entry> next;
  for (const Kv& kv : kvs) {
    Entry entry;
    if (Decode(kv, &entry)) next[kv.key] = std::move(entry);
  }
  std::vector<registry::Result> out;
  if (report) {
    for (auto& [key, old] : known_) {
      if (next.count(key) == 0) out.push_back(Event(registry::Action::kDelete, old.service));
    }
    for (const auto& [key, entry] : next) {
      auto it = known_.find(key);
      if (it == known_.end()) {
        out.push_back(Event(registry::Action::kCreate, entry.service));
      } else if (it->second.value != entry.value) {
        out.push_back(Event(registry::Action::kUpdate, entry.service));
      }
    }
  }
  known_ = std::move(next);
  return out;
}

}  // namespace micro::etcd
