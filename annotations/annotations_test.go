package annotations

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// factRow is one line of facts.tsv: a verified range that a note cites.
type factRow struct {
	Version, Phase, File string
	First, Last          int
	SHA256               string
	Line                 int
}

// factKey groups the rows of one note.
type factKey struct {
	Version string
	Phase   walkthrough.PhaseID
}

// parseFacts reads facts.tsv: '#' lines are comments, every other non-empty
// line has six tab-separated columns.
func parseFacts(data []byte) (map[factKey][]factRow, error) {
	out := map[factKey][]factRow{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 6 {
			return nil, fmt.Errorf("facts.tsv:%d: %d columns, want 6", n, len(cols))
		}
		first, err := strconv.Atoi(cols[3])
		if err != nil {
			return nil, fmt.Errorf("facts.tsv:%d: first: %w", n, err)
		}
		last, err := strconv.Atoi(cols[4])
		if err != nil {
			return nil, fmt.Errorf("facts.tsv:%d: last: %w", n, err)
		}
		r := factRow{Version: cols[0], Phase: cols[1], File: cols[2], First: first, Last: last, SHA256: cols[5], Line: n}
		k := factKey{r.Version, walkthrough.PhaseID(r.Phase)}
		out[k] = append(out[k], r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func loadFacts(t *testing.T) map[factKey][]factRow {
	t.Helper()
	data, err := os.ReadFile("facts.tsv")
	if err != nil {
		t.Fatal(err)
	}
	facts, err := parseFacts(data)
	if err != nil {
		t.Fatal(err)
	}
	return facts
}

func loadDefault(t *testing.T) *Set {
	t.Helper()
	s, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return s
}

func TestDefaultHasEveryNote(t *testing.T) {
	s := loadDefault(t)
	for _, v := range walkthrough.Versions() {
		for _, p := range walkthrough.Phases() {
			t.Run(v.Name+"/"+string(p.ID), func(t *testing.T) {
				n, fellBack, err := s.Note(v.Name, p.ID, DefaultLang)
				if err != nil {
					t.Fatal(err)
				}
				if fellBack {
					t.Errorf("fellBack = true for the default language")
				}
				if n.Lang != DefaultLang || n.Version != v.Name || n.Phase != p.ID {
					t.Errorf("got note %s/%s/%s, want %s/%s/%s", n.Lang, n.Version, n.Phase, DefaultLang, v.Name, p.ID)
				}
				if want := DefaultLang + "/" + v.Name + "/" + string(p.ID) + ".md"; n.Path != want {
					t.Errorf("Path = %q, want %q", n.Path, want)
				}
				if strings.TrimSpace(n.Body) == "" {
					t.Errorf("empty body")
				}
			})
		}
		t.Run(v.Name+"/order", func(t *testing.T) {
			notes := s.Notes(v.Name, DefaultLang)
			if len(notes) != len(walkthrough.Phases()) {
				t.Fatalf("Notes returned %d notes, want %d", len(notes), len(walkthrough.Phases()))
			}
			for i, p := range walkthrough.Phases() {
				if notes[i].Phase != p.ID {
					t.Errorf("Notes()[%d] = %s, want %s", i, notes[i].Phase, p.ID)
				}
			}
		})
	}
}

func TestRefsMatchFacts(t *testing.T) {
	s := loadDefault(t)
	facts := loadFacts(t)
	seen := map[factKey]bool{}
	for _, v := range walkthrough.Versions() {
		for _, p := range walkthrough.Phases() {
			k := factKey{v.Name, p.ID}
			seen[k] = true
			t.Run(v.Name+"/"+string(p.ID), func(t *testing.T) {
				n, _, err := s.Note(v.Name, p.ID, DefaultLang)
				if err != nil {
					t.Fatal(err)
				}
				want := facts[k]
				if len(want) == 0 {
					t.Fatalf("facts.tsv has no row for %s %s", v.Name, p.ID)
				}
				if len(n.Refs) != len(want) {
					t.Fatalf("%s cites %d ranges, facts.tsv has %d", n.Path, len(n.Refs), len(want))
				}
				for i, r := range n.Refs {
					w := want[i]
					if r.File != w.File || r.First != w.First || r.Last != w.Last || r.SHA256 != w.SHA256 {
						t.Errorf("%s refs[%d] = %s %d-%d %s, facts.tsv:%d = %s %d-%d %s",
							n.Path, i, r.File, r.First, r.Last, r.SHA256, w.Line, w.File, w.First, w.Last, w.SHA256)
					}
					if len(r.Symbols) == 0 {
						t.Errorf("%s refs[%d] (%s) lists no symbols", n.Path, i, r)
					}
					if r.Label == "" {
						t.Errorf("%s refs[%d] (%s) has no label", n.Path, i, r)
					}
				}
			})
		}
	}
	t.Run("no stray rows", func(t *testing.T) {
		for k, rows := range facts {
			if !seen[k] {
				t.Errorf("facts.tsv:%d: %s %s is not a phase of a supported version", rows[0].Line, k.Version, k.Phase)
			}
		}
	})
}

func TestParseFacts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		rows    int
		wantErr string
	}{
		{"comments and blank lines", "# c\n\n16.4\tfork\ta.c\t1\t2\t0123456789abcdef\n", 1, ""},
		{"five columns", "16.4\tfork\ta.c\t1\t2\n", 0, "columns"},
		{"bad first", "16.4\tfork\ta.c\tx\t2\t0123456789abcdef\n", 0, "first"},
		{"bad last", "16.4\tfork\ta.c\t1\ty\t0123456789abcdef\n", 0, "last"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFacts([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, rows := range got {
				n += len(rows)
			}
			if n != tt.rows {
				t.Errorf("%d rows, want %d", n, tt.rows)
			}
		})
	}
}

// noteText builds a note file from front matter fields; an empty value
// leaves the field out.
func noteText(phase, version, first, last, sha string) string {
	var b strings.Builder
	b.WriteString("---\n")
	if phase != "" {
		fmt.Fprintf(&b, "phase: %s\n", phase)
	}
	b.WriteString("title: A title\n")
	if version != "" {
		fmt.Fprintf(&b, "version: %q\n", version)
	}
	fmt.Fprintf(&b, "refs:\n  - file: src/backend/postmaster/postmaster.c\n    first: %s\n    last: %s\n    sha256: %q\n    symbols: [a_symbol]\n", first, last, sha)
	b.WriteString("---\nSome body text.\n")
	return b.String()
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, text := range files {
		m[p] = &fstest.MapFile{Data: []byte(text)}
	}
	return m
}

const goodSHA = "0123456789abcdef"

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantFile  string
		wantField string
	}{
		{
			name:      "unknown phase",
			files:     map[string]string{"en/16.4/fork.md": noteText("forking", "16.4", "10", "20", goodSHA)},
			wantFile:  "en/16.4/fork.md",
			wantField: "phase",
		},
		{
			name:      "phase given as its number",
			files:     map[string]string{"en/16.4/fork.md": noteText("3", "16.4", "10", "20", goodSHA)},
			wantFile:  "en/16.4/fork.md",
			wantField: "phase",
		},
		{
			name:      "epilogue is no phase with a note",
			files:     map[string]string{"en/16.4/epilogue.md": noteText("epilogue", "16.4", "10", "20", goodSHA)},
			wantFile:  "en/16.4/epilogue.md",
			wantField: "phase",
		},
		{
			name:      "missing phase",
			files:     map[string]string{"en/16.4/fork.md": noteText("", "16.4", "10", "20", goodSHA)},
			wantFile:  "en/16.4/fork.md",
			wantField: "phase",
		},
		{
			name:      "missing version",
			files:     map[string]string{"en/16.4/fork.md": noteText("fork", "", "10", "20", goodSHA)},
			wantFile:  "en/16.4/fork.md",
			wantField: "version",
		},
		{
			name:      "unknown version",
			files:     map[string]string{"en/15.2/fork.md": noteText("fork", "15.2", "10", "20", goodSHA)},
			wantFile:  "en/15.2/fork.md",
			wantField: "version",
		},
		{
			name:      "major version only",
			files:     map[string]string{"en/16/fork.md": noteText("fork", "16", "10", "20", goodSHA)},
			wantFile:  "en/16/fork.md",
			wantField: "version",
		},
		{
			name:      "version not matching directory",
			files:     map[string]string{"en/17.1/fork.md": noteText("fork", "16.4", "10", "20", goodSHA)},
			wantFile:  "en/17.1/fork.md",
			wantField: "version",
		},
		{
			name:      "inverted range",
			files:     map[string]string{"en/16.4/fork.md": noteText("fork", "16.4", "20", "10", goodSHA)},
			wantFile:  "en/16.4/fork.md",
			wantField: "refs[0].last",
		},
		{
			name:      "line zero",
			files:     map[string]string{"en/16.4/fork.md": noteText("fork", "16.4", "0", "10", goodSHA)},
			wantFile:  "en/16.4/fork.md",
			wantField: "refs[0].first",
		},
		{
			name:      "sha256 too short",
			files:     map[string]string{"en/16.4/fork.md": noteText("fork", "16.4", "10", "20", "0123456789abcde")},
			wantFile:  "en/16.4/fork.md",
			wantField: "refs[0].sha256",
		},
		{
			name:      "sha256 not lowercase hex",
			files:     map[string]string{"en/16.4/fork.md": noteText("fork", "16.4", "10", "20", "0123456789ABCDEF")},
			wantFile:  "en/16.4/fork.md",
			wantField: "refs[0].sha256",
		},
		{
			name:      "sha256 missing",
			files:     map[string]string{"en/16.4/fork.md": noteText("fork", "16.4", "10", "20", "")},
			wantFile:  "en/16.4/fork.md",
			wantField: "refs[0].sha256",
		},
		{
			name: "duplicate phase",
			files: map[string]string{
				"en/16.4/fork.md":  noteText("fork", "16.4", "10", "20", goodSHA),
				"en/16.4/fork2.md": noteText("fork", "16.4", "30", "40", goodSHA),
			},
			wantFile:  "en/16.4/fork2.md",
			wantField: "phase",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(mapFS(tt.files))
			if err == nil {
				t.Fatal("Load accepted the notes")
			}
			var ne *NoteError
			if !errors.As(err, &ne) {
				t.Fatalf("error %v (%T) is not a *NoteError", err, err)
			}
			if ne.File != tt.wantFile || ne.Field != tt.wantField {
				t.Errorf("NoteError{File: %q, Field: %q}, want {%q, %q}", ne.File, ne.Field, tt.wantFile, tt.wantField)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantFile) || !strings.Contains(msg, tt.wantField) {
				t.Errorf("message %q does not name the file and the field", msg)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	files := map[string]string{
		"README.txt":       "not a note",
		"en/16.4/fork.md":  noteText("fork", "16.4", "10", "20", goodSHA),
		"en/17.1/fork.md":  noteText("fork", "17.1", "10", "10", goodSHA),
		"ko/16.4/child.md": noteText("child", "16.4", "1", "2", goodSHA),
		"en/16.4/child.md": strings.ReplaceAll(noteText("child", "16.4", "1", "2", goodSHA), "\n", "\r\n"),
	}
	s, err := Load(mapFS(files))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		version      string
		phase        walkthrough.PhaseID
		lang         string
		wantLang     string
		wantFellBack bool
		wantErr      bool
	}{
		{"english", "16.4", walkthrough.Fork, "en", "en", false, false},
		{"empty lang means english", "17.1", walkthrough.Fork, "", "en", false, false},
		{"korean note", "16.4", walkthrough.Child, "ko", "ko", false, false},
		{"korean falls back to english", "16.4", walkthrough.Fork, "ko", "en", true, false},
		{"crlf note", "16.4", walkthrough.Child, "en", "en", false, false},
		{"no such note", "17.1", walkthrough.Child, "en", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, fellBack, err := s.Note(tt.version, tt.phase, tt.lang)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got note %s, want an error", n.Path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Lang != tt.wantLang || fellBack != tt.wantFellBack {
				t.Errorf("lang %s fellBack %v, want %s %v", n.Lang, fellBack, tt.wantLang, tt.wantFellBack)
			}
			if n.Body != "Some body text.\n" {
				t.Errorf("Body = %q", n.Body)
			}
		})
	}
	t.Run("langs", func(t *testing.T) {
		if got := strings.Join(s.Langs(), ","); got != "en,ko" {
			t.Errorf("Langs = %s, want en,ko", got)
		}
	})
	t.Run("empty tree", func(t *testing.T) {
		if _, err := Load(fstest.MapFS{"README.txt": {Data: []byte("x")}}); err == nil {
			t.Error("Load of a tree without notes succeeded")
		}
	})
	t.Run("note outside <lang>/<version>", func(t *testing.T) {
		_, err := Load(mapFS(map[string]string{"fork.md": noteText("fork", "16.4", "1", "2", goodSHA)}))
		var ne *NoteError
		if !errors.As(err, &ne) || ne.File != "fork.md" {
			t.Errorf("err = %v, want a NoteError for fork.md", err)
		}
	})
}

