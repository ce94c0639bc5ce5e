package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseVersionOutput(t *testing.T) {
	tests := []struct {
		out, want string
		major     string
		wantErr   bool
	}{
		{out: "postgres (PostgreSQL) 16.4\n", want: "16.4", major: "16"},
		{out: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", want: "15.18", major: "15"},
		{out: "postgres (PostgreSQL) 18devel\n", want: "18", major: "18"},
		{out: "something else", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.out, func(t *testing.T) {
			got, err := parseVersionOutput(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVersionOutput error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want {
				t.Errorf("parseVersionOutput = %q, want %q", got, tt.want)
			}
			if major := series(got); major != tt.major {
				t.Errorf("series(%q) = %q, want %q", got, major, tt.major)
			}
		})
	}
}

// fakeFinder is a finder whose places are directories of a test, holding
// fake postgres binaries that the probe "runs" by reading their version
// from the file's content.
func fakeFinder(t *testing.T, env map[string]string, pathDir, bindir string, dist []string, cache string) finder {
	return finder{
		getenv: func(k string) string { return env[k] },
		lookPath: func(string) (string, error) {
			p := filepath.Join(pathDir, "postgres")
			if isExecutable(p) {
				return p, nil
			}
			return "", errors.New("not on PATH")
		},
		bindir: func() (string, error) {
			if bindir == "" {
				return "", errors.New("no pg_config")
			}
			return bindir, nil
		},
		distDirs: func(string) []string { return dist },
		cacheDir: cache,
		probe: func(bin string) (string, error) {
			b, err := os.ReadFile(bin)
			if err != nil {
				return "", err
			}
			return parseVersionOutput(string(b))
		},
	}
}

// fakePostgres writes an executable "postgres" into dir that reports v.
func fakePostgres(t *testing.T, dir, v string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "postgres")
	if err := os.WriteFile(p, []byte("postgres (PostgreSQL) "+v+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindPostgres(t *testing.T) {
	root := t.TempDir()
	p15 := fakePostgres(t, filepath.Join(root, "path"), "15.18")
	p16dist := fakePostgres(t, filepath.Join(root, "dist16"), "16.6")
	p164 := fakePostgres(t, filepath.Join(root, "cache", "16.4", "bin"), "16.4")
	p171 := fakePostgres(t, filepath.Join(root, "cache", "17.1", "bin"), "17.1")
	p162 := fakePostgres(t, filepath.Join(root, "cache", "16.2", "bin"), "16.2")
	flag16 := fakePostgres(t, filepath.Join(root, "flag"), "16.2")
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		flag    string
		env     map[string]string
		pathDir string
		bindir  string
		dist    []string
		release string
		want    string
		wantErr string // "nopg", "wrongmajor"
	}{
		{name: "flag directory", flag: filepath.Dir(flag16), release: "16.4", want: flag16},
		{name: "flag binary", flag: flag16, release: "16.4", want: flag16},
		{name: "flag wrong major", flag: filepath.Dir(flag16), pathDir: filepath.Join(root, "cache", "17.1", "bin"), release: "17.1", wantErr: "wrongmajor"},
		{name: "flag without postgres", flag: empty, release: "16.4", wantErr: "nopg"},
		{name: "env before PATH", env: map[string]string{EnvPGBin: filepath.Dir(p164)}, pathDir: filepath.Dir(p16dist), release: "16.4", want: p164},
		{name: "pg_config before PATH", bindir: filepath.Dir(p16dist), pathDir: filepath.Dir(p164), release: "16.4", want: p16dist},
		{name: "PATH has another major, distribution dir has it", pathDir: filepath.Dir(p15), dist: []string{filepath.Dir(p16dist)}, release: "16.4", want: p16dist},
		{name: "install cache last", pathDir: filepath.Dir(p15), release: "17.1", want: p171},
		{name: "install cache: the exact release first", release: "16.4", want: p164},
		{name: "install cache: another release of the major version", release: "16.9", want: p162},
		{name: "only another major", pathDir: filepath.Dir(p15), release: "14.1", wantErr: "wrongmajor"},
		{name: "nothing at all", release: "16.4", wantErr: "nopg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := filepath.Join(root, "cache")
			if tt.name == "nothing at all" {
				cache = empty
			}
			f := fakeFinder(t, tt.env, tt.pathDir, tt.bindir, tt.dist, cache)
			bin, version, err := f.find(tt.flag, tt.release)
			switch tt.wantErr {
			case "nopg":
				if !errors.Is(err, ErrNoPostgres) {
					t.Fatalf("find = %q, %v; want ErrNoPostgres", bin, err)
				}
				return
			case "wrongmajor":
				var wm *WrongMajorError
				if !errors.As(err, &wm) || wm.Want != series(tt.release) {
					t.Fatalf("find = %q, %v; want a WrongMajorError for %s", bin, err, series(tt.release))
				}
				return
			}
			if err != nil {
				t.Fatalf("find: %v", err)
			}
			if bin != tt.want {
				t.Errorf("find = %q, want %q", bin, tt.want)
			}
			if series(version) != series(tt.release) {
				t.Errorf("version %q is not of release %s's major version", version, tt.release)
			}
		})
	}
}

func TestStageTimeoutError(t *testing.T) {
	e := &StageTimeoutError{Stage: "the parent registration", Expected: "the postmaster to push the new backend onto BackendList",
		After: 30e9, Cause: "the debug registers do not trap", Try: "--breakpoints software"}
	want := "the live trace gave up at the parent registration: expected the postmaster to push the new backend onto BackendList, and nothing came within 30s; likely cause: the debug registers do not trap; try --breakpoints software"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
}
