#!/usr/bin/env bash
# Installs the build into a fresh prefix and builds and runs tests/package/consumer against it with
# find_package(micro), as a project outside this repository would; then builds the same consumer
# with micro-cpp's source tree added as a subdirectory (tests, examples and benchmarks left out).
#   install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in bin/protoc-gen-micro bin/micro bin/api-gateway include/micro/micro.h \
         include/micro/plugins/builtin.h lib/cmake/micro/microConfig.cmake \
         lib/cmake/micro/microConfigVersion.cmake lib/cmake/micro/MicroHelpers.cmake; do
  [[ -e "$tmp/prefix/$f" ]] || { echo "install_test: $f is not installed"; exit 1; }
done
if grep -rq "$src\|$build" "$tmp/prefix/lib/cmake/micro"; then
  echo "install_test: the installed CMake files name the source or build tree"; exit 1
fi
cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
out=$("$tmp/consumer/todo" 2>/dev/null)
echo "$out"
[[ "$out" == "added milk: 1 item(s); empty item: item is required" ]]
echo "install_test: package installed, found, built against and run"

# add_subdirectory: same compiler flags as the main build, so ccache can reuse its objects.
export CCACHE_NOHASHDIR=1
cmake -S "$src/tests/package/consumer" -B "$tmp/sub" -G Ninja -DMICRO_SOURCE_DIR="$src" \
  -DMICRO_WERROR=ON >"$tmp/configure-sub.log" 2>&1 || { cat "$tmp/configure-sub.log"; exit 1; }
if cmake --build "$tmp/sub" --target help | grep -qE '_test|_bench|hotel-'; then
  echo "install_test: add_subdirectory pulled in micro-cpp's tests, benchmarks or examples"; exit 1
fi
cmake --build "$tmp/sub" >"$tmp/build-sub.log" 2>&1 || { cat "$tmp/build-sub.log"; exit 1; }
echo "add_subdirectory build: $(grep -c 'Building CXX' "$tmp/build-sub.log") translation units"
out=$("$tmp/sub/todo" 2>/dev/null)
[[ "$out" == "added milk: 1 item(s); empty item: item is required" ]]
echo "install_test: built along with add_subdirectory and run"
