package annotations

import (
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// fictionalDir holds a release that exists only in the tests: a manifest,
// notes and facts (see walkthrough/testdata/fictional).
const fictionalDir = "../walkthrough/testdata/fictional"

func TestEmbeddedReleases(t *testing.T) {
	cat, err := embeddedCatalog()
	if err != nil {
		t.Fatal(err)
	}
	def, err := walkthrough.DefaultCatalog()
	if err != nil || def != cat {
		t.Fatalf("the process's catalog is %p (%v), want the embedded one", def, err)
	}
	for _, want := range []string{"16.4", "17.1"} {
		if _, err := cat.Lookup(want); err != nil {
			t.Errorf("%s is not offered: %v", want, err)
		}
	}
	// Every manifest is offered, or pending because it has no English
	// notes yet: none is dropped for another reason.
	entries, err := fs.ReadDir(embedded, "releases")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := openTree(embedded, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		_, offered := cat.Lookup(name)
		pending := slices.ContainsFunc(tree.Pending, func(r *walkthrough.Release) bool { return r.Version.Name == name })
		_, notesErr := fs.Stat(embedded, path.Join("notes", DefaultLang, name))
		switch {
		case offered == nil && pending:
			t.Errorf("%s is both offered and pending", name)
		case offered != nil && !pending:
			t.Errorf("%s is neither offered nor pending: %v", name, offered)
		case pending && notesErr == nil:
			t.Errorf("%s has English notes but is pending", name)
		case pending:
			t.Logf("%s has a manifest and no notes yet: not offered", name)
		}
	}
	if _, err := Default(); err != nil {
		t.Errorf("the embedded notes do not hold against the manifests: %v", err)
	}
}

func TestFictionalRelease(t *testing.T) {
	tree, err := LoadTree(os.DirFS(fictionalDir))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tree.Releases.Lookup("99.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Releases.Names()) != 1 || len(tree.Pending) != 0 {
		t.Errorf("releases %v, pending %d: want 99.1 alone", tree.Releases.Names(), len(tree.Pending))
	}
	plan, _ := r.Plan("")
	for _, s := range plan.Narrated() {
		if _, _, err := tree.Notes.Note("99.1", s.Phase, DefaultLang); err != nil {
			t.Errorf("no note for the planned stop %s: %v", s.Phase, err)
		}
	}
	// Its facts.tsv holds exactly the ranges its notes cite.
	data, err := os.ReadFile(path.Join(fictionalDir, "facts.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	facts, err := parseFacts(data)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, n := range tree.Notes.Notes("99.1", DefaultLang) {
		want := facts[factKey{"99.1", n.Phase}]
		if len(want) != len(n.Refs) {
			t.Errorf("%s cites %d ranges, facts.tsv has %d", n.Path, len(n.Refs), len(want))
			continue
		}
		for i, ref := range n.Refs {
			w := want[i]
			if ref.File != w.File || ref.First != w.First || ref.Last != w.Last || ref.SHA256 != w.SHA256 {
				t.Errorf("%s refs[%d] = %s, facts.tsv:%d = %s %d-%d", n.Path, i, ref, w.Line, w.File, w.First, w.Last)
			}
		}
		rows += len(want)
	}
	total := 0
	for _, rs := range facts {
		total += len(rs)
	}
	if rows != total {
		t.Errorf("facts.tsv has %d rows, the notes cite %d", total, rows)
	}
	// The fictional release is not one of pgwalk's.
	if _, err := walkthrough.LookupVersion("99.1"); err == nil {
		t.Error("99.1 leaked into the process's catalog")
	}
}

// fictionalFS returns the fictional tree in memory, with edit applied.
func fictionalFS(t *testing.T, edit func(fstest.MapFS)) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(fictionalDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path.Join(fictionalDir, p))
		m[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	return m
}

func replaceIn(t *testing.T, m fstest.MapFS, file, old, new string) {
	t.Helper()
	f, ok := m[file]
	if !ok || !strings.Contains(string(f.Data), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	m[file] = &fstest.MapFile{Data: []byte(strings.Replace(string(f.Data), old, new, 1))}
}

func TestLoadTreeRejects(t *testing.T) {
	const manifest = "releases/99.1/release.yaml"
	tests := []struct {
		name string
		edit func(t *testing.T, m fstest.MapFS)
		want string
	}{
		{"a note citing an unlisted file", func(t *testing.T, m fstest.MapFS) {
			replaceIn(t, m, "notes/en/99.1/child.md", "file: src/backend/postmaster/childstart.c", "file: src/backend/postmaster/other.c")
		}, "release 99.1: en/99.1/child.md cites src/backend/postmaster/other.c, which the manifest does not list"},
		{"a listed file no note cites", func(t *testing.T, m fstest.MapFS) {
			replaceIn(t, m, manifest, "files:\n", "files:\n  - src/include/extra.h\n")
		}, "lists src/include/extra.h, which no en note cites"},
		{"a planned stop with no note", func(t *testing.T, m fstest.MapFS) {
			delete(m, "notes/en/99.1/fork-failure.md")
		}, "stops at fork-failure, which has no en note"},
		{"a translation citing an unlisted file", func(t *testing.T, m fstest.MapFS) {
			data := strings.Replace(string(m["notes/en/99.1/fork.md"].Data), "fork_process.c", "fork_other.c", 1)
			m["notes/ko/99.1/fork.md"] = &fstest.MapFile{Data: []byte(data)}
		}, "ko/99.1/fork.md cites src/backend/postmaster/fork_other.c"},
		{"a note of a release with no manifest", func(t *testing.T, m fstest.MapFS) {
			data := strings.Replace(string(m["notes/en/99.1/fork.md"].Data), `version: "99.1"`, `version: "99.2"`, 1)
			m["notes/en/99.2/fork.md"] = &fstest.MapFile{Data: []byte(data)}
		}, "unknown version \"99.2\" (supported: 99.1)"},
		{"a manifest in the wrong directory", func(t *testing.T, m fstest.MapFS) {
			m["releases/99.2/release.yaml"] = m[manifest]
		}, "\"99.1\" does not match the directory \"99.2\""},
		{"a release directory with no manifest", func(t *testing.T, m fstest.MapFS) {
			m["releases/99.3/README"] = &fstest.MapFile{Data: []byte("x")}
		}, "99.3: a release directory must hold release.yaml"},
		{"an invalid manifest", func(t *testing.T, m fstest.MapFS) {
			replaceIn(t, m, manifest, "made_in: postmaster", "made_in: kernel")
		}, "99.1/release.yaml: facts.cancel_key.made_in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fictionalFS(t, func(m fstest.MapFS) { tt.edit(t, m) })
			_, err := LoadTree(m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("a manifest without notes is pending", func(t *testing.T) {
		m := fictionalFS(t, func(m fstest.MapFS) {
			data := strings.NewReplacer(`release: "99.1"`, `release: "99.2"`, "REL_99_1", "REL_99_2").Replace(string(m[manifest].Data))
			m["releases/99.2/release.yaml"] = &fstest.MapFile{Data: []byte(data)}
		})
		tree, err := LoadTree(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(tree.Pending) != 1 || tree.Pending[0].Version.Name != "99.2" || len(tree.Releases.Names()) != 1 {
			t.Errorf("offered %v, pending %v: want 99.1 offered and 99.2 pending", tree.Releases.Names(), tree.Pending)
		}
	})
}
