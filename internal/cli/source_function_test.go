package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run %s -update)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs (go test ./internal/cli -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

// toyFunction is a made-up file for the whole-function view, not
// PostgreSQL's text: the function is lines 3-14.
var toyFunction = strings.Split(`/* toy.c */

/* start_child: made up for pgwalk's tests */
static int
start_child(void)
{
	record = alloc();
	record->key = 42;
	pid = fork();
	if (pid < 0)
		return -1;
	push(record);
	return 0;
}
/* after */`, "\n")

func phaseByID(t *testing.T, id walkthrough.PhaseID) walkthrough.Phase {
	t.Helper()
	p, err := walkthrough.LookupPhase(string(id))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFunctionView(t *testing.T) {
	fn := annotations.Ref{File: "src/toy.c", First: 3, Last: 14}
	pr := func(id walkthrough.PhaseID, first, last int) phaseRange {
		return phaseRange{Phase: phaseByID(t, id), Ref: annotations.Ref{File: "src/toy.c", First: first, Last: last}}
	}
	marked := []phaseRange{
		pr(walkthrough.StructCreation, 7, 7),
		pr(walkthrough.StructInit, 8, 8),
		pr(walkthrough.Fork, 9, 9),
		pr(walkthrough.ForkFailure, 10, 11),
		pr(walkthrough.ParentRegistration, 12, 13),
		pr(walkthrough.Child, 13, 14),        // overlaps 13: *
		pr(walkthrough.StructCreation, 1, 3), // starts before the function
	}
	tests := []struct {
		name  string
		style render.SourceStyle
	}{
		{"plain", render.SourceStyle{}},
		{"ascii-40", render.SourceStyle{ASCII: true, Width: 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, "function/"+tt.name+".golden", functionView(toyFunction, fn, marked, tt.style))
		})
	}
	t.Run("color", func(t *testing.T) {
		got := functionView(toyFunction, fn, marked, render.SourceStyle{Color: true})
		if !strings.Contains(got, "\x1b[1;33m3\x1b[0m") {
			t.Errorf("the fork's mark is not coloured:\n%q", got)
		}
		if n := strings.Count(got, "\n"); n != 12 {
			t.Errorf("%d lines, want 12", n)
		}
	})
	t.Run("out of the file", func(t *testing.T) {
		if got := functionView(toyFunction[:2], fn, marked, render.SourceStyle{}); got != "" {
			t.Errorf("a function past the end of the file gives %q", got)
		}
	})
}

// functionCmd builds `source function` over a test factory.
func functionCmd(f *Factory) *cobra.Command { return NewCmdSourceFunction(f, nil) }

// writeTree writes a plain tree whose postmaster.c is content.
func writeTree(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "src", "backend", "postmaster", "postmaster.c")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lineRE matches a numbered source line of the view.
var lineRE = regexp.MustCompile(`(?m)^.[▌ >] +\d+ [│|]`)

func TestSourceFunctionWrongTree(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	junk := strings.Repeat("not PostgreSQL's text\n", 5000)
	dir := writeTree(t, junk)
	for _, v := range walkthrough.Versions() {
		t.Run(v.Name, func(t *testing.T) {
			fn := v.Release().Function
			r := runCmd(t, set, functionCmd, "--version", v.Name, "--source", dir)
			if r.code != ExitFailure {
				t.Fatalf("exit %d, want 1: %v", r.code, r.err)
			}
			if lineRE.MatchString(r.out) || strings.Contains(r.out, "not PostgreSQL's text") {
				t.Errorf("lines of a tree that does not match were shown:\n%s", r.out)
			}
			link := v.Permalink(fn.File, fn.First, fn.Last)
			if !strings.Contains(r.out, link) {
				t.Errorf("no permalink %s in:\n%s", link, r.out)
			}
			why := r.err.Error()
			want := fmt.Sprintf("postmaster.c:%d-%d: lines not shown: in %s they are not PostgreSQL %s's text (sha256 ", fn.First, fn.Last, dir, v.Name)
			if strings.Contains(why, "\n") || !strings.HasPrefix(why, want) || !strings.HasSuffix(why, "the manifest's "+fn.SHA256+")") {
				t.Errorf("why = %q, want one line starting %q", why, want)
			}
		})
	}
	t.Run("short file", func(t *testing.T) {
		r := runCmd(t, set, functionCmd, "--version", "16.4", "--source", writeTree(t, "int x;\n"))
		if r.code != ExitFailure || !strings.Contains(r.err.Error(), "has only 1 lines") || lineRE.MatchString(r.out) {
			t.Errorf("exit %d, err %v, out:\n%s", r.code, r.err, r.out)
		}
	})
}

func TestSourceFunctionErrors(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code ExitCode
		want string
	}{
		{"no version", []string{}, ExitUsage, "--version is required"},
		{"unknown version", []string{"--version", "9.6"}, ExitUsage, "9.6"},
		{"argument", []string{"--version", "16.4", "x"}, ExitUsage, "takes no arguments"},
		{"no source", []string{"--version", "16.4"}, ExitFailure, "pgwalk source fetch --version 16.4"},
		{"not a tree", []string{"--version", "16.4", "--source", t.TempDir()}, ExitUsage, "not a PostgreSQL source tree"},
		{"bad lang", []string{"--version", "16.4", "--lang", "fr"}, ExitUsage, "unknown language"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, set, functionCmd, tt.args...)
			if r.code != tt.code || r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("exit %d, err %v; want %d mentioning %q", r.code, r.err, tt.code, tt.want)
			}
			if lineRE.MatchString(r.out) {
				t.Errorf("lines shown:\n%s", r.out)
			}
		})
	}
}

