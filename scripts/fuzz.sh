#!/usr/bin/env bash
# Runs every fuzz target of the repository for a short time each
# (default 10s): scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-10s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== fuzz $pkg $f ($d)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$d" "$pkg"
  done
done
