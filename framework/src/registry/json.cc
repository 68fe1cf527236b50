#include "micro/registry/json.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "micro/plugin/json.h"

namespace micro::plugin {
namespace {

using registry::kMaxJsonDepth;

using nlohmann::json;

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not valid (Go's rules:
// no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t Utf8Length(absl::string_view s, std::size_t i, std::uint32_t* rune) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  std::size_t n;
  std::uint32_t r;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, r = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, r = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, r = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((at(i + k) & 0xc0) != 0x80) return 0;
    r = r << 6 | (at(i + k) & 0x3f);
  }
  if ((n == 3 && (r < 0x800 || (r >= 0xd800 && r <= 0xdfff))) ||
      (n == 4 && (r < 0x10000 || r > 0x10ffff))) {
    return 0;
  }
  *rune = r;
  return n;
}

template <typename T>
void AppendList(std::string* out, const std::vector<T>& items) {
  if (items.empty()) {
    out->append("null");
    return;
  }
  out->push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out->push_back(',');
    AppendJson(out, items[i]);
  }
  out->push_back(']');
}

void AppendOptional(std::string* out, const std::optional<Value>& value) {
  if (value) {
    AppendJson(out, *value);
  } else {
    out->append("null");
  }
}

absl::Status TypeError(const std::string& where, const char* want, const json& got) {
  return absl::InvalidArgumentError(
      absl::StrCat("registry json: ", where, ": expected ", want, ", got ", got.type_name()));
}

absl::Status ReadString(const json& j, absl::string_view field, const std::string& where,
                        std::string* out) {
  const json* m = Member(j, field);
  if (m == nullptr || m->is_null()) return absl::OkStatus();
  if (!m->is_string()) return TypeError(absl::StrCat(where, ".", field), "a string", *m);
  *out = m->get<std::string>();
  return absl::OkStatus();
}

template <typename T>
absl::Status ReadList(const json& j, absl::string_view field, const std::string& where,
                      std::vector<T>* out) {
  const json* m = Member(j, field);
  if (m == nullptr || m->is_null()) return absl::OkStatus();
  std::string here = absl::StrCat(where, ".", field);
  if (!m->is_array()) return TypeError(here, "an array", *m);
  out->clear();
  out->reserve(m->size());
  for (std::size_t i = 0; i < m->size(); ++i) {
    const json& item = (*m)[i];
    // Go leaves a nil pointer for null; a nil node or endpoint is of no use, so skip it.
    if (item.is_null()) continue;
    T value;
    absl::Status s = FromJson(item, absl::StrCat(here, "[", i, "]"), &value);
    if (!s.ok()) return s;
    out->push_back(std::move(value));
  }
  return absl::OkStatus();
}

absl::Status ReadMetadata(const json& j, const std::string& where, Metadata* out) {
  const json* m = Member(j, "metadata");
  if (m == nullptr) return absl::OkStatus();
  return FromJson(*m, absl::StrCat(where, ".metadata"), out);
}

absl::Status ReadOptional(const json& j, absl::string_view field, const std::string& where,
                          std::optional<Value>* out) {
  const json* m = Member(j, field);
  if (m == nullptr || m->is_null()) return absl::OkStatus();
  Value v;
  absl::Status s = FromJson(*m, absl::StrCat(where, ".", field), &v);
  if (s.ok()) *out = std::move(v);
  return s;
}

absl::Status RequireObject(const json& j, const std::string& where) {
  return j.is_object() ? absl::OkStatus() : TypeError(where, "an object", j);
}

}  // namespace

void AppendString(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\f':
          out->append("\\f");
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xf]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    std::uint32_t rune = 0;
    std::size_t n = Utf8Length(s, i, &rune);
    if (n == 0) {
      out->append("\\ufffd");
      ++i;
    } else if (rune == 0x2028 || rune == 0x2029) {
      out->append(rune == 0x2028 ? "\\u2028" : "\\u2029");
      i += n;
    } else {
      out->append(s.data() + i, n);
      i += n;
    }
  }
  out->push_back('"');
}

void AppendJson(std::string* out, const Metadata& metadata) {
  if (metadata.empty()) {
    out->append("null");
    return;
  }
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : metadata) {
    if (!first) out->push_back(',');
    first = false;
    AppendString(out, key);
    out->push_back(':');
    AppendString(out, value);
  }
  out->push_back('}');
}

void AppendJson(std::string* out, const Value& value) {
  out->append("{\"name\":");
  AppendString(out, value.name);
  out->append(",\"type\":");
  AppendString(out, value.type);
  out->append(",\"values\":");
  AppendList(out, value.values);
  out->push_back('}');
}

void AppendJson(std::string* out, const Endpoint& endpoint) {
  out->append("{\"request\":");
  AppendOptional(out, endpoint.request);
  out->append(",\"response\":");
  AppendOptional(out, endpoint.response);
  out->append(",\"metadata\":");
  AppendJson(out, endpoint.metadata);
  out->append(",\"name\":");
  AppendString(out, endpoint.name);
  out->push_back('}');
}

