#!/usr/bin/env bash
# The selector benchmark with its go-micro peer: builds go-micro v4's selector timer from
# tests/interop/gomicro (Go stays in the tests) and selector_bench, then runs them interleaved.
#
#   bash tests/bench/selector_bench.sh [rounds=3] [milliseconds per measurement=40] [build dir=build]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-3}
ms=${2:-40}
build=${3:-$root/build}
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "selector_bench.sh: Go is needed for the go-micro peer" >&2; exit 1; }
out=$build/bench-go
mkdir -p "$out"
(cd "$root/tests/interop/gomicro" && GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$out/selbench" ./cmd/selbench)
cmake --build "$build" --target selector_bench >/dev/null
MICRO_BENCH_GOMICRO_SELECTOR=$out/selbench "$build/tests/bench/selector_bench" "$rounds" "$ms"
