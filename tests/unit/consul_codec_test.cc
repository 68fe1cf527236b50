// go-micro's Consul encoding and the parsers for what an agent answers,
// without an agent (the consul label has the tests against a real one).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "codec.h"
#include "consul_registry.h"
#include "fake_peer.h"
#include "http_client.h"
#include "micro/registry/encoding.h"
#include "micro/registry/json.h"
#include "micro/registry/plugin.h"

namespace reg = micro::registry;
using namespace micro::consul;
using namespace std::chrono_literals;

namespace {

reg::Service Sample() {
  reg::Service s;
  s.name = "go.micro.srv.geo";
  s.version = "2.0";
  reg::Endpoint e;
  e.name = "Geo.Nearby";
  e.request = reg::Value{"Request", "Request", {}};
  s.endpoints = {e};
  s.nodes.push_back(reg::Node{"geo-1", "10.0.0.5:8080", {{"a", "1"}, {"b", "2"}}});
  return s;
}

// One /v1/health/service entry in Consul's shape.
nlohmann::json Entry(const std::string& id, const std::vector<std::string>& tags,
                     const std::string& status = "passing", const std::string& address = "10.0.0.5",
                     const std::string& service = "go.micro.srv.geo") {
  return {
      {"Node", {{"Node", "n1"}, {"Address", "192.168.1.1"}}},
      {"Service",
       {{"ID", id}, {"Service", service}, {"Tags", tags}, {"Address", address}, {"Port", 8080}}},
      {"Checks", nlohmann::json::array({{{"CheckID", "serfHealth"}, {"Status", "passing"}},
                                        {{"CheckID", "service:" + id}, {"Status", status}}})}};
}

}  // namespace

TEST_CASE("tags: one t- per metadata pair, one e- per endpoint, one v-, all hex(zlib(JSON))") {
  reg::Service s = Sample();
  std::vector<std::string> tags = EncodeTags(s, s.nodes[0]);
  REQUIRE(tags.size() == 4);
  CHECK(tags[0].rfind("t-789c", 0) == 0);  // zlib header, lower-case hex
  CHECK(*reg::Decode(tags[0].substr(2)) == R"({"a":"1"})");
  CHECK(*reg::Decode(tags[1].substr(2)) == R"({"b":"2"})");
  CHECK(*reg::Decode(tags[2].substr(2)) == reg::ToJson(s.endpoints[0]));
  CHECK(*reg::Decode(tags[3].substr(2)) == "2.0");

  auto back = DecodeTags(tags);
  REQUIRE(back.ok());
  CHECK(back->version == "2.0");
  CHECK(back->metadata == s.nodes[0].metadata);
  CHECK(back->endpoints == s.endpoints);
}

TEST_CASE("tags: the old plain forms decode, the first form met wins, other tags are ignored") {
  auto d = DecodeTags({"urlprefix-/geo", R"(t={"a":"1"})", "t-" + reg::Encode(R"({"b":"2"})"),
                       R"(e={"name":"Geo.Nearby","request":null,"response":null,"metadata":null})",
                       "v=1.0", "v-" + reg::Encode("ignored"), "x", ""});
  REQUIRE(d.ok());
  CHECK(d->metadata == reg::Metadata{{"a", "1"}});
  REQUIRE(d->endpoints.size() == 1);
  CHECK(d->endpoints[0].name == "Geo.Nearby");
  CHECK(d->version == "1.0");
}

TEST_CASE("tags that do not decode are an error naming the tag") {
  for (std::string bad : {std::string("t-zz"), std::string("e-789c00"), "v-" + std::string(7, 'a'),
                          std::string("t=[1,2]"), std::string("e={\"name\":5}")}) {
    auto d = DecodeTags({bad});
    INFO(bad);
    CHECK(absl::IsInvalidArgument(d.status()));
    CHECK_THAT(std::string(d.status().message()), Catch::Contains(bad.substr(0, 2)));
  }
}

