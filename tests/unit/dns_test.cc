// The DNS codec and the mDNS TXT payload, including hostile packets.
#include <catch2/catch.hpp>

#include "dns.h"
#include "test_util.h"
#include "txt.h"

namespace mdns = micro::mdns;

namespace {

mdns::Message Sample() {
  mdns::Message m;
  m.id = 0x1234;
  m.flags = mdns::kFlagResponse | mdns::kFlagAuthoritative;
  m.questions.push_back({"helloworld.micro.", mdns::kTypePTR, mdns::kClassIN, true});
  mdns::Record ptr;
  ptr.name = "helloworld.micro.";
  ptr.type = mdns::kTypePTR;
  ptr.ttl = 120;
  ptr.target = "helloworld-1.helloworld.micro.";
  mdns::Record srv;
  srv.name = "helloworld-1.helloworld.micro.";
  srv.type = mdns::kTypeSRV;
  srv.ttl = 120;
  srv.cache_flush = true;
  srv.priority = 10;
  srv.weight = 1;
  srv.port = 50051;
  srv.target = "host.";
  mdns::Record txt;
  txt.name = srv.name;
  txt.type = mdns::kTypeTXT;
  txt.ttl = 120;
  txt.txt = {"abc", std::string(255, 'x'), ""};
  mdns::Record a;
  a.name = "host.";
  a.ttl = 120;
  REQUIRE(mdns::SetAddress("127.0.0.1", &a));
  mdns::Record aaaa;
  aaaa.name = "host.";
  aaaa.ttl = 120;
  REQUIRE(mdns::SetAddress("::1", &aaaa));
  m.answers = {ptr, srv, txt};
  m.additionals = {a, aaaa};
  return m;
}

}  // namespace

TEST_CASE("a message survives serialize and parse, names compressed") {
  mdns::Message m = Sample();
  std::string bytes = mdns::Serialize(m);
  // "helloworld" appears once as a label: later names point at it.
  CHECK(bytes.find("\x0ahelloworld") == bytes.rfind("\x0ahelloworld"));
  auto p = mdns::Parse(bytes);
  REQUIRE(p.ok());
  CHECK(p->id == 0x1234);
  CHECK(p->is_response());
  REQUIRE(p->questions.size() == 1);
  CHECK(p->questions[0].unicast_response);
  CHECK(p->questions[0].name == "helloworld.micro.");
  REQUIRE(p->answers.size() == 3);
  CHECK(p->answers[0].target == "helloworld-1.helloworld.micro.");
  CHECK(p->answers[1].port == 50051);
  CHECK(p->answers[1].cache_flush);
  CHECK(p->answers[1].target == "host.");
  CHECK(p->answers[2].txt == m.answers[2].txt);
  REQUIRE(p->additionals.size() == 2);
  CHECK(mdns::AddressString(p->additionals[0]) == "127.0.0.1");
  CHECK(mdns::AddressString(p->additionals[1]) == "::1");
  CHECK(mdns::Serialize(*p) == bytes);
}

