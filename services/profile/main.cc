// go.micro.srv.profile: hotel profiles (data: profiles.json).
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  return hotel_example::RunService(
      argc, argv, hotel_example::kProfileService, [](micro::Service& s, const std::string& dir) {
        auto hotels = hotel_example::LoadProfiles(dir);
        if (!hotels.ok()) return hotels.status();
        return profile::RegisterProfileHandler(
            s.server(), std::make_shared<hotel_example::ProfileImpl>(*hotels));
      });
}
