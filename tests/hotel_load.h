// The hotel booking under load, for tests that run the hotel stack behind the gateway
// (chaos_test, agent_loss_test): the booking request, a load of bookings from a few threads
// counted by HTTP status, and helpers to sum and show the counts. Loopback only.
#pragma once

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_util.h"

namespace micro::testing::hotel_load {

inline constexpr char kBooking[] = R"({"inDate":"2015-04-09","outDate":"2015-04-10"})";
inline constexpr char kToken[] = "Authorization: Bearer VALID_TOKEN\r\n";
inline constexpr const char* kServices[] = {"go.micro.srv.auth", "go.micro.srv.geo",
                                            "go.micro.srv.profile", "go.micro.srv.rate",
                                            "go.micro.api.hotel"};

inline std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline micro::testing::HttpAnswer BookAnswer(int port) {
  return HttpDo(port, "POST", "/hotel/rates", kBooking, kToken);
}

inline int Book(int port) { return BookAnswer(port).status; }

// Bookings through the gateway from `threads` threads until Stop() or destroyed; Take()
// returns the answers by HTTP status since the last Take (0 = no answer).
class Load {
 public:
  Load(int port, int threads = 4) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, port] {
        while (!stop_) {
          auto t0 = std::chrono::steady_clock::now();
          HttpConnection c(port);
          micro::testing::HttpAnswer a;
          if (c.connected()) {
            a = c.Exchange(std::string("POST /hotel/rates HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Connection: close\r\nContent-Type: application/json\r\n") +
                           kToken + "Content-Length: " + std::to_string(sizeof(kBooking) - 1) +
                           "\r\n\r\n" + kBooking);
          }
          long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
          std::lock_guard<std::mutex> l(mu_);
          ++counts_[a.status];
          if (a.status != 200 && failures_.size() < 5) {
            failures_.push_back(std::to_string(a.status) + " after " + std::to_string(ms) + " ms" +
                                (c.connected() ? "" : " (connect failed)") +
                                (a.status == 0 ? " errno " + std::to_string(c.error()) : "") + " " +
                                a.body);
          }
        }
      });
    }
  }
  ~Load() { Stop(); }
  // Ends the load: no request is in flight afterwards (Take still answers).
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // The first few answers other than 200, with their bodies.
  std::string Failures() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const auto& f : failures_) out += f + "\n";
    return out;
  }
  std::map<int, long> Take() {
    std::lock_guard<std::mutex> l(mu_);
    std::map<int, long> out;
    out.swap(counts_);
    return out;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<int, long> counts_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

inline long Total(const std::map<int, long>& c) {
  long n = 0;
  for (const auto& [status, count] : c) n += count;
  return n;
}

inline long Failed(const std::map<int, long>& c) {
  return Total(c) - (c.count(200) ? c.at(200) : 0);
}

inline std::string Show(const std::map<int, long>& c) {
  std::string s;
  for (const auto& [status, count] : c)
    s += std::to_string(status) + ":" + std::to_string(count) + " ";
  return s;
}

}  // namespace micro::testing::hotel_load
