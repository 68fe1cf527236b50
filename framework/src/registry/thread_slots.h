// Internal: what each thread keeps of a registry cache, so that a warm Get touches no memory
// another thread writes: a slot per service holding an aliasing shared_ptr with a private control
// block (copying it touches only that thread's reference count), valid while the cache's
// generation is unchanged, and a few recent slots found without hashing the name.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "micro/registry/cache.h"

namespace micro::registry::internal {

// What one thread remembers of one entry.
struct Slot {
  std::uint64_t generation = 0;
  std::shared_ptr<const Snapshot> local;  // private control block, see above
  std::chrono::steady_clock::time_point loaded_at{}, fresh_until{};
};

// The owner of one thread's private control block (see above), on cache lines of its
// own: two threads' reference counts side by side would bounce between their cores.
struct alignas(64) Holder {
  std::shared_ptr<const Snapshot> snapshot;
};

// A thread's slots of one cache, by service name. Node-based: a Memo points into it.
using SlotMap = absl::node_hash_map<std::string, Slot>;

// Where a recent slot is, so the hottest services skip the maps.
struct Memo {
  std::uint64_t cache_id = 0;  // 0: empty
  const std::string* name = nullptr;
  Slot* slot = nullptr;
};

// What the calling thread keeps: cache id -> service name -> slot (at most
// kMaxSlots per cache; past it services are served from the shared entry), and
// a few recent slots found by a hash of the name's length and last byte (no
// string hashing, one comparison).
struct ThreadState {
  static constexpr std::size_t kMaxSlots = 1024;
  absl::flat_hash_map<std::uint64_t, SlotMap> slots;
  Memo memo[8];

  Memo& MemoFor(absl::string_view name) {
    unsigned last = name.empty() ? 0 : static_cast<unsigned char>(name.back());
    return memo[(name.size() * 5 + last) & 7];
  }
  void Clear() {
    slots.clear();
    for (Memo& m : memo) m = Memo{};
  }
};

// a == b, inline: service names are short, and a call to memcmp costs more than comparing them.
inline bool SameName(const std::string& a, absl::string_view b) {
  std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n < 8) return std::equal(x, x + n, y);
  std::uint64_t u, v;
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    std::memcpy(&u, x + i, 8);
    std::memcpy(&v, y + i, 8);
    if (u != v) return false;
  }
  std::memcpy(&u, x + n - 8, 8);  // the last 8 bytes, overlapping the loop's
  std::memcpy(&v, y + n - 8, 8);
  return u == v;
}

// The calling thread's state.
inline ThreadState& ThreadSlots() {
  thread_local ThreadState state;
  return state;
}

}  // namespace micro::registry::internal