void AppendJson(std::string* out, const Node& node) {
  out->append("{\"metadata\":");
  AppendJson(out, node.metadata);
  out->append(",\"id\":");
  AppendString(out, node.id);
  out->append(",\"address\":");
  AppendString(out, node.address);
  out->push_back('}');
}

void AppendJson(std::string* out, const Service& service) {
  out->append("{\"name\":");
  AppendString(out, service.name);
  out->append(",\"version\":");
  AppendString(out, service.version);
  out->append(",\"metadata\":");
  AppendJson(out, service.metadata);
  out->append(",\"endpoints\":");
  AppendList(out, service.endpoints);
  out->append(",\"nodes\":");
  AppendList(out, service.nodes);
  out->push_back('}');
}

absl::StatusOr<json> ParseJson(absl::string_view text) {
  struct TooDeep {};
  try {
    return json::parse(text.begin(), text.end(), [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry json: nested deeper than ", kMaxJsonDepth, " levels"));
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("registry json: ", e.what()));
  }
}

const json* Member(const json& j, absl::string_view field) {
  if (!j.is_object()) return nullptr;
  auto exact = j.find(std::string(field));
  if (exact != j.end()) return &*exact;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (absl::EqualsIgnoreCase(it.key(), field)) return &*it;
  }
  return nullptr;
}

absl::Status FromJson(const json& j, const std::string& where, Metadata* out) {
  out->clear();
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return TypeError(where, "an object of strings", j);
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_null()) {
      (*out)[it.key()] = "";
    } else if (it->is_string()) {
      (*out)[it.key()] = it->get<std::string>();
    } else {
      return TypeError(absl::StrCat(where, "[\"", it.key(), "\"]"), "a string", *it);
    }
  }
  return absl::OkStatus();
}

absl::Status FromJson(const json& j, const std::string& where, Value* out) {
  if (absl::Status s = RequireObject(j, where); !s.ok()) return s;
  absl::Status s = ReadString(j, "name", where, &out->name);
  if (s.ok()) s = ReadString(j, "type", where, &out->type);
  if (s.ok()) s = ReadList(j, "values", where, &out->values);
  return s;
}

absl::Status FromJson(const json& j, const std::string& where, Endpoint* out) {
  if (absl::Status s = RequireObject(j, where); !s.ok()) return s;
  absl::Status s = ReadString(j, "name", where, &out->name);
  if (s.ok()) s = ReadOptional(j, "request", where, &out->request);
  if (s.ok()) s = ReadOptional(j, "response", where, &out->response);
  if (s.ok()) s = ReadMetadata(j, where, &out->metadata);
  return s;
}

absl::Status FromJson(const json& j, const std::string& where, Node* out) {
  if (absl::Status s = RequireObject(j, where); !s.ok()) return s;
  absl::Status s = ReadString(j, "id", where, &out->id);
  if (s.ok()) s = ReadString(j, "address", where, &out->address);
  if (s.ok()) s = ReadMetadata(j, where, &out->metadata);
  return s;
}

absl::Status FromJson(const json& j, const std::string& where, Service* out) {
  if (absl::Status s = RequireObject(j, where); !s.ok()) return s;
  absl::Status s = ReadString(j, "name", where, &out->name);
  if (s.ok()) s = ReadString(j, "version", where, &out->version);
  if (s.ok()) s = ReadMetadata(j, where, &out->metadata);
  if (s.ok()) s = ReadList(j, "endpoints", where, &out->endpoints);
  if (s.ok()) s = ReadList(j, "nodes", where, &out->nodes);
  return s;
}

}  // namespace micro::plugin

namespace micro::registry {
namespace {

template <typename T>
std::string Write(const T& value) {
  std::string out;
  plugin::AppendJson(&out, value);
  return out;
}

template <typename T>
absl::StatusOr<T> Read(absl::string_view text, const char* what) {
  absl::StatusOr<nlohmann::json> j = plugin::ParseJson(text);
  if (!j.ok()) return j.status();
  T value;
  absl::Status s = plugin::FromJson(*j, what, &value);
  if (!s.ok()) return s;
  return value;
}

}  // namespace

std::string ToJson(const Service& service) { return Write(service); }
std::string ToJson(const Node& node) { return Write(node); }
std::string ToJson(const Endpoint& endpoint) { return Write(endpoint); }
std::string ToJson(const Metadata& metadata) { return Write(metadata); }

absl::StatusOr<Service> ServiceFromJson(absl::string_view json) {
  return Read<Service>(json, "service");
}
absl::StatusOr<Node> NodeFromJson(absl::string_view json) { return Read<Node>(json, "node"); }
absl::StatusOr<Endpoint> EndpointFromJson(absl::string_view json) {
  return Read<Endpoint>(json, "endpoint");
}
absl::StatusOr<Metadata> MetadataFromJson(absl::string_view json) {
  return Read<Metadata>(json, "metadata");
}

}  // namespace micro::registry
