package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/spf13/cobra"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// toyRangeLine is a line of toy.c's range 4-9 as the source view shows it.
const toyRangeLine = "count_sheep(int n)"

// toyPermalink is the permalink of toy.c's range 4-9 at REL_16_4.
const toyPermalink = "https://github.com/postgres/postgres/blob/REL_16_4/src/backend/postmaster/toy.c#L4-L9"

// toyAllNotes returns 16.4 notes for every phase, each citing toy.c 4-9.
func toyAllNotes(t *testing.T) *annotations.Set {
	t.Helper()
	sum := "\n    sha256: " + toyHash(t, toyC, 4, 9)
	fs := fstest.MapFS{}
	for _, p := range walkthrough.Phases() {
		fs["en/16.4/"+string(p.ID)+".md"] = &fstest.MapFile{Data: []byte("---\nphase: " + string(p.ID) +
			"\ntitle: T\nversion: \"16.4\"\nrefs:\n  - file: " + toyPath + "\n    first: 4\n    last: 9" + sum +
			"\n    symbols: [count_sheep]\n---\nbody\n")}
	}
	set, err := annotations.Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// showCmd builds `show` as Execute would.
func showCmd(f *Factory) *cobra.Command { return NewCmdShow(f, nil) }

// runCmdDriver builds `run` with the real drivers.
func runCmdDriver(f *Factory) *cobra.Command {
	f.NewDriver = newDriver
	return NewCmdRun(f, nil)
}

// TestSourceLinesNeverLie runs show and run against trees that hold the
// cited text, another text, no PostgreSQL at all: a range whose hash does
// not match shows no lines under the note's numbers, says why in one line,
// and keeps its permalink; a directory that is not PostgreSQL is a usage
// error; the version warning appears only when it means something.
func TestSourceLinesNeverLie(t *testing.T) {
	patched := strings.Replace(toyC, "sheep++", "sheep += 2", 1)
	notTree := t.TempDir()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dir      string
		code     ExitCode
		lines    bool   // the range's lines are shown
		why      string // in stdout, where the lines would be
		errOut   string // in stderr ("" for nothing about the source)
		notInErr string
	}{
		{name: "the release's text", dir: toyTree(t, "", toyC), code: ExitOK, lines: true, notInErr: "could not confirm"},
		{name: "the release's text, confirmed", dir: toyTree(t, "16.4", toyC), code: ExitOK, lines: true},
		{name: "a patched file", dir: toyTree(t, "", patched), code: ExitOK,
			why:    "toy.c:4-9: lines not shown: in DIR they are not PostgreSQL 16.4's text (sha256 " + toyHash(t, patched, 4, 9) + ", the note's " + toyHash(t, toyC, 4, 9) + ")",
			errOut: "pgwalk: source lines: toy.c:4-9: lines not shown: in DIR they are not PostgreSQL 16.4's text (sha256 " + toyHash(t, patched, 4, 9) + ", the note's " + toyHash(t, toyC, 4, 9) + ") (its release could not be read from configure or meson.build)"},
		{name: "a patched file, release known", dir: toyTree(t, "16.4", patched), code: ExitOK,
			why: "toy.c:4-9: lines not shown", errOut: "pgwalk: source lines: toy.c:4-9: lines not shown", notInErr: "configure"},
		{name: "a shorter file", dir: toyTree(t, "", "one\ntwo\n"), code: ExitOK,
			why: "toy.c:4-9: lines not shown: DIR has only 2 lines in " + toyPath, errOut: "has only 2 lines"},
		{name: "another release", dir: toyTree(t, "17.1", toyC), code: ExitOK,
			errOut: "pgwalk: source lines: DIR is PostgreSQL 17.1 (per configure), not 16.4"},
		{name: "not PostgreSQL", dir: notTree, code: ExitUsage, errOut: "is not a PostgreSQL source tree (no src/backend/postmaster)"},
		{name: "no such directory", dir: filepath.Join(notTree, "nothing"), code: ExitUsage, errOut: "nothing: no such directory"},
		{name: "a file", dir: file, code: ExitUsage, errOut: "is not a directory"},
	}
	for _, cmd := range []struct {
		name  string
		build func(f *Factory) *cobra.Command
		args  []string
	}{
		{"show", showCmd, []string{"fork", "--version", "16.4", "--style", "notty", "--width", "100"}},
		{"run", runCmdDriver, []string{"--version", "16.4", "--driver", "narrate", "--style", "notty", "--width", "100"}},
	} {
		for _, tt := range tests {
			t.Run(cmd.name+"/"+tt.name, func(t *testing.T) {
				r := runCmd(t, toyAllNotes(t), cmd.build, append(cmd.args, "--source", tt.dir)...)
				if tt.code == ExitUsage {
					if r.err == nil || r.code != ExitUsage || !strings.Contains(r.err.Error(), tt.errOut) || r.out != "" {
						t.Fatalf("exit %d, error %v, stdout %q; want exit 2 with %q and nothing shown", r.code, r.err, r.out, tt.errOut)
					}
					return
				}
				if r.code != tt.code {
					t.Fatalf("exit %d (%v), want %d; stderr:\n%s", r.code, r.err, tt.code, r.errOut)
				}
				if got := strings.Contains(r.out, toyRangeLine); got != tt.lines {
					t.Errorf("range lines shown: %v, want %v; stdout:\n%s", got, tt.lines, r.out)
				}
				if tt.lines && !strings.Contains(r.out, toyPath+", lines 4-9") {
					t.Errorf("the range's header is missing; stdout:\n%s", r.out)
				}
				if tt.why != "" {
					why := strings.ReplaceAll(tt.why, "DIR", tt.dir)
					if !strings.Contains(strings.Join(strings.Fields(r.out), " "), why) {
						t.Errorf("stdout does not say %q; stdout:\n%s", why, r.out)
					}
					if !strings.Contains(r.out, "\n  "+toyPermalink+"\n") {
						t.Errorf("the permalink is not kept, unwrapped; stdout:\n%s", r.out)
					}
				}
				want := strings.ReplaceAll(tt.errOut, "DIR", tt.dir)
				if want != "" && strings.Count(r.errOut, want) != 1 {
					t.Errorf("stderr says %q %d times, want once:\n%s", want, strings.Count(r.errOut, want), r.errOut)
				}
				if want == "" && strings.Contains(r.errOut, "source lines") {
					t.Errorf("stderr speaks of the source lines:\n%s", r.errOut)
				}
				if tt.notInErr != "" && strings.Contains(r.errOut, tt.notInErr) {
					t.Errorf("stderr says %q:\n%s", tt.notInErr, r.errOut)
				}
			})
		}
	}
}

