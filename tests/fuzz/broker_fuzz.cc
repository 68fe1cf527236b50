// libFuzzer target for go-micro's wire form of a broker message, as the HTTP broker's endpoint
// and the NATS broker receive it: any bytes. A message that decodes must encode and decode back
// to the same headers and body; nothing else may crash. The same bytes as a POST to the HTTP
// broker's endpoint: answered 200 (handed to the subscriber, with its topic), 400 or 404, with a
// go-micro error body when not 200.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "endpoint.h"
#include "micro/broker/broker.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto deliver = [](const std::string& id, micro::broker::Message m) -> absl::Status {
    if (m.header[micro::broker::kHeaderTopic].empty()) std::abort();
    if (id == "sub") return absl::OkStatus();
    return absl::NotFoundError("no such subscriber");
  };
  for (const char* target : {"/?id=sub", "/?id=other", "/"}) {
    auto a = micro::httpbroker::Handle("POST", target, in, deliver);
    if (a.status != 200 && a.status != 400 && a.status != 404) std::abort();
    if ((a.status == 200) != a.body.empty()) std::abort();
  }
  auto m = micro::broker::DecodeMessage(in);
  if (!m.ok()) {
    if (m.status().message().empty()) std::abort();  // every refusal says why
    return 0;
  }
  auto again = micro::broker::DecodeMessage(micro::broker::EncodeMessage(*m));
  if (!again.ok() || again->header != m->header || again->body != m->body) std::abort();
  return 0;
}