TEST_CASE("registration body: address split, Meta, and go-micro's TTL check") {
  reg::Service s = Sample();
  s.nodes[0].metadata["bad.key"] = "x";
  s.nodes[0].metadata["long"] = std::string(600, 'v');
  std::vector<std::string> left_out;
  auto j = nlohmann::json::parse(RegistrationJson(s, s.nodes[0], 30s, &left_out));
  CHECK(j["ID"] == "geo-1");
  CHECK(j["Name"] == "go.micro.srv.geo");
  CHECK(j["Address"] == "10.0.0.5");
  CHECK(j["Port"] == 8080);
  CHECK(j["Meta"] == nlohmann::json{{"a", "1"}, {"b", "2"}});
  CHECK(left_out == std::vector<std::string>{"bad.key", "long"});
  CHECK(j["Tags"].size() == 6);  // every pair is still in a t- tag
  CHECK(j["Check"]["TTL"] == "30s");
  CHECK(j["Check"]["DeregisterCriticalServiceAfter"] == "1m5s");
  CHECK(j["Check"]["Status"] == "passing");  // no critical moment before the first pass

  auto long_ttl = nlohmann::json::parse(RegistrationJson(s, s.nodes[0], 90s, nullptr));
  CHECK(long_ttl["Check"]["TTL"] == "1m30s");
  CHECK(long_ttl["Check"]["DeregisterCriticalServiceAfter"] == "1m35s");
  auto no_ttl = nlohmann::json::parse(RegistrationJson(s, s.nodes[0], 0s, nullptr));
  CHECK_FALSE(no_ttl.contains("Check"));

  s.nodes[0].address = "[::1]:9090";
  auto v6 = nlohmann::json::parse(RegistrationJson(s, s.nodes[0], 0s, nullptr));
  CHECK(v6["Address"] == "::1");
  CHECK(v6["Port"] == 9090);
}

TEST_CASE("registration body: active checks (check=grpc, http, tcp) alone and combined") {
  reg::Service s = Sample();
  reg::RegisterOptions o;
  o.ttl = 30s;
  CheckOptions tcp;
  tcp.ttl = false;
  tcp.tcp = true;
  tcp.interval = 2s;
  tcp.timeout = 1s;
  // One check: go-micro's "Check" form (TCPCheck), no TTL check even with a TTL.
  auto one = nlohmann::json::parse(*RegistrationJson(s, s.nodes[0], o, tcp, nullptr));
  CHECK_FALSE(one.contains("Checks"));
  CHECK(one["Check"]["TCP"] == "10.0.0.5:8080");
  CHECK(one["Check"]["Interval"] == "2s");
  CHECK(one["Check"]["Timeout"] == "1s");
  CHECK(one["Check"]["DeregisterCriticalServiceAfter"] == "1m5s");
  CHECK(one["Check"]["Status"] == "passing");
  CHECK_FALSE(one["Check"].contains("TTL"));
  CHECK_FALSE(one["Check"].contains("CheckID"));
  CHECK_FALSE(HasTtlCheck(tcp, o.ttl));

  // All four: "Checks", the TTL one keeping go-micro's ID so heartbeats pass it.
  CheckOptions all = tcp;
  all.ttl = all.grpc = all.http = true;
  all.deregister_after = 90s;
  all.tls_skip_verify = true;
  o.health_url = "http://10.0.0.5:9100/health";
  s.nodes[0].metadata["secure"] = "true";
  auto j = nlohmann::json::parse(*RegistrationJson(s, s.nodes[0], o, all, nullptr));
  CHECK_FALSE(j.contains("Check"));
  REQUIRE(j["Checks"].size() == 4);
  const auto& c = j["Checks"];
  CHECK(c[0]["CheckID"] == "service:geo-1");
  CHECK(c[0]["TTL"] == "30s");
  CHECK(c[1]["CheckID"] == "service:geo-1:grpc");
  CHECK(c[1]["GRPC"] == "10.0.0.5:8080");
  CHECK(c[1]["GRPCUseTLS"] == true);
  CHECK(c[1]["TLSSkipVerify"] == true);
  CHECK(c[2]["CheckID"] == "service:geo-1:http");
  CHECK(c[2]["HTTP"] == "http://10.0.0.5:9100/health");
  CHECK(c[3]["CheckID"] == "service:geo-1:tcp");
  CHECK_FALSE(c[3].contains("TLSSkipVerify"));
  for (const auto& check : c) {
    CHECK(check["DeregisterCriticalServiceAfter"] == "1m30s");
    CHECK(check["Status"] == "passing");
  }
  CHECK(HasTtlCheck(all, o.ttl));

  // What an active check cannot do without: a port, a health URL.
  CheckOptions http;
  http.ttl = false;
  http.http = true;
  o.health_url.clear();
  auto no_url = RegistrationJson(s, s.nodes[0], o, http, nullptr);
  REQUIRE(absl::IsInvalidArgument(no_url.status()));
  CHECK_THAT(std::string(no_url.status().message()), Catch::Contains("health URL"));
  s.nodes[0].address = "10.0.0.5";
  auto no_port = RegistrationJson(s, s.nodes[0], o, tcp, nullptr);
  REQUIRE(absl::IsInvalidArgument(no_port.status()));
  CHECK_THAT(std::string(no_port.status().message()), Catch::Contains("no port"));
}

