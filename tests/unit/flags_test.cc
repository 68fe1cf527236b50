#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "micro/micro.h"
#include "micro/registry/memory.h"

using namespace std::chrono_literals;

namespace {

absl::Status InitWith(micro::Service& s, std::vector<std::string> args) {
  args.insert(args.begin(), "test");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return s.Init(static_cast<int>(argv.size()), argv.data());
}

struct Env {
  std::vector<std::string> names;
  void Set(const std::string& k, const std::string& v) {
    setenv(k.c_str(), v.c_str(), 1);
    names.push_back(k);
  }
  ~Env() {
    for (auto& n : names) unsetenv(n.c_str());
  }
};

}  // namespace

TEST_CASE("values set in code survive Init without flags (go-micro #911)") {
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("geo"),
                             micro::RegisterTTL(17s), micro::RegisterInterval(3s));
  REQUIRE(InitWith(*s, {}).ok());
  CHECK(s->options().server.name == "geo");
  CHECK(s->options().server.register_ttl == 17s);
  CHECK(s->options().server.register_interval == 3s);
  CHECK(s->options().server.version == "latest");  // untouched default
}

TEST_CASE("a flag beats a variable, which beats code") {
  Env env;
  env.Set("MICRO_SERVER_NAME", "from-env");
  env.Set("MICRO_REGISTER_TTL", "45");
  env.Set("MICRO_SERVER_METADATA", "a=1,b=2");
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("from-code"),
                             micro::RegisterTTL(17s));
  REQUIRE(InitWith(*s, {"--server_name", "from-flag", "--client_retries=2",
                        "--client_request_timeout", "1500ms", "--server_metadata", "c=3"})
              .ok());
  CHECK(s->options().server.name == "from-flag");
  CHECK(s->options().server.register_ttl == 45s);
  CHECK(s->options().server.metadata == micro::registry::Metadata{{"c", "3"}});
  CHECK(s->options().client.retries == 2);
  CHECK(s->options().client.request_timeout == 1500ms);
  CHECK(s->options().client.selector.strategy == micro::selector::Strategy::kRandom);

  auto t = micro::NewService(micro::Registry("memory://"));
  REQUIRE(InitWith(*t, {"--selector_strategy=leastinflight"}).ok());
  CHECK(t->options().client.selector.strategy == micro::selector::Strategy::kLeastInFlight);
}

TEST_CASE("registry flags combine and replace a registry given in code") {
  auto s = micro::NewService(micro::Registry("memory://"),
                             micro::Registry(std::shared_ptr<micro::registry::Registry>(
                                 micro::registry::NewMemoryRegistry())));
  REQUIRE(InitWith(*s, {"--registry", "memory"}).ok());
  CHECK(s->options().registry == "memory://");
  CHECK(s->registry() != nullptr);
}

TEST_CASE("bad values fail Init with a message naming the flag or variable") {
  struct Case {
    std::vector<std::string> args;
    const char* expect;
  };
  for (const Case& c :
       {Case{{"--register_ttl", "soon"}, "flag --register_ttl: \"soon\" is not a duration"},
        Case{{"--register_interval", "0"}, "--register_interval"},
        Case{{"--client_retries", "-1"}, "--client_retries"},
        Case{{"--server_metadata", "novalue"}, "--server_metadata"},
        Case{{"--nope", "1"}, "unknown flag --nope"}, Case{{"--server_name"}, "needs a value"},
        Case{{"stray"}, "unexpected argument"},
        Case{{"--selector_strategy", "fastest"}, "\"fastest\" is not random, roundrobin"},
        Case{{"--registry", "zookeeper"}, "unknown registry \"zookeeper\""},
        Case{{"--registry", "consul://a:1", "--registry_address", "b:2"}, "already holds"}}) {
    INFO(c.expect);
    auto s = micro::NewService(micro::Registry("memory://"), micro::Name("x"));
    absl::Status st = InitWith(*s, c.args);
    REQUIRE_FALSE(st.ok());
    CHECK_THAT(std::string(st.message()), Catch::Contains(c.expect));
  }
  Env env;
  env.Set("MICRO_REGISTER_TTL", "-5s");
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("x"));
  absl::Status st = InitWith(*s, {});
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(std::string(st.message()), Catch::Contains("MICRO_REGISTER_TTL"));
}

TEST_CASE("a service's own flags are read by Init") {
  std::string data_dir = "default";
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("x"));
  s->AddFlag("data_dir", "where the data is", &data_dir);
  REQUIRE(InitWith(*s, {"--data_dir=/srv/data"}).ok());
  CHECK(data_dir == "/srv/data");
}

