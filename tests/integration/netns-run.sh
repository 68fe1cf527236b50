#!/usr/bin/env bash
# Runs a command in a network namespace of its own whose loopback carries
# multicast, so real mDNS traffic stays inside it: nothing reaches a network.
# The namespace is removed afterwards. Without the right to make one (not
# root), a test run is skipped (exit 77); listing tests runs the command as is.
set -uo pipefail
for arg in "$@"; do
  case "$arg" in --list-test-names-only|--list-reporters|--list-tests) exec "$@" ;; esac
done
ns="micro-test-$$-${RANDOM}"
if ! ip netns add "$ns" 2>/dev/null; then
  echo "netns-run: cannot create a network namespace (needs root and iproute2); skipping" >&2
  exit 77
fi
trap 'ip netns del "$ns" 2>/dev/null' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip link set lo multicast on
ip netns exec "$ns" ip route add 224.0.0.0/4 dev lo
MICRO_TEST_NETNS="$ns" ip netns exec "$ns" "$@"
