#!/usr/bin/env bash
# Runs every fuzz target of the repository for a short time each
# (default 10s): scripts/fuzz.sh [DURATION]
#
# A new interesting input is minimized for at most 100 runs, not the
# default 60 s, so that the time goes to fuzzing. Go's fuzzing engine can
# end a run whose -fuzztime runs out while a worker is busy with
# "context deadline exceeded" and no failing input; that run, and only
# that one, is tried once more. A real failure writes its input under
# testdata/fuzz and fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-10s}
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$d" -fuzzminimizetime 100x "$1"; }
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== fuzz $pkg $f ($d)"
    out=$(mktemp)
    if fuzz "$pkg" "$f" 2>&1 | tee "$out"; then
      rm -f "$out"
      continue
    fi
    if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out"; then
      rm -f "$out"
      echo "== fuzz $pkg $f: the engine's deadline ended a busy worker (no failing input): once more"
      fuzz "$pkg" "$f"
      continue
    fi
    rm -f "$out"
    exit 1
  done
done