TEST_CASE("consul:// check parameters") {
  auto parse = [](const std::string& uri) {
    auto a = reg::ParseRegistryAddress(uri);
    REQUIRE(a.ok());
    return ConsulOptionsFrom(*a);
  };
  auto d = parse("consul://127.0.0.1:8500");
  REQUIRE(d.ok());
  CHECK(d->checks.ttl);
  CHECK_FALSE(d->checks.active());
  auto o = parse(
      "consul://127.0.0.1:8500?check=ttl,grpc,tcp&check_interval=5s&check_timeout=3s&"
      "deregister_after=1m&check_tls_skip_verify=true");
  REQUIRE(o.ok());
  CHECK(o->checks.ttl);
  CHECK(o->checks.grpc);
  CHECK(o->checks.tcp);
  CHECK_FALSE(o->checks.http);
  CHECK(o->checks.interval == 5s);
  CHECK(o->checks.timeout == 3s);
  CHECK(o->checks.deregister_after == 60s);
  CHECK(o->checks.tls_skip_verify);
  auto http = parse("consul://127.0.0.1:8500?check=HTTP");
  REQUIRE(http.ok());
  CHECK(http->checks.http);
  CHECK_FALSE(http->checks.ttl);
  for (auto [uri, says] : std::vector<std::pair<std::string, std::string>>{
           {"consul://a:1?check=icmp", "unknown check \"icmp\""},
           {"consul://a:1?check=", "is empty"},
           {"consul://a:1?check=tcp&check_interval=500ms", "minimum of 1s"},
           {"consul://a:1?check=tcp&check_timeout=soon", "check_timeout"},
           {"consul://a:1?checks=tcp", "unknown parameter"}}) {
    auto bad = parse(uri);
    INFO(uri);
    REQUIRE(absl::IsInvalidArgument(bad.status()));
    CHECK_THAT(std::string(bad.status().message()), Catch::Contains(says));
  }
}

TEST_CASE("Go duration strings") {
  CHECK(GoDuration(0ms) == "0s");
  CHECK(GoDuration(250ms) == "250ms");
  CHECK(GoDuration(1500ms) == "1.5s");
  CHECK(GoDuration(65s) == "1m5s");
  CHECK(GoDuration(3600s) == "1h0m0s");
  CHECK(GoDuration(3661001ms) == "1h1m1.001s");
}

