#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# while over its seed corpus. A crash, hang or sanitizer report fails the run;
# the input that caused it is left in build-fuzz/ to be added to the corpus.
#
#   bash tests/fuzz/run.sh [seconds per target, default 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DMICRO_FUZZ=ON \
  -DMICRO_BUILD_TESTS=OFF -DMICRO_BUILD_EXAMPLES=OFF -DMICRO_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target mdns_fuzz consul_fuzz gateway_fuzz etcd_fuzz h2_fuzz trace_fuzz broker_fuzz
for target in mdns_fuzz consul_fuzz gateway_fuzz etcd_fuzz h2_fuzz trace_fuzz broker_fuzz; do
  corpus=tests/fuzz/corpus/${target%_fuzz}
  work=build-fuzz/corpus-${target%_fuzz}
  mkdir -p "$work"
  echo "== $target: ${seconds}s over $(ls "$corpus" | wc -l) seed inputs"
  (cd build-fuzz && tests/fuzz/"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 "../$work" "../$corpus" 2>&1 | tail -15)
done
