// The hotel example's handlers, kept apart from their binaries so tests can
// run them in one process. Registered names are the original's.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth.micro.h"
#include "data.h"
#include "geo.micro.h"
#include "hotel.micro.h"
#include "profile.micro.h"
#include "rate.micro.h"
#include "stats.micro.h"

namespace hotel_example {

inline constexpr char kAuthService[] = "go.micro.srv.auth";
inline constexpr char kGeoService[] = "go.micro.srv.geo";
inline constexpr char kProfileService[] = "go.micro.srv.profile";
inline constexpr char kRateService[] = "go.micro.srv.rate";
inline constexpr char kHotelService[] = "go.micro.api.hotel";
inline constexpr char kStatsService[] = "go.micro.api.stats";
// The event the hotel service publishes after each answered search (stats::Searched).
inline constexpr char kSearchedTopic[] = "hotel.searched";

class AuthImpl : public auth::AuthHandler {
 public:
  explicit AuthImpl(const std::vector<auth::Customer>& customers);
  absl::Status VerifyToken(micro::server::Context& ctx, const auth::Request& req,
                           auth::Result* rsp) override;

 private:
  std::unordered_map<std::string, auth::Customer> by_token_;
};

// Hotels on a grid of cells about 11 km square: a query looks at the cells a
// 10 km circle can touch, so its cost follows the hotels nearby, not all of them.
class GeoIndex {
 public:
  explicit GeoIndex(const std::vector<Location>& locations);
  // Ids of the (at most `limit`) nearest hotels within `radius_km`, nearest first.
  std::vector<std::string> Nearby(double lat, double lon, std::size_t limit = 5,
                                  double radius_km = 10) const;

 private:
  static constexpr double kCellDegrees = 0.1;
  std::map<std::pair<long, long>, std::vector<Location>> cells_;
};

double HaversineKm(double lat1, double lon1, double lat2, double lon2);

class GeoImpl : public geo::GeoHandler {
 public:
  explicit GeoImpl(const std::vector<Location>& locations) : index_(locations) {}
  absl::Status Nearby(micro::server::Context& ctx, const geo::Request& req,
                      geo::Result* rsp) override;

 private:
  GeoIndex index_;
};

class ProfileImpl : public profile::ProfileHandler {
 public:
  explicit ProfileImpl(const std::vector<profile::Hotel>& hotels);
  absl::Status GetProfiles(micro::server::Context& ctx, const profile::Request& req,
                           profile::Result* rsp) override;

 private:
  std::unordered_map<std::string, profile::Hotel> by_id_;
};

// A plan applies to a stay it covers: plan.inDate <= inDate and outDate <= plan.outDate.
class RateImpl : public rate::RateHandler {
 public:
  explicit RateImpl(const std::vector<rate::RatePlan>& plans);
  absl::Status GetRates(micro::server::Context& ctx, const rate::Request& req,
                        rate::Result* rsp) override;

 private:
  std::unordered_map<std::string, std::vector<rate::RatePlan>> by_hotel_;
};

// Hotel.Rates: token (Bearer, or Basic whose user part is the token), Auth.VerifyToken,
// dates, Geo.Nearby, then Profile.GetProfiles and Rate.GetRates in parallel.
class HotelImpl : public hotel::HotelHandler {
 public:
  // `searched`, when set, is told of each answered search (the hotel binary publishes it).
  using SearchedFn =
      std::function<void(const micro::server::Context& ctx, const stats::Searched& event)>;
  explicit HotelImpl(std::shared_ptr<micro::client::Client> client, SearchedFn searched = nullptr);
  absl::Status Rates(micro::server::Context& ctx, const hotel::Request& req,
                     hotel::Response* rsp) override;

  // Where a search with no lat/lon looks: Union Square, San Francisco.
  static constexpr float kDefaultLat = 37.7880f;
  static constexpr float kDefaultLon = -122.4075f;

 private:
  auth::AuthService auth_;
  geo::GeoService geo_;
  profile::ProfileService profile_;
  rate::RateService rate_;
  SearchedFn searched_;
};

// Stats.Searches, fed by the "hotel.searched" events this instance receives (every instance
// subscribes without a queue, so each counts every search and any of them answers).
class StatsImpl : public stats::StatsHandler {
 public:
  void Record(const stats::Searched& event);
  absl::Status Searches(micro::server::Context& ctx, const stats::Request& req,
                        stats::Summary* rsp) override;

 private:
  std::mutex mu_;
  std::int64_t searches_ = 0;
  std::map<std::string, std::int64_t> hotels_;
};

// The token of an Authorization value, or a 403 error saying what is wrong.
absl::StatusOr<std::string> TokenFrom(absl::string_view authorization);

}  // namespace hotel_example
