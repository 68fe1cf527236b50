// go.micro.srv.auth: verifies customers' tokens (data: customers.json).
#include "handlers.h"
#include "run.h"

int main(int argc, char** argv) {
  return hotel_example::RunService(
      argc, argv, hotel_example::kAuthService, [](micro::Service& s, const std::string& dir) {
        auto customers = hotel_example::LoadCustomers(dir);
        if (!customers.ok()) return customers.status();
        return auth::RegisterAuthHandler(s.server(),
                                         std::make_shared<hotel_example::AuthImpl>(*customers));
      });
}
