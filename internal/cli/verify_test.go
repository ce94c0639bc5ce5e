package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// The fixture is a toy file written for these tests, not PostgreSQL's text.
const (
	toyPath = "src/backend/postmaster/toy.c"
	toyC    = "/* toy.c: counts sheep for pgwalk's tests */\n" +
		"static int\tsheep = 0;\n" +
		"\n" +
		"static void\n" +
		"count_sheep(int n)\n" +
		"{\n" +
		"\twhile (n-- > 0)\n" +
		"\t\tsheep++;\n" +
		"}\n" +
		"\n" +
		"int\n" +
		"sleep_now(void)\n" +
		"{\n" +
		"\tcount_sheep(100);\n" +
		"\treturn sheep;\n" +
		"}\n"
)

// toyHash returns the range hash of lines first..last of content.
func toyHash(t *testing.T, content string, first, last int) string {
	t.Helper()
	h, err := source.RangeHash(source.SplitLines([]byte(content)), first, last)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// toyNotes returns 16.4 notes citing count_sheep (4-9) and sleep_now
// (11-16), in English and Korean; the Korean one cites only count_sheep.
// symbols overrides the symbols of the fork note.
func toyNotes(t *testing.T, symbols string) *annotations.Set {
	t.Helper()
	if symbols == "" {
		symbols = "[count_sheep, sheep]"
	}
	ref := func(first, last int, syms string) string {
		return "  - file: " + toyPath + "\n    first: " + strconv.Itoa(first) + "\n    last: " + strconv.Itoa(last) +
			"\n    sha256: " + toyHash(t, toyC, first, last) + "\n    symbols: " + syms + "\n"
	}
	note := func(phase, refs string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("---\nphase: " + phase + "\ntitle: T\nversion: \"16.4\"\nrefs:\n" + refs + "---\nbody\n")}
	}
	set, err := annotations.Load(fstest.MapFS{
		"en/16.4/fork.md":  note("fork", ref(4, 9, symbols)),
		"en/16.4/child.md": note("child", ref(11, 16, "[sleep_now]")),
		"ko/16.4/fork.md":  note("fork", ref(4, 9, "[count_sheep]")),
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// toyTree writes a plain tree holding toy.c (with content) and a configure
// that says version (none when empty).
func toyTree(t *testing.T, version, content string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{toyPath: content}
	if version != "" {
		files["configure"] = "PACKAGE_VERSION='" + version + "'\n"
	}
	for p, c := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cliResult is what one command invocation did.
type cliResult struct {
	code        ExitCode
	err         error
	out, errOut string
}

// runCmd runs cmd (built by build over a test factory serving set) with
// args, as Execute would, and returns what happened.
func runCmd(t *testing.T, set *annotations.Set, build func(f *Factory) *cobra.Command, args ...string) cliResult {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := &Factory{IO: io, Notes: func(string) (*annotations.Set, error) { return set, nil }}
	cmd := build(f)
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &FlagError{Err: err} })
	err := cmd.ExecuteContext(context.Background())
	return cliResult{code: exitCodeFor(err), err: err, out: out.String(), errOut: errOut.String()}
}

// verifyCmd builds `verify` reading the cache in cache.
func verifyCmd(cache string) func(f *Factory) *cobra.Command {
	return func(f *Factory) *cobra.Command {
		return NewCmdVerify(f, func(o *VerifyOptions) error {
			o.Source.CacheDir = cache
			return runVerify(o)
		})
	}
}

func TestVerifyFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode ExitCode
		check    func(t *testing.T, o *VerifyOptions)
	}{
		{"defaults", nil, ExitOK, func(t *testing.T, o *VerifyOptions) {
			if o.VersionGiven || len(o.Versions) != len(walkthrough.Versions()) || o.Source.Dir != "" {
				t.Errorf("opts = %+v", o)
			}
		}},
		{"version and source", []string{"--version", "17", "--source", "/src/pg"}, ExitOK, func(t *testing.T, o *VerifyOptions) {
			if !o.VersionGiven || len(o.Versions) != 1 || o.Versions[0].Name != "17.1" || o.Source.Dir != "/src/pg" {
				t.Errorf("opts = %+v", o)
			}
		}},
		{"unknown version", []string{"--version", "15.2"}, ExitUsage, nil},
		{"an argument", []string{"fork"}, ExitUsage, nil},
		{"unknown flag", []string{"--nope"}, ExitUsage, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *VerifyOptions
			r := runCmd(t, nil, func(f *Factory) *cobra.Command {
				return NewCmdVerify(f, func(o *VerifyOptions) error { got = o; return nil })
			}, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d (%v)", r.code, tt.wantCode, r.err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	set := toyNotes(t, "")
	// A one-line edit inside count_sheep (lines 4-9).
	edited := strings.Replace(toyC, "\t\tsheep++;", "\t\tsheep += 2;", 1)
	tests := []struct {
		name     string
		set      *annotations.Set
		args     func(t *testing.T) []string
		wantCode ExitCode
		// wantOut and wantErr must all appear in Out and in the error.
		wantOut, wantErr []string
	}{
		{
			name:     "tree of the release",
			args:     func(t *testing.T) []string { return []string{"--source", toyTree(t, "16.4", toyC)} },
			wantCode: ExitOK,
			wantOut:  []string{"NOTE", "STATUS", "en/16.4/fork.md", "ko/16.4/fork.md", toyPath, "4-9", "11-16", "all 3 cited ranges hold"},
		},
		{
			name:     "a one-line edit inside a cited range",
			args:     func(t *testing.T) []string { return []string{"--source", toyTree(t, "16.4", edited)} },
			wantCode: ExitFailure,
			wantOut:  []string{"MISMATCH", "2 of 3 cited ranges do not hold"},
			wantErr: []string{
				"2 cited ranges do not match",
				"en/16.4/fork.md: " + toyPath + " lines 4-9: expected sha256 " + toyHash(t, toyC, 4, 9) + ", actual " + toyHash(t, edited, 4, 9),
				"ko/16.4/fork.md: " + toyPath + " lines 4-9",
			},
		},
		{
			name:     "a symbol not in its range",
			set:      toyNotes(t, "[count_sheep, sleep_now]"),
			args:     func(t *testing.T) []string { return []string{"--source", toyTree(t, "16.4", toyC)} },
			wantCode: ExitFailure,
			wantOut:  []string{"MISSING SYMBOLS sleep_now"},
			wantErr:  []string{"en/16.4/fork.md: " + toyPath + " lines 4-9", "not in the range: sleep_now"},
		},
		{
			name: "a file shorter than the range",
			args: func(t *testing.T) []string {
				return []string{"--source", toyTree(t, "16.4", strings.Join(strings.SplitAfter(toyC, "\n")[:12], ""))}
			},
			wantCode: ExitFailure,
			wantErr:  []string{"en/16.4/child.md: " + toyPath + " lines 11-16: out of range"},
		},
		{
			name:     "no source at all",
			args:     func(t *testing.T) []string { return nil },
			wantCode: ExitUsage,
			wantErr:  []string{"no PostgreSQL source available", "pgwalk source fetch"},
		},
		{
			name:     "no source for the version asked",
			args:     func(t *testing.T) []string { return []string{"--version", "16.4"} },
			wantCode: ExitUsage,
			wantErr:  []string{"no source for PostgreSQL 16.4", "pgwalk source fetch --version 16.4"},
		},
		{
			name: "a tree of another release",
			args: func(t *testing.T) []string {
				return []string{"--source", toyTree(t, "17.1", toyC), "--version", "16.4"}
			},
			wantCode: ExitUsage,
			wantErr:  []string{"is PostgreSQL 17.1", "not 16.4"},
		},
		{
			name:     "a tree whose release is unknown needs --version",
			args:     func(t *testing.T) []string { return []string{"--source", toyTree(t, "", toyC)} },
			wantCode: ExitUsage,
			wantErr:  []string{"pass --version"},
		},
		{
			name:     "a tree whose release is unknown, with --version",
			args:     func(t *testing.T) []string { return []string{"--source", toyTree(t, "", toyC), "--version", "16.4"} },
			wantCode: ExitOK,
			wantOut:  []string{"all 3 cited ranges hold"},
		},
		{
			name:     "not a PostgreSQL tree",
			args:     func(t *testing.T) []string { return []string{"--source", t.TempDir()} },
			wantCode: ExitUsage,
			wantErr:  []string{"not a PostgreSQL source tree"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.set
			if s == nil {
				s = set
			}
			r := runCmd(t, s, verifyCmd(t.TempDir()), tt.args(t)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nerr: %v\nout:\n%s\nerrout:\n%s", r.code, tt.wantCode, r.err, r.out, r.errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(r.out, w) {
					t.Errorf("Out lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range tt.wantErr {
				if r.err == nil || !strings.Contains(r.err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, r.err)
				}
			}
		})
	}
}

// gitEnv is a private git configuration for the tests' repositories.
var gitEnv = []string{
	"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
	"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
	"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gitEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestVerifyGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	set := toyNotes(t, "")
	repo := toyTree(t, "16.4", toyC)
	git(t, repo, "init", "-q")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "toy")
	git(t, repo, "tag", "REL_16_4")
	bare := filepath.Join(t.TempDir(), "toy.git")
	git(t, filepath.Dir(bare), "clone", "-q", "--bare", repo, bare)

	for _, dir := range []string{repo, bare} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := runCmd(t, set, verifyCmd(t.TempDir()), "--source", dir)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %v\n%s%s", r.code, r.err, r.out, r.errOut)
			}
			if !strings.Contains(r.errOut, "at REL_16_4") || !strings.Contains(r.out, "all 3 cited ranges hold") {
				t.Errorf("out:\n%s\nerrout:\n%s", r.out, r.errOut)
			}
		})
	}
	t.Run("an edit committed after the tag does not count", func(t *testing.T) {
		f := filepath.Join(repo, filepath.FromSlash(toyPath))
		if err := os.WriteFile(f, []byte(strings.Replace(toyC, "sheep++", "sheep--", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, repo, "commit", "-q", "-am", "edit")
		if r := runCmd(t, set, verifyCmd(t.TempDir()), "--source", repo, "--version", "16.4"); r.code != ExitOK {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
	})
	t.Run("the tag moved onto the edit", func(t *testing.T) {
		git(t, repo, "tag", "-f", "REL_16_4")
		r := runCmd(t, set, verifyCmd(t.TempDir()), "--source", repo)
		if r.code != ExitFailure || !strings.Contains(r.err.Error(), "en/16.4/fork.md: "+toyPath+" lines 4-9") {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
	})
}

// toyServer serves toy.c at /REL_16_4/<path>, as content.
func toyServer(t *testing.T, content string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/REL_16_4/"+toyPath {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(content))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fetchCmd builds `source fetch` writing into cache.
func fetchCmd(cache string) func(f *Factory) *cobra.Command {
	return func(f *Factory) *cobra.Command {
		return NewCmdSourceFetch(f, func(o *SourceFetchOptions) error {
			o.Source.CacheDir = cache
			return runSourceFetch(o)
		})
	}
}

func TestSourceFetchThenVerify(t *testing.T) {
	set := toyNotes(t, "")
	t.Run("good file", func(t *testing.T) {
		cache := t.TempDir()
		srv := toyServer(t, toyC)
		r := runCmd(t, set, fetchCmd(cache), "--version", "16.4", "--base-url", srv.URL)
		if r.code != ExitOK {
			t.Fatalf("fetch: exit %d: %v", r.code, r.err)
		}
		if want := filepath.Join(cache, "REL_16_4"); !strings.Contains(r.out, want) {
			t.Errorf("fetch does not name the cache directory %s:\n%s", want, r.out)
		}
		r = runCmd(t, set, verifyCmd(cache))
		if r.code != ExitOK || !strings.Contains(r.out, "all 3 cited ranges hold") {
			t.Fatalf("verify: exit %d: %v\n%s", r.code, r.err, r.out)
		}
		if !strings.Contains(r.errOut, "skipped") || !strings.Contains(r.errOut, "17.1") {
			t.Errorf("verify does not say it skipped 17.1:\n%s", r.errOut)
		}
	})
	t.Run("a file whose range differs is refused", func(t *testing.T) {
		cache := t.TempDir()
		srv := toyServer(t, strings.Replace(toyC, "count_sheep(100)", "count_sheep(99)", 1))
		r := runCmd(t, set, fetchCmd(cache), "--version", "16.4", "--base-url", srv.URL)
		var rm *source.RangeMismatchError
		if r.code != ExitFailure || !errors.As(r.err, &rm) {
			t.Fatalf("fetch: exit %d: %v", r.code, r.err)
		}
		if entries, _ := os.ReadDir(cache); len(entries) != 0 {
			t.Errorf("a refused fetch left %d entries in the cache", len(entries))
		}
		if r := runCmd(t, set, verifyCmd(cache), "--version", "16.4"); r.code != ExitUsage {
			t.Errorf("verify after a refused fetch: exit %d, want %d", r.code, ExitUsage)
		}
	})
	t.Run("not found", func(t *testing.T) {
		srv := toyServer(t, toyC)
		r := runCmd(t, set, fetchCmd(t.TempDir()), "--version", "16.4", "--base-url", srv.URL+"/nope")
		if r.code != ExitFailure || !strings.Contains(r.err.Error(), "404") {
			t.Fatalf("fetch: exit %d: %v", r.code, r.err)
		}
	})
	t.Run("negative timeout", func(t *testing.T) {
		if r := runCmd(t, set, fetchCmd(t.TempDir()), "--timeout", "-1s"); r.code != ExitUsage {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
	})
}

func TestSourcePath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	t.Setenv("HOME", home)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, filepath.Join(home, "pgwalk", "source")},
		{[]string{"--version", "17.1"}, filepath.Join(home, "pgwalk", "source", "REL_17_1")},
	} {
		r := runCmd(t, nil, func(f *Factory) *cobra.Command { return NewCmdSourcePath(f, nil) }, tc.args...)
		if r.code != ExitOK || r.out != tc.want+"\n" {
			t.Errorf("source path %v: exit %d, out %q, want %q", tc.args, r.code, r.out, tc.want)
		}
	}
}

// TestVerifyRealSource checks the built-in notes against a real PostgreSQL
// git clone or tree named by PGWALK_PG_SOURCE (a clone with the REL_16_4 and
// REL_17_1 tags checks both releases). It is skipped when the variable is
// not set: the repository holds no PostgreSQL source. Run it with
// -count=1: go test does not see files that git reads.
func TestVerifyRealSource(t *testing.T) {
	dir := os.Getenv("PGWALK_PG_SOURCE")
	if dir == "" {
		t.Skip("PGWALK_PG_SOURCE is not set")
	}
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, set, verifyCmd(t.TempDir()), "--source", dir)
	t.Logf("\n%s%s", r.errOut, r.out)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
}

// TestVerifyReleaseTrees checks each release's notes against the exact
// text of its cited files, in PGWALK_PG_SOURCES/<release> (a directory of
// trees such as shared/facts/pg-release-text.sh builds for 18.4), and that
// another release's tree fails. It is skipped when the variable is not set.
func TestVerifyReleaseTrees(t *testing.T) {
	root := os.Getenv("PGWALK_PG_SOURCES")
	if root == "" {
		t.Skip("PGWALK_PG_SOURCES is not set")
	}
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	var trees []string
	for _, v := range walkthrough.Versions() {
		dir := filepath.Join(root, v.Name)
		if _, err := os.Stat(dir); err != nil {
			t.Logf("%s: no tree in %s", v.Name, dir)
			continue
		}
		trees = append(trees, v.Name)
		t.Run(v.Name, func(t *testing.T) {
			r := runCmd(t, set, verifyCmd(t.TempDir()), "--source", dir, "--version", v.Name)
			if r.code != ExitOK || !strings.Contains(r.out, "cited ranges hold") {
				t.Fatalf("exit %d: %v\n%s%s", r.code, r.err, r.errOut, r.out)
			}
		})
	}
	if len(trees) < 2 {
		return
	}
	// A tree of another release does not hold the ranges.
	other := filepath.Join(root, trees[0])
	r := runCmd(t, set, verifyCmd(t.TempDir()), "--source", other, "--version", trees[len(trees)-1])
	if r.code == ExitOK {
		t.Errorf("verify --version %s against the %s tree passed:\n%s", trees[len(trees)-1], trees[0], r.out)
	}
}