// fencedBlock is one fenced code block of a Markdown body.
type fencedBlock struct {
	Info  string
	Lines int
	Start int
}

// fencedBlocks returns the fenced code blocks of body (``` or ~~~ fences).
func fencedBlocks(body string) []fencedBlock {
	var out []fencedBlock
	var cur *fencedBlock
	fence := ""
	for i, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			for _, f := range []string{"```", "~~~"} {
				if strings.HasPrefix(trimmed, f) {
					fence = f
					cur = &fencedBlock{Info: strings.TrimSpace(strings.TrimLeft(trimmed, f[:1])), Start: i + 1}
					break
				}
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		cur.Lines++
	}
	if cur != nil {
		out = append(out, *cur) // an unclosed fence runs to the end
	}
	return out
}

// maxCLines is the longest fenced C block a note may hold: notes cite lines,
// they do not quote PostgreSQL's source.
const maxCLines = 4

// longCBlocks returns the fenced blocks of body that may hold C (info string
// c, h, or none) and are longer than maxCLines.
func longCBlocks(body string) []fencedBlock {
	var out []fencedBlock
	for _, b := range fencedBlocks(body) {
		lang := strings.ToLower(strings.Fields(b.Info + " x")[0])
		if (b.Info == "" || lang == "c" || lang == "h") && b.Lines > maxCLines {
			out = append(out, b)
		}
	}
	return out
}