// TestSourceFunctionRealSource shows the whole function from the tree or
// clone of PGWALK_PG_SOURCE (skipped when it is not set: the repository
// holds no PostgreSQL source). For a release whose text it holds, every
// line of the function is shown and every phase that cites lines of it is
// marked; for
// another release's tree, no line is shown.
func TestSourceFunctionRealSource(t *testing.T) {
	dir := os.Getenv("PGWALK_PG_SOURCE")
	if dir == "" {
		t.Skip("PGWALK_PG_SOURCE is not set")
	}
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, v := range walkthrough.Versions() {
		t.Run(v.Name, func(t *testing.T) {
			fn := v.Release().Function
			r := runCmd(t, set, functionCmd, "--version", v.Name, "--source", dir, "--style", "notty", "--width", "120")
			if r.code != ExitOK {
				if lineRE.MatchString(r.out) {
					t.Errorf("exit %d, yet lines were shown", r.code)
				}
				t.Logf("%s is not %s's text: %v", dir, v.Name, r.err)
				return
			}
			shown++
			if n := len(lineRE.FindAllString(r.out, -1)); n != fn.Last-fn.First+1 {
				t.Errorf("%d lines shown, want %d", n, fn.Last-fn.First+1)
			}
			for _, p := range walkthrough.Phases() {
				n, _, err := set.Note(v.Name, p.ID, annotations.DefaultLang)
				if err != nil {
					t.Fatal(err)
				}
				inside := false
				for _, ref := range n.Refs {
					inside = inside || ref.File == fn.File && ref.First <= fn.Last && ref.Last >= fn.First
				}
				if !inside {
					continue
				}
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(phaseMark(p)) + `▌ +\d+ │`).MatchString(r.out) {
					t.Errorf("no line is marked %s (%s)", phaseMark(p), p.ID)
				}
			}
			if !strings.Contains(r.out, v.Permalink(fn.File, fn.First, fn.Last)) {
				t.Error("no permalink")
			}
		})
	}
	if shown == 0 {
		// A release with a manifest and no notes yet is not offered: a
		// tree of it shows nothing, rightly.
		rels, err := annotations.Manifests()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, "src", "backend", "postmaster", "postmaster.c"))
		lines := source.SplitLines(data)
		for _, rel := range rels {
			if _, err := walkthrough.LookupVersion(rel.Version.Name); err == nil || rel.Function == nil {
				continue
			}
			if h, err := source.RangeHash(lines, rel.Function.First, rel.Function.Last); err == nil && h == rel.Function.SHA256 {
				t.Skipf("%s holds %s, which is not offered yet", dir, rel.Version.Name)
			}
		}
		t.Errorf("%s holds the text of no release: PGWALK_PG_SOURCE must name a tree or clone of one", dir)
	}
}
