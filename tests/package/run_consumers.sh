#!/usr/bin/env bash
# Inside a network namespace (netns-run.sh): starts each consumer on mDNS, calls it with the CLI and
# through the gateway, stops it with SIGTERM and checks it left the registry.
#   run_consumers.sh MICRO GATEWAY HELLO_WORLD_BIN TODO_BIN
set -euo pipefail
micro=$1
gateway=$2
hello=$3
todo=$4
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT

fail() { echo "run_consumers: $*" >&2; exit 1; }

wait_found() {  # wait_found NAME: until the CLI finds NAME (mDNS lookups take about a second)
  for _ in $(seq 1 30); do
    "$micro" --registry mdns service "$1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  fail "$1 never appeared in the registry"
}

expect() {  # expect WHAT GOT WANT
  [[ "$2" == "$3" ]] || fail "$1: got '$2', want '$3'"
  echo "ok: $1 -> $2"
}

stop() {  # stop PID NAME: SIGTERM, exit 0, gone from the registry
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [[ $rc -eq 0 ]] || fail "$2 exited $rc after SIGTERM"
  rc=0
  "$micro" --registry mdns service "$2" >/dev/null 2>&1 || rc=$?
  [[ $rc -eq 3 ]] || fail "$2 still in the registry after it stopped (micro exit $rc)"
  echo "ok: $2 stopped with SIGTERM and deregistered"
}

# /rpc off by default; on here, for services outside any namespace, as a developer would.
"$gateway" --registry mdns --address 127.0.0.1:18080 --admin_address 127.0.0.1:0 --enable_rpc --namespace "" >/dev/null 2>&1 &
pids+=($!)

"$hello" --version
"$hello" --registry mdns --server_address 127.0.0.1:0 >/dev/null 2>&1 &
hello_pid=$!
pids+=($hello_pid)
wait_found hello-world
expect "micro call hello-world" "$("$micro" --registry mdns call hello-world HelloWorld.Call '{"name":"John"}')" \
  '{"msg":"Hello John"}'
expect "gateway /rpc hello-world" "$(curl -sS -d '{"service":"hello-world","endpoint":"HelloWorld.Call","request":{"name":"Ann"}}' http://127.0.0.1:18080/rpc)" \
  '{"msg":"Hello Ann"}'
rc=0
err=$("$micro" --registry mdns call hello-world HelloWorld.Call '{}' 2>&1 >/dev/null) || rc=$?
[[ $rc -eq 1 && "$err" == *"name is required"* ]] || fail "an empty name: exit $rc, '$err'"
echo "ok: an empty name is a 400 from the handler"
stop "$hello_pid" hello-world

TODO_MAX_ITEMS=2 "$todo" --registry mdns --server_address 127.0.0.1:0 >/dev/null 2>&1 &
todo_pid=$!
pids+=($todo_pid)
wait_found todo
expect "micro call todo Todo.Add" "$("$micro" --registry mdns call todo Todo.Add '{"item":"milk"}')" \
  '{"count":1}'
expect "gateway /rpc todo Todo.Add" "$(curl -sS -d '{"service":"todo","endpoint":"Todo.Add","request":{"item":"eggs"}}' http://127.0.0.1:18080/rpc)" \
  '{"count":2}'
expect "micro call todo Todo.List" "$("$micro" --registry mdns call todo Todo.List)" \
  '{"items":["milk","eggs"]}'
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"service":"todo","endpoint":"Todo.Add","request":{"item":"tea"}}' http://127.0.0.1:18080/rpc)
expect "a third item with TODO_MAX_ITEMS=2 (the example's own flag, from its variable)" "$code" 409
stop "$todo_pid" todo
echo "run_consumers: both consumers started, called with the CLI and the gateway, and stopped"
