#!/usr/bin/env bash
# Builds micro-cpp (Release, without tests), packages it as micro-cpp-dev with CPack and installs the
# .deb with apt, which pulls in the Debian packages a consumer's build needs. Afterwards
# `micro new todo && cmake -S todo -B todo/build && cmake --build todo/build` works from anywhere.
# Usage (as root on Debian 12, after deploy/install-deps.sh):
#   bash deploy/install.sh [--build-dir DIR]    (an existing build tree is reused as it is configured)
#   apt-get remove micro-cpp-dev                 (to uninstall)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-release
if [[ "${1:-}" == "--build-dir" ]]; then
  build=${2:?--build-dir needs a directory}
fi
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMICRO_BUILD_TESTS=OFF \
    -DMICRO_BUILD_EXAMPLES=OFF -DMICRO_BUILD_BENCH=OFF
fi
cmake --build "$build" -j"$(nproc)"
rm -f "$build"/micro-cpp-dev_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/micro-cpp-dev_*.deb)
export DEBIAN_FRONTEND=noninteractive
# --reinstall: the same version rebuilt from newer sources replaces the installed one.
apt-get install -y -qq --reinstall "./$deb" >/dev/null
echo "install: $(dpkg-query -W -f='${Package} ${Version}' micro-cpp-dev) installed from $deb"
echo "install: $(micro --version); try: micro new hello && cmake -S hello -B hello/build && cmake --build hello/build"
