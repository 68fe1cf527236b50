#!/usr/bin/env bash
# Configures, builds and runs micro-cpp's tests with CTest.
#
#   bash tests/run.sh                 every test (unit, interop, and later integration/e2e)
#   bash tests/run.sh --sanitize      unit and in-process stream tests with AddressSanitizer + UBSan
#   bash tests/run.sh -L unit         extra arguments go to ctest
#   bash tests/run.sh -L compose      the compose stack in Docker (deploy/compose-test.sh; left
#                                     out otherwise)
#
# Needs the packages of deploy/install-deps.sh. MICRO_JOBS sets the parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${MICRO_JOBS:-$(nproc)}
build=build
flags=()
ctest_args=()
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  build=build-asan
  flags=(-DMICRO_SANITIZE=ON -DMICRO_BUILD_BENCH=OFF)
  ctest_args=(-L "unit|stream")  # the stream label: streaming tests that need no processes
  # Any sanitizer report fails the test that triggered it.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # Leaks inside OpenSSL from gRPC's in-flight TLS handshakes at exit: see tests/lsan.supp.
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
fi

# Tests keep Abseil's mutex deadlock detection (lock-order checks), which the framework turns off
# for production (framework/src/core/runtime.h).
export MICRO_ABSL_DEADLOCK_DETECTION=${MICRO_ABSL_DEADLOCK_DETECTION:-1}

# The compose label (a Docker engine, root, 10+ minutes cold) runs only when asked for by name:
# `bash tests/run.sh -L compose`.
if [[ " $* " != *compose* ]]; then ctest_args+=(-LE compose); fi

cmake -S . -B "$build" -G Ninja -DMICRO_WERROR=ON "${flags[@]}"
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" "${ctest_args[@]}" "$@"
