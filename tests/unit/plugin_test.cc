#include <catch2/catch.hpp>

#include "micro/plugins/builtin.h"
#include "micro/registry/plugin.h"

namespace reg = micro::registry;

TEST_CASE("registry URIs parse into scheme and hosts") {
  auto a = reg::ParseRegistryAddress("consul://127.0.0.1:8500,10.1.2.3:8501");
  REQUIRE(a.ok());
  CHECK(a->scheme == "consul");
  CHECK(a->hosts == std::vector<std::string>{"127.0.0.1:8500", "10.1.2.3:8501"});

  auto b = reg::ParseRegistryAddress("MDNS");
  REQUIRE(b.ok());
  CHECK(b->scheme == "mdns");
  CHECK(b->hosts.empty());

  CHECK(reg::ParseRegistryAddress("memory://")->hosts.empty());
  CHECK(reg::ParseRegistryAddress("etcd://[::1]:2379,localhost")->hosts ==
        std::vector<std::string>{"[::1]:2379", "localhost"});
}

TEST_CASE("malformed registry URIs are errors naming what was given") {
  for (const char* bad : {"", "consul://a:8500,,b:1", "consul://a:99999", "consul://a:",
                          "consul://:1", "consul://a:1/path", "consul://a b:1", "1x://a",
                          "consul://::1:80", "consul://[::1", "127.0.0.1:8500", "etcd://a:1x"}) {
    INFO(bad);
    auto r = reg::ParseRegistryAddress(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    if (*bad) CHECK_THAT(std::string(r.status().message()), Catch::Contains(bad));
  }
}

TEST_CASE("registry name and address combine like go-micro's two flags") {
  CHECK(*reg::RegistryUri("consul", "a:8500,b:8500") == "consul://a:8500,b:8500");
  CHECK(*reg::RegistryUri("mdns", "") == "mdns://");
  CHECK(*reg::RegistryUri("etcd://x:1", "") == "etcd://x:1");
  CHECK_FALSE(reg::RegistryUri("etcd://x:1", "y:2").ok());
  CHECK_FALSE(reg::RegistryUri("", "y:2").ok());
}

TEST_CASE("the plugin table builds registries by scheme") {
  micro::RegisterBuiltinPlugins();
  micro::RegisterBuiltinPlugins();  // idempotent
  auto mem = reg::NewRegistry("memory://");
  REQUIRE(mem.ok());
  CHECK((*mem)->String() == "memory://");

  auto unknown = reg::NewRegistry("zookeeper://z:2181");
  REQUIRE_FALSE(unknown.ok());
  std::string msg(unknown.status().message());
  CHECK_THAT(msg, Catch::Contains("unknown registry \"zookeeper\""));
  CHECK_THAT(msg, Catch::Contains("zookeeper://z:2181"));
  CHECK_THAT(msg, Catch::Contains("memory"));

  auto with_host = reg::NewRegistry("memory://somewhere:1");
  REQUIRE_FALSE(with_host.ok());
  CHECK_THAT(std::string(with_host.status().message()), Catch::Contains("takes no address"));

  auto dup = reg::RegisterRegistryPlugin("memory", [](const reg::RegistryAddress&) {
    return absl::StatusOr<std::unique_ptr<reg::Registry>>(absl::UnimplementedError("x"));
  });
  CHECK(dup.code() == absl::StatusCode::kAlreadyExists);
  CHECK(reg::RegisterRegistryPlugin("bad scheme", nullptr).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("registry URIs carry query parameters, percent-decoded") {
  auto a = reg::ParseRegistryAddress("consul://a:8500,b:8500?token=x%2By&dc=eu+1&flag");
  REQUIRE(a.ok());
  CHECK(a->hosts == std::vector<std::string>{"a:8500", "b:8500"});
  CHECK(a->params ==
        std::map<std::string, std::string>{{"token", "x+y"}, {"dc", "eu 1"}, {"flag", "true"}});
  auto bare = reg::ParseRegistryAddress("consul?token=t");
  REQUIRE(bare.ok());
  CHECK(bare->scheme == "consul");
  CHECK(bare->hosts.empty());
  CHECK(bare->params.at("token") == "t");
  CHECK_FALSE(reg::ParseRegistryAddress("consul://a:1?token=%zz").ok());
  CHECK_FALSE(reg::ParseRegistryAddress("consul://a:1?token=1&token=2").ok());
  CHECK_FALSE(reg::ParseRegistryAddress("consul://a:1?=1").ok());

  micro::RegisterBuiltinPlugins();
  auto memory = reg::NewRegistry("memory://?x=1");
  CHECK(absl::IsInvalidArgument(memory.status()));
  CHECK_THAT(std::string(memory.status().message()), Catch::Contains("takes no parameters"));
}

TEST_CASE("secrets in registry URIs never reach an error message") {
  micro::RegisterBuiltinPlugins();
  CHECK(micro::registry::RedactUri("consul://a:8500?token=S3CRET&dc=eu") ==
        "consul://a:8500?token=***&dc=eu");
  CHECK(micro::registry::RedactUri("etcd://user:S3CRET@a:2379,b:2379?password=S3CRET") ==
        "etcd://***@a:2379,b:2379?password=***");
  CHECK(micro::registry::RedactUri("consul://a:8500") == "consul://a:8500");
  // Every way to get one wrong, with the secret in the URI: the message says what is wrong, and
  // never the secret.
  const std::vector<std::string> bad = {
      "consul://127.0.0.1:1?token=S3CRET&tls=maybe",
      "consul://127.0.0.1:1?token=S3CRET&bogus=1",
      "consul://127.0.0.1:1?token=S3CRET&timeout=soon",
      "consul://127.0.0.1:1?token=S3CRET&token=S3CRET",
      "consul://127.0.0.1:1?acl_token=S3CRET",
      "consul://user:S3CRET@127.0.0.1:1",
      "consulx://127.0.0.1:1?token=S3CRET",
      "etcd://user:S3CRET@127.0.0.1:1?tls=maybe",
      "etcd://127.0.0.1:1?username=u&password=S3CRET&tls=maybe",
      "etcd://127.0.0.1:1?password=S3CRET",
      "etcd://127.0.0.1:1?password=S3CRET&timeout=-1",
      "etcd://[::1?password=S3CRET",
      "etcd://127.0.0.1:99999?password=S3CRET",
      "mdns://127.0.0.1,127.0.0.2?token=S3CRET",
      "memory://?secret=S3CRET",
      "consul://127.0.0.1:1?token=S3CRET%zz",
  };
  for (const std::string& uri : bad) {
    auto made = micro::registry::NewRegistry(uri);
    INFO(uri);
    REQUIRE_FALSE(made.ok());
    CHECK_FALSE(made.status().message().empty());
    CHECK_THAT(std::string(made.status().message()), !Catch::Contains("S3CRET"));
    auto joined = micro::registry::RegistryUri(uri, "127.0.0.1:2");
    CHECK_THAT(std::string(joined.status().message()), !Catch::Contains("S3CRET"));
  }
}
