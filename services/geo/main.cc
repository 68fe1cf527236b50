// go.micro.srv.geo: the nearest hotels to a point (data: locations.json).
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  return hotel_example::RunService(
      argc, argv, hotel_example::kGeoService, [](micro::Service& s, const std::string& dir) {
        auto locations = hotel_example::LoadLocations(dir);
        if (!locations.ok()) return locations.status();
        return geo::RegisterGeoHandler(s.server(),
                                       std::make_shared<hotel_example::GeoImpl>(*locations));
      });
}
