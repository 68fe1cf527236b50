#include "client/call_parts.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "micro/client/client.h"
#include "micro/errors.h"
#include "micro/server/handler.h"

namespace micro::client {

CallOptions FromContext(const server::Context& ctx, CallOptions options) {
  std::map<std::string, std::string> own;
  for (auto& [k, v] : options.metadata) own[absl::AsciiStrToLower(k)] = std::move(v);
  options.metadata = std::move(own);
  for (const auto& [k, v] : ctx.metadata) {
    // The trace goes on as this call's own span; the rest as go-micro passes it.
    if (k == "traceparent" || k == "tracestate" || k == "accept-encoding") continue;
    options.metadata.emplace(k, v);
  }
  if (ctx.deadline < options.deadline) options.deadline = ctx.deadline;
  if (options.cancel == nullptr) options.cancel = ctx.cancel;
  if (!options.parent.valid()) options.parent = ctx.span;
  return options;
}

namespace detail {
namespace {

bool LegalKey(absl::string_view k) {
  if (k.empty() || k.front() == ':' || absl::StartsWith(k, "grpc-")) return false;
  static const char* kReserved[] = {"content-type",      "te",         "host",
                                    "connection",        "user-agent", "content-length",
                                    "transfer-encoding", "keep-alive", "upgrade",
                                    "x-content-type",    "timeout"};
  for (const char* r : kReserved) {
    if (k == r) return false;
  }
  for (char c : k) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.'))
      return false;
  }
  return true;
}

bool LegalValue(absl::string_view v) {
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  }
  return true;
}

}  // namespace

// The call's metadata as it goes on the wire: legal keys lower-cased, the caller's content type
// as go-micro's x-content-type. The time left goes with each attempt (see Attempt).
Metadata WireMetadata(const CallOptions& opts, const std::string& content_type) {
  Metadata md;
  md.reserve(opts.metadata.size() + 2);
  for (const auto& [k, v] : opts.metadata) {
    std::string key = absl::AsciiStrToLower(k);
    if (key == "traceparent" || key == "tracestate") continue;  // the call's own span goes
    if (LegalKey(key) && LegalValue(v)) md.emplace_back(std::move(key), v);
  }
  md.emplace_back("x-content-type", content_type);
  return md;
}

// go-micro's `timeout` metadata: the time left, in nanoseconds.
std::string TimeoutNanos(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::to_string(std::max<long long>(left.count(), 1));
}

// The call ended because the call it was made for did (go-micro reports a done context as 408).
absl::Status CancelledError(absl::string_view service) {
  absl::Status e = errors::New(
      "go.micro.client",
      absl::StrCat("call to ", service, " cancelled: the call it was made for ended"), 408);
  absl::Status out(absl::StatusCode::kCancelled, e.message());
  e.ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

// A selector error as a go-micro error: 408 (go-micro's client timeout) when the registry did not
// answer within the call's deadline; else 503: no such service, no node, or the registry cannot
// be asked are all "not available now" (a registry that was emptied by a restart is not a 404).
absl::Status SelectError(absl::string_view service, const absl::Status& s) {
  int code = absl::IsDeadlineExceeded(s) ? 408 : 503;
  absl::Status e =
      errors::New("go.micro.client", absl::StrCat("service ", service, ": ", s.message()), code);
  absl::Status out(s.code(), e.message());
  e.ForEachPayload([&](absl::string_view url, const absl::Cord& p) { out.SetPayload(url, p); });
  return out;
}

}  // namespace detail
}  // namespace micro::client
