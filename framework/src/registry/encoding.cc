#include "micro/registry/encoding.h"

#include <zlib.h>

#include <new>

#include "absl/strings/str_cat.h"

namespace micro::registry {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HexEncode(absl::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(data.size() * 2);
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto byte = static_cast<unsigned char>(data[i]);
    out[2 * i] = kDigits[byte >> 4];
    out[2 * i + 1] = kDigits[byte & 0xf];
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex: odd length ", hex.size(), " (every byte takes two digits)"));
  }
  std::string out;
  out.resize(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      std::size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
      return absl::InvalidArgumentError(absl::StrCat(
          "hex: invalid digit at offset ", bad, " (byte 0x", HexEncode(hex.substr(bad, 1)), ")"));
    }
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string Compress(absl::string_view data) {
  uLongf bound = compressBound(static_cast<uLong>(data.size()));
  std::string out;
  out.resize(bound);
  int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &bound,
                     reinterpret_cast<const Bytef*>(data.data()), static_cast<uLong>(data.size()),
                     Z_DEFAULT_COMPRESSION);
  // compress2 into a compressBound buffer fails only when memory runs out.
  if (rc != Z_OK) throw std::bad_alloc();
  out.resize(bound);
  return out;
}

absl::StatusOr<std::string> Decompress(absl::string_view zlib_data, std::size_t max_size) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return absl::InternalError("zlib: inflateInit failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zlib_data.data()));
  zs.avail_in = static_cast<uInt>(zlib_data.size());

  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string why = rc == Z_BUF_ERROR ? "unexpected end of data"
                        : zs.msg          ? zs.msg
                                          : absl::StrCat("error ", rc);
      inflateEnd(&zs);
      return absl::InvalidArgumentError(absl::StrCat("zlib: ", why));
    }
    std::size_t produced = sizeof(chunk) - zs.avail_out;
    if (out.size() + produced > max_size) {
      inflateEnd(&zs);
      return absl::ResourceExhaustedError(
          absl::StrCat("zlib: decompressed data exceeds the limit of ", max_size, " bytes"));
    }
    out.append(chunk, produced);
  }
  std::size_t trailing = zs.avail_in;
  inflateEnd(&zs);
  if (trailing != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("zlib: ", trailing, " unexpected bytes after the end of the stream"));
  }
  return out;
}

std::string Encode(absl::string_view data) { return HexEncode(Compress(data)); }

absl::StatusOr<std::string> Decode(absl::string_view encoded, std::size_t max_size) {
  absl::StatusOr<std::string> raw = HexDecode(encoded);
  if (!raw.ok()) return raw.status();
  return Decompress(*raw, max_size);
}

}  // namespace micro::registry
