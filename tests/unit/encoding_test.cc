#include <catch2/catch.hpp>

#include <sstream>

#include "absl/strings/str_split.h"
#include "micro/registry/encoding.h"
#include "test_util.h"

namespace reg = micro::registry;

TEST_CASE("hex vectors") {
  CHECK(reg::HexEncode("") == "");
  CHECK(reg::HexEncode(std::string("\x00\x01\xab\xff", 4)) == "0001abff");
  CHECK(*reg::HexDecode("0001abff") == std::string("\x00\x01\xab\xff", 4));
  CHECK(*reg::HexDecode("ABff") == "\xab\xff");  // Go's hex.DecodeString takes both cases
}

TEST_CASE("hex rejects odd length and bad digits") {
  auto odd = reg::HexDecode("abc");
  REQUIRE_FALSE(odd.ok());
  CHECK_THAT(std::string(odd.status().message()), Catch::Contains("odd length"));
  auto bad = reg::HexDecode("00zz");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("offset 2"));
}

TEST_CASE("decodes tags written by go-micro's encoder") {
  // Each line: encode(x) as Go's compress/zlib wrote it, then hex(x).
  std::istringstream lines(micro::testing::ReadFixture("registry/zlib_vectors.txt"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    REQUIRE(parts.size() == 2);
    auto plain = reg::HexDecode(parts[1]);
    REQUIRE(plain.ok());
    auto decoded = reg::Decode(parts[0]);
    REQUIRE(decoded.ok());
    CHECK(*decoded == *plain);
    // Our encoding must read back the same (zlib streams need not be byte-identical).
    CHECK(*reg::Decode(reg::Encode(*plain)) == *plain);
    ++n;
  }
  CHECK(n == 4);
}

TEST_CASE("encode is lower-case hex of a zlib stream") {
  std::string enc = reg::Encode("1.0.0");
  CHECK(enc.substr(0, 2) == "78");  // zlib header, deflate with a 32K window
  CHECK(enc.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("decode rejects damaged input with clear errors") {
  std::string good = reg::Compress("{\"a\":\"b\"}");
  SECTION("not zlib at all") {
    auto r = reg::Decode(reg::HexEncode("hello world"));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::StartsWith("zlib: "));
  }
  SECTION("truncated") {
    auto r = reg::Decompress(good.substr(0, good.size() - 3));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("unexpected end"));
  }
  SECTION("empty") { CHECK_FALSE(reg::Decode("").ok()); }
  SECTION("checksum mismatch") {
    std::string bad = good;
    bad.back() ^= 0x01;
    auto r = reg::Decompress(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("check"));
  }
  SECTION("bytes after the stream") {
    auto r = reg::Decompress(good + "junk");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::Contains("4 unexpected bytes"));
  }
  SECTION("bad hex is reported as hex") {
    auto r = reg::Decode("7g");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(std::string(r.status().message()), Catch::StartsWith("hex: "));
  }
}

TEST_CASE("a small tag cannot inflate past the cap") {
  std::string bomb = reg::Encode(std::string(16 << 20, '\0'));  // 16 MiB of zeros
  CHECK(bomb.size() < 64 * 1024);
  auto r = reg::Decode(bomb);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("1048576"));
  auto small = reg::Decode(reg::Encode(std::string(1000, 'x')), 999);
  CHECK(small.status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(reg::Decode(reg::Encode(std::string(1000, 'x')), 1000).ok());
}
