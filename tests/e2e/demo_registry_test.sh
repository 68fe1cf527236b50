#!/usr/bin/env bash
# The demo on a registry it starts itself (--registry consul|etcd --once):
# it comes up, its curl answers with hotels, the CLI lists the services on
# that registry, and everything it started (registry included) is gone after.
#
#   tests/e2e/demo_registry_test.sh <source dir> <build dir> <consul|etcd>
set -euo pipefail
root=$1
build=$2
registry=$3
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- demo output:" >&2; cat "$out" >&2; exit 1; }

MICRO_BUILD_DIR=$build bash "$root/deploy/demo.sh" --no-build --once --registry "$registry" \
  --port "$port" >"$out" 2>&1 || fail "demo.sh --registry $registry exited $?"
cat "$out"
grep -q "registry $registry://127.0.0.1:" "$out" || fail "not on a $registry registry"
grep -q '"name":"Clift Hotel"' "$out" || fail "no hotels in the answer"
grep -qx "go.micro.srv.geo" "$out" || fail "micro services did not list geo"
grep -q "nothing left running" "$out" || fail "no clean stop"
pids=$(sed -n 's/^ *pids: //p' "$out")
[[ -n "$pids" ]] || fail "no pids printed"
for pid in $pids; do
  ! kill -0 "$pid" 2>/dev/null || fail "process $pid is still running"
done
if pgrep -f "127.0.0.1:$port" >/dev/null; then fail "something still serves port $port"; fi
echo "demo on $registry: up, answered, stopped clean"