var permalinkRE = regexp.MustCompile(`https://github\.com/postgres/postgres/blob/([^/\s)]+)/`)

// wrongTags returns the tags of permalinks in body that are not tag.
func wrongTags(body, tag string) []string {
	var out []string
	for _, m := range permalinkRE.FindAllStringSubmatch(body, -1) {
		if m[1] != tag {
			out = append(out, m[1])
		}
	}
	return out
}

func TestBodyCheckers(t *testing.T) {
	long := "```c\n1\n2\n3\n4\n5\n```\n"
	tests := []struct {
		name     string
		body     string
		wantLong int
	}{
		{"no blocks", "text only\n", 0},
		{"short c block", "```c\n1\n2\n3\n4\n```\n", 0},
		{"long c block", long, 1},
		{"long untyped block", "```\n1\n2\n3\n4\n5\n```\n", 1},
		{"long tilde block", "~~~C\n1\n2\n3\n4\n5\n~~~\n", 1},
		{"long shell block", "```sh\n1\n2\n3\n4\n5\n```\n", 0},
		{"unclosed long block", "```c\n1\n2\n3\n4\n5\n", 1},
		{"two blocks, one long", "```c\n1\n```\ntext\n" + long, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(longCBlocks(tt.body)); got != tt.wantLong {
				t.Errorf("longCBlocks found %d, want %d", got, tt.wantLong)
			}
		})
	}
	t.Run("wrong tag", func(t *testing.T) {
		body := "[a](https://github.com/postgres/postgres/blob/REL_16_4/x.c#L1-L2) [b](https://github.com/postgres/postgres/blob/master/x.c#L1-L2)"
		if got := wrongTags(body, "REL_16_4"); len(got) != 1 || got[0] != "master" {
			t.Errorf("wrongTags = %v, want [master]", got)
		}
	})
}

