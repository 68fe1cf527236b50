// The hotel example's handlers: auth, geo, profile and rate served for real on
// 127.0.0.1 (memory registry), Hotel.Rates called as the gateway would.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "handlers.h"
#include "micro/errors.h"
#include "micro/registry/memory.h"

namespace he = hotel_example;
namespace reg = micro::registry;
using namespace std::chrono_literals;

namespace {

const std::string kData = MICRO_HOTEL_DATA_DIR;

struct Backends {
  std::shared_ptr<reg::Registry> registry = reg::NewMemoryRegistry();
  std::vector<std::unique_ptr<micro::server::Server>> servers;
  std::shared_ptr<micro::client::Client> client;

  micro::server::Server& Add(const char* name) {
    micro::server::ServerOptions o;
    o.name = name;
    o.address = "127.0.0.1:0";
    o.registry = registry;
    o.drain_grace = 0ms;
    servers.push_back(std::make_unique<micro::server::Server>(o));
    return *servers.back();
  }

  explicit Backends(const std::string& dir = kData) {
    REQUIRE(auth::RegisterAuthHandler(Add(he::kAuthService),
                                      std::make_shared<he::AuthImpl>(*he::LoadCustomers(dir)))
                .ok());
    REQUIRE(geo::RegisterGeoHandler(Add(he::kGeoService),
                                    std::make_shared<he::GeoImpl>(*he::LoadLocations(dir)))
                .ok());
    REQUIRE(profile::RegisterProfileHandler(
                Add(he::kProfileService), std::make_shared<he::ProfileImpl>(*he::LoadProfiles(dir)))
                .ok());
    REQUIRE(rate::RegisterRateHandler(Add(he::kRateService),
                                      std::make_shared<he::RateImpl>(*he::LoadRates(dir)))
                .ok());
    for (auto& s : servers) REQUIRE(s->Start().ok());
    micro::client::ClientOptions co;
    co.registry = registry;
    co.backoff = [](int) { return 1ms; };
    co.retries = 1;
    client = std::make_shared<micro::client::Client>(co);
  }
};

absl::Status Rates(he::HotelImpl& h, const std::string& authorization, const std::string& in,
                   const std::string& out, hotel::Response* rsp) {
  micro::server::Context ctx;
  if (!authorization.empty()) ctx.metadata["authorization"] = authorization;
  hotel::Request req;
  req.set_indate(in);
  req.set_outdate(out);
  return h.Rates(ctx, req, rsp);
}

micro::Error ErrorOf(const absl::Status& s) { return micro::errors::FromStatus(s); }

}  // namespace

TEST_CASE("Hotel.Rates answers the known query with hotels and rate plans") {
  Backends b;
  he::HotelImpl h(b.client);
  hotel::Response rsp;
  REQUIRE(Rates(h, "Bearer VALID_TOKEN", "2015-04-09", "2015-04-10", &rsp).ok());
  std::vector<std::string> ids;
  for (auto& hotel : rsp.hotels()) ids.push_back(hotel.id());
  // The five nearest to Union Square, nearest first; Hotel Vitale (1.5 km) is sixth.
  CHECK(ids == std::vector<std::string>{"1", "3", "6", "2", "5"});
  CHECK(rsp.hotels(0).name() == "Clift Hotel");
  CHECK(rsp.hotels(0).address().streetname() == "Geary St");
  REQUIRE(rsp.rateplans_size() == 1);
  CHECK(rsp.rateplans(0).hotelid() == "1");
  CHECK(rsp.rateplans(0).code() == "RACK");
  CHECK(rsp.rateplans(0).roomtype().bookablerate() == 109.00);
  CHECK(rsp.rateplans(0).roomtype().totalrateinclusive() == 123.17);

  hotel::Response basic;
  REQUIRE(Rates(h, "Basic " + absl::Base64Escape("VALID_TOKEN:ignored"), "2015-04-09", "2015-04-10",
                &basic)
              .ok());
  CHECK(basic.hotels_size() == 5);
}

