#include "core/query.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace micro::internal {
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

}  // namespace micro::internal
