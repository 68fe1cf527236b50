#include "micro/plugin/query.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace micro::plugin {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

absl::StatusOr<std::string> Decode(absl::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] != '%') {
      out.push_back(in[i]);
    } else {
      int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      int lo = hi >= 0 ? HexValue(in[i + 2]) : -1;
      if (lo < 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad percent escape in \"", in, "\""));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<QueryPair>> ParseQuery(absl::string_view query) {
  std::vector<QueryPair> out;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::size_t eq = pair.find('=');
    QueryPair p;
    absl::StatusOr<std::string> key = Decode(pair.substr(0, eq));
    if (!key.ok()) return key.status();
    p.key = std::move(*key);
    if (eq != absl::string_view::npos) {
      absl::StatusOr<std::string> value = Decode(pair.substr(eq + 1));
      if (!value.ok()) return value.status();
      p.value = std::move(*value);
      p.has_value = true;
    }
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<bool> ParseBoolParam(absl::string_view what, absl::string_view value) {
  std::string s = absl::AsciiStrToLower(value);
  if (s == "1" || s == "true" || s == "yes") return true;
  if (s == "0" || s == "false" || s == "no") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": \"", value, "\" is not a boolean (true or false)"));
}

absl::StatusOr<std::chrono::milliseconds> ParseDurationParam(absl::string_view what,
                                                             absl::string_view value) {
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", value, "\" is not a positive duration such as 5s or 250ms"));
  }
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

}  // namespace micro::plugin
