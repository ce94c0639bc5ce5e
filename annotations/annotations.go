// Package annotations owns what pgwalk knows about each PostgreSQL release:
// its manifest (releases/<version>/release.yaml: the facts drivers read and
// the stops they report, see walkthrough.Release), its notes (one Markdown
// file per phase, version and language, with front matter that cites the
// exact source line ranges the note is about) and the texts that compare
// two releases (diff/<lang>/<from>..<to>/<phase>.md). All of it is embedded
// in the binary, and the package installs the embedded manifests as the
// process's catalog of releases (walkthrough.UseCatalog).
//
// A note lives at notes/<lang>/<version>/<phase>.md and starts with YAML
// front matter:
//
//	---
//	phase: fork
//	title: Fork
//	version: "16.4"
//	refs:
//	  - file: src/backend/postmaster/postmaster.c
//	    first: 4165
//	    last: 4168
//	    sha256: 663ff346674346c5
//	    symbols: [fork_process, backend_forkexec]
//	---
package annotations

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

//go:embed notes releases glossary study
var embedded embed.FS

// DefaultLang is the language every phase has a note in.
const DefaultLang = "en"

// Ref is one cited source range.
type Ref struct {
	// File is the path in PostgreSQL's tree: src/backend/postmaster/postmaster.c.
	File string `yaml:"file" json:"file"`
	// First and Last are the cited lines, inclusive, counted from 1.
	First int `yaml:"first" json:"first"`
	Last  int `yaml:"last" json:"last"`
	// SHA256 is the first 16 hex digits of the SHA-256 of lines First..Last,
	// each ending in a newline.
	SHA256 string `yaml:"sha256" json:"sha256"`
	// Symbols are identifiers that appear in the range.
	Symbols []string `yaml:"symbols" json:"symbols,omitempty"`
	// Label says what the range is, in a few words.
	Label string `yaml:"label" json:"label,omitempty"`
}

// String returns "postmaster.c:4165-4168".
func (r Ref) String() string {
	return fmt.Sprintf("%s:%d-%d", path.Base(r.File), r.First, r.Last)
}

// Note is one phase's note for one version in one language.
type Note struct {
	Phase   walkthrough.PhaseID `yaml:"phase"`
	Title   string              `yaml:"title"`
	Version string              `yaml:"version"`
	Refs    []Ref               `yaml:"refs"`
	// Lang is the language, from the note's directory.
	Lang string `yaml:"-"`
	// Body is the Markdown after the front matter.
	Body string `yaml:"-"`
	// Path is the file the note was read from.
	Path string `yaml:"-"`
}

// NoteError says what is wrong with one note file.
type NoteError struct {
	File  string
	Field string
	Msg   string
}

func (e *NoteError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: field %s: %s", e.File, e.Field, e.Msg)
}

type key struct {
	lang, version string
	phase         walkthrough.PhaseID
}

// Set is a loaded collection of notes.
type Set struct {
	notes map[key]*Note
	langs map[string]bool
}

// Default returns the notes embedded in pgwalk, checked against the
// embedded release manifests (see CheckRelease).
func Default() (*Set, error) { return embeddedNotes() }

// Load reads every note below fsys, laid out as <lang>/<version>/<phase>.md,
// for the releases of the process's catalog. It rejects a note with an
// unknown phase, a missing or unknown version, a version that differs from
// its directory, an inverted range, or a phase that another note of the
// same version and language already has.
func Load(fsys fs.FS) (*Set, error) {
	cat, err := walkthrough.DefaultCatalog()
	if err != nil {
		return nil, err
	}
	return loadNotes(fsys, cat)
}

