// Internal: how the server learns that a handler blocks. The framework's own blocking calls (a
// synchronous client call, opening a client stream) raise a per-thread flag; the server sets it
// aside before a handler runs and reads it after (server/placement.h).
#pragma once

namespace micro::internal {

inline thread_local bool handler_blocked = false;

// Called by the framework on a thread about to wait for another service.
inline void NoteBlocking() { handler_blocked = true; }

}  // namespace micro::internal
