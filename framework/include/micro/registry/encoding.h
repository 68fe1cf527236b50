// The hex(zlib(...)) codec that registry plugins use to carry JSON in places
// meant for short strings: Consul tags, mDNS TXT records.
//
// Encode(x) is lower-case hex of the zlib stream (default level) of x, as
// go-micro writes it. Decode reverses it and refuses, with a clear error,
// bad hex, a damaged or truncated zlib stream, bytes after the stream, and
// output larger than `max_size`: a short tag must not inflate into gigabytes.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace micro::registry {

// Largest decoded payload Decode and Decompress accept by default.
inline constexpr std::size_t kMaxDecodedSize = 1 << 20;

std::string HexEncode(absl::string_view data);
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

std::string Compress(absl::string_view data);
absl::StatusOr<std::string> Decompress(absl::string_view zlib_data,
                                       std::size_t max_size = kMaxDecodedSize);

// hex(zlib(data)) and back.
std::string Encode(absl::string_view data);
absl::StatusOr<std::string> Decode(absl::string_view encoded,
                                   std::size_t max_size = kMaxDecodedSize);

}  // namespace micro::registry
