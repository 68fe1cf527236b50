// Traces as a collector receives them: spans exported over OTLP/HTTP by a
// call chain, decoded by a collector built on the official OTLP protos
// (tests/tools/otlp_collector.py, opentelemetry-proto from PyPI).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "greeter_chain.h"
#include "http_util.h"
#include "micro/metrics.h"
#include "micro/trace.h"
#include "nlohmann/json.hpp"
#include "otlp_collector.h"
#include "process.h"
#include "test_util.h"

using micro::testing::Chain;
using micro::testing::Eventually;
using micro::testing::Named;
using json = nlohmann::json;
using micro::testing::Collector;

namespace {

constexpr char kOutside[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

micro::trace::Options TraceTo(const std::string& endpoint, double ratio = 1.0) {
  micro::trace::Options o;
  o.endpoint = endpoint;
  o.service = "observability.test";
  o.sample_ratio = ratio;
  o.interval = std::chrono::milliseconds(50);
  return o;
}

const json* Find(const std::vector<json>& spans, int kind, const std::string& service_attr) {
  for (const json& s : spans) {
    if (s["kind"] == kind && s["attributes"]["rpc.service"] == service_attr) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a call chain's spans reach an OTLP collector as one trace, parent by parent") {
  Collector collector;
  REQUIRE(micro::trace::Configure(TraceTo(collector.endpoint())).ok());
  Chain chain(".traced");
  helloworld::GreeterService front("front.traced", chain.client);
  micro::client::CallOptions o;
  o.metadata["traceparent"] = kOutside;
  o.metadata["x-request-id"] = "req-trace-1";
  REQUIRE(front.Hello(Named("x"), o).ok());
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  // Our client span, front's server and client spans, back's server span.
  std::vector<json> spans;
  REQUIRE(Eventually([&] { return (spans = collector.Spans(trace)).size() >= 4; }));
  CHECK(spans.size() == 4);
  const int kServer = 2, kClient = 3;
  const json* outer = Find(spans, kClient, "front.traced");
  const json* front_server = Find(spans, kServer, "front.traced");
  const json* front_client = Find(spans, kClient, "back.traced");
  const json* back_server = Find(spans, kServer, "back.traced");
  REQUIRE(outer != nullptr);
  REQUIRE(front_server != nullptr);
  REQUIRE(front_client != nullptr);
  REQUIRE(back_server != nullptr);
  CHECK((*outer)["parent_span_id"] == "00f067aa0ba902b7");
  CHECK((*front_server)["parent_span_id"] == (*outer)["span_id"]);
  CHECK((*front_client)["parent_span_id"] == (*front_server)["span_id"]);
  CHECK((*back_server)["parent_span_id"] == (*front_client)["span_id"]);
  std::set<std::string> ids;
  for (const json& s : spans) ids.insert(s["span_id"].get<std::string>());
  CHECK(ids.size() == 4);
  CHECK((*back_server)["name"] == "Greeter.Hello");
  CHECK((*back_server)["service"] == "observability.test");
  CHECK((*back_server)["attributes"]["rpc.system"] == "go-micro");
  CHECK((*back_server)["attributes"]["micro.request_id"] == "req-trace-1");
  CHECK_THAT((*front_client)["attributes"]["net.peer.name"].get<std::string>(),
             Catch::StartsWith("127.0.0.1:"));
  for (const json& s : spans) {
    CHECK(s["status_code"] == 0);  // UNSET: no error
    CHECK(s["end"].get<std::uint64_t>() >= s["start"].get<std::uint64_t>());
  }

  // A failing call: its spans carry the error and go-micro's code.
  micro::client::CallOptions failing;
  failing.metadata["traceparent"] = "00-11111111111111111111111111111111-2222222222222222-01";
  CHECK(!front.Hello(Named("conflict"), failing).ok());
  REQUIRE(
      Eventually([&] { return collector.Spans("11111111111111111111111111111111").size() >= 4; }));
  spans = collector.Spans("11111111111111111111111111111111");
  const json* failed = Find(spans, kServer, "back.traced");
  REQUIRE(failed != nullptr);
  CHECK((*failed)["status_code"] == 2);  // ERROR
  CHECK((*failed)["status_message"] == "already taken");
  CHECK((*failed)["attributes"]["micro.error.code"] == "409");
  micro::trace::Shutdown();
}

TEST_CASE(
    "sampling: the caller's flag is followed, new traces by the ratio, and unsampled ones still "
    "propagate") {
  Collector collector;
  REQUIRE(micro::trace::Configure(TraceTo(collector.endpoint(), 0.0)).ok());
  Chain chain(".sampled");
  helloworld::GreeterService front("front.sampled", chain.client);
  // Ratio 0: a trace this process starts is not recorded, but its context reaches every hop.
  REQUIRE(front.Hello(Named("x")).ok());
  micro::trace::SpanContext unsampled = chain.Seen().span;
  REQUIRE(unsampled.valid());
  CHECK_FALSE(unsampled.sampled);
  // A caller that samples is followed whatever the ratio.
  micro::client::CallOptions o;
  o.metadata["traceparent"] = kOutside;
  REQUIRE(front.Hello(Named("x"), o).ok());
  REQUIRE(
      Eventually([&] { return collector.Spans("4bf92f3577b34da6a3ce929d0e0e4736").size() >= 4; }));
  micro::trace::Shutdown();  // flushes
  CHECK(collector.Spans(unsampled.TraceId()).empty());
}

TEST_CASE(
    "export never blocks calls: a full queue or a dead collector drops spans and counts them") {
  micro::trace::Options o = TraceTo(absl::StrCat("http://127.0.0.1:", micro::testing::FreePort()));
  o.queue_size = 8;
  o.batch_size = 4;
  REQUIRE(micro::trace::Configure(o).ok());
  std::uint64_t dropped_before = micro::trace::GetStats().dropped;
  Chain chain(".dropped");
  helloworld::GreeterService front("front.dropped", chain.client);
  for (int i = 0; i < 50; ++i) REQUIRE(front.Hello(Named("x")).ok());
  micro::trace::Shutdown(std::chrono::milliseconds(500));
  // 50 calls x 4 spans, none exported: all counted as dropped, by the queue or the failed sends.
  CHECK(micro::trace::GetStats().dropped - dropped_before == 200);
  CHECK_THAT(micro::metrics::Text(), Catch::Contains("micro_trace_spans_dropped_total "));
}

TEST_CASE("configuration errors name the problem") {
  micro::trace::Options o;
  o.endpoint = "https://collector:4318";
  CHECK_THAT(std::string(micro::trace::Configure(o).message()), Catch::Contains("https"));
  o.endpoint = "collector-without-port";
  CHECK(absl::IsInvalidArgument(micro::trace::Configure(o)));
  o.endpoint = "127.0.0.1:4318";
  o.sample_ratio = 1.5;
  CHECK_THAT(std::string(micro::trace::Configure(o).message()), Catch::Contains("between 0 and 1"));
  CHECK_FALSE(micro::trace::Enabled());
}
