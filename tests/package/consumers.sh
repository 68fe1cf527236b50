#!/usr/bin/env bash
# Builds the two consumers of an installed micro-cpp, `micro new` output and services/examples/todo,
# with nothing but find_package(micro), then starts each on real mDNS in a network namespace of its
# own, calls it with the micro CLI and through the API gateway, and stops it with SIGTERM.
#   consumers.sh SOURCE_DIR WORK_DIR [PREFIX]    (no PREFIX: the system's, as after the .deb)
set -euo pipefail
src=$1
work=$2
prefix=${3:-}
bin=${prefix:+$prefix/bin/}
micro=${bin}micro
gateway=${bin}api-gateway
mkdir -p "$work"
cmake_args=(-G Ninja)
[[ -n "$prefix" ]] && cmake_args+=(-DCMAKE_PREFIX_PATH="$prefix")

build() {  # build NAME SOURCE
  cmake -S "$2" -B "$work/$1-build" "${cmake_args[@]}" >"$work/$1-configure.log" 2>&1 \
    || { cat "$work/$1-configure.log"; exit 1; }
  cmake --build "$work/$1-build" >"$work/$1-build.log" 2>&1 || { cat "$work/$1-build.log"; exit 1; }
}

"$micro" --version
(cd "$work" && "$micro" new hello-world >/dev/null)
for bad in "new Bad_Name" "new hello-world"; do  # not a valid name; the directory is taken
  rc=0
  (cd "$work" && "$micro" $bad >/dev/null 2>&1) || rc=$?
  [[ $rc -eq 2 ]] || { echo "consumers: micro $bad exited $rc, want 2"; exit 1; }
done
build hello-world "$work/hello-world"
build todo "$src/services/examples/todo"
echo "consumers: micro new output and services/examples/todo built against the package"

rc=0
bash "$src/tests/integration/netns-run.sh" \
  bash "$src/tests/package/run_consumers.sh" "$micro" "$gateway" \
  "$work/hello-world-build/hello-world" "$work/todo-build/todo" || rc=$?
if [[ $rc -eq 77 ]]; then
  echo "consumers: not run (no network namespace without root); built only"
elif [[ $rc -ne 0 ]]; then
  exit $rc
fi
