# Sourced by the demo tests (tests/e2e/demo_*test.sh): starts deploy/demo.sh serving in the
# background with the arguments given, inside the network namespace netns-run.sh made, and waits
# until it says it serves. Sets root, build, port, out (its output), demo (its pid) and fail();
# on exit the demo gets SIGINT (Ctrl-C) and is waited for.
#
#   source demo_common.sh <source dir> <build dir>; start_demo [demo.sh options...]
set -euo pipefail
set -m  # job control: the demo runs as its own job, so SIGINT reaches it as Ctrl-C would
root=$1
build=$2
[[ -n "${MICRO_TEST_NETNS:-}" ]] || { echo "run me through netns-run.sh" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
fail() { echo "FAIL: $*" >&2; echo "--- demo output:" >&2; cat "$out" >&2; exit 1; }
demo=
trap '[[ -n $demo ]] && kill -INT $demo 2>/dev/null; wait 2>/dev/null; rm -f "$out"' EXIT

start_demo() {
  MICRO_BUILD_DIR=$build bash "$root/deploy/demo.sh" --no-build --port "$port" "$@" >"$out" 2>&1 &
  demo=$!
  for _ in $(seq 1 600); do
    grep -q "press Ctrl-C" "$out" && return 0
    kill -0 $demo 2>/dev/null || fail "the demo exited early"
    sleep 0.2
  done
  fail "the demo did not come up"
}