TEST_CASE("Hotel.Rates error paths carry go-micro errors with the right codes") {
  Backends b;
  he::HotelImpl h(b.client);
  struct Case {
    std::string authorization, in, out;
    int code;
    const char* detail;
  };
  for (const Case& c : {
           Case{"", "2015-04-09", "2015-04-10", 403, "missing Authorization header"},
           Case{"Digest abc", "2015-04-09", "2015-04-10", 403,
                "unsupported Authorization scheme \"Digest\""},
           Case{"Basic %%%not-base64", "2015-04-09", "2015-04-10", 403, "not base64"},
           Case{"Bearer", "2015-04-09", "2015-04-10", 403, "empty Bearer token"},
           Case{"Bearer WRONG", "2015-04-09", "2015-04-10", 401, "Unauthorized"},
           Case{"Bearer VALID_TOKEN", "", "2015-04-10", 400,
                "Please specify inDate/outDate params"},
           Case{"Bearer VALID_TOKEN", "2015-04-09", "", 400,
                "Please specify inDate/outDate params"},
           Case{"Bearer VALID_TOKEN", "2015-02-30", "2015-04-10", 400,
                "inDate \"2015-02-30\" is not a date"},
           Case{"Bearer VALID_TOKEN", "2015-04-09", "tomorrow", 400,
                "outDate \"tomorrow\" is not a date"},
           Case{"Bearer VALID_TOKEN", "2015-04-10", "2015-04-10", 400,
                "outDate must be after inDate"},
       }) {
    INFO(c.authorization << " " << c.in << " " << c.out);
    hotel::Response rsp;
    absl::Status s = Rates(h, c.authorization, c.in, c.out, &rsp);
    REQUIRE_FALSE(s.ok());
    micro::Error e = ErrorOf(s);
    CHECK(e.code == c.code);
    CHECK(e.id == he::kHotelService);
    CHECK_THAT(e.detail, Catch::Contains(c.detail));
  }
}

TEST_CASE("Hotel.Rates reports an unreachable downstream service as 503") {
  Backends b;
  he::HotelImpl h(b.client);
  REQUIRE(b.servers[1]->Stop().ok());  // geo
  hotel::Response rsp;
  absl::Status s = Rates(h, "Bearer VALID_TOKEN", "2015-04-09", "2015-04-10", &rsp);
  REQUIRE_FALSE(s.ok());
  micro::Error e = ErrorOf(s);
  CHECK(e.code == 503);
  CHECK_THAT(e.detail, Catch::StartsWith("geo: "));
}

TEST_CASE("Hotel.Rates answers 503, not 401, when auth cannot be asked") {
  Backends b;
  he::HotelImpl h(b.client);
  REQUIRE(b.servers[0]->Stop().ok());  // auth: deregistered, so "service not found"
  hotel::Response rsp;
  absl::Status s = Rates(h, "Bearer VALID_TOKEN", "2015-04-09", "2015-04-10", &rsp);
  REQUIRE_FALSE(s.ok());
  micro::Error e = ErrorOf(s);
  CHECK(e.code == 503);
  CHECK(e.id == he::kHotelService);
  CHECK_THAT(e.detail, Catch::StartsWith("auth: "));
}

