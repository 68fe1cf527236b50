#include "data.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hotel_example {
namespace {

using nlohmann::json;

// Throws std::runtime_error with the place in the file; the loaders catch it.
struct Reader {
  std::string file;

  [[noreturn]] void Fail(const std::string& where, const std::string& why) const {
    throw std::runtime_error(absl::StrCat(file, where, ": ", why));
  }
  const json& Field(const json& j, const std::string& where, const char* name) const {
    if (!j.is_object()) Fail(where, "expected an object");
    auto it = j.find(name);
    if (it == j.end()) Fail(where, absl::StrCat("missing \"", name, "\""));
    return *it;
  }
  std::string String(const json& j, const std::string& where, const char* name,
                     bool required = true) const {
    if (!j.contains(name) && !required) return "";
    const json& v = Field(j, where, name);
    if (!v.is_string()) Fail(absl::StrCat(where, ".", name), "expected a string");
    return v.get<std::string>();
  }
  double Number(const json& j, const std::string& where, const char* name) const {
    const json& v = Field(j, where, name);
    if (!v.is_number()) Fail(absl::StrCat(where, ".", name), "expected a number");
    return v.get<double>();
  }
  // Ids are numbers in the original files and strings in the protos: accept both.
  std::string Id(const json& j, const std::string& where, const char* name) const {
    const json& v = Field(j, where, name);
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    if (v.is_string() && !v.get<std::string>().empty()) return v.get<std::string>();
    Fail(absl::StrCat(where, ".", name), "expected an id (a whole number or a string)");
  }
};

template <typename T>
absl::StatusOr<std::vector<T>> Load(const std::string& dir, const char* name,
                                    T (*one)(const Reader&, const json&, const std::string&)) {
  std::string path = absl::StrCat(dir, "/", name);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, " (set --data_dir)"));
  std::stringstream text;
  text << in.rdbuf();
  Reader r{path};
  try {
    json j = json::parse(text.str());
    if (!j.is_array()) r.Fail("", "expected a JSON array");
    if (j.empty()) r.Fail("", "no entries");
    std::vector<T> out;
    for (std::size_t i = 0; i < j.size(); ++i)
      out.push_back(one(r, j[i], absl::StrCat("[", i, "]")));
    return out;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": malformed JSON: ", e.what()));
  } catch (const std::runtime_error& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

auth::Customer OneCustomer(const Reader& r, const json& j, const std::string& where) {
  auth::Customer c;
  const json& id = r.Field(j, where, "customerId");
  if (!id.is_number_integer()) r.Fail(where + ".customerId", "expected a whole number");
  c.set_id(id.get<int>());
  c.set_authtoken(r.String(j, where, "authToken"));
  if (c.authtoken().empty()) r.Fail(where + ".authToken", "empty token");
  return c;
}

Location OneLocation(const Reader& r, const json& j, const std::string& where) {
  Location l;
  l.hotel_id = r.Id(j, where, "hotelID");
  const json& p = r.Field(j, where, "point");
  l.lat = r.Number(p, where + ".point", "latitude") / 1e7;
  l.lon = r.Number(p, where + ".point", "longitude") / 1e7;
  if (l.lat < -90 || l.lat > 90 || l.lon < -180 || l.lon > 180) {
    r.Fail(where + ".point", "not a point on Earth (degrees x 1e7 expected)");
  }
  return l;
}

profile::Hotel OneProfile(const Reader& r, const json& j, const std::string& where) {
  profile::Hotel h;
  h.set_id(r.Id(j, where, "id"));
  h.set_name(r.String(j, where, "name"));
  h.set_phonenumber(r.String(j, where, "phoneNumber", false));
  h.set_description(r.String(j, where, "description", false));
  const json& a = r.Field(j, where, "address");
  std::string aw = where + ".address";
  profile::Address* addr = h.mutable_address();
  addr->set_streetnumber(r.String(a, aw, "streetNumber", false));
  addr->set_streetname(r.String(a, aw, "streetName", false));
  addr->set_city(r.String(a, aw, "city", false));
  addr->set_state(r.String(a, aw, "state", false));
  addr->set_country(r.String(a, aw, "country", false));
  addr->set_postalcode(r.String(a, aw, "postalCode", false));
  if (j.contains("images")) {
    const json& images = j["images"];
    if (!images.is_array()) r.Fail(where + ".images", "expected an array");
    for (std::size_t i = 0; i < images.size(); ++i) {
      std::string iw = absl::StrCat(where, ".images[", i, "]");
      profile::Image* img = h.add_images();
      img->set_url(r.String(images[i], iw, "url"));
      if (images[i].contains("default")) img->set_default_(images[i]["default"].get<bool>());
    }
  }
  return h;
}

rate::RatePlan OneRate(const Reader& r, const json& j, const std::string& where) {
  rate::RatePlan p;
  p.set_hotelid(r.Id(j, where, "hotelID"));
  p.set_code(r.String(j, where, "code"));
  p.set_indate(r.String(j, where, "inDate"));
  p.set_outdate(r.String(j, where, "outDate"));
  long in = 0, out = 0;
  if (!ParseDate(p.indate(), &in)) r.Fail(where + ".inDate", "not a date (YYYY-MM-DD)");
  if (!ParseDate(p.outdate(), &out)) r.Fail(where + ".outDate", "not a date (YYYY-MM-DD)");
  if (out <= in) r.Fail(where, "outDate is not after inDate");
  const json& rt = r.Field(j, where, "roomType");
  std::string w = where + ".roomType";
  rate::RoomType* room = p.mutable_roomtype();
  room->set_bookablerate(r.Number(rt, w, "bookableRate"));
  room->set_totalrate(r.Number(rt, w, "totalRate"));
  room->set_totalrateinclusive(r.Number(rt, w, "totalRateInclusive"));
  room->set_code(r.String(rt, w, "code"));
  room->set_roomdescription(r.String(rt, w, "description", false));
  std::string currency = r.String(rt, w, "currency", false);
  room->set_currency(currency.empty() ? "USD" : currency);
  return p;
}

}  // namespace

absl::StatusOr<std::vector<auth::Customer>> LoadCustomers(const std::string& dir) {
  return Load<auth::Customer>(dir, "customers.json", OneCustomer);
}
absl::StatusOr<std::vector<Location>> LoadLocations(const std::string& dir) {
  return Load<Location>(dir, "locations.json", OneLocation);
}
absl::StatusOr<std::vector<profile::Hotel>> LoadProfiles(const std::string& dir) {
  return Load<profile::Hotel>(dir, "profiles.json", OneProfile);
}
absl::StatusOr<std::vector<rate::RatePlan>> LoadRates(const std::string& dir) {
  return Load<rate::RatePlan>(dir, "rates.json", OneRate);
}

bool ParseDate(const std::string& text, long* days) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  if (!absl::SimpleAtoi(text.substr(0, 4), &y) || !absl::SimpleAtoi(text.substr(5, 2), &m) ||
      !absl::SimpleAtoi(text.substr(8, 2), &d)) {
    return false;
  }
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] + (m == 2 && leap ? 1 : 0))
    return false;
  // Days from civil (Howard Hinnant's algorithm).
  int yy = y - (m <= 2);
  int era = yy / 400;
  int yoe = yy - era * 400;
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  *days = static_cast<long>(era) * 146097 + doe - 719468;
  return true;
}

}  // namespace hotel_example
