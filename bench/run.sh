#!/usr/bin/env bash
# Measures whole pgwalk processes against their baselines on this machine,
# in one run, interleaved round by round (bench/cmp says what and why):
# a whole non-interactive re-enactment against a bare glamour render of
# the same notes and against its floor (`pgwalk run --driver narrate` then
# `pgwalk version`), the first stop on stdout against one bare note, and
# the peak RSS; in the notty and dark styles at one width.
#
# Usage: bench/run.sh [ROUNDS] [VERSION] [WIDTH]
#   BEFORE=<git revision> also measures that revision's pgwalk in every
#   round, for a before/after table.
# The key press's redraw is a Go benchmark:
#   go test -run XXX -bench Redraw ./internal/cli
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}
ver=${2:-16.4}
width=${3:-80}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/pgwalk" ./cmd/pgwalk
go build -o "$tmp/bare" ./bench/bare
go build -o "$tmp/cmp" ./bench/cmp
before=()
if [ -n "${BEFORE:-}" ]; then
  mkdir "$tmp/before"
  git archive "$BEFORE" | tar -x -C "$tmp/before"
  (cd "$tmp/before" && go build -o "$tmp/pgwalk-before" ./cmd/pgwalk)
  before=(-before "$tmp/pgwalk-before")
fi
for style in notty dark; do
  "$tmp/cmp" -pgwalk "$tmp/pgwalk" "${before[@]}" -bare "$tmp/bare" \
    -rounds "$rounds" -version "$ver" -style "$style" -width "$width"
  echo
done