// vocabulary is the observed-value names the notes may point the reader at.
var vocabulary = []string{
	"postmaster_pid", "child_pid", "cancel_key", "can_accept", "dead_end",
	"child_slot", "fds_before", "fds_after", "closed_fds", "backend_list",
	"client_backend_key", "errno", "fork_return",
}

func TestNoteBodies(t *testing.T) {
	s := loadDefault(t)
	for _, v := range walkthrough.Versions() {
		for _, n := range s.Notes(v.Name, DefaultLang) {
			t.Run(v.Name+"/"+string(n.Phase), func(t *testing.T) {
				for i, r := range n.Refs {
					if link := v.Permalink(r.File, r.First, r.Last); !strings.Contains(n.Body, link) {
						t.Errorf("refs[%d] %s: body has no permalink %s", i, r, link)
					}
				}
				if bad := wrongTags(n.Body, v.Tag); len(bad) > 0 {
					t.Errorf("permalinks at %v, want only %s", bad, v.Tag)
				}
				for _, b := range longCBlocks(n.Body) {
					t.Errorf("fenced block at body line %d has %d lines (at most %d)", b.Start, b.Lines, maxCLines)
				}
				_, look, ok := strings.Cut(n.Body, "## What to look at")
				if !ok {
					t.Fatalf("no \"## What to look at\" section")
				}
				named := 0
				for _, w := range vocabulary {
					if strings.Contains(look, "`"+w+"`") {
						named++
					}
				}
				if named == 0 {
					t.Errorf("\"What to look at\" names no observed value (%s)", strings.Join(vocabulary, ", "))
				}
				if n.Phase == walkthrough.Fork {
					for _, want := range []string{"fork+exec", "EXEC_BACKEND", "not a trick", "live driver"} {
						if !strings.Contains(n.Body, want) {
							t.Errorf("the fork note does not say %q", want)
						}
					}
				}
			})
		}
	}
}

