#!/usr/bin/env bash
# The main job: builds the greeter example, starts the greeter service, calls it
# with the generated client, then stops it gracefully (deregister, drain).
#
#   bash deploy/demo.sh            run the demo and exit
#   bash deploy/demo.sh --serve    leave the service running until Ctrl-C
#
# The service and the client find each other over mDNS (the default registry),
# kept on this machine's loopback (mdns://127.0.0.1) so nothing reaches the LAN.
# MICRO_REGISTRY overrides that; MICRO_DEMO_PORT picks the port (default 50051).
# The hotel demo replaces this once it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${MICRO_DEMO_PORT:-50051}
export MICRO_REGISTRY=${MICRO_REGISTRY:-mdns://127.0.0.1}
serve=0
[[ "${1:-}" == "--serve" ]] && serve=1

echo "== building the greeter (first build takes a few minutes)"
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target greeter greeter-client

bin=build/services/greeter
pid=
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting the greeter service on 127.0.0.1:$port, registry $MICRO_REGISTRY"
"$bin/greeter" --server_address "127.0.0.1:$port" --register_ttl 30s --register_interval 10s &
pid=$!

for _ in $(seq 1 100); do
  if "$bin/greeter-client" --name probe >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "the greeter exited; see above" >&2; exit 1; }
  sleep 0.1
done

echo "== calling Greeter.Hello: the client finds the service over mDNS ($MICRO_REGISTRY)"
"$bin/greeter-client" --name "micro-cpp"
echo "== an error travels back as go-micro error JSON"
"$bin/greeter-client" --name "" || true

if ((serve)); then
  echo "== serving on 127.0.0.1:$port; press Ctrl-C to stop"
  wait "$pid"
else
  echo "== stopping the service gracefully"
  kill -TERM "$pid"
  wait "$pid" && echo "== stopped cleanly"
  pid=
fi
