#!/usr/bin/env bash
# The echo benchmark with its Go peers: builds go-micro v4's gRPC server (the interop peer, run
# with -registry memory -quiet) and a plain grpc-go server from tests/interop/gomicro (Go stays in
# the tests), builds echo_bench, then runs it at 16 and 64 calls in flight.
#
#   bash tests/bench/echo_bench.sh [seconds per run=3] [rounds=3] [payload bytes=64] [build dir=build]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-3}
rounds=${2:-3}
payload=${3:-64}
build=${4:-$root/build}
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "echo_bench.sh: Go is needed for the go-micro and grpc-go servers" >&2; exit 1; }
out=$build/bench-go
mkdir -p "$out"
(
  cd "$root/tests/interop/gomicro"
  GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$out/peer4" ./cmd/peer4
  GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$out/grpcgo" ./cmd/grpcgo
)
cmake --build "$build" --target echo_bench >/dev/null
for inflight in 16 64; do
  MICRO_BENCH_GOMICRO=$out/peer4 MICRO_BENCH_GRPCGO=$out/grpcgo \
    "$build/tests/bench/echo_bench" "$inflight" "$seconds" "$rounds" "$payload"
  echo
done
