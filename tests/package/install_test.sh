#!/usr/bin/env bash
# Installs the build into a fresh prefix; builds `micro new` output and services/examples/todo against
# it with find_package(micro) and runs them (consumers.sh); then builds the example with micro-cpp's
# source tree added as a subdirectory (tests, examples and benchmarks left out).
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
for t in micro service registry registry_contract plugins protoc-gen-micro; do
  grep -q "add_library(micro::$t \|add_executable(micro::$t " "$tmp/prefix/lib/cmake/micro/microTargets.cmake" \
    || { echo "install_test: micro::$t is not exported"; exit 1; }
done
if grep -rq "$src\|$build" "$tmp/prefix/lib/cmake/micro"; then
  echo "install_test: the installed CMake files name the source or build tree"; exit 1
fi
bash "$src/tests/package/consumers.sh" "$src" "$tmp" "$tmp/prefix"
echo "install_test: package installed; micro new output and the example found it, built, ran"
bash "$src/tests/package/docs_commands.sh" "$src" "$tmp/docs" "$tmp/prefix"

# add_subdirectory: same compiler flags as the main build, so ccache can reuse its objects.
export CCACHE_NOHASHDIR=1
cmake -S "$src/services/examples/todo" -B "$tmp/sub" -G Ninja -DMICRO_SOURCE_DIR="$src" \
  -DMICRO_WERROR=ON >"$tmp/configure-sub.log" 2>&1 || { cat "$tmp/configure-sub.log"; exit 1; }
if cmake --build "$tmp/sub" --target help | grep -qE '_test|_bench|hotel-'; then
  echo "install_test: add_subdirectory pulled in micro-cpp's tests, benchmarks or examples"; exit 1
fi
cmake --build "$tmp/sub" >"$tmp/build-sub.log" 2>&1 || { cat "$tmp/build-sub.log"; exit 1; }
echo "add_subdirectory build: $(grep -c 'Building CXX' "$tmp/build-sub.log") translation units"
"$tmp/sub/todo" --version
echo "install_test: the example built along with add_subdirectory"
