package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// EnvPGBin names the environment variable that points at a directory of
// PostgreSQL binaries (second in FindPostgres's search order).
const EnvPGBin = "PGWALK_PG_BIN"

// EnvPGCache names the environment variable that overrides where
// scripts/install-pg.sh installs PostgreSQL builds.
const EnvPGCache = "PGWALK_PG_CACHE"

// PGCacheDir returns the directory scripts/install-pg.sh installs into:
// $PGWALK_PG_CACHE, else $PGWALK_CACHE/pg, else <user cache dir>/pgwalk/pg.
// Each release lands in <dir>/<version>/bin.
func PGCacheDir() string {
	if d := os.Getenv(EnvPGCache); d != "" {
		return d
	}
	if d := os.Getenv("PGWALK_CACHE"); d != "" {
		return filepath.Join(d, "pg")
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "pgwalk", "pg")
}

// FindPostgres finds a postgres server binary of release v's major
// version. It looks, in order, at pgBin (a directory, or the binary
// itself), at $PGWALK_PG_BIN, at `pg_config --bindir`, on PATH, in the
// usual distribution directories (/usr/lib/postgresql/<major>/bin,
// /usr/pgsql-<major>/bin, Homebrew's postgresql@<major>) and in the cache
// of scripts/install-pg.sh (the exact release first). It returns the
// binary's path and the version it reports ("16.4").
//
// A place named explicitly (pgBin or $PGWALK_PG_BIN) must hold the right
// major version: otherwise the result is a *WrongMajorError, or an error
// wrapping ErrNoPostgres when it holds no postgres. Among the other places
// the first binary of the right major version wins; when only other
// versions were found the result is a *WrongMajorError naming the first.
func FindPostgres(pgBin string, v walkthrough.Version) (bin string, version string, err error) {
	return defaultFinder().find(pgBin, v.Name)
}

// series returns the major version of a release name: "16" for "16.4",
// "18" for "18beta1".
func series(release string) string {
	end := strings.IndexFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		return release
	}
	return release[:end]
}

// finder holds the places FindPostgres looks at, so that tests can replace
// them.
type finder struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	// bindir runs pg_config --bindir.
	bindir func() (string, error)
	// distDirs lists the distribution directories for a major version.
	distDirs func(major string) []string
	cacheDir string
	// probe returns the version a postgres binary reports.
	probe func(bin string) (string, error)
}

func defaultFinder() finder {
	return finder{
		getenv:   os.Getenv,
		lookPath: exec.LookPath,
		bindir: func() (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output()
			return strings.TrimSpace(string(out)), err
		},
		distDirs: func(major string) []string {
			return []string{
				"/usr/lib/postgresql/" + major + "/bin",
				"/usr/pgsql-" + major + "/bin",
				"/opt/homebrew/opt/postgresql@" + major + "/bin",
				"/usr/local/opt/postgresql@" + major + "/bin",
			}
		},
		cacheDir: PGCacheDir(),
		probe:    probeVersion,
	}
}

// find looks for a binary of release's major version.
func (f finder) find(pgBin string, release string) (string, string, error) {
	major := series(release)
	for _, explicit := range []struct{ dir, from string }{{pgBin, "--pg-bin"}, {f.getenv(EnvPGBin), EnvPGBin}} {
		if explicit.dir == "" {
			continue
		}
		bin := binaryIn(explicit.dir)
		if !isExecutable(bin) {
			return "", "", fmt.Errorf("%s %s: no postgres there: %w", explicit.from, explicit.dir, ErrNoPostgres)
		}
		return f.check(bin, major)
	}
	var wrong error
	seen := map[string]bool{}
	for _, bin := range f.candidates(release) {
		real, err := filepath.EvalSymlinks(bin)
		if err != nil || seen[real] || !isExecutable(real) {
			continue
		}
		seen[real] = true
		path, version, err := f.check(bin, major)
		if err == nil {
			return path, version, nil
		}
		if wrong == nil {
			wrong = err
		}
	}
	if wrong != nil {
		return "", "", wrong
	}
	return "", "", ErrNoPostgres
}

// candidates lists the binaries to try after the explicit places.
func (f finder) candidates(release string) []string {
	major := series(release)
	var out []string
	if dir, err := f.bindir(); err == nil && dir != "" {
		out = append(out, filepath.Join(dir, "postgres"))
	}
	if p, err := f.lookPath("postgres"); err == nil {
		out = append(out, p)
	}
	for _, d := range f.distDirs(major) {
		out = append(out, filepath.Join(d, "postgres"))
	}
	if f.cacheDir != "" {
		out = append(out, filepath.Join(f.cacheDir, release, "bin", "postgres"))
		if more, err := filepath.Glob(filepath.Join(f.cacheDir, major+".*", "bin", "postgres")); err == nil {
			out = append(out, more...)
		}
	}
	return out
}

// check probes bin and returns its path and version when its major
// version is major.
func (f finder) check(bin string, major string) (string, string, error) {
	version, err := f.probe(bin)
	if err != nil {
		return "", "", fmt.Errorf("%s --version: %w", bin, err)
	}
	if series(version) != major {
		return "", "", &WrongMajorError{Path: bin, Found: version, Want: major}
	}
	return bin, version, nil
}

// binaryIn returns the postgres binary named by dir: dir itself when it
// names a file, else dir/postgres.
func binaryIn(dir string) string {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return dir
	}
	return filepath.Join(dir, "postgres")
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) ([0-9]+(?:\.[0-9]+)?)`)

// parseVersionOutput extracts "16.4" from `postgres --version` output such
// as "postgres (PostgreSQL) 16.4" or "postgres (PostgreSQL) 15.18 (Debian
// 15.18-0+deb12u1)".
func parseVersionOutput(out string) (string, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("unrecognised version output %q", strings.TrimSpace(out))
	}
	return m[1], nil
}

// probeVersion runs `bin --version` and parses its answer.
func probeVersion(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return parseVersionOutput(string(out))
}
