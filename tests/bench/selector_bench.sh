#!/usr/bin/env bash
# The selector benchmarks with their go-micro peer: builds go-micro v4's selector timer from
# tests/interop/gomicro (Go stays in the tests), then runs, interleaved with it,
#
#   bash tests/bench/selector_bench.sh [rounds=3] [milliseconds per measurement=40]
#       selector_bench: one service, 1 to 1,000 nodes
#   bash tests/bench/selector_bench.sh scale [services=10000] [nodes=10] [rounds=3]
#       scale_bench: many services in the cache
#
# MICRO_BUILD names the build directory (default: build).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${MICRO_BUILD:-$root/build}
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "selector_bench.sh: Go is needed for the go-micro peer" >&2; exit 1; }
out=$build/bench-go
mkdir -p "$out"
(cd "$root/tests/interop/gomicro" && GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$out/selbench" ./cmd/selbench)
export MICRO_BENCH_GOMICRO_SELECTOR=$out/selbench
if [ "${1:-}" = scale ]; then
  cmake --build "$build" --target scale_bench >/dev/null
  "$build/tests/bench/scale_bench" "${2:-10000}" "${3:-10}" "${4:-3}"
else
  cmake --build "$build" --target selector_bench >/dev/null
  "$build/tests/bench/selector_bench" "${1:-3}" "${2:-40}"
fi
