#!/usr/bin/env bash
# The docker-compose demo (deploy/docker-compose.yml) run for real: build, up, checks, faults, down.
#
#   bash deploy/compose-test.sh            (as root; CTest runs it as the `compose` label)
#
# Engine. When a Docker engine already answers (`docker info`: a developer's machine, with egress),
# it is used as is. Otherwise (MICRO_COMPOSE_ENGINE=own forces this) the script starts one of its
# own: Debian's dockerd inside a network namespace of its own (micro-compose), its images kept in
# /var/lib/micro-cpp/compose between runs; every request to a container is sent from inside that
# namespace (ports are published on its loopback). The base images are made here: debian:12 and
# debian:12-slim from `debootstrap --variant=minbase bookworm` + `docker import`, and the Consul
# image as debian:12-slim + the consul 1.8.7 binary deploy/install-deps.sh installed, with an
# entrypoint like the official image's. Image builds reach the Debian mirror this machine's apt
# uses (read from its sources) through a relay: socat on the namespace's docker bridge gateway
# (port 3142) -> a unix socket -> socat in the host namespace -> the mirror's port 80, handed to
# the build as http_proxy. Nothing else leaves the namespace.
#
# Checks: the booking curl and its error cases through 8080; `consul members` shows 3 servers and
# 2 clients alive; every service in the catalog; hotel-stats counts searches (HTTP broker); then,
# each under a bounded loop of bookings (deploy/compose-load.py, failures counted): the Consul
# leader stopped, a service SIGKILLed (Docker restarts it), a client agent stopped (goal and check:
# no failed booking). Then `down -v`, and an engine of its own is stopped and its namespace
# removed. Prints each phase's duration. Environment: MICRO_COMPOSE_REQUESTS (2000 per fault),
# MICRO_BUILD_JOBS (2), CONSUL_IMAGE (the local stand-in with an own engine).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

requests=${MICRO_COMPOSE_REQUESTS:-2000}
ns=micro-compose
state=/var/lib/micro-cpp/compose
cache=/var/cache/micro-cpp/compose
run=/run/micro-compose
project=microcpp
started=$SECONDS
failed=0
in_ns=()
own=0
relay_pids=()

say() { echo "compose-test: $*"; }
fail() {
  say "FAIL: $*"
  failed=1
}
phase() { say "== $1 ($((SECONDS - started)) s)"; }

compose() { docker-compose -p "$project" -f deploy/docker-compose.yml "$@"; }

cleanup() {
  local rc=$?
  set +e
  if docker info >/dev/null 2>&1; then
    if ((failed || rc)); then
      say "logs of the stack (last 40 lines each):"
      compose logs --no-color --tail 40 2>&1 | tail -400
    fi
    compose down -v --remove-orphans >/dev/null 2>&1
    # Our own engine keeps images between runs, not stopped containers or dangling layers.
    ((own)) && docker container prune -f >/dev/null 2>&1 && docker image prune -f >/dev/null 2>&1
  fi
  for p in "${relay_pids[@]}"; do kill "$p" 2>/dev/null; done
  if ((own)); then
    if [[ -f $run/docker.pid ]]; then
      local pid
      pid=$(cat "$run/docker.pid")
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null
    fi
    # The engine's containerd and shims live in the namespace; nothing of it may outlive us.
    pkill -9 -f "$run/" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    say "engine stopped, namespace $ns removed"
  fi
  say "done in $((SECONDS - started)) s"
  ((rc == 0 && failed)) && rc=1
  exit $rc
}
trap cleanup EXIT
trap "exit 143" TERM INT

# The first http:// mirror of this machine's apt sources (deb822 or one-line), e.g.
# http://deb.debian.org/debian.
apt_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' |
    grep -v -- '-security' | grep '^http://' | head -1 || true)
  if [[ -z $uri ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^http:\/\//) {print $i; exit}}' |
      grep -v -- '-security' | head -1 || true)
  fi
  [[ -n $uri ]] || {
    say "no http:// Debian mirror in /etc/apt/sources*: the image builds need one"
    exit 1
  }
  echo "${uri%/}"
}

