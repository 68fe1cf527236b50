// The gateway as a real process in front of the hotel services (real
// processes over mDNS, in a network namespace of their own): the hotel curl,
// its error cases, hostile input, and wrk load while one of two geo nodes is
// SIGKILLed.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "http_util.h"
#include "process.h"
#include "test_util.h"

using micro::testing::Eventually;
using micro::testing::FreePort;
using micro::testing::HttpConnection;
using micro::testing::HttpDo;
using micro::testing::Process;
using namespace std::chrono_literals;

namespace {

constexpr char kBody[] = R"({"inDate":"2015-04-09","outDate":"2015-04-10"})";

std::unique_ptr<Process> Hotel(const std::string& service, const std::string& id = "") {
  REQUIRE(micro::testing::InPrivateNetwork());
  std::vector<std::string> args{std::string(HOTEL_BIN_DIR) + "/hotel-" + service,
                                "--registry",
                                "mdns",
                                "--server_address",
                                "127.0.0.1:0",
                                "--register_ttl",
                                "30s",
                                "--register_interval",
                                "5s"};
  if (!id.empty()) args.insert(args.end(), {"--server_id", id});
  return std::make_unique<Process>(args);
}

struct Demo {
  std::map<std::string, std::unique_ptr<Process>> procs;
  int port = FreePort(), admin_port = FreePort();

  Demo() {
    for (const char* s : {"auth", "profile", "rate", "hotel"}) procs[s] = Hotel(s);
    procs["geo-1"] = Hotel("geo", "geo-1");
    procs["geo-2"] = Hotel("geo", "geo-2");
    procs["gateway"] = std::make_unique<Process>(std::vector<std::string>{
        GATEWAY_BIN, "--registry", "mdns", "--address", "127.0.0.1:" + std::to_string(port),
        "--admin_address", "127.0.0.1:" + std::to_string(admin_port)});
    REQUIRE(Eventually([&] { return Curl("-H 'Authorization: Bearer VALID_TOKEN'").first == 200; },
                       60s));
  }

  // Runs curl against /hotel/rates; returns the HTTP status and the body.
  std::pair<int, std::string> Curl(const std::string& args, const std::string& body = kBody) {
    std::string cmd = "curl -s -m 10 -w '\\n%{http_code}' " + args + " -d '" + body +
                      "' http://127.0.0.1:" + std::to_string(port) + "/hotel/rates";
    FILE* f = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    pclose(f);
    std::size_t nl = out.rfind('\n');
    if (nl == std::string::npos) return {0, out};
    return {std::atoi(out.c_str() + nl + 1), out.substr(0, nl)};
  }
};

}  // namespace

TEST_CASE("the hotel curl through the gateway, and each error case") {
  Demo d;
  auto [status, body] = d.Curl("-H 'Authorization: Bearer VALID_TOKEN'");
  REQUIRE(status == 200);
  auto j = nlohmann::json::parse(body);
  REQUIRE(j["hotels"].size() == 5);
  CHECK(j["hotels"][0]["name"] == "Clift Hotel");
  REQUIRE(j["ratePlans"].size() == 1);
  CHECK(j["ratePlans"][0]["code"] == "RACK");
  CHECK(j["ratePlans"][0]["roomType"]["bookableRate"] == 109);

  struct Case {
    std::string args, body;
    int status;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"", kBody, 403, "Authorization"},
           {"-H 'Authorization: Bearer WRONG'", kBody, 401, ""},
           {"-H 'Authorization: Bearer VALID_TOKEN'", R"({"inDate":"2015-04-09"})", 400,
            "Please specify inDate/outDate params"},
           {"-H 'Authorization: Bearer VALID_TOKEN'",
            R"({"inDate":"2015-04-10","outDate":"2015-04-09"})", 400, ""},
           {"-H 'Authorization: Bearer VALID_TOKEN'", R"({"inDate":)", 400, "malformed JSON"},
       }) {
    auto [s, b] = d.Curl(c.args, c.body);
    INFO(c.args << " " << c.body << " -> " << b);
    CHECK(s == c.status);
    auto e = nlohmann::json::parse(b);
    CHECK(e["code"] == c.status);
    CHECK_THAT(e["detail"].get<std::string>(), Catch::Contains(c.says));
  }
  auto missing = HttpDo(d.port, "POST", "/nowhere/at/all", "{}");
  CHECK(missing.status == 503);  // no such service (now): not a 404

  // Hostile input does not stop it.
  HttpConnection garbage(d.port);
  garbage.Send(std::string(5000, '\x01') + "\r\n\r\n");
  CHECK(HttpDo(d.port, "POST", "/hotel/rates", std::string(2 << 20, '{')).status == 413);
  CHECK(HttpDo(d.port, "GET", "/health", "", "X-Huge: " + std::string(64 << 10, 'h') + "\r\n")
            .status == 431);
  CHECK(d.Curl("-H 'Authorization: Bearer VALID_TOKEN'").first == 200);
  CHECK(HttpDo(d.port, "GET", "/metrics").status == 404);  // on the admin address only
  auto metrics = HttpDo(d.admin_port, "GET", "/metrics");
  CHECK_THAT(metrics.body,
             Catch::Contains("route=\"go.micro.api.hotel Hotel.Rates\",code=\"200\""));
}

TEST_CASE("wrk load through the gateway: SIGKILL one of two geo nodes, no request fails") {
  Demo d;
  std::string script = "/tmp/micro-wrk-" + std::to_string(getpid()) + ".lua";
  {
    std::ofstream lua(script);
    lua << "wrk.method = \"POST\"\nwrk.body = '" << kBody
        << "'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
           "wrk.headers[\"Authorization\"] = \"Bearer VALID_TOKEN\"\n";
  }
  std::string out_path = script + ".out";
  std::string cmd = "wrk -t2 -c8 -d8s --timeout 10s -s " + script +
                    " http://127.0.0.1:" + std::to_string(d.port) + "/hotel/rates > " + out_path +
                    " 2>&1";
  std::thread killer([&] {
    std::this_thread::sleep_for(3s);
    d.procs["geo-2"]->Signal(SIGKILL);
    d.procs["geo-2"]->Wait();
  });
  int rc = std::system(cmd.c_str());
  killer.join();
  std::ifstream in(out_path);
  std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(script.c_str());
  std::remove(out_path.c_str());
  INFO(report);
  REQUIRE(rc == 0);
  CHECK_THAT(report, Catch::Contains("requests in"));
  CHECK_THAT(report, !Catch::Contains("Non-2xx"));
  CHECK_THAT(report, !Catch::Contains("Socket errors"));
  std::printf("%s\n", report.c_str());
}
