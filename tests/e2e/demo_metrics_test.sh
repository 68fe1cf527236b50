#!/usr/bin/env bash
# The demo's metrics as an operator reads them: the demo with --prometheus (a real Prometheus
# server, Debian's package, scraping every service and the gateway), a few searches through the
# gateway, then Prometheus' query API must show them counted per endpoint, on the services, the
# gateway's client side and the registry side. Inside a network namespace (netns-run.sh).
#
#   tests/integration/netns-run.sh bash tests/e2e/demo_metrics_test.sh <source dir> <build dir>
source "$(dirname "$0")/demo_common.sh" "$@"
start_demo --prometheus
prom=$(sed -n 's/^ *prometheus: \(http:[^ ]*\).*/\1/p' "$out")
[[ -n $prom ]] || fail "no prometheus address printed"

n=7
echo "== $n searches, one with a token auth refuses"
for _ in $(seq 1 $n); do
  curl -sf -o /dev/null -H 'Authorization: Bearer VALID_TOKEN' \
    -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' "http://127.0.0.1:$port/hotel/rates" ||
    fail "a search failed"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer WRONG' \
  -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' "http://127.0.0.1:$port/hotel/rates")
[[ $code == 401 ]] || fail "a refused token: $code, not 401"

# value QUERY: the first result's value, or "" (Prometheus' HTTP API, JSON).
value() {
  curl -sf -G --data-urlencode "query=$1" "$prom/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
# at_least QUERY N: polls until Prometheus has scraped enough for QUERY's value to reach N.
at_least() {
  local v=
  for _ in $(seq 1 150); do
    v=$(value "$1")
    if [[ -n $v ]] && python3 -c "import sys; sys.exit(0 if float('$v') >= $2 else 1)"; then
      echo "   $1 = $v (>= $2)"
      return 0
    fi
    sleep 0.2
  done
  fail "$1 = \"$v\", expected at least $2"
}
echo "== Prometheus ($prom) sees the calls (the demo's own probes add to them: at least)"
at_least 'sum(micro_request_total{micro_endpoint="Hotel.Rates",micro_status="success"})' "$n"
at_least 'sum(micro_request_total{micro_endpoint="Geo.Nearby",micro_status="success"})' "$n"
at_least 'sum(micro_request_total{micro_endpoint="Rate.GetRates",micro_status="success"})' "$n"
at_least 'sum(micro_request_errors_total{micro_endpoint="Hotel.Rates",micro_code="401"})' 1
at_least 'sum(micro_request_total{micro_endpoint="Auth.VerifyToken",micro_status="failure"})' 1
at_least 'sum(micro_client_request_total{micro_service="go.micro.srv.geo",micro_status="success"})' "$n"
at_least 'sum(micro_api_requests_total{code="200"})' "$n"
at_least 'sum(micro_request_duration_seconds_count{micro_endpoint="Profile.GetProfiles"})' "$n"
at_least 'count(micro_registry_last_heartbeat_timestamp_seconds > 0)' 5
at_least 'count(up == 1)' 6
echo "== histogram quantile over the scraped buckets"
q=$(value 'histogram_quantile(0.99, sum by (le) (micro_request_duration_seconds_bucket{micro_endpoint="Hotel.Rates"}))')
python3 -c "import sys; v=float(\"$q\"); sys.exit(0 if 0 < v < 100 else 1)" || fail "p99 for Hotel.Rates: \"$q\""
echo "   p99 Hotel.Rates: $q s"
echo "== every query of deploy/grafana/micro-dashboard.json is valid PromQL with data"
python3 - "$root/deploy/grafana/micro-dashboard.json" "$prom" <<'PY' || fail "dashboard queries"
import json, sys, urllib.parse, urllib.request
dash, prom = json.load(open(sys.argv[1])), sys.argv[2]
empty = []
for panel in dash["panels"]:
    for t in panel["targets"]:
        q = t["expr"].replace("$__rate_interval", "1m")
        r = json.load(urllib.request.urlopen(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": q})))
        if r["status"] != "success":
            sys.exit("query failed: %s: %s" % (q, r))
        if not r["data"]["result"]:
            empty.append(panel["title"])
print("   %d panels, queries accepted; without data yet: %s" % (len(dash["panels"]), empty or "none"))
PY
echo "PASS"
