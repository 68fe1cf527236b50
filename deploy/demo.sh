#!/usr/bin/env bash
# The main job. Until the greeter service (issue 3) lands, this builds the
# framework and runs the selector benchmark: registry, cache and selector at work.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DMICRO_BUILD_TESTS=ON >/dev/null
cmake --build build --target selector_bench
build/tests/bench/selector_bench 1000000
