#!/usr/bin/env bash
# Regenerates tests/fixtures/registry with go-micro's own code and fails if
# anything differs from the committed files.
set -euo pipefail
go=${1:-go}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$here/gofixtures" && "$go" run . "$out")
diff -r "$here/../fixtures/registry" "$out"
echo "go-micro fixtures match: $(ls "$out" | wc -l) files"
