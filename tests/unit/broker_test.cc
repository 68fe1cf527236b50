// The broker interface on the memory broker, and go-micro's wire form of a message.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "micro/broker/memory.h"

namespace br = micro::broker;

TEST_CASE("without a queue every subscriber gets each message") {
  auto b = br::NewMemoryBroker();
  REQUIRE(b->Connect().ok());
  std::vector<std::string> a, c;
  auto s1 = b->Subscribe("t", [&](const br::Event& e) {
    a.push_back(e.message.body);
    CHECK(e.topic == "t");
    return absl::OkStatus();
  });
  auto s2 = b->Subscribe("t", [&](const br::Event& e) {
    c.push_back(e.message.body);
    return absl::OkStatus();
  });
  auto other = b->Subscribe("u", [&](const br::Event&) {
    FAIL("a message of another topic");
    return absl::OkStatus();
  });
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  REQUIRE(other.ok());
  REQUIRE(b->Publish("t", {{{"Content-Type", "application/json"}}, "one"}).ok());
  REQUIRE(b->Publish("t", {{}, "two"}).ok());
  CHECK(a == std::vector<std::string>{"one", "two"});
  CHECK(c == std::vector<std::string>{"one", "two"});
}

TEST_CASE("one subscriber of each queue group gets each message") {
  auto b = br::NewMemoryBroker();
  REQUIRE(b->Connect().ok());
  std::map<std::string, int> got;
  std::vector<std::unique_ptr<br::Subscriber>> subs;
  for (const char* name : {"q1-a", "q1-b", "q1-c", "q2-a", "all"}) {
    std::string n = name;
    std::string queue = n == "all" ? "" : n.substr(0, 2);
    auto s = b->Subscribe("t",
                          [&got, n](const br::Event&) {
                            ++got[n];
                            return absl::OkStatus();
                          },
                          {queue});
    REQUIRE(s.ok());
    subs.push_back(std::move(*s));
  }
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; ++i) REQUIRE(b->Publish("t", {{}, "m"}).ok());
  CHECK(got["q1-a"] + got["q1-b"] + got["q1-c"] == kMessages);  // exactly one of the group
  CHECK(got["q2-a"] == kMessages);
  CHECK(got["all"] == kMessages);
  for (const char* n : {"q1-a", "q1-b", "q1-c"}) CHECK(got[n] > 0);  // spread, not pinned
}

TEST_CASE("an unsubscribed handler gets nothing more, and a failing one stops no one") {
  auto b = br::NewMemoryBroker();
  REQUIRE(b->Connect().ok());
  int first = 0, second = 0;
  auto s1 = b->Subscribe("t", [&](const br::Event&) {
    ++first;
    return absl::InternalError("handler failed");
  });
  auto s2 = b->Subscribe("t", [&](const br::Event&) {
    ++second;
    return absl::OkStatus();
  });
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  REQUIRE(b->Publish("t", {}).ok());
  REQUIRE((*s1)->Unsubscribe().ok());
  REQUIRE((*s1)->Unsubscribe().ok());  // idempotent
  REQUIRE(b->Publish("t", {}).ok());
  s2->reset();  // the destructor unsubscribes too
  REQUIRE(b->Publish("t", {}).ok());
  CHECK(first == 1);
  CHECK(second == 2);
}

TEST_CASE("publishing needs a connection and a topic, subscribing a topic and a handler") {
  auto b = br::NewMemoryBroker();
  CHECK(absl::IsFailedPrecondition(b->Publish("t", {})));
  REQUIRE(b->Connect().ok());
  CHECK(absl::IsInvalidArgument(b->Publish("", {})));
  CHECK(absl::IsInvalidArgument(
      b->Subscribe("", [](const br::Event&) { return absl::OkStatus(); }).status()));
  CHECK(absl::IsInvalidArgument(b->Subscribe("t", nullptr).status()));
  CHECK(b->Name() == "memory");
  REQUIRE(b->Disconnect().ok());
  CHECK(absl::IsFailedPrecondition(b->Publish("t", {})));
}

TEST_CASE("the wire form is go-micro's JSON of its Message struct") {
  br::Message m{{{"Micro-Topic", "go.micro.srv.greeter"}, {"Content-Type", "application/json"}},
                R"({"say":"hello"})"};
  std::string json = br::EncodeMessage(m);
  // Byte for byte what Go's encoding/json writes for go-micro's broker.Message (checked with
  // Go 1.24): fields in declaration order, map keys sorted, []byte as padded base64.
  CHECK(
      json ==
      R"({"Header":{"Content-Type":"application/json","Micro-Topic":"go.micro.srv.greeter"},"Body":"eyJzYXkiOiJoZWxsbyJ9"})");
  // What Go writes for an empty Message.
  auto empty = br::DecodeMessage(R"({"Header":null,"Body":null})");
  REQUIRE(empty.ok());
  CHECK(empty->header.empty());
  auto back = br::DecodeMessage(json);
  REQUIRE(back.ok());
  CHECK(back->header == m.header);
  CHECK(back->body == m.body);
  // Go's decoder matches field names without regard to case, and takes null for an empty field.
  auto lower = br::DecodeMessage(R"({"header":{"a":"b"},"body":null,"Extra":1})");
  REQUIRE(lower.ok());
  CHECK(lower->header.at("a") == "b");
  CHECK(lower->body.empty());
  std::string binary("\0\xff\x10", 3);
  auto bin = br::DecodeMessage(br::EncodeMessage({{}, binary}));
  REQUIRE(bin.ok());
  CHECK(bin->body == binary);
}

TEST_CASE("a malformed wire message is refused with what is wrong") {
  for (const char* bad : {"", "not json", "[1,2]", R"({"Header":[1]})", R"({"Header":{"a":1}})",
                          R"({"Body":12})", R"({"Body":"%%%"})"}) {
    INFO(bad);
    auto m = br::DecodeMessage(bad);
    REQUIRE_FALSE(m.ok());
    CHECK(absl::IsInvalidArgument(m.status()));
    CHECK(m.status().message().find("broker message") != absl::string_view::npos);
  }
}
