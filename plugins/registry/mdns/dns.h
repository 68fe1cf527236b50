// DNS messages as mDNS uses them (RFC 1035 wire format, RFC 6762 bits).
//
// Parse reads untrusted packets: every read is bounds-checked, a name may
// follow at most kMaxPointerJumps compression pointers and only backwards, a
// name is at most 255 bytes, and section counts are checked against the bytes
// left before anything is allocated. Unknown record types are kept as raw
// rdata. Serialize compresses names. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::mdns {

enum RecordType : std::uint16_t {
  kTypeA = 1,
  kTypePTR = 12,
  kTypeTXT = 16,
  kTypeAAAA = 28,
  kTypeSRV = 33,
  kTypeANY = 255,
};
inline constexpr std::uint16_t kClassIN = 1;
inline constexpr int kMaxPointerJumps = 16;
inline constexpr std::size_t kMaxNameLength = 255;

struct Question {
  std::string name;  // lower-case not enforced; compare with NameEquals
  std::uint16_t type = kTypePTR;
  std::uint16_t klass = kClassIN;
  bool unicast_response = false;  // the QU bit (top bit of the class)
};

struct Record {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t klass = kClassIN;
  bool cache_flush = false;  // top bit of the class
  std::uint32_t ttl = 0;
  // By type:
  std::string target;  // PTR: the pointed-to name; SRV: the target host
  std::uint16_t priority = 0, weight = 0, port = 0;  // SRV
  std::vector<std::string> txt;                      // TXT strings
  std::array<std::uint8_t, 16> address{};            // A: first 4 bytes; AAAA: all 16
  std::string raw;                                   // rdata of any other type
};

struct Message {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;  // QR, opcode, AA, TC, RD, RA, Z, rcode
  std::vector<Question> questions;
  std::vector<Record> answers, authorities, additionals;

  bool is_response() const { return (flags & 0x8000) != 0; }
  int opcode() const { return (flags >> 11) & 0xf; }
  bool truncated() const { return (flags & 0x0200) != 0; }
};

inline constexpr std::uint16_t kFlagResponse = 0x8000;
inline constexpr std::uint16_t kFlagAuthoritative = 0x0400;

absl::StatusOr<Message> Parse(absl::string_view packet);
std::string Serialize(const Message& message);

// DNS names compare case-insensitively (ASCII).
bool NameEquals(absl::string_view a, absl::string_view b);

// "10.0.0.1" / "::1" <-> record address bytes; false when not an IP literal.
bool SetAddress(absl::string_view ip, Record* record);
std::string AddressString(const Record& record);

}  // namespace micro::mdns