// TestSourceViewRealTrees shows every note of every release against the
// PostgreSQL tree or clone of PGWALK_PG_SOURCE (a release tree such as
// /work/pgsrc/16.4 checks the other release's mismatches too). For every
// cited range, the lines appear exactly when the tree's text of the range
// has the note's hash; otherwise the range says why and keeps its
// permalink. Skipped when the variable is not set: the repository holds
// no PostgreSQL source.
func TestSourceViewRealTrees(t *testing.T) {
	dir := os.Getenv("PGWALK_PG_SOURCE")
	if dir == "" {
		t.Skip("PGWALK_PG_SOURCE is not set")
	}
	set, err := annotations.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range walkthrough.Versions() {
		store := source.Open(source.Options{Dir: dir, CacheDir: t.TempDir()})
		if _, err := store.Available(t.Context(), v); err != nil {
			t.Logf("%s: %v", v.Name, err)
			continue
		}
		for _, n := range set.Notes(v.Name, annotations.DefaultLang) {
			t.Run(v.Name+"/"+string(n.Phase), func(t *testing.T) {
				r := runCmd(t, set, showCmd, string(n.Phase), "--version", v.Name, "--source", dir, "--style", "notty", "--width", "120")
				if r.code != ExitOK {
					t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.errOut)
				}
				if strings.Contains(r.errOut, "could not confirm") {
					t.Errorf("a tree whose ranges all have hashes needs no version warning:\n%s", r.errOut)
				}
				failed := 0
				for _, ref := range n.Refs {
					header := fmt.Sprintf("%s, lines %d-%d\n", ref.File, ref.First, ref.Last)
					notShown := ref.String() + ": lines not shown"
					lines, _, err := store.File(t.Context(), v, ref.File)
					match := false
					if err == nil {
						got, herr := source.RangeHash(lines, ref.First, ref.Last)
						match = herr == nil && got == ref.SHA256
					} else {
						notShown = ref.String() + ": not shown"
					}
					if match != strings.Contains(r.out, header) {
						t.Errorf("%s: hash matches %v, lines shown %v", ref, match, !match)
					}
					if !match {
						failed++
						if !strings.Contains(r.out, notShown) || !strings.Contains(r.out, v.Permalink(ref.File, ref.First, ref.Last)) {
							t.Errorf("%s: does not say %q with its permalink:\n%s", ref, notShown, r.out)
						}
					}
				}
				if (failed > 0) != strings.Contains(r.errOut, "pgwalk: source lines: ") {
					t.Errorf("%d ranges failed; stderr:\n%s", failed, r.errOut)
				}
				t.Logf("%s/%s: %d of %d ranges not shown", v.Name, n.Phase, failed, len(n.Refs))
			})
		}
	}
}
