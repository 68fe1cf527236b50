// Calls Hotel.Rates on go.micro.api.hotel and prints the answer as JSON, as
// the gateway would return it.
//
//   hotel-client [--token VALID_TOKEN] [--in 2015-04-09] [--out 2015-04-10] [--lat 37.788 --lon
//   -122.4075]
#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/strings/numbers.h"
#include "hotel.micro.h"
#include "micro/micro.h"

int main(int argc, char** argv) {
  std::string token = "VALID_TOKEN", in = "2015-04-09", out = "2015-04-10", lat, lon;
  auto service = micro::NewService(micro::Name("hotel.client"));
  service->AddFlag("token", "Bearer token to send", &token);
  service->AddFlag("in", "check-in date, YYYY-MM-DD", &in);
  service->AddFlag("out", "check-out date, YYYY-MM-DD", &out);
  service->AddFlag("lat", "latitude to search near (default: Union Square)", &lat);
  service->AddFlag("lon", "longitude to search near", &lon);
  if (absl::Status s = service->Init(argc, argv); !s.ok()) return micro::InitExitCode(s);
  hotel::Request req;
  req.set_indate(in);
  req.set_outdate(out);
  float f = 0;
  if (!lat.empty() && absl::SimpleAtof(lat, &f)) req.set_lat(f);
  if (!lon.empty() && absl::SimpleAtof(lon, &f)) req.set_lon(f);
  micro::client::CallOptions opts;
  if (!token.empty()) opts.metadata["authorization"] = "Bearer " + token;
  auto rsp = hotel::HotelService("go.micro.api.hotel", service->client()).Rates(req, opts);
  if (!rsp.ok()) {
    std::cerr << micro::errors::FromStatus(rsp.status()).ToJson() << "\n";
    return 1;
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions po;
  po.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(*rsp, &json, po);
  std::cout << json;
  return 0;
}