start_engine() {
  own=1
  for tool in dockerd nsenter socat debootstrap docker-compose ip; do
    command -v $tool >/dev/null || {
      say "$tool is missing: run deploy/install-deps.sh"
      exit 1
    }
  done
  pkill -9 -f "$run/" 2>/dev/null || true # an earlier run that was killed
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  in_ns=(nsenter "--net=/run/netns/$ns")
  mkdir -p "$state" "$cache" "$run"
  rm -f "$run/docker.sock" "$run/docker.pid"
  # nsenter (not `ip netns exec`, which remounts /sys and hides the cgroup mounts).
  "${in_ns[@]}" dockerd --data-root "$state/docker" --exec-root "$run/exec" \
    --pidfile "$run/docker.pid" -H "unix://$run/docker.sock" --log-level warn \
    >"$run/dockerd.log" 2>&1 &
  export DOCKER_HOST=unix://$run/docker.sock
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || {
    say "dockerd did not start:"
    tail -30 "$run/dockerd.log"
    exit 1
  }
  say "engine: $(docker version -f '{{.Server.Version}}') in namespace $ns, data in $state/docker"
}

start_relay() {
  local mirror=$1 host gw
  host=${mirror#http://}
  host=${host%%/*}
  gw=$("${in_ns[@]}" ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)
  [[ -n $gw ]] || {
    say "no docker0 address in namespace $ns"
    exit 1
  }
  rm -f "$run/relay.sock"
  socat "UNIX-LISTEN:$run/relay.sock,fork" "TCP:$host:80" &
  relay_pids+=($!)
  "${in_ns[@]}" socat "TCP-LISTEN:3142,bind=$gw,fork,reuseaddr" "UNIX-CONNECT:$run/relay.sock" &
  relay_pids+=($!)
  proxy=http://$gw:3142
  say "apt relay: $proxy -> $host:80"
}

base_images() {
  local mirror=$1
  if ! docker image inspect debian:12 >/dev/null 2>&1; then
    local tar=$cache/debian-12-minbase.tar
    if [[ ! -s $tar ]]; then
      local dir
      dir=$(mktemp -d)
      say "debootstrap bookworm from $mirror"
      debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$run/debootstrap.log" 2>&1 || {
        tail -20 "$run/debootstrap.log"
        exit 1
      }
      echo "deb $mirror bookworm main" >"$dir/etc/apt/sources.list"
      rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
      tar -C "$dir" -cf "$tar.part" . && mv "$tar.part" "$tar"
      rm -rf "$dir"
    fi
    docker import -c 'CMD ["bash"]' "$tar" debian:12 >/dev/null
  fi
  docker image inspect debian:12-slim >/dev/null 2>&1 || docker tag debian:12 debian:12-slim
  if ! docker image inspect "$CONSUL_IMAGE" >/dev/null 2>&1; then
    local ctx
    ctx=$(mktemp -d)
    cp "$(readlink -f "$(command -v consul)")" "$ctx/consul"
    cat >"$ctx/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# As the official consul image's entrypoint: `agent ...` runs an agent with its data and config
# directories; other consul subcommands run as given.
set -e
if [ "${1#-}" != "$1" ]; then set -- consul "$@"; fi
if [ "$1" = agent ]; then
  shift
  set -- consul agent -data-dir=/consul/data -config-dir=/consul/config "$@"
elif [ "$1" != consul ] && consul "$1" -h >/dev/null 2>&1; then
  set -- consul "$@"
fi
exec "$@"
EOF
    cat >"$ctx/Dockerfile" <<'EOF'
FROM debian:12-slim
COPY consul /bin/consul
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh && mkdir -p /consul/data /consul/config
EXPOSE 8300 8301 8301/udp 8302 8302/udp 8500 8600 8600/udp
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["agent", "-dev", "-client", "0.0.0.0"]
EOF
    docker build -q -t "$CONSUL_IMAGE" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  say "images: debian:12, debian:12-slim, $CONSUL_IMAGE"
}

# curl from where the published ports are.
curl_() { "${in_ns[@]}" curl -s --max-time 15 "$@"; }
book() {
  curl_ -H 'Authorization: Bearer VALID_TOKEN' -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' \
    "$@" http://127.0.0.1:8080/hotel/rates
}
status_of() { curl_ -o /dev/null -w '%{http_code}' "$@"; }

# Waits (up to $1 s) until a booking answers with hotels and every service is in the catalog.
wait_ready() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if book | grep -q '"code":"RACK"' && all_registered; then return 0; fi
    sleep 0.5
  done
  return 1
}

services=(go.micro.srv.auth go.micro.srv.geo go.micro.srv.profile go.micro.srv.rate go.micro.api.hotel
  go.micro.api.stats)
all_registered() {
  local listed s
  listed=$(curl_ http://127.0.0.1:8500/v1/health/state/passing) || return 1
  for s in "${services[@]}"; do
    grep -q "\"ServiceName\":\"$s\"" <<<"$listed" || return 1
  done
}

# Runs the load with a fault after 10% of it; prints and checks the counts.
# fault_under_load NAME MAX_FAILED CMD...
fault_under_load() {
  local name=$1 max=$2
  shift 2
  phase "$name under $requests bookings"
  local out
  out=$("${in_ns[@]}" python3 deploy/compose-load.py --requests "$requests" --rate 100 \
    --at $((requests / 10)) -- "$@")
  local bad
  bad=$(python3 -c 'import json,sys; c=json.loads(sys.argv[1])["counts"]; print(sum(v for k,v in c.items() if k!="200"))' "$out")
  say "$name: $out"
  echo "$name: $bad of $requests bookings failed" >>"$run/summary"
  ((bad <= max)) || fail "$name: $bad bookings failed (at most $max allowed)"
}

container_of() { compose ps -q "$1"; }

# ---- engine, images
phase "engine"
if [[ ${MICRO_COMPOSE_ENGINE:-} != own ]] && docker info >/dev/null 2>&1; then
  say "using the Docker engine that answers ($(docker version -f '{{.Server.Version}}'))"
  proxy=
else
  start_engine
  export CONSUL_IMAGE=${CONSUL_IMAGE:-micro-cpp/consul:1.8.7}
  mirror=$(apt_mirror)
  start_relay "$mirror"
  phase "base images"
  base_images "$mirror"
fi
mkdir -p "$run"
: >"$run/summary"

phase "docker-compose build"
build_args=()
[[ -n ${proxy:-} ]] && build_args=(--build-arg "http_proxy=$proxy")
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0
if ! compose build --force-rm "${build_args[@]}" >"$run/build.log" 2>&1; then
  tail -40 "$run/build.log"
  fail "docker-compose build failed"
  exit 1
fi
grep -E '^(Step [0-9]+/[0-9]+ : (FROM|RUN)|Successfully tagged)' "$run/build.log" | cut -c1-120 | sed 's/^/  /'
say "image micro-cpp:latest $(docker image inspect micro-cpp:latest -f '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

phase "docker-compose up -d"
up_at=$SECONDS
compose up -d 2>&1 | sed 's/^/  /'
wait_ready 180 || {
  fail "no booking with hotels within 180 s: $(book)"
  exit 1
}
say "booking answered and every service registered $((SECONDS - up_at)) s after up -d"

phase "checks"
answer=$(book)
grep -q '"name":"Clift Hotel"' <<<"$answer" || fail "no hotels in: $answer"
hotels=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["hotels"]))' "$answer" 2>/dev/null || echo 0)
((hotels == 5)) || fail "expected 5 hotels, got $hotels: $answer"
s=$(status_of -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' http://127.0.0.1:8080/hotel/rates)
[[ $s == 403 ]] || fail "no token: HTTP $s (want 403)"
s=$(status_of -H 'Authorization: Bearer WRONG' -d '{"inDate":"2015-04-09","outDate":"2015-04-10"}' \
  http://127.0.0.1:8080/hotel/rates)
[[ $s == 401 ]] || fail "a wrong token: HTTP $s (want 401)"
s=$(status_of -H 'Authorization: Bearer VALID_TOKEN' -d '{"inDate":' http://127.0.0.1:8080/hotel/rates)
[[ $s == 400 ]] || fail "malformed JSON: HTTP $s (want 400)"
s=$(status_of -H 'Authorization: Bearer VALID_TOKEN' -d '{"inDate":"2015-04-10","outDate":"2015-04-09"}' \
  http://127.0.0.1:8080/hotel/rates)
[[ $s == 400 ]] || fail "outDate before inDate: HTTP $s (want 400)"
s=$(status_of -d '{}' http://127.0.0.1:8080/nothing/here)
[[ $s == 404 || $s == 503 ]] || fail "unknown service: HTTP $s (want 404 or 503)"
unknown=$s
members=$(compose exec -T consul1 consul members)
echo "$members" | sed 's/^/  /'
servers=$(awk '$3 == "alive" && $4 == "server"' <<<"$members" | wc -l)
clients=$(awk '$3 == "alive" && $4 == "client"' <<<"$members" | wc -l)
((servers == 3 && clients == 2)) || fail "consul members: $servers servers and $clients clients alive (want 3 and 2)"
all_registered || fail "not every service is in the catalog"
stats=$(curl_ -d '{}' http://127.0.0.1:8080/stats/searches)
grep -q '"searches"' <<<"$stats" || fail "hotel-stats counted no search: $stats"
say "checks: 5 hotels, 403/401/400/400/$unknown error answers, $servers servers + $clients clients, ${#services[@]} services, stats $stats"

# ---- faults, each under a bounded loop of bookings
leader_ip=$(curl_ http://127.0.0.1:8500/v1/status/leader | tr -d '"' | cut -d: -f1)
leader=
for c in consul1 consul2 consul3; do
  ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(container_of $c)")
  [[ $ip == "$leader_ip" ]] && leader=$c
done
[[ -n $leader ]] || fail "no Consul leader found (leader address $leader_ip)"
if [[ -n $leader ]]; then
  fault_under_load "Consul leader ($leader) stopped" 0 docker stop "$(container_of "$leader")"
  compose start "$leader" >/dev/null 2>&1
  wait_ready 120 || fail "not ready again after the leader came back"
fi

# SIGKILL from outside, as the kernel's OOM killer or a crash ends it (`docker kill` would count as
# stopped by hand, and `unless-stopped` would leave it down).
geo_pid=$(docker inspect -f '{{.State.Pid}}' "$(container_of geo)")
fault_under_load "geo SIGKILLed (Docker restarts it)" $((requests / 20)) kill -9 "$geo_pid"
wait_ready 120 || fail "geo did not come back"

fault_under_load "client agent consul-agent1 stopped" 0 docker stop "$(container_of consul-agent1)"
wait_ready 60 || fail "not every service is registered again after consul-agent1 stopped"
# Those that registered through agent1 did so again through agent2 (its node name in the compose file).
for s in "${services[@]}"; do
  nodes=$(curl_ "http://127.0.0.1:8500/v1/catalog/service/$s" |
    python3 -c 'import json,sys; print(" ".join(sorted({e["Node"] for e in json.load(sys.stdin)})))')
  [[ $nodes == agent2 ]] || fail "$s is registered through [$nodes], not agent2 alone"
done
compose start consul-agent1 >/dev/null 2>&1

phase "summary"
sed 's/^/compose-test: /' "$run/summary"
