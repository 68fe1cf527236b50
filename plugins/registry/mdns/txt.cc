#include "txt.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "micro/plugin/json.h"
#include "micro/registry/encoding.h"

namespace micro::mdns {

std::vector<std::string> EncodeTxt(const TxtPayload& p) {
  std::string json = "{\"Metadata\":";
  plugin::AppendJson(&json, p.metadata);
  json += ",\"Service\":";
  plugin::AppendString(&json, p.service);
  json += ",\"Version\":";
  plugin::AppendString(&json, p.version);
  json += ",\"Endpoints\":";
  if (p.endpoints.empty()) {
    json += "null";
  } else {
    json += "[";
    for (std::size_t i = 0; i < p.endpoints.size(); ++i) {
      if (i) json += ",";
      plugin::AppendJson(&json, p.endpoints[i]);
    }
    json += "]";
  }
  json += "}";
  std::string encoded = registry::Encode(json);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < encoded.size(); i += 255) out.push_back(encoded.substr(i, 255));
  if (out.empty()) out.emplace_back();
  return out;
}

absl::StatusOr<TxtPayload> DecodeTxt(const std::vector<std::string>& strings) {
  absl::StatusOr<std::string> json = registry::Decode(absl::StrJoin(strings, ""));
  if (!json.ok()) return json.status();
  absl::StatusOr<nlohmann::json> j = plugin::ParseJson(*json);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return absl::InvalidArgumentError("mdns txt: not a JSON object");
  TxtPayload p;
  auto str = [&](const char* field, std::string* out) -> absl::Status {
    const nlohmann::json* m = plugin::Member(*j, field);
    if (m == nullptr || m->is_null()) return absl::OkStatus();
    if (!m->is_string())
      return absl::InvalidArgumentError(absl::StrCat("mdns txt: ", field, " is not a string"));
    *out = m->get<std::string>();
    return absl::OkStatus();
  };
  if (absl::Status s = str("Service", &p.service); !s.ok()) return s;
  if (absl::Status s = str("Version", &p.version); !s.ok()) return s;
  if (const nlohmann::json* m = plugin::Member(*j, "Metadata"); m != nullptr) {
    if (absl::Status s = plugin::FromJson(*m, "txt.Metadata", &p.metadata); !s.ok()) return s;
  }
  if (const nlohmann::json* m = plugin::Member(*j, "Endpoints"); m != nullptr && !m->is_null()) {
    if (!m->is_array()) return absl::InvalidArgumentError("mdns txt: Endpoints is not an array");
    for (std::size_t i = 0; i < m->size(); ++i) {
      if ((*m)[i].is_null()) continue;
      registry::Endpoint e;
      if (absl::Status s = plugin::FromJson((*m)[i], absl::StrCat("txt.Endpoints[", i, "]"), &e);
          !s.ok()) {
        return s;
      }
      p.endpoints.push_back(std::move(e));
    }
  }
  if (p.service.empty()) return absl::InvalidArgumentError("mdns txt: no Service name");
  return p;
}

}  // namespace micro::mdns
