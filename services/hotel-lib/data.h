// Loading the hotel example's data files (services/data, the original JSON
// shapes). A missing file, malformed JSON or a value of the wrong shape is an
// error naming the file and the place in it; services stop at start with it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth.pb.h"
#include "profile.pb.h"
#include "rate.pb.h"

namespace hotel_example {

struct Location {
  std::string hotel_id;
  double lat = 0, lon = 0;  // degrees
};

// customers.json: [{"customerId": 1, "authToken": "VALID_TOKEN"}]
absl::StatusOr<std::vector<auth::Customer>> LoadCustomers(const std::string& dir);
// locations.json: [{"hotelID": 1, "point": {"latitude": 377867000, "longitude": -1224112000}}]
// (degrees x 1e7)
absl::StatusOr<std::vector<Location>> LoadLocations(const std::string& dir);
// profiles.json: [{"id": 1, "name", "phoneNumber", "description", "address": {...}, "images":
// [...]}]
absl::StatusOr<std::vector<profile::Hotel>> LoadProfiles(const std::string& dir);
// rates.json: [{"hotelID": 1, "code", "inDate", "outDate", "roomType": {"bookableRate", "code",
//               "description", "totalRate", "totalRateInclusive", "currency"}}]
absl::StatusOr<std::vector<rate::RatePlan>> LoadRates(const std::string& dir);

// "YYYY-MM-DD" as days since 1970-01-01; false unless a real calendar date.
bool ParseDate(const std::string& text, long* days);

}  // namespace hotel_example
