package annotations

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The embedded manifests are the process's catalog of releases. UseCatalog
// only installs the function: nothing is read until a release is looked
// up, and an invalid manifest is an error of that lookup, never a panic.
func init() { walkthrough.UseCatalog(embeddedCatalog) }

// embeddedCatalog is the catalog of the embedded manifests. It reads the
// manifests and looks for each release's notes directory, no more, since
// every pgwalk process (the re-enactment's backends too) builds it.
var embeddedCatalog = sync.OnceValues(func() (*walkthrough.Catalog, error) {
	t, err := openTree(embedded, false)
	if err != nil {
		return nil, fmt.Errorf("the embedded release manifests: %w", err)
	}
	return t.Releases, nil
})

// embeddedNotes is the set of embedded notes, checked against the manifests.
var embeddedNotes = sync.OnceValues(func() (*Set, error) {
	cat, err := embeddedCatalog()
	if err != nil {
		return nil, err
	}
	notes, err := fs.Sub(embedded, "notes")
	if err != nil {
		return nil, err
	}
	s, err := loadNotes(notes, cat)
	if err != nil {
		return nil, err
	}
	for _, r := range cat.Releases() {
		if err := CheckRelease(r, s); err != nil {
			return nil, err
		}
	}
	return s, nil
})

// Tree is a folder laid out as this package's embedded one: the releases'
// manifests and their notes.
//
//	releases/<version>/release.yaml
//	notes/<lang>/<version>/<phase>.md
type Tree struct {
	// Releases are the releases that have a manifest and English notes.
	Releases *walkthrough.Catalog
	// Pending are releases with a manifest and no English notes yet: they
	// are not offered until their notes exist.
	Pending []*walkthrough.Release
	// Notes are the notes of Releases, checked against their manifests.
	Notes *Set
}

// LoadTree reads a Tree from fsys: for example a test's fictional release.
func LoadTree(fsys fs.FS) (*Tree, error) { return openTree(fsys, true) }

// openTree reads the manifests of fsys and, when withNotes is set, its notes.
func openTree(fsys fs.FS, withNotes bool) (*Tree, error) {
	relFS, err := fs.Sub(fsys, "releases")
	if err != nil {
		return nil, err
	}
	rels, err := LoadReleases(relFS)
	if err != nil {
		return nil, err
	}
	t := &Tree{}
	var offered []*walkthrough.Release
	for _, r := range rels {
		st, err := fs.Stat(fsys, path.Join("notes", DefaultLang, r.Version.Name))
		if err == nil && st.IsDir() {
			offered = append(offered, r)
		} else {
			t.Pending = append(t.Pending, r)
		}
	}
	if t.Releases, err = walkthrough.NewCatalog(offered...); err != nil {
		return nil, err
	}
	if !withNotes {
		return t, nil
	}
	notesFS, err := fs.Sub(fsys, "notes")
	if err != nil {
		return nil, err
	}
	if t.Notes, err = loadNotes(notesFS, t.Releases); err != nil {
		return nil, err
	}
	for _, r := range t.Releases.Releases() {
		if err := CheckRelease(r, t.Notes); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// LoadReleases reads and checks every manifest below fsys, laid out as
// <version>/release.yaml, oldest release first.
func LoadReleases(fsys fs.FS) ([]*walkthrough.Release, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("release manifests: %w", err)
	}
	var rels []*walkthrough.Release
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := path.Join(e.Name(), "release.yaml")
		data, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &walkthrough.ManifestError{File: e.Name(), Msg: "a release directory must hold release.yaml"}
		}
		if err != nil {
			return nil, err
		}
		r, err := walkthrough.ParseRelease(name, data)
		if err != nil {
			return nil, err
		}
		if r.Version.Name != e.Name() {
			return nil, &walkthrough.ManifestError{File: name, Field: "release", Msg: fmt.Sprintf("%q does not match the directory %q", r.Version.Name, e.Name())}
		}
		rels = append(rels, r)
	}
	if len(rels) == 0 {
		return nil, errors.New("no release manifests found (expected <version>/release.yaml)")
	}
	cat, err := walkthrough.NewCatalog(rels...)
	if err != nil {
		return nil, err
	}
	return cat.Releases(), nil
}

// ReleaseError says how a release's manifest and its notes disagree.
type ReleaseError struct {
	Release string
	Msg     string
}

func (e *ReleaseError) Error() string { return fmt.Sprintf("release %s: %s", e.Release, e.Msg) }

// CheckRelease checks r's notes in s against r's manifest: every phase of
// r's plans has an English note, and the notes cite exactly the files the
// manifest lists (in any language, only those files).
func CheckRelease(r *walkthrough.Release, s *Set) error {
	name := r.Version.Name
	bad := func(format string, args ...any) error {
		return &ReleaseError{Release: name, Msg: fmt.Sprintf(format, args...)}
	}
	for _, p := range r.Plans {
		for _, st := range p.Narrated() {
			if _, ok := s.notes[key{DefaultLang, name, st.Phase}]; !ok {
				return bad("the %s plan stops at %s, which has no %s note", p.Scenario, st.Phase, DefaultLang)
			}
		}
	}
	cited := map[string]bool{}
	var keys []key
	for k := range s.notes {
		if k.version == name {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return s.notes[keys[i]].Path < s.notes[keys[j]].Path })
	for _, k := range keys {
		n := s.notes[k]
		for _, ref := range n.Refs {
			if !slices.Contains(r.Files, ref.File) {
				return bad("%s cites %s, which the manifest does not list (files: %s)", n.Path, ref.File, strings.Join(r.Files, ", "))
			}
			if k.lang == DefaultLang {
				cited[ref.File] = true
			}
		}
	}
	for _, f := range r.Files {
		if !cited[f] {
			return bad("the manifest lists %s, which no %s note cites", f, DefaultLang)
		}
	}
	return nil
}
