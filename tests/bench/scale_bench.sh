#!/usr/bin/env bash
# The scale benchmark with its go-micro peer: builds go-micro v4's selector timer from
# tests/interop/gomicro (Go stays in the tests) and scale_bench, then runs them interleaved.
#
#   bash tests/bench/scale_bench.sh [services=10000] [nodes=10] [rounds=3] [build dir=build]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${4:-$root/build}
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "scale_bench.sh: Go is needed for the go-micro peer" >&2; exit 1; }
out=$build/bench-go
mkdir -p "$out"
(cd "$root/tests/interop/gomicro" && GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$out/selbench" ./cmd/selbench)
cmake --build "$build" --target scale_bench >/dev/null
MICRO_BENCH_GOMICRO_SELECTOR=$out/selbench "$build/tests/bench/scale_bench" "${1:-10000}" "${2:-10}" "${3:-3}"
