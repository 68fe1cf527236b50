#include "handlers.h"

#include <algorithm>
#include <cmath>
#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "micro/errors.h"

namespace hotel_example {
namespace errors = micro::errors;

// --- auth ---

AuthImpl::AuthImpl(const std::vector<auth::Customer>& customers) {
  for (const auto& c : customers) by_token_[c.authtoken()] = c;
}

absl::Status AuthImpl::VerifyToken(micro::server::Context&, const auth::Request& req,
                                   auth::Result* rsp) {
  if (req.authtoken().empty()) return errors::BadRequest(kAuthService, "authToken is required");
  auto it = by_token_.find(req.authtoken());
  if (it == by_token_.end()) return errors::Unauthorized(kAuthService, "invalid token");
  *rsp->mutable_customer() = it->second;
  return absl::OkStatus();
}

// --- geo ---

double HaversineKm(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthKm = 6371.0088, kRad = M_PI / 180;
  double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(lat1 * kRad) *
                                                           std::cos(lat2 * kRad) *
                                                           std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthKm * std::asin(std::min(1.0, std::sqrt(a)));
}

GeoIndex::GeoIndex(const std::vector<Location>& locations) {
  for (const auto& l : locations) {
    cells_[{static_cast<long>(std::floor(l.lat / kCellDegrees)),
            static_cast<long>(std::floor(l.lon / kCellDegrees))}]
        .push_back(l);
  }
}

std::vector<std::string> GeoIndex::Nearby(double lat, double lon, std::size_t limit,
                                          double radius_km) const {
  // The degrees a radius spans: fixed north-south, wider east-west away from the equator.
  double dlat = radius_km / 111.0;
  double dlon = radius_km / (111.0 * std::max(0.01, std::cos(lat * M_PI / 180)));
  long lat0 = static_cast<long>(std::floor((lat - dlat) / kCellDegrees));
  long lat1 = static_cast<long>(std::floor((lat + dlat) / kCellDegrees));
  long lon0 = static_cast<long>(std::floor((lon - dlon) / kCellDegrees));
  long lon1 = static_cast<long>(std::floor((lon + dlon) / kCellDegrees));
  std::vector<std::pair<double, std::string>> found;
  for (long a = lat0; a <= lat1; ++a) {
    for (long b = lon0; b <= lon1; ++b) {
      auto it = cells_.find({a, b});
      if (it == cells_.end()) continue;
      for (const auto& l : it->second) {
        double d = HaversineKm(lat, lon, l.lat, l.lon);
        if (d <= radius_km) found.emplace_back(d, l.hotel_id);
      }
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < found.size() && i < limit; ++i) out.push_back(found[i].second);
  return out;
}

absl::Status GeoImpl::Nearby(micro::server::Context&, const geo::Request& req, geo::Result* rsp) {
  if (!std::isfinite(req.lat()) || !std::isfinite(req.lon()) || std::abs(req.lat()) > 90 ||
      std::abs(req.lon()) > 180) {
    return errors::BadRequest(
        kGeoService, absl::StrCat("not a point on Earth: lat ", req.lat(), ", lon ", req.lon()));
  }
  for (auto& id : index_.Nearby(req.lat(), req.lon())) rsp->add_hotelids(std::move(id));
  return absl::OkStatus();
}

// --- profile ---

ProfileImpl::ProfileImpl(const std::vector<profile::Hotel>& hotels) {
  for (const auto& h : hotels) by_id_[h.id()] = h;
}

absl::Status ProfileImpl::GetProfiles(micro::server::Context&, const profile::Request& req,
                                      profile::Result* rsp) {
  for (const auto& id : req.hotelids()) {
    auto it = by_id_.find(id);
    if (it != by_id_.end()) *rsp->add_hotels() = it->second;  // unknown ids are skipped
  }
  return absl::OkStatus();
}

// --- rate ---

RateImpl::RateImpl(const std::vector<rate::RatePlan>& plans) {
  for (const auto& p : plans) by_hotel_[p.hotelid()].push_back(p);
}

absl::Status RateImpl::GetRates(micro::server::Context&, const rate::Request& req,
                                rate::Result* rsp) {
  long in = 0, out = 0;
  if (!ParseDate(req.indate(), &in) || !ParseDate(req.outdate(), &out) || out <= in) {
    return errors::BadRequest(
        kRateService, "inDate and outDate must be dates (YYYY-MM-DD), outDate after inDate");
  }
  for (const auto& id : req.hotelids()) {
    auto it = by_hotel_.find(id);
    if (it == by_hotel_.end()) continue;
    for (const auto& p : it->second) {
      long pin = 0, pout = 0;
      ParseDate(p.indate(), &pin);
      ParseDate(p.outdate(), &pout);
      if (pin <= in && out <= pout) *rsp->add_rateplans() = p;
    }
  }
  return absl::OkStatus();
}

// --- hotel ---

absl::StatusOr<std::string> TokenFrom(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.empty())
    return errors::Forbidden(kHotelService, "missing Authorization header");
  std::size_t space = authorization.find(' ');
  absl::string_view scheme = authorization.substr(0, space);
  absl::string_view value = space == absl::string_view::npos
                                ? ""
                                : absl::StripAsciiWhitespace(authorization.substr(space + 1));
  if (absl::EqualsIgnoreCase(scheme, "Bearer")) {
    if (value.empty()) return errors::Forbidden(kHotelService, "empty Bearer token");
    return std::string(value);
  }
  if (absl::EqualsIgnoreCase(scheme, "Basic")) {
    std::string decoded;
    if (value.empty() || !absl::Base64Unescape(value, &decoded)) {
      return errors::Forbidden(kHotelService, "malformed Basic credentials: not base64");
    }
    std::string token = decoded.substr(0, decoded.find(':'));
    if (token.empty()) return errors::Forbidden(kHotelService, "empty token in Basic credentials");
    return token;
  }
  return errors::Forbidden(kHotelService,
                           absl::StrCat("unsupported Authorization scheme \"", scheme,
                                        "\" (use Bearer <token> or Basic <base64>)"));
}

namespace {

// A downstream failure as this service reports it: unreachable (the client could not find or
// reach a node, or had no answer in time) -> 503, else 500.
absl::Status Downstream(const char* what, const absl::Status& s) {
  micro::Error e = errors::FromStatus(s);
  bool client = e.id == "go.micro.client";
  bool unreachable = (client && e.code != 500) || e.code == 503 || e.code == 408 ||
                     absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
  return errors::New(kHotelService, absl::StrCat(what, ": ", e.detail), unreachable ? 503 : 500);
}

}  // namespace

HotelImpl::HotelImpl(std::shared_ptr<micro::client::Client> client, SearchedFn searched)
    : auth_(kAuthService, client),
      geo_(kGeoService, client),
      profile_(kProfileService, client),
      rate_(kRateService, client),
      searched_(std::move(searched)) {}

absl::Status HotelImpl::Rates(micro::server::Context& ctx, const hotel::Request& req,
                              hotel::Response* rsp) {
  absl::StatusOr<std::string> token = TokenFrom(ctx.Metadata("authorization"));
  if (!token.ok()) return token.status();

  auth::Request areq;
  areq.set_authtoken(*token);
  if (auto verified = auth_.VerifyToken(ctx, areq); !verified.ok()) {
    // "Auth said no" is the auth service's own 4xx answer; anything else means
    // auth could not be asked (no node, registry trouble, timeout): not the caller's fault.
    micro::Error e = errors::FromStatus(verified.status());
    if (e.id != kAuthService || e.code < 400 || e.code >= 500) {
      return Downstream("auth", verified.status());
    }
    return errors::Unauthorized(kHotelService, absl::StrCat("Unauthorized: ", e.detail));
  }

  if (req.indate().empty() || req.outdate().empty()) {
    return errors::BadRequest(kHotelService, "Please specify inDate/outDate params");
  }
  long in = 0, out = 0;
  if (!ParseDate(req.indate(), &in)) {
    return errors::BadRequest(
        kHotelService, absl::StrCat("inDate \"", req.indate(), "\" is not a date (YYYY-MM-DD)"));
  }
  if (!ParseDate(req.outdate(), &out)) {
    return errors::BadRequest(
        kHotelService, absl::StrCat("outDate \"", req.outdate(), "\" is not a date (YYYY-MM-DD)"));
  }
  if (out <= in) return errors::BadRequest(kHotelService, "outDate must be after inDate");

  geo::Request greq;
  bool unset = req.lat() == 0 && req.lon() == 0;
  greq.set_lat(unset ? kDefaultLat : req.lat());
  greq.set_lon(unset ? kDefaultLon : req.lon());
  auto nearby = geo_.Nearby(ctx, greq);
  if (!nearby.ok()) return Downstream("geo", nearby.status());
  // Each answered search is announced (stats::Searched), with the hotels it found.
  auto announce = [&] {
    if (!searched_) return;
    stats::Searched event;
    event.set_indate(req.indate());
    event.set_outdate(req.outdate());
    event.set_lat(greq.lat());
    event.set_lon(greq.lon());
    *event.mutable_hotelids() = nearby->hotelids();
    searched_(ctx, event);
  };
  if (nearby->hotelids().empty()) {
    announce();
    return absl::OkStatus();
  }

  profile::Request preq;
  *preq.mutable_hotelids() = nearby->hotelids();
  preq.set_locale("en");
  rate::Request rreq;
  *rreq.mutable_hotelids() = nearby->hotelids();
  rreq.set_indate(req.indate());
  rreq.set_outdate(req.outdate());
  std::promise<absl::StatusOr<profile::Result>> profiles;
  std::promise<absl::StatusOr<rate::Result>> rates;
  // Downstream calls carry this call's deadline, metadata, cancellation and trace.
  profile_.GetProfilesAsync(
      ctx, preq, [&](absl::StatusOr<profile::Result> r) { profiles.set_value(std::move(r)); });
  rate_.GetRatesAsync(ctx, rreq,
                      [&](absl::StatusOr<rate::Result> r) { rates.set_value(std::move(r)); });
  absl::StatusOr<profile::Result> p = profiles.get_future().get();
  absl::StatusOr<rate::Result> r = rates.get_future().get();
  if (!p.ok()) return Downstream("profile", p.status());
  if (!r.ok()) return Downstream("rate", r.status());
  *rsp->mutable_hotels() = p->hotels();
  *rsp->mutable_rateplans() = r->rateplans();
  announce();
  return absl::OkStatus();
}

void StatsImpl::Record(const stats::Searched& event) {
  std::lock_guard<std::mutex> l(mu_);
  ++searches_;
  for (const std::string& id : event.hotelids()) ++hotels_[id];
}

absl::Status StatsImpl::Searches(micro::server::Context&, const stats::Request&,
                                 stats::Summary* rsp) {
  std::lock_guard<std::mutex> l(mu_);
  rsp->set_searches(searches_);
  for (const auto& [id, n] : hotels_) (*rsp->mutable_hotels())[id] = n;
  return absl::OkStatus();
}

}  // namespace hotel_example
