#!/usr/bin/env bash
# The main job: the hotel booking example behind the API gateway. Builds what
# it needs, starts auth, geo, profile, rate, hotel and api-gateway, waits until
# everything is discoverable, prints a working curl and its answer, and serves
# until Ctrl-C, then stops every process it started (deregister, drain).
#
#   bash deploy/demo.sh                      mDNS on this machine's loopback (the default)
#   bash deploy/demo.sh --registry consul    a local Consul dev agent, started and stopped here
#   bash deploy/demo.sh --registry etcd      a local etcd member, started and stopped here
#   bash deploy/demo.sh --once               print the answers and stop (for scripts and CI)
#   bash deploy/demo.sh --port 8080          the gateway's port (default 8080, or $MICRO_DEMO_PORT)
#   bash deploy/demo.sh --no-build           use what is built already ($MICRO_BUILD_DIR, default build)
#   bash deploy/demo.sh --prometheus         also run a Prometheus server scraping every process
#   bash deploy/demo.sh --tls                mutual TLS between all services and the gateway, HTTPS
#                                            outside: a throwaway CA made here with openssl
#
# Every service serves Prometheus metrics (--metrics_address, printed at start; the gateway on
# its admin address, /metrics) and a scrape config for them is written next to the logs. Set
# MICRO_TRACE_ADDRESS=http://host:4318 to send spans to an OTLP collector, MICRO_LOG_FORMAT=json
# for JSON logs (docs/operations.md).
#
# mDNS runs as mdns://127.0.0.1: nothing reaches the LAN.
set -euo pipefail
cd "$(dirname "$0")/.."

registry=mdns
once=0
prometheus=0
tls=0
build_it=1
port=${MICRO_DEMO_PORT:-8080}
build=${MICRO_BUILD_DIR:-build}
while (($#)); do
  case "$1" in
    --registry) registry=${2:?--registry needs mdns, consul or etcd}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --once) once=1; shift ;;
    --no-build) build_it=0; shift ;;
    --prometheus) prometheus=1; shift ;;
    --tls) tls=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$registry" in
  mdns|consul|etcd) ;;
  *) echo "demo: --registry takes mdns, consul or etcd, not \"$registry\"" >&2; exit 2 ;;
esac

services=(auth geo profile rate hotel stats)
if ((build_it)); then
  echo "== building the hotel services, the gateway and the micro CLI (the first build takes a few minutes)"
  cmake -S . -B "$build" -G Ninja >/dev/null
  cmake --build "$build" --target "${services[@]/#/hotel-}" api-gateway micro
fi

