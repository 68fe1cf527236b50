// go.micro.srv.rate: rate plans (data: rates.json).
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  return hotel_example::RunService(
      argc, argv, hotel_example::kRateService, [](micro::Service& s, const std::string& dir) {
        auto plans = hotel_example::LoadRates(dir);
        if (!plans.ok()) return plans.status();
        return rate::RegisterRateHandler(s.server(),
                                         std::make_shared<hotel_example::RateImpl>(*plans));
      });
}
