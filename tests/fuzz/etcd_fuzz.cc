// libFuzzer target for what the etcd registry reads from a member: a
// WatchResponse (protobuf) whose events go through the watch state, and a
// key/value pair through DecodeNode. The first byte picks the input:
//   0: a WatchResponse; its events applied, then a Reset from the keys seen
//   1: key '\n' value, decoded
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "etcd_codec.h"
#include "etcdserverpb/rpc.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    etcdserverpb::WatchResponse res;
    if (!res.ParseFromString(in)) return 0;
    micro::etcd::WatchState state(nullptr);
    std::vector<micro::etcd::WatchState::Kv> last;
    for (const mvccpb::Event& ev : res.events()) {
      if (ev.type() == mvccpb::Event::DELETE) {
        state.Delete(ev.kv().key());
      } else {
        state.Put({ev.kv().key(), ev.kv().value()});
        last.push_back({ev.kv().key(), ev.kv().value()});
      }
    }
    state.Reset(last, true);
    if (state.size() > last.size()) __builtin_trap();        // a reset keeps only what it was given
    if (!state.Reset(last, true).empty()) __builtin_trap();  // the same range twice: no change
  } else {
    std::size_t nl = in.find('\n');
    std::string key = in.substr(0, nl);
    std::string value = nl == std::string::npos ? "" : in.substr(nl + 1);
    auto s = micro::etcd::DecodeNode(key, value);
    if (s.ok() && s->nodes.size() != 1) __builtin_trap();
  }
  return 0;
}
