package trace

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestCACName(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{
		{0, "CAC_OK"},
		{1, "CAC_STARTUP"},
		{5, "CAC_TOOMANY"},
		{6, "CAC_state(6)"},
		{-1, "CAC_state(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := cacName(tt.in); got != tt.want {
				t.Errorf("cacName(%d) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// record builds a Backend record the way x86-64 lays it out.
func record(pid, key, slot, typ int32, deadEnd, notify bool) []byte {
	b := make([]byte, 40)
	binary.LittleEndian.PutUint32(b[0:], uint32(pid))
	binary.LittleEndian.PutUint32(b[4:], uint32(key))
	binary.LittleEndian.PutUint32(b[8:], uint32(slot))
	binary.LittleEndian.PutUint32(b[12:], uint32(typ))
	if deadEnd {
		b[16] = 1
	}
	if notify {
		b[17] = 1
	}
	return b
}

func TestBackendLayoutDecode(t *testing.T) {
	l := amd64BackendLayout
	got, err := l.decode(record(4242, -7, 3, backendTypeNormal, false, true))
	if err != nil {
		t.Fatal(err)
	}
	want := walkthrough.BackendNode{PID: 4242, CancelKey: -7, ChildSlot: 3, BkendType: "BACKEND_TYPE_NORMAL", BgworkerNotify: true}
	if got != want {
		t.Errorf("decode = %+v, want %+v", got, want)
	}
	if _, err := l.decode(make([]byte, 39)); err == nil {
		t.Error("decode accepted a short record")
	}
}

func TestCheckLayout(t *testing.T) {
	key, slot := int32(99), 5
	good := walkthrough.BackendNode{PID: 10, CancelKey: 99, ChildSlot: 5, BkendType: "BACKEND_TYPE_NORMAL"}
	tests := []struct {
		name string
		node walkthrough.BackendNode
		want expectedNode
		bad  int
	}{
		{"holds", good, expectedNode{PID: 10, CancelKey: &key, ChildSlot: &slot}, 0},
		{"holds without key and slot", good, expectedNode{PID: 10}, 0},
		{"wrong pid", good, expectedNode{PID: 11, CancelKey: &key, ChildSlot: &slot}, 1},
		{"shifted fields", walkthrough.BackendNode{PID: 99, CancelKey: 5, ChildSlot: 1, BkendType: "bkend_type(0)"},
			expectedNode{PID: 10, CancelKey: &key, ChildSlot: &slot}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkLayout(tt.node, tt.want); len(got) != tt.bad {
				t.Errorf("checkLayout = %q, want %d mismatches", got, tt.bad)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		vals []string
		ok   bool
	}{
		{"all equal", []string{"7", "7", "7"}, true},
		{"one differs", []string{"7", "7", "8"}, false},
		{"nothing to compare", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := []string{"a", "b", "c"}[:len(tt.vals)]
			c := check("c", names, tt.vals)
			if c.OK != tt.ok {
				t.Errorf("check(%v).OK = %v, want %v", tt.vals, c.OK, tt.ok)
			}
			if len(tt.vals) > 0 && !strings.Contains(c.Detail, "a="+tt.vals[0]) {
				t.Errorf("detail %q does not show the values", c.Detail)
			}
		})
	}
}

func TestParseVersionOutput(t *testing.T) {
	tests := []struct {
		out, want string
		major     int
		wantErr   bool
	}{
		{out: "postgres (PostgreSQL) 16.4\n", want: "16.4", major: 16},
		{out: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", want: "15.18", major: 15},
		{out: "postgres (PostgreSQL) 18devel\n", want: "18", major: 18},
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
			if major, _, err := splitVersion(got); err != nil || major != tt.major {
				t.Errorf("splitVersion(%q) = %d, %v; want %d", got, major, err, tt.major)
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
		distDirs: func(int) []string { return dist },
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
		major   int
		want    string
		wantErr string // "nopg", "wrongmajor"
	}{
		{name: "flag directory", flag: filepath.Dir(flag16), major: 16, want: flag16},
		{name: "flag binary", flag: flag16, major: 16, want: flag16},
		{name: "flag wrong major", flag: filepath.Dir(flag16), pathDir: filepath.Join(root, "cache", "17.1", "bin"), major: 17, wantErr: "wrongmajor"},
		{name: "flag without postgres", flag: empty, major: 16, wantErr: "nopg"},
		{name: "env before PATH", env: map[string]string{EnvPGBin: filepath.Dir(p164)}, pathDir: filepath.Dir(p16dist), major: 16, want: p164},
		{name: "pg_config before PATH", bindir: filepath.Dir(p16dist), pathDir: filepath.Dir(p164), major: 16, want: p16dist},
		{name: "PATH has another major, distribution dir has it", pathDir: filepath.Dir(p15), dist: []string{filepath.Dir(p16dist)}, major: 16, want: p16dist},
		{name: "install cache last", pathDir: filepath.Dir(p15), major: 17, want: p171},
		{name: "only another major", pathDir: filepath.Dir(p15), major: 14, wantErr: "wrongmajor"},
		{name: "nothing at all", major: 16, wantErr: "nopg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := filepath.Join(root, "cache")
			if tt.name == "nothing at all" {
				cache = empty
			}
			f := fakeFinder(t, tt.env, tt.pathDir, tt.bindir, tt.dist, cache)
			bin, version, err := f.find(tt.flag, tt.major)
			switch tt.wantErr {
			case "nopg":
				if !errors.Is(err, ErrNoPostgres) {
					t.Fatalf("find = %q, %v; want ErrNoPostgres", bin, err)
				}
				return
			case "wrongmajor":
				var wm *WrongMajorError
				if !errors.As(err, &wm) || wm.Want != tt.major {
					t.Fatalf("find = %q, %v; want a WrongMajorError for %d", bin, err, tt.major)
				}
				return
			}
			if err != nil {
				t.Fatalf("find: %v", err)
			}
			if bin != tt.want {
				t.Errorf("find = %q, want %q", bin, tt.want)
			}
			if major, _, _ := splitVersion(version); major != tt.major {
				t.Errorf("version %q is not major %d", version, tt.major)
			}
		})
	}
}

func TestUnsupportedError(t *testing.T) {
	err := error(&UnsupportedError{Reason: "live tracing needs Linux (this is plan9)"})
	if !errors.Is(err, ErrNotSupported) {
		t.Error("UnsupportedError does not match ErrNotSupported")
	}
	for _, want := range []string{"needs Linux", "--driver reenact"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
}
