#!/usr/bin/env bash
# Pub/sub throughput and latency, micro-cpp beside go-micro v4, interleaved (cpp, go, cpp, go ...):
# each run is one process publishing to a subscriber of its own through the broker, on loopback:
#   http  go-micro's HTTP broker and micro-cpp's (in-process registry; each message is a POST)
#   nats  go-micro's NATS plugin and micro-cpp's, through one local nats-server
# Workloads: "flood P": P publishers send as fast as Publish returns; "serial P": each of P
# publishers waits until its message was handled before sending the next (latency-bound).
# Prints, per broker and workload, the median messages/s [min-max] of each side over the rounds,
# the ratio micro-cpp / go-micro, and the median p99 publish-to-handler latency.
#
#   bash tests/bench/broker_bench.sh [rounds=3] [messages per run=20000]
#
# MICRO_BUILD names the build directory (default: build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${MICRO_BUILD:-$root/build}
rounds=${1:-3}
n=${2:-20000}
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "broker_bench.sh: Go is needed for the go-micro peer" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "broker_bench.sh: nats-server is needed (deploy/install-deps.sh)" >&2; exit 1; }
out=$build/bench-go
mkdir -p "$out"
(cd "$root/tests/interop/gomicro" && GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$out/brokerbench" ./cmd/brokerbench)
cmake --build "$build" --target broker_bench >/dev/null
cpp=$build/tests/bench/broker_bench
gob=$out/brokerbench

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" >"$work/nats.log" 2>&1 &
nats=$!
trap 'kill $nats 2>/dev/null; wait $nats 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q "Server is ready" "$work/nats.log" && break; sleep 0.1; done

echo "broker_bench: $rounds rounds, $n messages a run (serial runs: n/4), 64-byte bodies; $(nproc) CPUs"
for broker in http nats; do
  for work_kind in "flood 1" "flood 8" "serial 1" "serial 8"; do
    set -- $work_kind
    mode=$1 pubs=$2
    count=$n
    extra_cpp=() extra_go=()
    if [ "$mode" = serial ]; then count=$((n / 4)); extra_cpp=(--serial); extra_go=(-serial); fi
    # go-micro's HTTP broker publishes in the background from a backlog: flooded, it falls far
    # behind (minutes for thousands of messages); give it fewer so a run ends.
    gcount=$count
    if [ "$broker" = http ] && [ "$mode" = flood ]; then gcount=$((count / 100)); fi
    if [ "$broker" = http ]; then
      cargs=(--broker http://127.0.0.1:0) gargs=(-broker http)
    else
      cargs=(--broker "nats://127.0.0.1:$port") gargs=(-broker nats -broker_address "127.0.0.1:$port")
    fi
    : >"$work/cpp" ; : >"$work/go"
    for _ in $(seq 1 "$rounds"); do
      "$cpp" "${cargs[@]}" --n "$count" --publishers "$pubs" "${extra_cpp[@]}" >>"$work/cpp"
      "$gob" "${gargs[@]}" -n "$gcount" -publishers "$pubs" "${extra_go[@]}" >>"$work/go"
    done
    python3 - "$broker" "$mode" "$pubs" "$work/cpp" "$work/go" "$count" "$gcount" <<'PY'
import json, statistics, sys
broker, mode, pubs, cpp_f, go_f, count, gcount = sys.argv[1:]
def load(f):
    return [json.loads(l) for l in open(f) if l.strip()]
c, g = load(cpp_f), load(go_f)
def rate(rs):
    v = [r["msgs_per_s"] for r in rs]
    return statistics.median(v), min(v), max(v)
def p99(rs):
    return statistics.median([r["p99_us"] for r in rs])
cm, cl, ch = rate(c)
gm, gl, gh = rate(g)
lost_c = sum(int(count) - r["received"] for r in c)
lost_g = sum(int(gcount) - r["received"] for r in g)
print(f"{broker:5s} {mode:6s} {pubs:>2s} pub: micro-cpp {cm:9.0f}/s [{cl:.0f}-{ch:.0f}] p99 {p99(c):8.0f} us"
      f" | go-micro {gm:9.1f}/s [{gl:.1f}-{gh:.1f}] p99 {p99(g):8.0f} us"
      f" | ratio {cm / gm if gm else float('inf'):6.2f}x"
      + (f" | not received: micro-cpp {lost_c}, go-micro {lost_g}" if lost_c or lost_g else ""))
PY
  done
done