TEST_CASE("health answers: critical nodes dropped, warning kept, grouped by version") {
  reg::Service s = Sample();
  auto tags = EncodeTags(s, s.nodes[0]);
  reg::Service v1 = s;
  v1.version = "1.0";
  auto tags_v1 = EncodeTags(v1, v1.nodes[0]);
  nlohmann::json body = nlohmann::json::array(
      {Entry("geo-1", tags), Entry("geo-2", tags, "critical"), Entry("geo-3", tags, "warning"),
       Entry("geo-4", tags_v1, "passing", ""), Entry("other", tags, "passing", "1.1.1.1", "other"),
       Entry("geo-6", tags, "passing", "fe80::1")});
  auto h = ParseHealth(body.dump(), "go.micro.srv.geo");
  REQUIRE(h.ok());
  CHECK(h->skipped.empty());
  REQUIRE(h->nodes.size() == 4);
  CHECK(h->nodes[0].node == s.nodes[0]);
  CHECK(h->nodes[1].node.id == "geo-3");
  CHECK(h->nodes[2].node.address == "192.168.1.1:8080");  // Node.Address when Service's is empty
  CHECK(h->nodes[3].node.address == "[fe80::1]:8080");
  auto grouped = GroupByVersion("go.micro.srv.geo", h->nodes);
  REQUIRE(grouped.size() == 2);
  CHECK(grouped[0].version == "2.0");
  CHECK(grouped[0].nodes.size() == 3);
  CHECK(grouped[1].version == "1.0");
  CHECK(grouped[1].endpoints == s.endpoints);
}

TEST_CASE("health answers: nodes of a failed agent are orphans, not dropped, with their agent") {
  reg::Service s = Sample();
  auto tags = EncodeTags(s, s.nodes[0]);
  nlohmann::json failed = Entry("geo-f", tags);
  failed["Node"]["Node"] = "agent1";
  failed["Checks"][0]["Status"] = "critical";  // serfHealth
  nlohmann::json both = Entry("geo-b", tags, "critical");
  both["Checks"][0]["Status"] = "critical";
  nlohmann::json body = nlohmann::json::array({Entry("geo-1", tags), failed, both});
  auto h = ParseHealth(body.dump(), "go.micro.srv.geo");
  REQUIRE(h.ok());
  REQUIRE(h->nodes.size() == 1);
  CHECK(h->nodes[0].agent == "n1");
  REQUIRE(h->orphans.size() == 2);
  CHECK(h->orphans[0].node.id == "geo-f");
  CHECK(h->orphans[0].agent == "agent1");
  CHECK(h->orphans[1].node.id == "geo-b");
}

TEST_CASE("agent liveness from /v1/health/node: serfHealth passing only") {
  CHECK(*ParseAgentAlive(R"([{"CheckID":"serfHealth","Status":"passing"}])"));
  CHECK(*ParseAgentAlive(
      R"([{"CheckID":"service:x","Status":"critical"},{"CheckID":"serfHealth","Status":"passing"}])"));
  CHECK_FALSE(*ParseAgentAlive(R"([{"CheckID":"serfHealth","Status":"critical"}])"));
  CHECK_FALSE(*ParseAgentAlive("[]"));    // left: gone from the catalog
  CHECK_FALSE(*ParseAgentAlive("null"));  // likewise
  CHECK_FALSE(*ParseAgentAlive(R"([{"CheckID":"service:x","Status":"passing"}])"));
  CHECK_FALSE(*ParseAgentAlive(R"([1,"x",{"CheckID":1}])"));
  for (const char* bad : {"", "{", "{}", "\"x\""}) {
    INFO(bad);
    CHECK_FALSE(ParseAgentAlive(bad).ok());
  }
}

TEST_CASE("health answers: malformed entries are skipped with a reason, the rest survive") {
  reg::Service s = Sample();
  auto tags = EncodeTags(s, s.nodes[0]);
  nlohmann::json bad_port = Entry("geo-p", tags);
  bad_port["Service"]["Port"] = "eighty";
  nlohmann::json bad_tags = Entry("geo-t", {"t-nothex"});
  nlohmann::json tags_not_strings = Entry("geo-s", tags);
  tags_not_strings["Service"]["Tags"] = {1, 2};
  nlohmann::json body = nlohmann::json::array(
      {42, nlohmann::json::object(), bad_port, bad_tags, tags_not_strings, Entry("geo-ok", tags)});
  auto h = ParseHealth(body.dump(), "go.micro.srv.geo");
  REQUIRE(h.ok());
  REQUIRE(h->nodes.size() == 1);
  CHECK(h->nodes[0].node.id == "geo-ok");
  REQUIRE(h->skipped.size() == 5);
  CHECK_THAT(h->skipped[2], Catch::Contains("geo-p") && Catch::Contains("Port"));
  CHECK_THAT(h->skipped[3], Catch::Contains("geo-t") && Catch::Contains("t-nothex"));
}

