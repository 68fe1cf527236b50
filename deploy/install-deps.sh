#!/usr/bin/env bash
# Installs every Debian package that micro-cpp's build, tests and demo need.
# Idempotent: when everything is already installed it only runs dpkg-query and exits.
# Usage (as root on Debian 12): bash deploy/install-deps.sh
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git clang-format
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libprotoc-dev
  libabsl-dev libboost-dev nlohmann-json3-dev zlib1g-dev libssl-dev libnghttp2-dev libnats-dev
  # tests and demo (clang and its runtime: the libFuzzer targets)
  catch2 curl procps iproute2 clang libclang-rt-14-dev
  # real registries and tools for the integration tests, the gateway load test and compose checks
  etcd-server etcd-client nats-server wrk docker-compose python3-yaml openssl
  # the compose test (deploy/compose-test.sh): a Docker engine of its own, base images, the apt relay
  docker.io debootstrap socat
  # observability tests: a real Prometheus server, and a venv for the official OTLP protos
  prometheus python3-venv
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# Consul: Debian 12 has no package; Debian 11's consul 1.8.7 runs fine. The .deb is fetched with a
# private apt configuration (the machine's own Debian source, suite bullseye), unpacked (not installed:
# that would add a system service) into a cache outside the repo, and linked as /usr/local/bin/consul.
CONSUL_CACHE=${MICRO_CONSUL_CACHE:-/var/cache/micro-cpp/consul}
install_consul() {
  if [[ -x "$CONSUL_CACHE/root/usr/bin/consul" ]]; then
    ln -sf "$CONSUL_CACHE/root/usr/bin/consul" /usr/local/bin/consul
    return
  fi
  echo "install-deps: fetching consul from Debian 11 (bullseye)"
  local b=$CONSUL_CACHE
  rm -rf "$b"
  mkdir -p "$b/parts" "$b/lists/partial" "$b/cache/archives/partial"
  local src=/etc/apt/sources.list.d/debian.sources
  if [[ -f $src ]]; then
    awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$src" | sed 's/^Suites:.*/Suites: bullseye/' >"$b/parts/bullseye.sources"
  else
    local mirror
    mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
    echo "deb ${mirror:-http://deb.debian.org/debian} bullseye main" >"$b/parts/bullseye.list"
  fi
  local o=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$b/parts"
    -o "Dir::State::Lists=$b/lists" -o "Dir::Cache=$b/cache")
  apt-get "${o[@]}" update -qq
  (cd "$b" && apt-get "${o[@]}" download -qq consul)
  dpkg-deb -x "$b"/consul_*.deb "$b/root"
  rm -rf "$b/lists" "$b/cache"
  ln -sf "$b/root/usr/bin/consul" /usr/local/bin/consul
}

have_consul() { [[ -x "$CONSUL_CACHE/root/usr/bin/consul" && -x /usr/local/bin/consul ]]; }

if ((${#missing[@]} == 0)) && have_consul; then
  bash "$(dirname "$0")/../tests/tools/otel-venv.sh" >/dev/null
  echo "install-deps: all ${#packages[@]} packages, consul and the OTLP venv present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run this script as root (or with sudo) to install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
have_consul || install_consul
bash "$(dirname "$0")/../tests/tools/otel-venv.sh" >/dev/null
echo "install-deps: done ($(consul version | head -1))"