TEST_CASE("hostile packets are refused with a reason, never followed") {
  auto header = [](int qd, int an) {
    return std::string{
        0, 0, static_cast<char>(0x84), 0, 0, static_cast<char>(qd), 0, static_cast<char>(an), 0, 0,
        0, 0};
  };
  struct Case {
    std::string packet;
    const char* expect;
  };
  std::string loop = header(1, 0) + std::string("\xc0\x0c", 2) + std::string("\x00\x0c\x00\x01", 4);
  std::string self_loop = header(1, 0) +
                          std::string(
                              "\x01"
                              "a"
                              "\xc0\x0c",
                              4) +
                          std::string(4, '\0');
  std::string forward = header(1, 0) + std::string("\xc0\x20", 2) + std::string(40, '\0');
  std::string long_name = header(1, 0);
  for (int i = 0; i < 5; ++i) long_name += std::string(1, 63) + std::string(63, 'a');
  long_name += std::string(5, '\0');
  std::string counts = header(0, 0);
  counts[6] = static_cast<char>(0xff);
  counts[7] = static_cast<char>(0xff);
  std::string rdlen =
      header(0, 1) + std::string("\x00\x00\x01\x00\x01\x00\x00\x00\x01\xff\xff", 11);
  std::string txt_over =
      header(0, 1) + std::string("\x00\x00\x10\x00\x01\x00\x00\x00\x01\x00\x02\x05x", 13);
  std::string bad_a = header(0, 1) + std::string(
                                         "\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x03"
                                         "abc",
                                         14);
  for (const Case& c :
       {Case{"", "shorter than a DNS header"}, Case{std::string(11, '\0'), "shorter"},
        Case{loop, "does not point backwards"}, Case{self_loop, "does not point backwards"},
        Case{forward, "does not point backwards"}, Case{long_name, "longer than 255"},
        Case{counts, "counts exceed"}, Case{rdlen, "runs past the end"},
        Case{txt_over, "TXT string runs past"}, Case{bad_a, "address record of 3 bytes"},
        Case{header(1, 0) + std::string("\x40\x00\x0c\x00\x01", 5), "reserved label type"}}) {
    INFO(c.expect);
    auto p = mdns::Parse(c.packet);
    REQUIRE_FALSE(p.ok());
    CHECK_THAT(std::string(p.status().message()), Catch::Contains(c.expect));
  }
}

// Answer 1 (an unknown type) carries, as raw data, `depth` names that each
// point to the one before: every pointer is legal on its own. Answer 2's name
// points at the last of them, so reading it takes `depth` jumps.
namespace {
std::string PointerChain(int depth) {
  std::string msg{0, 0, static_cast<char>(0x84), 0, 0, 0, 0, 2, 0, 0, 0, 0};
  msg += std::string("\x01x\x00\x00\x63\x00\x01\x00\x00\x00\x00", 11);  // x., type 99, IN, ttl 0
  std::size_t rdlen_at = msg.size();
  msg += std::string(2, '\0');
  std::size_t start = msg.size(), prev = msg.size();
  msg += std::string(
      "\x01"
      "a"
      "\x00",
      3);
  for (int i = 0; i < depth; ++i) {
    std::size_t here = msg.size();
    msg += std::string(
        "\x01"
        "b",
        2);
    msg.push_back(static_cast<char>(0xc0 | (prev >> 8)));
    msg.push_back(static_cast<char>(prev & 0xff));
    prev = here;
  }
  std::size_t rdlen = msg.size() - start;
  msg[rdlen_at] = static_cast<char>(rdlen >> 8);
  msg[rdlen_at + 1] = static_cast<char>(rdlen & 0xff);
  msg.push_back(static_cast<char>(0xc0 | (prev >> 8)));
  msg.push_back(static_cast<char>(prev & 0xff));
  msg +=
      std::string("\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x7f\x00\x00\x01", 14);  // A 127.0.0.1
  return msg;
}
}  // namespace

TEST_CASE("a chain of backward pointers is capped") {
  auto deep = mdns::Parse(PointerChain(40));
  REQUIRE_FALSE(deep.ok());
  CHECK_THAT(std::string(deep.status().message()),
             Catch::Contains("too many compression pointers"));

  auto fine = mdns::Parse(PointerChain(10));
  REQUIRE(fine.ok());
  CHECK(fine->answers.at(1).name == "b.b.b.b.b.b.b.b.b.b.a.");
}

TEST_CASE("names compare without case or trailing dot") {
  CHECK(mdns::NameEquals("HelloWorld.Micro.", "helloworld.micro"));
  CHECK_FALSE(mdns::NameEquals("helloworld.micro.", "helloworld.local."));
}

TEST_CASE("the TXT payload round trips, in 255-character strings") {
  mdns::TxtPayload p;
  p.service = "go.micro.srv.geo";
  p.version = "1.0.0";
  p.metadata = {{"protocol", "grpc"}, {"registry", "mdns"}};
  for (int i = 0; i < 40; ++i) {
    p.endpoints.push_back({"Geo.Method" + std::to_string(i),
                           micro::registry::Value{"Request", "Request", {}},
                           std::nullopt,
                           {}});
  }
  std::vector<std::string> txt = mdns::EncodeTxt(p);
  REQUIRE(txt.size() > 1);
  for (const auto& s : txt) CHECK(s.size() <= 255);
  auto back = mdns::DecodeTxt(txt);
  REQUIRE(back.ok());
  CHECK(back->service == p.service);
  CHECK(back->version == p.version);
  CHECK(back->metadata == p.metadata);
  CHECK(back->endpoints == p.endpoints);
}

