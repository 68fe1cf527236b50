#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "micro/broker/broker.h"

namespace micro::broker {

std::string EncodeMessage(const Message& message) {
  // Go writes struct fields in declaration order (Header, then Body) and map keys sorted.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  for (const auto& [k, v] : message.header) header[k] = v;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["Header"] = std::move(header);
  j["Body"] = absl::Base64Escape(message.body);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

absl::StatusOr<Message> DecodeMessage(absl::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("broker message: not JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("broker message: not a JSON object");
  Message m;
  for (const auto& [key, value] : j.items()) {
    // Go matches field names without regard to case.
    std::string name = absl::AsciiStrToLower(key);
    if (name == "header") {
      if (value.is_null()) continue;
      if (!value.is_object())
        return absl::InvalidArgumentError("broker message: \"Header\" is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          return absl::InvalidArgumentError(
              absl::StrCat("broker message: header \"", k, "\" is not a string"));
        m.header[k] = v.get<std::string>();
      }
    } else if (name == "body") {
      if (value.is_null()) continue;
      if (!value.is_string())
        return absl::InvalidArgumentError("broker message: \"Body\" is not a base64 string");
      if (!absl::Base64Unescape(value.get<std::string>(), &m.body))
        return absl::InvalidArgumentError("broker message: \"Body\" is not valid base64");
    }
  }
  return m;
}

}  // namespace micro::broker
