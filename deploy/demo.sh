#!/usr/bin/env bash
# The main job: the hotel booking example. Builds the five hotel services,
# starts them on the default mDNS registry (kept on this machine's loopback:
# mdns://127.0.0.1, nothing reaches the LAN), waits until Hotel.Rates answers,
# prints a booking search and an error, then stops everything cleanly.
#
#   bash deploy/demo.sh            run the demo and exit
#   bash deploy/demo.sh --serve    leave the services running until Ctrl-C
#
# MICRO_REGISTRY overrides the registry. The HTTP gateway (curl) joins with the
# gateway issue; until then hotel-client makes the call the gateway would.
set -euo pipefail
cd "$(dirname "$0")/.."

export MICRO_REGISTRY=${MICRO_REGISTRY:-mdns://127.0.0.1}
serve=0
[[ "${1:-}" == "--serve" ]] && serve=1
services=(auth geo profile rate hotel)

echo "== building the hotel services (the first build takes a few minutes)"
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target "${services[@]/#/hotel-}" hotel-client

bin=build/services
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting ${services[*]} on 127.0.0.1, registry $MICRO_REGISTRY"
for s in "${services[@]}"; do
  "$bin/hotel-$s" --server_address 127.0.0.1:0 &
  pids+=($!)
done

echo "== waiting until Hotel.Rates answers"
for _ in $(seq 1 150); do
  if "$bin/hotel-client" >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a service exited; see above" >&2; exit 1; }; done
  sleep 0.2
done

echo "== Hotel.Rates, Bearer VALID_TOKEN, 2015-04-09 to 2015-04-10 (go.micro.api.hotel)"
"$bin/hotel-client" --token VALID_TOKEN --in 2015-04-09 --out 2015-04-10
echo
echo "== the same with a wrong token: a go-micro error"
"$bin/hotel-client" --token WRONG || true

if ((serve)); then
  echo "== serving; press Ctrl-C to stop"
  wait "${pids[0]}"
else
  echo "== stopping all services (deregister, drain)"
  cleanup
  pids=()
  echo "== stopped cleanly"
fi