TEST_CASE("health and catalog answers that are not what Consul sends are errors") {
  for (std::string body : {std::string(), std::string("{"), std::string("{\"a\":1}"),
                           std::string("\"x\""), std::string(100000, '[')}) {
    INFO(body.substr(0, 20));
    CHECK_FALSE(ParseHealth(body, "x").ok());
  }
  CHECK(ParseHealth("null", "x").ok());
  CHECK_FALSE(ParseCatalogServices("[]").ok());
  CHECK_FALSE(ParseCatalogServices(std::string(100000, '{')).ok());
  auto names = ParseCatalogServices(R"({"consul":[],"b":["t-1"],"a":null})");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"a", "b", "consul"});
}

TEST_CASE("consul:// options from the URI and CONSUL_* variables") {
  setenv("CONSUL_HTTP_TOKEN", "from-env", 1);
  auto a = reg::ParseRegistryAddress(
      "consul://10.0.0.1:8500,10.0.0.2?token=t%2F1&dc=eu-1&consistency=stale&wait=5s&timeout=2s");
  REQUIRE(a.ok());
  auto o = ConsulOptionsFrom(*a);
  REQUIRE(o.ok());
  CHECK(o->addresses == std::vector<std::string>{"10.0.0.1:8500", "10.0.0.2"});
  CHECK(o->token == "t/1");
  CHECK(o->datacenter == "eu-1");
  CHECK(o->consistency == "stale");
  CHECK(o->watch_wait == 5s);
  CHECK(o->request_timeout == 2s);

  auto plain = ConsulOptionsFrom(*reg::ParseRegistryAddress("consul"));
  REQUIRE(plain.ok());
  CHECK(plain->token == "from-env");
  CHECK(plain->addresses == std::vector<std::string>{"127.0.0.1:8500"});
  unsetenv("CONSUL_HTTP_TOKEN");

  auto unknown = ConsulOptionsFrom(*reg::ParseRegistryAddress("consul://a:1?tokn=x"));
  CHECK(absl::IsInvalidArgument(unknown.status()));
  CHECK_THAT(std::string(unknown.status().message()),
             Catch::Contains("tokn") && Catch::Contains("known: token"));
  CHECK_FALSE(ConsulOptionsFrom(*reg::ParseRegistryAddress("consul://a:1?wait=soon")).ok());
  CHECK_FALSE(ConsulOptionsFrom(*reg::ParseRegistryAddress("consul://a:1?tls=maybe")).ok());
  ConsulOptions bad;
  bad.consistency = "eventual";
  CHECK(absl::IsInvalidArgument(NewConsulRegistry(bad).status()));
  ConsulOptions no_ca;
  no_ca.tls = true;
  no_ca.ca_file = "/nonexistent/ca.pem";
  CHECK_THAT(std::string(NewConsulRegistry(no_ca).status().message()),
             Catch::Contains("/nonexistent/ca.pem"));
}

TEST_CASE("an unreachable agent is a clear Unavailable error, not a hang or a crash") {
  ConsulOptions o;
  o.addresses = {"127.0.0.1:1", "127.0.0.1:2"};
  auto r = NewConsulRegistry(o);
  REQUIRE(r.ok());
  auto got = (*r)->GetService("x");
  CHECK(absl::IsUnavailable(got.status()));
  CHECK_THAT(std::string(got.status().message()),
             Catch::Contains("127.0.0.1:1") && Catch::Contains("127.0.0.1:2"));
}