TEST_CASE("typed service flags take a flag, else their variable, else what the target held") {
  Env env;
  env.Set("TEST_WORKERS", "7");
  env.Set("TEST_GRACE", "1500ms");
  std::string data_dir = "default";
  bool verbose = false;
  int workers = 1;
  std::chrono::milliseconds grace = 5s, poll = 10s;
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("x"));
  s->AddFlag("data_dir", "where the data is", &data_dir, "TEST_DATA_DIR");
  s->AddFlag("verbose", "say more", &verbose);
  s->AddFlag("workers", "worker threads", &workers, "TEST_WORKERS");
  s->AddFlag("grace", "drain grace", &grace, "TEST_GRACE");
  s->AddFlag("poll", "poll interval", &poll);
  REQUIRE(InitWith(*s, {"--verbose", "--workers=3"}).ok());
  CHECK(data_dir == "default");
  CHECK(verbose);
  CHECK(workers == 3);  // the flag beats TEST_WORKERS
  CHECK(grace == 1500ms);
  CHECK(poll == 10s);

  int n = 0;
  auto t = micro::NewService(micro::Registry("memory://"), micro::Name("x"));
  t->AddFlag("n", "a number", &n);
  absl::Status st = InitWith(*t, {"--n", "many"});
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(std::string(st.message()),
             Catch::Contains("flag --n: \"many\" is not a whole number"));
}

TEST_CASE("--help and --version return a status main() acts on, and change nothing") {
  for (const char* arg : {"--help", "-h", "--version"}) {
    INFO(arg);
    auto s = micro::NewService(micro::Registry("memory://"), micro::Name("x"));
    absl::Status st = InitWith(*s, {"--server_name=y", arg});
    REQUIRE_FALSE(st.ok());
    CHECK(micro::InitAskedToExit(st));
    CHECK(micro::InitExitCode(st) == 0);
    CHECK(s->options().server.name == "x");
  }
  absl::Status bad = absl::InvalidArgumentError("flag --x: bad");
  CHECK_FALSE(micro::InitAskedToExit(bad));
  CHECK(micro::InitExitCode(bad) == 2);
}

TEST_CASE("a bad value leaves the options as code set them") {
  auto s =
      micro::NewService(micro::Registry("memory://"), micro::Name("code"), micro::RegisterTTL(17s));
  absl::Status st =
      InitWith(*s, {"--server_name=flag", "--register_ttl=60s", "--client_retries=x"});
  REQUIRE_FALSE(st.ok());
  CHECK(s->options().server.name == "code");
  CHECK(s->options().server.register_ttl == 17s);
}

TEST_CASE("Run calls hooks in order around start and stop") {
  std::vector<std::string> order;
  micro::Service* self = nullptr;
  auto hook = [&](std::string name) {
    return [&order, name] {
      order.push_back(name);
      return absl::OkStatus();
    };
  };
  auto s = micro::NewService(
      micro::Registry("memory://"), micro::Name("hooks"), micro::Address("127.0.0.1:0"),
      micro::DrainGrace(0ms), micro::BeforeStart(hook("before start")),
      micro::AfterStart(hook("after start")), micro::AfterStart([&] {
        std::thread([&] { self->Shutdown(); }).detach();
        return absl::OkStatus();
      }),
      micro::BeforeStop(hook("before stop")), micro::AfterStop(hook("after stop")));
  self = s.get();
  REQUIRE(s->Run().ok());
  CHECK(order ==
        std::vector<std::string>{"before start", "after start", "before stop", "after stop"});
}

TEST_CASE("a failing BeforeStart aborts, and failing stop hooks all run and are all reported") {
  auto fail = [](const char* why) { return [why] { return absl::InternalError(why); }; };
  auto s = micro::NewService(micro::Registry("memory://"), micro::Name("aborts"),
                             micro::Address("127.0.0.1:0"), micro::BeforeStart(fail("no config")));
  absl::Status st = s->Start();
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(std::string(st.message()), Catch::Contains("no config"));
  CHECK(absl::IsNotFound(s->registry()->GetService("aborts").status()));  // never registered

  bool after_ran = false;
  auto t = micro::NewService(micro::Registry("memory://"), micro::Name("stops"),
                             micro::Address("127.0.0.1:0"), micro::DrainGrace(0ms),
                             micro::BeforeStop(fail("flush failed")),
                             micro::BeforeStop(fail("close failed")), micro::AfterStop([&] {
                               after_ran = true;
                               return absl::OkStatus();
                             }));
  REQUIRE(t->Start().ok());
  absl::Status stop = t->Stop();
  REQUIRE_FALSE(stop.ok());
  CHECK_THAT(std::string(stop.message()), Catch::Contains("flush failed"));
  CHECK_THAT(std::string(stop.message()), Catch::Contains("close failed"));
  CHECK(after_ran);
  CHECK(absl::IsNotFound(t->registry()->GetService("stops").status()));  // deregistered anyway
}
