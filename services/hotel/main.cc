// go.micro.api.hotel: Hotel.Rates, the API behind the gateway's /hotel/rates.
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  return hotel_example::RunService(
      argc, argv, hotel_example::kHotelService, [](micro::Service& s, const std::string&) {
        return hotel::RegisterHotelHandler(s.server(),
                                           std::make_shared<hotel_example::HotelImpl>(s.client()));
      });
}
