#!/usr/bin/env bash
# The README's code example must be the greeter service's source, which the build compiles.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
example=$(awk '/<!-- example: services\/greeter\/server.cc -->/{f=1;next} f&&/^```cpp/{g=1;next} g&&/^```/{exit} g' "$root/README.md")
if [[ "$example" != "$(cat "$root/services/greeter/server.cc")" ]]; then
  echo "README example differs from services/greeter/server.cc:" >&2
  diff <(echo "$example") "$root/services/greeter/server.cc" >&2 || true
  exit 1
fi
echo "README example matches services/greeter/server.cc"