TEST_CASE("bad TXT payloads are refused") {
  CHECK_FALSE(mdns::DecodeTxt({"not hex"}).ok());
  CHECK_FALSE(mdns::DecodeTxt({"abcd"}).ok());  // hex, not zlib
  CHECK_FALSE(mdns::DecodeTxt({}).ok());
  auto wrong_shape = mdns::EncodeTxt({"", "1", {}, {}});  // no service name
  CHECK_FALSE(mdns::DecodeTxt(wrong_shape).ok());
}

TEST_CASE("an announcement packed by go-micro's mdns package parses and decodes") {
  auto m = mdns::Parse(micro::testing::ReadFixture("registry/mdns_announce.bin"));
  REQUIRE(m.ok());
  CHECK(m->is_response());
  const mdns::Record *ptr = nullptr, *srv = nullptr, *txt = nullptr, *a = nullptr;
  for (const auto& r : m->answers) {
    if (r.type == mdns::kTypePTR) ptr = &r;
    if (r.type == mdns::kTypeSRV) srv = &r;
    if (r.type == mdns::kTypeTXT) txt = &r;
    if (r.type == mdns::kTypeA) a = &r;
  }
  REQUIRE((ptr && srv && txt && a));
  CHECK(ptr->name == "helloworld.micro.");
  CHECK(ptr->target == "helloworld-7f8a1c1e.helloworld.micro.");
  CHECK(srv->port == 50051);
  CHECK(srv->target == "testhost.");
  CHECK(srv->ttl == 120);
  CHECK(a->name == "testhost.");
  CHECK(mdns::AddressString(*a) == "127.0.0.1");
  CHECK(txt->txt.size() > 1);
  auto payload = mdns::DecodeTxt(txt->txt);
  REQUIRE(payload.ok());
  CHECK(payload->service == "helloworld");
  CHECK(payload->version == "latest");
  CHECK(payload->metadata.at("protocol") == "grpc");
  REQUIRE(payload->endpoints.size() == 2);
  CHECK(payload->endpoints[1].metadata.at("stream") == "true");

  auto q = mdns::Parse(micro::testing::ReadFixture("registry/mdns_query.bin"));
  REQUIRE(q.ok());
  CHECK_FALSE(q->is_response());
  REQUIRE(q->questions.size() == 1);
  CHECK(q->questions[0].name == "helloworld.micro.");
  CHECK(q->questions[0].type == mdns::kTypePTR);
}

TEST_CASE("labels holding dots or backslashes survive a round trip (found by the fuzzer)") {
  std::string packet{0, 0, static_cast<char>(0x84), 0, 0, 1, 0, 0, 0, 0, 0, 0};
  packet += std::string(
      "\x03"
      "a.b"
      "\x02"
      "c\\"
      "\x05micro\x00\x00\x0c\x00\x01",
      18);
  auto m = mdns::Parse(packet);
  REQUIRE(m.ok());
  CHECK(m->questions[0].name == "a\\.b.c\\\\.micro.");
  CHECK(mdns::Serialize(*m) == packet);
  // Such a name is not one of ours: it does not match "a.b.c.micro.".
  CHECK_FALSE(mdns::NameEquals(m->questions[0].name, "a.b.c.micro."));
}

TEST_CASE("every seed and regression input of the fuzz corpus parses or fails cleanly") {
  for (const char* name : {"go_announce", "go_query", "pointer_chain", "regress-dot-in-label"}) {
    INFO(name);
    std::string input = micro::testing::ReadFixture(std::string("../fuzz/corpus/mdns/") + name);
    auto m = mdns::Parse(input.substr(1));
    if (m.ok()) CHECK(mdns::Parse(mdns::Serialize(*m)).ok());
  }
}
