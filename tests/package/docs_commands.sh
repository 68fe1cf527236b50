#!/usr/bin/env bash
# Runs the shell blocks of docs/writing-a-service.md marked <!-- run -->, in order, as one script in a
# fresh directory, against an installed micro-cpp (PREFIX/bin first on PATH, PREFIX in
# CMAKE_PREFIX_PATH), inside a network namespace of its own (netns-run.sh) for the mDNS traffic.
# The answers the document shows must come out.
#   docs_commands.sh SOURCE_DIR WORK_DIR [PREFIX]
set -euo pipefail
src=$1
work=$2
prefix=${3:-}
doc=$src/docs/writing-a-service.md
mkdir -p "$work"
script=$work/commands.sh
{
  echo 'set -euo pipefail'
  echo 'trap '"'"'kill $(jobs -p) 2>/dev/null || true'"'"' EXIT'
  awk '/^<!-- run -->$/{marked=1; next}
       marked && /^```sh$/{inside=1; next}
       inside && /^```$/{inside=0; marked=0; next}
       inside{print}' "$doc"
} >"$script"
blocks=$(grep -c '^<!-- run -->$' "$doc")
[[ $blocks -ge 4 ]] || { echo "docs_commands: only $blocks marked blocks in $doc"; exit 1; }
echo "docs_commands: $blocks blocks, $(($(wc -l <"$script") - 2)) commands from docs/writing-a-service.md"
if [[ -n "$prefix" ]]; then
  export PATH="$prefix/bin:$PATH" CMAKE_PREFIX_PATH="$prefix"
fi
rc=0
out=$(cd "$work" && bash "$src/tests/integration/netns-run.sh" bash "$script" 2>&1) || rc=$?
if [[ $rc -eq 77 ]]; then
  echo "docs_commands: not run (no network namespace without root)"
  exit 0
fi
[[ $rc -eq 0 ]] || { echo "$out"; echo "docs_commands: the commands failed (exit $rc)"; exit 1; }
for want in '{"msg":"Hello John"}' '{"msg":"Hello Ann"}' 'todo latest (micro-cpp' '--registry_address'; do
  [[ "$out" == *"$want"* ]] || { echo "$out"; echo "docs_commands: the output lacks $want"; exit 1; }
done
echo "docs_commands: every marked command of docs/writing-a-service.md ran and answered as documented"
