// go-micro's mDNS TXT payload: hex(zlib(JSON)) of {Metadata, Service, Version,
// Endpoints} (v4.11 field order; Metadata is the node's), cut into strings of
// at most 255 characters. Decoding refuses bad hex, bad zlib, payloads over
// the size cap and JSON of the wrong shape, with a message. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "micro/registry/service.h"

namespace micro::mdns {

struct TxtPayload {
  std::string service;
  std::string version;
  registry::Metadata metadata;  // the node's
  std::vector<registry::Endpoint> endpoints;
};

std::vector<std::string> EncodeTxt(const TxtPayload& payload);
absl::StatusOr<TxtPayload> DecodeTxt(const std::vector<std::string>& strings);

}  // namespace micro::mdns
