package source

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// demoPath is where the fixture file lives in a fixture tree. The file is
// a toy written for these tests, not PostgreSQL's text.
const demoPath = "src/backend/postmaster/demo.c"

// demoC is the fixture file: 24 lines of a made-up ticket dispenser.
const demoC = `/* demo.c: a toy ticket dispenser for pgwalk's tests */
#include <stdio.h>

struct ticket
{
	int			number;
	int			window;
};

static int	next_number = 1;

static int
take_ticket(struct ticket *t, int window)
{
	if (window < 0)
		return -1;
	t->number = next_number++;
	t->window = window;
	return 0;
}

int
main(void)
{
`

// otherPath is a second cited file.
const otherPath = "src/backend/tcop/other.c"

const otherC = "int\nanswer(void)\n{\n\treturn 42;\n}\n"

var (
	v16 = walkthrough.Version{Name: "16.4", Tag: "REL_16_4", Major: 16}
	v17 = walkthrough.Version{Name: "17.1", Tag: "REL_17_1", Major: 17}
)

// hashOf returns the range hash of lines first..last of content.
func hashOf(t *testing.T, content string, first, last int) string {
	t.Helper()
	h, err := RangeHash(SplitLines([]byte(content)), first, last)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fixtureNotes returns notes of 16.4 that cite demo.c 12-20 (take_ticket)
// and other.c 1-5, in English and Korean, with hashes of the fixture files.
func fixtureNotes(t *testing.T) *annotations.Set {
	t.Helper()
	note := func(phase, extra string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("---\nphase: " + phase + "\ntitle: T\nversion: \"16.4\"\nrefs:\n" + extra + "---\nbody\n")}
	}
	demo := "  - file: " + demoPath + "\n    first: 12\n    last: 20\n    sha256: " + hashOf(t, demoC, 12, 20) + "\n    symbols: [take_ticket, next_number]\n"
	other := "  - file: " + otherPath + "\n    first: 1\n    last: 5\n    sha256: " + hashOf(t, otherC, 1, 5) + "\n    symbols: [answer]\n"
	set, err := annotations.Load(fstest.MapFS{
		"en/16.4/fork.md":  note("fork", demo),
		"en/16.4/child.md": note("child", other),
		"ko/16.4/fork.md":  note("fork", demo),
	})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// allNotes returns every note of set for v, in every language.
func allNotes(set *annotations.Set, v walkthrough.Version) []*annotations.Note {
	var out []*annotations.Note
	for _, l := range set.Langs() {
		out = append(out, set.Notes(v.Name, l)...)
	}
	return out
}

// writeTree writes files (slash path → content) below dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixtureTree writes a plain fixture tree whose configure says version.
func fixtureTree(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{demoPath: demoC, otherPath: otherC}
	if version != "" {
		files["configure"] = "#! /bin/sh\nPACKAGE_NAME='PostgreSQL'\nPACKAGE_VERSION='" + version + "'\n"
	}
	writeTree(t, dir, files)
	return dir
}

// runGit runs git in dir with a private configuration.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fixtureGit makes a git repository whose tag REL_16_4 holds the fixture
// files, then edits demo.c in the work tree after the tag (so that reading
// the work tree instead of the tag would show).
func fixtureGit(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := fixtureTree(t, "")
	runGit(t, dir, "init", "-q")
	runGit(t, dir, "add", ".")
	runGit(t, dir, "commit", "-q", "-m", "fixture")
	runGit(t, dir, "tag", "REL_16_4")
	writeTree(t, dir, map[string]string{demoPath: strings.Replace(demoC, "next_number++", "next_number += 2", 1)})
	return dir
}
