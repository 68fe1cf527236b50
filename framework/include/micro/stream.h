// What the two ends of a stream share: how its end reads.
//
// A stream's Recv returns OK with a message, then EndOfStream() once the other side has closed its
// sending half (CloseSend on a client, the handler returning on a server) and every message was
// read; any other error is how the stream failed (a go-micro error, see micro/errors.h).
#pragma once

#include "absl/status/status.h"

namespace micro {

inline absl::Status EndOfStream() { return absl::OutOfRangeError("end of stream"); }

inline bool IsEndOfStream(const absl::Status& s) {
  return absl::IsOutOfRange(s) && s.message() == "end of stream";
}

}  // namespace micro
