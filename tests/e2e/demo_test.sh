#!/usr/bin/env bash
# The README's demo end to end, inside a network namespace (netns-run.sh):
# start it as a user would (serving), curl the hotel search through the
# gateway, use the micro CLI against it (list, describe, call, health, watch),
# press Ctrl-C (SIGINT), and check that every process it started is gone.
#
#   tests/integration/netns-run.sh bash tests/e2e/demo_test.sh <source dir> <build dir>
source "$(dirname "$0")/demo_common.sh" "$@"
micro=$build/tools/micro
start_demo
pids=$(sed -n 's/^ *pids: //p' "$out")
[[ -n "$pids" ]] || fail "no pids printed"

echo "== the curl the demo printed works"
answer=$(curl -s -H 'Authorization: Bearer VALID_TOKEN' -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' \
  "http://127.0.0.1:$port/hotel/rates")
echo "$answer" | grep -q '"name":"Clift Hotel"' || fail "no hotels in: $answer"
echo "$answer" | grep -q '"code":"RACK"' || fail "no rate plan in: $answer"

echo "== searches are announced: hotel-stats counts them (hotel.searched, HTTP broker)"
for _ in $(seq 1 100); do
  curl -s -o /dev/null -H 'Authorization: Bearer VALID_TOKEN' -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' \
    "http://127.0.0.1:$port/hotel/rates"
  stats=$(curl -s -d '{}' "http://127.0.0.1:$port/stats/searches")
  searches=$(echo "$stats" | python3 -c 'import json,sys; print(int(json.load(sys.stdin).get("searches", 0)))' 2>/dev/null || echo 0)
  ((searches >= 1)) && break
  sleep 0.1
done
((searches >= 1)) || fail "stats after searches: $stats"
echo "$stats" | grep -q '"hotels":{' || fail "no hotels counted in: $stats"

export MICRO_REGISTRY=mdns://127.0.0.1
echo "== micro subscribe hotel.searched sees the next search"
"$micro" subscribe hotel.searched --count 1 >"$out.sub" 2>&1 &
subscriber=$!
for _ in $(seq 1 100); do grep -q "subscribed to" "$out.sub" && break; sleep 0.1; done
for _ in $(seq 1 50); do
  curl -s -o /dev/null -H 'Authorization: Bearer VALID_TOKEN' -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' \
    "http://127.0.0.1:$port/hotel/rates"
  kill -0 $subscriber 2>/dev/null || break
  sleep 0.2
done
kill $subscriber 2>/dev/null && fail "micro subscribe saw nothing: $(cat "$out.sub")"
grep -q '"Micro-Topic":"hotel.searched"' "$out.sub" || fail "subscribe printed: $(cat "$out.sub")"
grep -qi 'authorization' "$out.sub" && fail "the event carries the caller's Authorization: $(cat "$out.sub")"

echo "== micro services"
"$micro" services | tee /dev/stderr | grep -qx go.micro.srv.geo || fail "services lacks geo"
echo "== micro service go.micro.srv.geo"
"$micro" service go.micro.srv.geo | tee /dev/stderr | grep -q "Geo.Nearby" || fail "no Geo.Nearby endpoint"
"$micro" service go.micro.srv.geo --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[0]["nodes"][0]["address"].startswith("127.0.0.1:")' \
  || fail "service --json"
echo "== micro call go.micro.srv.geo Geo.Nearby"
"$micro" call go.micro.srv.geo Geo.Nearby '{"lat":37.7867,"lon":-122.4112}' | tee /dev/stderr | grep -q hotelIds \
  || fail "call"
echo '{"hotelIds":["1"],"locale":"en"}' | "$micro" call go.micro.srv.profile Profile.GetProfiles - | grep -q "Clift Hotel" \
  || fail "call with stdin"
set +e
"$micro" call go.micro.srv.nothing X.Y '{}' 2>/dev/null; rc=$?
"$micro" call go.micro.api.hotel Hotel.Rates '{"inDate":"2015-04-09"}' 2>/dev/null; rc_err=$?
"$micro" frobnicate 2>/dev/null; rc_usage=$?
set -e
[[ $rc == 3 ]] || fail "unknown service: exit $rc, want 3"
[[ $rc_err == 1 ]] || fail "call error: exit $rc_err, want 1"
[[ $rc_usage == 2 ]] || fail "unknown command: exit $rc_usage, want 2"
echo "== micro health go.micro.srv.rate"
"$micro" health go.micro.srv.rate | tee /dev/stderr | grep -q SERVING || fail "health"
echo "== micro watch (a greeter joins)"
"$micro" watch helloworld --count 1 >"$out.watch" &
watcher=$!
sleep 0.5
"$build/services/greeter/greeter" --registry mdns://127.0.0.1 --server_address 127.0.0.1:0 >/dev/null 2>&1 &
greeter=$!
for _ in $(seq 1 100); do kill -0 $watcher 2>/dev/null || break; sleep 0.1; done
kill $greeter; wait $greeter || true
grep -q "^create  helloworld" "$out.watch" || { kill $watcher 2>/dev/null; fail "watch saw: $(cat "$out.watch")"; }

echo "== Ctrl-C"
kill -INT $demo
set +e
wait $demo
rc=$?
set -e
[[ $rc == 130 ]] || fail "demo exit code $rc after SIGINT, want 130"
for pid in $pids; do
  kill -0 "$pid" 2>/dev/null && fail "process $pid is still running"
done
grep -q "nothing left running" "$out" || fail "no clean stop reported"
trap - EXIT
rm -f "$out" "$out.watch" "$out.sub"
echo "PASS"