// loadNotes is Load for the releases of cat.
func loadNotes(fsys fs.FS, cat *walkthrough.Catalog) (*Set, error) {
	s := &Set{notes: map[key]*Note{}, langs: map[string]bool{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".md") {
			return nil
		}
		parts := strings.Split(p, "/")
		if len(parts) != 3 {
			return &NoteError{File: p, Msg: "a note must live at <lang>/<version>/<phase>.md"}
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		n, err := parse(p, data, cat)
		if err != nil {
			return err
		}
		n.Lang = parts[0]
		if n.Version != parts[1] {
			return &NoteError{File: p, Field: "version", Msg: fmt.Sprintf("%q does not match the directory %q", n.Version, parts[1])}
		}
		k := key{n.Lang, n.Version, n.Phase}
		if prev, ok := s.notes[k]; ok {
			return &NoteError{File: p, Field: "phase", Msg: fmt.Sprintf("duplicate phase %q (also in %s)", n.Phase, prev.Path)}
		}
		s.notes[k] = n
		s.langs[n.Lang] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.notes) == 0 {
		return nil, fmt.Errorf("no notes found (expected <lang>/<version>/<phase>.md files)")
	}
	return s, nil
}

// Parse reads one note file of a release of the process's catalog; name is
// used in errors.
func Parse(name string, data []byte) (*Note, error) {
	cat, err := walkthrough.DefaultCatalog()
	if err != nil {
		return nil, &NoteError{File: name, Msg: err.Error()}
	}
	return parse(name, data, cat)
}

// parse is Parse for the releases of cat.
func parse(name string, data []byte, cat *walkthrough.Catalog) (*Note, error) {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if !bytes.HasPrefix(data, []byte("---\n")) {
		return nil, &NoteError{File: name, Msg: "missing front matter (the file must start with ---)"}
	}
	rest := data[4:]
	end := bytes.Index(rest, []byte("\n---\n"))
	if end < 0 {
		if bytes.HasSuffix(rest, []byte("\n---")) {
			end = len(rest) - 4
		} else {
			return nil, &NoteError{File: name, Msg: "front matter is not closed by a --- line"}
		}
	}
	var n Note
	dec := yaml.NewDecoder(bytes.NewReader(rest[:end]))
	dec.KnownFields(true)
	if err := dec.Decode(&n); err != nil {
		return nil, &NoteError{File: name, Msg: "front matter: " + err.Error()}
	}
	if body := rest[end:]; len(body) > 5 {
		n.Body = strings.TrimLeft(string(body[5:]), "\n")
	}
	n.Path = name
	if n.Phase == "" {
		return nil, &NoteError{File: name, Field: "phase", Msg: "missing"}
	}
	// LookupPhase also accepts a phase's number; a note must use the id.
	if p, err := walkthrough.LookupPhase(string(n.Phase)); err != nil || p.ID != n.Phase || n.Phase == walkthrough.Epilogue {
		return nil, &NoteError{File: name, Field: "phase", Msg: fmt.Sprintf("unknown phase %q (phases: %s)", n.Phase, strings.Join(walkthrough.PhaseIDs(), ", "))}
	}
	if n.Version == "" {
		return nil, &NoteError{File: name, Field: "version", Msg: "missing"}
	}
	if r, err := cat.Lookup(n.Version); err != nil || r.Version.Name != n.Version {
		return nil, &NoteError{File: name, Field: "version", Msg: fmt.Sprintf("unknown version %q (supported: %s)", n.Version, strings.Join(cat.Names(), ", "))}
	}
	if n.Title == "" {
		return nil, &NoteError{File: name, Field: "title", Msg: "missing"}
	}
	if len(n.Refs) == 0 {
		return nil, &NoteError{File: name, Field: "refs", Msg: "a note must cite at least one range"}
	}
	for i, r := range n.Refs {
		field := fmt.Sprintf("refs[%d]", i)
		switch {
		case r.File == "":
			return nil, &NoteError{File: name, Field: field + ".file", Msg: "missing"}
		case r.First < 1:
			return nil, &NoteError{File: name, Field: field + ".first", Msg: fmt.Sprintf("line %d: lines count from 1", r.First)}
		case r.Last < r.First:
			return nil, &NoteError{File: name, Field: field + ".last", Msg: fmt.Sprintf("inverted range %d-%d", r.First, r.Last)}
		case len(r.SHA256) != 16 || strings.Trim(r.SHA256, "0123456789abcdef") != "":
			return nil, &NoteError{File: name, Field: field + ".sha256", Msg: fmt.Sprintf("%q is not 16 lowercase hex digits", r.SHA256)}
		}
	}
	return &n, nil
}

// Note returns the note of phase for version in lang. When lang has no such
// note it returns the English one and fellBack is true.
func (s *Set) Note(version string, phase walkthrough.PhaseID, lang string) (n *Note, fellBack bool, err error) {
	if lang == "" {
		lang = DefaultLang
	}
	if n, ok := s.notes[key{lang, version, phase}]; ok {
		return n, false, nil
	}
	if n, ok := s.notes[key{DefaultLang, version, phase}]; ok {
		return n, lang != DefaultLang, nil
	}
	return nil, false, fmt.Errorf("no note for phase %s of version %s", phase, version)
}

// Langs returns the languages that have at least one note, sorted.
func (s *Set) Langs() []string {
	var out []string
	for l := range s.langs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Notes returns every note of version in lang, in phase order.
func (s *Set) Notes(version, lang string) []*Note {
	var out []*Note
	for _, p := range walkthrough.Phases() {
		if n, ok := s.notes[key{lang, version, p.ID}]; ok {
			out = append(out, n)
		}
	}
	return out
}
