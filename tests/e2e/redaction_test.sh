#!/usr/bin/env bash
# No secret in any output: every binary (a service, the gateway, the micro CLI) given registry
# URIs with a token or password in them, by flag and by variable, mistyped in each way a user
# can, or valid but unreachable. What they print must say what is wrong, and never the secret.
#
#   bash tests/e2e/redaction_test.sh <build dir>
set -uo pipefail
build=$1
secret=S3CRET-$$-redact
uris=(
  "consul://127.0.0.1:1?token=$secret&tls=maybe"
  "consul://127.0.0.1:1?token=$secret&bogus=1"
  "consul://127.0.0.1:1?acl_token=$secret&timeout=soon"
  "consul://user:$secret@127.0.0.1:1"
  "consulx://127.0.0.1:1?token=$secret"
  "consul://127.0.0.1:1?token=$secret%zz"
  "etcd://user:$secret@127.0.0.1:1?tls=maybe"
  "etcd://127.0.0.1:1?username=u&password=$secret&tls=maybe"
  "etcd://127.0.0.1:1?password=$secret"
  "consul://127.0.0.1:1?token=$secret"
  "etcd://127.0.0.1:1?username=u&password=$secret&timeout=1s"
)
bins=(
  "$build/services/hotel-geo --register_required --server_address 127.0.0.1:0 --registry"
  "$build/api-gateway/api-gateway --address 127.0.0.1:0 --admin_address 127.0.0.1:0 --registry"
  "$build/tools/micro services --registry"
  "$build/tools/micro call x X.Y {} --registry"
)
checked=0
leaks=0
run() {  # label, command...: runs it (5 s at most), checks what it printed
  local label=$1
  shift
  out=$(timeout -s KILL 8 "$@" 2>&1)
  if [[ $out == *"$secret"* ]]; then
    echo "LEAK ($label): $*"
    echo "$out" | grep -F "$secret" | head -3
    leaks=$((leaks + 1))
  elif [[ -z $out ]]; then
    echo "SILENT ($label): $* printed nothing"
    leaks=$((leaks + 1))
  fi
  checked=$((checked + 1))
}
for uri in "${uris[@]}"; do
  for bin in "${bins[@]}"; do
    # shellcheck disable=SC2086
    run flag $bin "$uri"
    # shellcheck disable=SC2086
    MICRO_REGISTRY=$uri run variable ${bin% --registry}
  done
done
echo "redaction: $checked runs of $((${#bins[@]})) commands, $leaks leaking or silent"
((leaks == 0))
