// Service linked without micro::plugins (target micro::service alone): the
// framework stands on its own and knows only memory://; a registry plugin it
// was not given is a clear error naming where the plugins come from.
#include <catch2/catch.hpp>

#include "micro/registry/plugin.h"
#include "micro/service.h"

TEST_CASE("the framework's Service needs no plugin for the memory registry") {
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("alone"));
  char prog[] = "alone";
  char* argv[] = {prog};
  REQUIRE(s->Init(1, argv).ok());
  REQUIRE(s->registry() != nullptr);
  CHECK(micro::registry::RegistrySchemes() == std::vector<std::string>{"memory"});
}

TEST_CASE("without the built-in plugins, mdns:// fails Init and says where they come from") {
  auto s = micro::NewService(micro::Name("alone"));  // the default registry: mdns://
  char prog[] = "alone";
  char* argv[] = {prog};
  absl::Status st = s->Init(1, argv);
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(std::string(st.message()), Catch::Contains("unknown registry \"mdns\""));
  CHECK_THAT(std::string(st.message()), Catch::Contains("micro/micro.h"));
}
