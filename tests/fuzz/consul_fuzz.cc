// libFuzzer target for what the Consul registry reads from an agent: the
// /v1/health/service answer (JSON, then the t-/e-/v- tags inside it) and the
// /v1/catalog/services and /v1/health/node answers. The first byte picks the input:
//   0: a health answer as is
//   1: a catalog answer as is, and the same bytes as a /v1/health/node answer
//   2: tags: the rest cut at '\n', decoded; each hex(zlib(tag)) form too
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "codec.h"
#include "micro/registry/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  absl::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto h = micro::consul::ParseHealth(in, "go.micro.srv.geo");
      if (h.ok()) {
        auto grouped = micro::consul::GroupByVersion("go.micro.srv.geo", h->nodes);
        std::size_t n = 0;
        for (const auto& s : grouped) n += s.nodes.size();
        if (n != h->nodes.size()) __builtin_trap();  // grouping loses no node
      }
      break;
    }
    case 1:
      (void)micro::consul::ParseCatalogServices(in);
      (void)micro::consul::ParseAgentAlive(in);
      break;
    default: {
      std::vector<std::string> tags = absl::StrSplit(in, '\n');
      (void)micro::consul::DecodeTags(tags);
      std::vector<std::string> encoded;
      for (const std::string& t : tags) {
        if (t.size() >= 2) encoded.push_back(t.substr(0, 2) + micro::registry::Encode(t.substr(2)));
      }
      (void)micro::consul::DecodeTags(encoded);
      break;
    }
  }
  return 0;
}
