// libFuzzer target for what the mDNS registry reads from the network: DNS
// packets, and the TXT payload inside them. The first byte picks the input:
//   0: a packet: parse; what parses must serialize and parse again
//   1: TXT strings: the rest cut into 255-byte strings, decoded
//   2: a TXT payload: hex(zlib(rest)) decoded (reaches the JSON reader)
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dns.h"
#include "micro/registry/encoding.h"
#include "txt.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  absl::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto m = micro::mdns::Parse(in);
      if (!m.ok()) return 0;
      auto again = micro::mdns::Parse(micro::mdns::Serialize(*m));
      if (!again.ok()) __builtin_trap();  // what we read we must be able to write and read back
      for (const auto& r : m->answers) {
        if (r.type == micro::mdns::kTypeTXT) (void)micro::mdns::DecodeTxt(r.txt);
      }
      break;
    }
    case 1: {
      std::vector<std::string> strings;
      for (std::size_t i = 0; i < in.size(); i += 255) strings.emplace_back(in.substr(i, 255));
      (void)micro::mdns::DecodeTxt(strings);
      break;
    }
    case 2:
      (void)micro::mdns::DecodeTxt({micro::registry::Encode(in)});
      break;
  }
  return 0;
}
