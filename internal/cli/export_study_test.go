package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportSourceFlags(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	junk := writeTree(t, strings.Repeat("not PostgreSQL's text\n", 7000))
	tests := []struct {
		name     string
		args     []string
		wantCode ExitCode
		want     []string // in stdout
		notWant  []string
		wantErr  string // in stderr
	}{
		{name: "slides", args: []string{"--version", "16.4", "--format", "slides"},
			want: []string{`<section class="slide" id="fork">`, "break-after: page", "<script>", "Questions</h3>"}},
		{name: "study and glossary in md", args: []string{"--version", "17.1"},
			want: []string{"### Questions", "### Try this", "## Glossary", "[PMChildSlot (child slot)](#pmchildslot-child-slot)"}},
		{name: "codetour has no study", args: []string{"--version", "16.4", "--format", "codetour"}, notWant: []string{"Questions"}},
		{name: "no source", args: []string{"--version", "16.4", "--source-lines"}, wantCode: ExitFailure,
			wantErr: "--source-lines: no source for PostgreSQL 16.4: pass --source DIR (a PostgreSQL tree or git clone) or run `pgwalk source fetch --version 16.4`"},
		{name: "codetour refuses lines", args: []string{"--version", "16.4", "--format", "codetour", "--source-lines"}, wantCode: ExitUsage, wantErr: "use it with md, html or slides"},
		{name: "source implies lines", args: []string{"--version", "16.4", "--format", "codetour", "--source", junk}, wantCode: ExitUsage, wantErr: "use it with md, html or slides"},
		{name: "not a tree", args: []string{"--version", "16.4", "--source", t.TempDir()}, wantCode: ExitUsage, wantErr: "not a PostgreSQL source tree"},
		{name: "wrong tree", args: []string{"--version", "16.4", "--source", junk},
			want: []string{
				"*postmaster.c:4165-4168 · fork, or fork+exec in EXEC_BACKEND builds: lines not shown: in " + junk + " they are not PostgreSQL 16.4's text (sha256 ",
				"<https://github.com/postgres/postgres/blob/REL_16_4/src/backend/postmaster/postmaster.c#L4165-L4168>",
			},
			notWant: []string{"```c"},
			wantErr: "cited ranges are not shown; the document says why in their place"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runExportCmd(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("document lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("document has %q", w)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want %q", errOut, tt.wantErr)
			}
		})
	}
}

// TestExportSourceReal puts the cited lines of the release whose text
// PGWALK_PG_SOURCE holds into a handout (skipped when it is not set: the
// repository holds no PostgreSQL source).
func TestExportSourceReal(t *testing.T) {
	dir := os.Getenv("PGWALK_PG_SOURCE")
	if dir == "" {
		t.Skip("PGWALK_PG_SOURCE is not set")
	}
	for _, format := range []string{"md", "html", "slides"} {
		t.Run(format, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "doc")
			shown := 0
			for _, v := range []string{"16.4", "17.1"} {
				_, errOut, code := runExportCmd(t, "", "--version", v, "--format", format, "--source", dir, "--out", file)
				if code != ExitOK {
					t.Fatalf("%s: exit %d: %s", v, code, errOut)
				}
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				doc := string(data)
				if strings.Contains(errOut, "source lines:") {
					// Another release's tree: some ranges are not shown.
					continue
				}
				shown++
				if !strings.Contains(doc, "```c") && !strings.Contains(doc, `<code class="language-c">`) {
					t.Errorf("%s: every range matched, yet no lines are in the document", v)
				}
			}
			if shown == 0 {
				t.Skipf("%s matches neither 16.4 nor 17.1 in full", dir)
			}
		})
	}
}
