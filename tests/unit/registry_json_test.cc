// The registry JSON against bytes written by go-micro itself
// (tests/fixtures/registry, made by tests/interop/gofixtures).
#include <catch2/catch.hpp>

#include "micro/registry/json.h"
#include "test_util.h"

using micro::registry::Endpoint;
using micro::registry::Node;
using micro::registry::Service;
using micro::registry::Value;
using micro::testing::ReadFixture;
namespace reg = micro::registry;

TEST_CASE("go-micro service JSON decodes and re-encodes byte for byte") {
  for (const char* name : {"greeter.json", "two_nodes.json", "minimal.json"}) {
    INFO(name);
    std::string go = ReadFixture(std::string("registry/") + name);
    auto s = reg::ServiceFromJson(go);
    REQUIRE(s.ok());
    CHECK(reg::ToJson(*s) == go);
  }
}

TEST_CASE("decoded greeter fixture has go-micro's content") {
  auto s = reg::ServiceFromJson(ReadFixture("registry/greeter.json"));
  REQUIRE(s.ok());
  CHECK(s->name == "helloworld");
  CHECK(s->version == "latest");
  CHECK(s->metadata.empty());
  REQUIRE(s->endpoints.size() == 2);
  const Endpoint& hello = s->endpoints[0];
  CHECK(hello.name == "Greeter.Hello");
  REQUIRE(hello.request.has_value());
  REQUIRE(hello.request->values.size() == 2);
  CHECK(hello.request->values[1].name == "tags");
  CHECK(hello.request->values[1].values.at(0).type == "string");
  CHECK(s->endpoints[1].metadata.at("stream") == "true");
  REQUIRE(s->nodes.size() == 1);
  CHECK(s->nodes[0].address == "10.0.0.7:41231");
  CHECK(s->nodes[0].metadata.at("protocol") == "grpc");
}

TEST_CASE("encoder escapes strings exactly as Go does") {
  Service s;
  s.name = "esc<a>&b";
  s.version = "\"q\"\\\n\r\t\b\f\x01\x1f\x7f";
  s.metadata = {{"unicode", "h\xc3\xa9llo \xe2\x80\xa8 \xe2\x80\xa9 \xe2\x9c\x93 \xf0\x9d\x84\x9e"},
                {"bad", "\xff\xfe ok \xc3"}};
  s.nodes = {Node{"n1", "h:1", {}}};
  CHECK(reg::ToJson(s) == ReadFixture("registry/escapes.json"));
}

TEST_CASE("decoder follows Go's Unmarshal rules") {
  SECTION("keys in any case, unknown fields ignored, nulls are empty") {
    auto s = reg::ServiceFromJson(
        R"({"NAME":"a","Version":"1","extra":[1,2],"metadata":null,"endpoints":null,
            "Nodes":[{"ID":"n","Address":"h:1","metadata":{"k":"v"}}, null]})");
    REQUIRE(s.ok());
    CHECK(s->name == "a");
    CHECK(s->version == "1");
    REQUIRE(s->nodes.size() == 1);
    CHECK(s->nodes[0].id == "n");
    CHECK(s->nodes[0].metadata.at("k") == "v");
  }
  SECTION("an exact key wins over a case variant") {
    auto n = reg::NodeFromJson(R"({"Id":"wrong","id":"right"})");
    REQUIRE(n.ok());
    CHECK(n->id == "right");
  }
  SECTION("empty object metadata") {
    auto md = reg::MetadataFromJson("{}");
    REQUIRE(md.ok());
    CHECK(md->empty());
  }
}

TEST_CASE("decoder rejects malformed JSON with a message saying where") {
  struct Case {
    const char* json;
    const char* expect;
  };
  for (const Case& c : {
           Case{"", "registry json"},
           Case{"{\"name\":", "registry json"},
           Case{"[]", "service: expected an object"},
           Case{R"({"name":5})", "service.name: expected a string"},
           Case{R"({"nodes":{}})", "service.nodes: expected an array"},
           Case{R"({"nodes":[{"metadata":{"k":1}}]})", "service.nodes[0].metadata[\"k\"]"},
           Case{R"({"endpoints":[{"request":{"values":[7]}}]})",
                "service.endpoints[0].request.values[0]: expected an object"},
           Case{"{\"name\":\"\xff\"}", "registry json"},
       }) {
    INFO(c.json);
    auto s = reg::ServiceFromJson(c.json);
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.status().message()), Catch::Contains(c.expect));
  }
}

TEST_CASE("decoder refuses deep nesting instead of recursing without bound") {
  std::string deep = R"({"name":"Greeter.Hello","request":)";
  for (int i = 0; i < 10000; ++i) deep += R"({"values":[)";
  auto e = reg::EndpointFromJson(deep);
  REQUIRE_FALSE(e.ok());
  CHECK_THAT(std::string(e.status().message()), Catch::Contains("nested deeper"));

  std::string ok = "{\"name\":\"v\",\"values\":[{\"name\":\"w\",\"values\":[{\"name\":\"x\"}]}]}";
  auto v = reg::EndpointFromJson(std::string("{\"request\":") + ok + "}");
  REQUIRE(v.ok());
  CHECK(v->request->values[0].values[0].name == "x");
}

TEST_CASE("round trip of every part") {
  Endpoint e{"Geo.Nearby",
             Value{"Request", "Request", {Value{"lat", "float", {}}}},
             std::nullopt,
             {{"stream", "false"}}};
  auto e2 = reg::EndpointFromJson(reg::ToJson(e));
  REQUIRE(e2.ok());
  CHECK(*e2 == e);
  CHECK(reg::ToJson(e).find("\"response\":null") != std::string::npos);

  Node n{"geo-1", "[::1]:9", {{"a", "1"}, {"b", ""}}};
  auto n2 = reg::NodeFromJson(reg::ToJson(n));
  REQUIRE(n2.ok());
  CHECK(*n2 == n);

  reg::Metadata md{{"z", "1"}, {"a", "2"}};
  CHECK(reg::ToJson(md) == R"({"a":"2","z":"1"})");
  CHECK(reg::ToJson(reg::Metadata{}) == "null");
}
