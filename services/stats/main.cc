// go.micro.api.stats: Stats.Searches (the gateway's /stats/searches), counting the
// "hotel.searched" events the hotel service publishes.
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  return hotel_example::RunService(
      argc, argv, hotel_example::kStatsService, [](micro::Service& s, const std::string&) {
        auto stats = std::make_shared<hotel_example::StatsImpl>();
        // No queue: every instance hears every search, so any of them answers with the total.
        absl::Status sub = micro::RegisterSubscriber<stats::Searched>(
            hotel_example::kSearchedTopic, s,
            [stats](micro::server::Context&, const stats::Searched& e) {
              stats->Record(e);
              return absl::OkStatus();
            });
        if (!sub.ok()) return sub;
        return stats::RegisterStatsHandler(s.server(), stats);
      });
}