pids=()
names=()
workdir=$(mktemp -d /tmp/micro-demo.XXXXXX)
registry_pid=
stop() {  # pids...: TERM, up to 10 s to deregister and drain, then KILL
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  if ((${#pids[@]})); then
    echo "== stopping ${names[*]}"
    # The services first, so they can still deregister; their registry last.
    services_pids=()
    for pid in "${pids[@]}"; do [[ $pid == "$registry_pid" ]] || services_pids+=("$pid"); done
    ((${#services_pids[@]} == 0)) || stop "${services_pids[@]}"
    [[ -z $registry_pid ]] || stop "$registry_pid"
    echo "== stopped: nothing left running"
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {  # name, command...
  local name=$1; shift
  "$@" >"$workdir/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [[ $registry == consul ]]; then
  command -v consul >/dev/null || { echo "demo: consul not found; run deploy/install-deps.sh" >&2; exit 1; }
  cport=$(free)
  echo "== starting a Consul dev agent on 127.0.0.1:$cport"
  start consul consul agent -dev -bind 127.0.0.1 -client 127.0.0.1 -http-port "$cport" -dns-port -1 \
    -grpc-port -1 -server-port "$(free)" -serf-lan-port "$(free)" -serf-wan-port "$(free)" -log-level warn
  registry_pid=${pids[-1]}
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$cport/v1/status/leader" | grep -q 127.0.0.1 && break
    sleep 0.1
  done
  export MICRO_REGISTRY=consul://127.0.0.1:$cport
elif [[ $registry == etcd ]]; then
  command -v etcd >/dev/null || { echo "demo: etcd not found; run deploy/install-deps.sh" >&2; exit 1; }
  eport=$(free)
  pport=$(free)
  echo "== starting an etcd member on 127.0.0.1:$eport"
  start etcd etcd --name demo --data-dir "$workdir/etcd" \
    --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "demo=http://127.0.0.1:$pport" --logger zap --log-level warn
  registry_pid=${pids[-1]}
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$eport/health" | grep -q '"health":"true"' && break
    sleep 0.1
  done
  export MICRO_REGISTRY=etcd://127.0.0.1:$eport
else
  export MICRO_REGISTRY=mdns://127.0.0.1
fi
unset MICRO_REGISTRY_ADDRESS
# Last-known-good registry files of every process (docs/operations.md), kept with the demo's logs.
export MICRO_REGISTRY_CACHE_DIR=$workdir/registry-cache

scheme=http
curl_tls=()
if ((tls)); then
  # A throwaway CA and one certificate for every process (server and client use, names localhost
  # and 127.0.0.1), valid for a day, kept with the logs. The services serve mTLS (client
  # certificates required) and call each other with the same certificate; the gateway calls them
  # with it too and serves HTTPS to curl, which trusts the CA.
  command -v openssl >/dev/null || { echo "demo: openssl not found (apt-get install openssl)" >&2; exit 1; }
  pki=$workdir/tls
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=micro demo CA" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=micro demo" \
    -keyout "$pki/node.key" -out "$pki/node.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$pki/ext"
  openssl x509 -req -in "$pki/node.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 1 -extfile "$pki/ext" -out "$pki/node.crt" 2>/dev/null
  export MICRO_TLS_CERT=$pki/node.crt MICRO_TLS_KEY=$pki/node.key MICRO_TLS_CA=$pki/ca.crt
  scheme=https
  curl_tls=(--cacert "$pki/ca.crt")
  echo "== TLS: a throwaway CA in $pki; services require client certificates (mTLS)"
fi

echo "== starting ${services[*]} and api-gateway on 127.0.0.1, registry $MICRO_REGISTRY"
targets=()
for s in "${services[@]}"; do
  mport=$(free)
  targets+=("127.0.0.1:$mport")
  MICRO_TLS_CLIENT_AUTH=$tls start "hotel-$s" "$build/services/hotel-$s" \
    --server_address 127.0.0.1:0 --metrics_address "127.0.0.1:$mport"
done
aport=$(free)
start api-gateway "$build/api-gateway/api-gateway" --address "127.0.0.1:$port" \
  --admin_address "127.0.0.1:$aport"
targets+=("127.0.0.1:$aport")
echo "   metrics: ${targets[*]/%//metrics}"
# A Prometheus scrape config for all of them (prometheus --config.file=...).
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  echo "scrape_configs:"
  echo "  - job_name: micro"
  echo "    static_configs:"
  echo "      - targets: [$(IFS=,; echo "${targets[*]}")]"
} >"$workdir/prometheus.yml"
echo "   scrape config: $workdir/prometheus.yml"
if ((prometheus)); then
  command -v prometheus >/dev/null || { echo "demo: prometheus not found; run deploy/install-deps.sh" >&2; exit 1; }
  pport=$(free)
  start prometheus prometheus --config.file "$workdir/prometheus.yml" \
    --storage.tsdb.path "$workdir/prometheus-data" --web.listen-address "127.0.0.1:$pport" \
    --log.level warn
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null && break
    sleep 0.2
  done
  echo "   prometheus: http://127.0.0.1:$pport (query: sum by (micro_endpoint) (micro_request_total))"
fi
echo "   pids: ${pids[*]}"

url="$scheme://127.0.0.1:$port/hotel/rates"
body='{"inDate":"2015-04-09","outDate":"2015-04-10"}'
echo "== waiting until every service is discoverable and the gateway answers"
ready=0
for _ in $(seq 1 300); do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "demo: ${names[$i]} exited; its log:" >&2
      cat "$workdir/${names[$i]}.log" >&2
      exit 1
    fi
  done
  code=$(curl -s "${curl_tls[@]}" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer VALID_TOKEN' -d "$body" "$url" || true)
  if [[ $code == 200 ]]; then ready=1; break; fi
  sleep 0.2
done
if ((!ready)); then
  echo "demo: the gateway did not answer 200 in time; logs are below" >&2
  tail -n 5 "$workdir"/*.log >&2
  exit 1
fi

echo
echo "== the hotel search, through the gateway:"
echo "curl ${curl_tls[*]} -H 'Authorization: Bearer VALID_TOKEN' -d '$body' $url"
curl -s "${curl_tls[@]}" -H 'Authorization: Bearer VALID_TOKEN' -d "$body" "$url"
echo
echo
echo "== the same without a token: a go-micro error with its HTTP status"
echo "curl ${curl_tls[*]} -i -d '$body' $url"
curl -s "${curl_tls[@]}" -i -d "$body" "$url" | sed -n '1p;$p'
echo
echo "== what the searches announced (hotel.searched events, counted by hotel-stats):"
echo "curl ${curl_tls[*]} -d '{}' $scheme://127.0.0.1:$port/stats/searches"
for _ in $(seq 1 50); do
  stats=$(curl -s "${curl_tls[@]}" -d '{}' "$scheme://127.0.0.1:$port/stats/searches" || true)
  [[ $stats == *'"searches"'* ]] && break
  sleep 0.2
done
echo "$stats"
echo
echo "== what the registry holds: $build/tools/micro --registry $MICRO_REGISTRY services"
"$build/tools/micro" services
echo

if ((once)); then
  exit 0
fi
echo "== serving on $scheme://127.0.0.1:$port; press Ctrl-C to stop"
echo "   try: $build/tools/micro --registry $MICRO_REGISTRY service go.micro.srv.geo"
while true; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "demo: ${names[$i]} exited unexpectedly; its log:" >&2
      tail -n 20 "$workdir/${names[$i]}.log" >&2
      exit 1
    fi
  done
  sleep 1
done
