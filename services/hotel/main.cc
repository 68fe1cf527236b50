// go.micro.api.hotel: Hotel.Rates, the API behind the gateway's /hotel/rates. Each answered
// search is announced on the topic "hotel.searched" (hotel-stats counts them).
#include "events.h"
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  std::unique_ptr<hotel_example::EventQueue> events;
  return hotel_example::RunService(
      argc, argv, hotel_example::kHotelService,
      [&](micro::Service& s, const std::string&) {
        events = std::make_unique<hotel_example::EventQueue>(s, hotel_example::kSearchedTopic);
        auto announce = [q = events.get()](const micro::server::Context& ctx,
                                           const stats::Searched& e) {
          // The search's trace and request id go with the event; its other metadata (the
          // caller's Authorization among it) does not.
          micro::client::CallOptions o;
          o.parent = ctx.span;
          if (!ctx.request_id.empty()) o.metadata["x-request-id"] = ctx.request_id;
          q->Publish(e, std::move(o));
        };
        return hotel::RegisterHotelHandler(
            s.server(), std::make_shared<hotel_example::HotelImpl>(s.client(), announce));
      },
      [&] { events.reset(); });  // sends what is queued while the service still exists
}
