// The hotel example as five real processes finding each other over mDNS (in a
// network namespace of their own), called the way the gateway calls it.
#include <catch2/catch.hpp>

#include "hotel.micro.h"
#include "mdns_registry.h"
#include "micro/micro.h"
#include "process.h"
#include "test_util.h"

using micro::testing::Eventually;
using micro::testing::Process;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Process> Start(const std::string& service) {
  REQUIRE(micro::testing::InPrivateNetwork());
  return std::make_unique<Process>(std::vector<std::string>{
      std::string(HOTEL_BIN_DIR) + "/hotel-" + service, "--registry", "mdns", "--server_address",
      "127.0.0.1:0", "--register_ttl", "30s", "--register_interval", "5s"});
}

}  // namespace

TEST_CASE(
    "the hotel services find each other, geo killed gives a clear error, restarted it serves "
    "again") {
  std::map<std::string, std::unique_ptr<Process>> procs;
  for (const char* s : {"auth", "geo", "profile", "rate", "hotel"}) procs[s] = Start(s);

  auto made = micro::mdns::NewMdnsRegistry();
  REQUIRE(made.ok());
  micro::client::ClientOptions co;
  co.registry = std::shared_ptr<micro::registry::Registry>(std::move(*made));
  auto client = std::make_shared<micro::client::Client>(co);
  hotel::HotelService api("go.micro.api.hotel", client);
  hotel::Request req;
  req.set_indate("2015-04-09");
  req.set_outdate("2015-04-10");
  micro::client::CallOptions opts;
  opts.metadata = {{"Authorization", "Bearer VALID_TOKEN"}};
  opts.timeout = 10s;

  absl::StatusOr<hotel::Response> rsp;
  REQUIRE(Eventually(
      [&] {
        rsp = api.Rates(req, opts);
        return rsp.ok();
      },
      60s));
  REQUIRE(rsp->hotels_size() == 5);
  CHECK(rsp->hotels(0).name() == "Clift Hotel");
  REQUIRE(rsp->rateplans_size() == 1);
  CHECK(rsp->rateplans(0).code() == "RACK");

  // Without a token: the error of Hotel.Rates itself comes through.
  micro::client::CallOptions anonymous = opts;
  anonymous.metadata.clear();
  auto denied = api.Rates(req, anonymous);
  REQUIRE_FALSE(denied.ok());
  CHECK(micro::errors::FromStatus(denied.status()).code == 403);

  // Kill geo: Hotel.Rates answers with a clear error before the caller's deadline.
  procs["geo"]->Signal(SIGKILL);
  procs["geo"]->Wait();
  auto failed = api.Rates(req, opts);
  REQUIRE_FALSE(failed.ok());
  micro::Error e = micro::errors::FromStatus(failed.status());
  CHECK(e.id == "go.micro.api.hotel");
  CHECK(e.code == 503);
  CHECK_THAT(e.detail, Catch::StartsWith("geo: "));

  // Start geo again: requests succeed, nothing else restarted.
  procs["geo"] = Start("geo");
  CHECK(Eventually([&] { return api.Rates(req, opts).ok(); }, 60s));
  for (auto& [name, p] : procs) CHECK(kill(p->pid(), 0) == 0);
}