namespace {

// A hostile "agent" on loopback: answers every connection with `reply`
// (raw bytes) after reading the request headers, or never answers.
class FakeAgent {
 public:
  explicit FakeAgent(std::string reply, bool silent = false)
      : peer_([reply = std::move(reply), silent](int c) {
          std::string req;
          char buf[4096];
          while (req.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = read(c, buf, sizeof(buf));
            if (n <= 0) break;
            req.append(buf, n);
          }
          if (silent) return;
          std::size_t off = 0;
          while (off < reply.size()) {
            ssize_t n = write(c, reply.data() + off, reply.size() - off);
            if (n <= 0) break;
            off += n;
          }
          shutdown(c, SHUT_WR);
        }) {}
  std::string address() const { return peer_.address(); }

 private:
  micro::testing::FakePeer peer_;
};

std::unique_ptr<reg::Registry> Against(const FakeAgent& agent) {
  ConsulOptions o;
  o.addresses = {agent.address()};
  o.request_timeout = 500ms;
  o.max_response_bytes = 1 << 20;
  auto r = NewConsulRegistry(o);
  REQUIRE(r.ok());
  return std::move(*r);
}

std::string Http(const std::string& status, const std::string& body) {
  return "HTTP/1.1 " + status + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nX-Consul-Index: 7\r\n\r\n" + body;
}

// `chunks` chunks of `size` spaces and a digit, chunked as Go's net/http sends large bodies.
std::string Chunked(int chunks, int size) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  char hex[16];
  for (int i = 0; i < chunks; ++i) {
    std::snprintf(hex, sizeof(hex), "%x", size + 1);
    out += std::string(hex) + "\r\n" + std::string(size, ' ') + "1\r\n";
  }
  return out + "0\r\n\r\n";
}

}  // namespace

TEST_CASE("a hostile agent gets a clear error for each kind of bad answer") {
  struct Case {
    std::string reply;
    absl::StatusCode code;
    const char* says;
  };
  std::vector<Case> cases = {
      {Http("200 OK", "{not json"), absl::StatusCode::kUnavailable, "malformed answer"},
      {Http("200 OK", R"({"Service":1})"), absl::StatusCode::kUnavailable, "expected a JSON array"},
      {Http("500 Internal Server Error", "boom"), absl::StatusCode::kUnavailable, "HTTP 500 boom"},
      {Http("418 I'm a teapot", ""), absl::StatusCode::kUnavailable, "HTTP 418"},
      {Http("200 OK", std::string(2 << 20, ' ')), absl::StatusCode::kResourceExhausted,
       "larger than"},
      {"SSH-2.0-OpenSSH\r\n\r\n", absl::StatusCode::kUnavailable, "consul: GET"},
      {Chunked(40, 65536), absl::StatusCode::kResourceExhausted, "larger than"},
      {Chunked(1, 10), absl::StatusCode::kUnavailable, "expected a JSON array"},
  };
  for (const Case& c : cases) {
    FakeAgent agent(c.reply);
    auto r = Against(agent);
    auto got = r->GetService("go.micro.srv.geo");
    INFO(c.says);
    CHECK(got.status().code() == c.code);
    CHECK_THAT(std::string(got.status().message()), Catch::Contains(c.says));
  }
  FakeAgent silent("", true);
  auto r = Against(silent);
  auto got = r->GetService("x");
  CHECK(absl::IsDeadlineExceeded(got.status()));
  CHECK_THAT(std::string(got.status().message()), Catch::Contains("no answer within 500 ms"));
}

TEST_CASE("a watch on a hostile agent keeps trying and stops promptly") {
  FakeAgent agent(Http("200 OK", "[[[[garbage"));
  auto r = Against(agent);
  auto w = r->Watch(reg::WatchOptions{});
  REQUIRE(w.ok());
  std::this_thread::sleep_for(300ms);  // several failed rounds
  std::thread stopper([&] { (*w)->Stop(); });
  auto ev = (*w)->Next();
  stopper.join();
  CHECK(absl::IsCancelled(ev.status()));
}