// The registration notes must put the BackendList push on its real line, not
// on the EXEC_BACKEND-only shared-array lines after it.
func TestBackendListPushLine(t *testing.T) {
	s := loadDefault(t)
	tests := []struct {
		version string
		push    string
	}{
		{"16.4", "Line 4222"},
		{"17.1", "Line 3622"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			n, _, err := s.Note(tt.version, walkthrough.ParentRegistration, DefaultLang)
			if err != nil {
				t.Fatal(err)
			}
			i := strings.Index(n.Body, tt.push)
			if i < 0 {
				t.Fatalf("note does not cite %q", tt.push)
			}
			if !strings.Contains(n.Body[i:min(i+200, len(n.Body))], "BackendList") {
				t.Errorf("%q is not followed by BackendList", tt.push)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	valid, err := os.ReadFile("notes/en/16.4/fork.md")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(bytes.ReplaceAll(valid, []byte("\n"), []byte("\r\n")))
	f.Add([]byte(noteText("child", "17.1", "1", "1", goodSHA)))
	f.Add([]byte(noteText("child", "17.1", "9", "1", goodSHA)))
	f.Add([]byte(noteText("3", "17.1", "1", "2", goodSHA)))
	f.Add([]byte(noteText("fork", "16", "1", "2", goodSHA)))
	f.Add([]byte(noteText("fork", "16.4", "1", "2", "xyz")))
	f.Add([]byte(""))
	f.Add([]byte("---\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("---\n\n---"))
	f.Add([]byte("---\nphase: fork\nversion: \"16.4\"\ntitle: t\nrefs: []\n---\n"))
	f.Add([]byte("---\nphase: [1, 2]\n---\nbody"))
	f.Add([]byte("---\nunknown: field\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.md"
		n, err := Parse(name, data)
		if err != nil {
			if n != nil {
				t.Errorf("Parse returned a note and the error %v", err)
			}
			var ne *NoteError
			if !errors.As(err, &ne) || ne.File != name {
				t.Errorf("error %v is not a NoteError for %s", err, name)
			}
			return
		}
		if n == nil {
			t.Fatal("Parse returned neither a note nor an error")
		}
		p, perr := walkthrough.LookupPhase(string(n.Phase))
		if perr != nil || p.ID != n.Phase {
			t.Errorf("accepted phase %q", n.Phase)
		}
		if v, verr := walkthrough.LookupVersion(n.Version); verr != nil || v.Name != n.Version {
			t.Errorf("accepted version %q", n.Version)
		}
		if n.Title == "" || len(n.Refs) == 0 {
			t.Errorf("accepted a note without title or refs: %+v", n)
		}
		for i, r := range n.Refs {
			if r.File == "" || r.First < 1 || r.Last < r.First {
				t.Errorf("refs[%d]: accepted range %q %d-%d", i, r.File, r.First, r.Last)
			}
			if len(r.SHA256) != 16 || strings.Trim(r.SHA256, "0123456789abcdef") != "" {
				t.Errorf("refs[%d]: accepted sha256 %q", i, r.SHA256)
			}
		}
	})
}
