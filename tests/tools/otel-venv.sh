#!/usr/bin/env bash
# A Python venv with the official OpenTelemetry protos (opentelemetry-proto on PyPI), for the tests
# that decode what micro-cpp exports. Idempotent; prints the venv's python.
# The venv lives outside the repo: $MICRO_OTEL_VENV, default /var/cache/micro-cpp/otel-venv
# (~/.cache/micro-cpp/otel-venv when that is not writable).
set -euo pipefail
venv=${MICRO_OTEL_VENV:-/var/cache/micro-cpp/otel-venv}
if [[ -z ${MICRO_OTEL_VENV:-} ]] && ! mkdir -p "$(dirname "$venv")" 2>/dev/null; then
  venv=$HOME/.cache/micro-cpp/otel-venv
fi
# Pinned: the versions the tests were written against.
want="opentelemetry-proto==1.21.0 protobuf==4.25.9"
if [[ ! -f $venv/.installed || $(cat "$venv/.installed") != "$want" ]]; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" >&2
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $want >&2
  echo "$want" >"$venv/.installed"
fi
echo "$venv/bin/python"