TEST_CASE("geo's grid index finds exactly what a full scan finds") {
  auto locations = he::LoadLocations(kData + "/large");
  REQUIRE(locations.ok());
  REQUIRE(locations->size() >= 50);
  he::GeoIndex index(*locations);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> lat(37.70, 37.85), lon(-122.52, -122.22);
  int non_empty = 0;
  for (int i = 0; i < 500; ++i) {
    double a = lat(rng), o = lon(rng);
    std::vector<std::pair<double, std::string>> scan;
    for (const auto& l : *locations) {
      double d = he::HaversineKm(a, o, l.lat, l.lon);
      if (d <= 10) scan.emplace_back(d, l.hotel_id);
    }
    std::sort(scan.begin(), scan.end());
    std::vector<std::string> want;
    for (std::size_t k = 0; k < scan.size() && k < 5; ++k) want.push_back(scan[k].second);
    INFO(a << "," << o);
    CHECK(index.Nearby(a, o) == want);
    non_empty += want.empty() ? 0 : 1;
  }
  CHECK(non_empty > 100);  // the points land among the hotels often enough to mean something
  CHECK(he::HaversineKm(37.7880, -122.4075, 37.8044, -122.2712) ==
        Approx(12.1).epsilon(0.02));  // SF to Oakland
}

TEST_CASE("profile skips unknown ids, rate returns plans covering the stay") {
  Backends b(kData + "/large");
  profile::ProfileService profiles(he::kProfileService, b.client);
  profile::Request preq;
  preq.add_hotelids("1");
  preq.add_hotelids("no-such-hotel");
  preq.add_hotelids("3");
  auto p = profiles.GetProfiles(preq);
  REQUIRE(p.ok());
  REQUIRE(p->hotels_size() == 2);
  CHECK(p->hotels(1).id() == "3");

  rate::RateService rates(he::kRateService, b.client);
  rate::Request rreq;
  rreq.add_hotelids("1");
  rreq.set_indate("2015-04-09");
  rreq.set_outdate("2015-04-11");
  auto r = rates.GetRates(rreq);
  REQUIRE(r.ok());
  CHECK(r->rateplans_size() == 2);  // RACK and AAA for the week of 2015-04-08
  for (auto& plan : r->rateplans()) {
    CHECK(plan.indate() <= "2015-04-09");
    CHECK(plan.outdate() >= "2015-04-11");
    CHECK(plan.roomtype().currency() == "USD");
  }
  rreq.set_outdate("2015-04-16");  // spans two weekly plans: none covers it
  CHECK(rates.GetRates(rreq)->rateplans_size() == 0);
}

TEST_CASE("missing or malformed data stops a service with a clear message") {
  auto missing = he::LoadCustomers("/nonexistent");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(std::string(missing.status().message()),
             Catch::Contains("/nonexistent/customers.json"));

  std::string dir = "/tmp/hotel-data-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const char* text) { std::ofstream(dir + "/" + name) << text; };
  write("customers.json", "[{\"customerId\": 1, \"authToken\": 7}]");
  write("locations.json", "[{\"hotelID\": 1, \"point\": {\"latitude\": 1e12, \"longitude\": 0}}]");
  write("profiles.json", "{\"id\": 1}");
  write("rates.json", "[{\"hotelID\": 1, \"code\": \"R\", \"inDate\": \"2015-04-10\"");
  auto c = he::LoadCustomers(dir);
  CHECK_THAT(std::string(c.status().message()),
             Catch::Contains("customers.json[0].authToken: expected a string"));
  auto l = he::LoadLocations(dir);
  CHECK_THAT(std::string(l.status().message()), Catch::Contains("[0].point: not a point on Earth"));
  auto p = he::LoadProfiles(dir);
  CHECK_THAT(std::string(p.status().message()), Catch::Contains("expected a JSON array"));
  auto r = he::LoadRates(dir);
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("malformed JSON"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("dates are checked against the calendar") {
  long d = 0;
  CHECK(he::ParseDate("2015-04-09", &d));
  long next = 0;
  CHECK(he::ParseDate("2015-04-10", &next));
  CHECK(next == d + 1);
  CHECK(he::ParseDate("2016-02-29", &d));
  for (const char* bad :
       {"2015-02-29", "2015-13-01", "2015-4-9", "20150409", "", "2015-04-31", "abcd-ef-gh"}) {
    INFO(bad);
    CHECK_FALSE(he::ParseDate(bad, &d));
  }
}
