#!/usr/bin/env bash
# Measures a whole non-interactive pgwalk run against a bare glamour render of
# the same notes, both as whole processes on this machine in this run, and
# pgwalk's peak memory. Usage: bench/run.sh [RUNS] [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
ver=${2:-16.4}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/pgwalk" ./cmd/pgwalk
go build -o "$tmp/bare" ./bench/bare

# mean wall time in ms of "$@" over $runs runs (after one warm-up)
mean_ms() {
  "$@" >/dev/null 2>&1
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; done
  end=$(date +%s%N)
  echo $(( (end - start) / runs / 1000 ))
}

bare=$(mean_ms "$tmp/bare" "$ver")
bare1=$(BARE_FIRST_ONLY=1 mean_ms "$tmp/bare" "$ver")
for driver in reenact narrate; do
  whole=$(mean_ms "$tmp/pgwalk" run --version "$ver" --driver "$driver" --no-pause --style notty --width 80)
  first=$(mean_ms "$tmp/pgwalk" show struct-creation --version "$ver" --style notty --width 80)
  rss=$(/usr/bin/time -f %M "$tmp/pgwalk" run --version "$ver" --driver "$driver" --no-pause --style notty 2>&1 >/dev/null | tail -1)
  awk -v d="$driver" -v w="$whole" -v b="$bare" -v f="$first" -v b1="$bare1" -v r="$rss" 'BEGIN {
    printf "%-8s whole run %.1f ms vs bare glamour %.1f ms: %.2fx (target 1.5x)\n", d, w/1000, b/1000, w/b
    printf "%-8s first phase (show) %.1f ms vs one bare note %.1f ms: %.2fx (target 1.2x)\n", d, f/1000, b1/1000, f/b1
    printf "%-8s peak RSS %.1f MB (target < 40 MB)\n", d, r/1024 }'
done
