package annotations

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// The glossary explains the terms the notes rely on (postmaster, child
// slot, dead-end child, ...). It lives in glossary/: terms.yaml lists every
// term with what does not depend on the language (its id, the names it may
// be asked for by, related terms, and the cited ranges of each release),
// and <lang>.yaml gives each term's name and text in that language.
//
//	glossary/terms.yaml
//	- id: dead-end-child
//	  aliases: [dead_end, dead end]
//	  see: [can-accept-connections]
//	  cites:
//	    - {release: "16.4", file: src/backend/postmaster/postmaster.c, first: 4151, last: 4152, sha256: ...}
//
//	glossary/en.yaml
//	dead-end-child:
//	  term: dead-end child
//	  text: |
//	    A child the postmaster starts only to ...
//
// A note or a study file links a term as glossary:<id> (a Markdown link
// target) or by naming its id in its terms list.

// Term is one glossary entry, apart from its text.
type Term struct {
	// ID is the term's stable key: lower case words joined by '-'.
	ID string `yaml:"id"`
	// Aliases are other names a reader may ask for: identifiers of the
	// code (MyPMChildSlot) or other spellings.
	Aliases []string `yaml:"aliases"`
	// See are the ids of related terms.
	See []string `yaml:"see"`
	// Cites are ranges of the releases' text that show the term.
	Cites []Cite `yaml:"cites"`
}

// Cite is a range of one release's text that a glossary entry cites.
type Cite struct {
	// Release is the release whose text it is: "16.4".
	Release string `yaml:"release"`
	Ref     `yaml:",inline"`
}

// TermText is a term's name and explanation in one language.
type TermText struct {
	// Term is the name the entry is headed with.
	Term string `yaml:"term"`
	// Text is Markdown.
	Text string `yaml:"text"`
}

// Entry is a term with its text in one language.
type Entry struct {
	*Term
	TermText
	// Lang is the language of TermText.
	Lang string
	// FellBack is set when the text is English because the language asked
	// for has none.
	FellBack bool
}

// Glossary is the loaded glossary.
type Glossary struct {
	terms []*Term
	byID  map[string]*Term
	texts map[string]map[string]TermText
}

// GlossaryError says what is wrong with a glossary file.
type GlossaryError struct {
	File string
	Msg  string
}

func (e *GlossaryError) Error() string { return fmt.Sprintf("glossary/%s: %s", e.File, e.Msg) }

// UnknownTermError is returned for a term the glossary does not have.
type UnknownTermError struct {
	Query string
	// Near are ids of terms whose names contain the query, or that the
	// query contains.
	Near []string
}

func (e *UnknownTermError) Error() string {
	if len(e.Near) > 0 {
		return fmt.Sprintf("no glossary term %q (did you mean: %s?)", e.Query, strings.Join(e.Near, ", "))
	}
	return fmt.Sprintf("no glossary term %q (pgwalk glossary lists them)", e.Query)
}

var termID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// DefaultGlossary returns the glossary embedded in pgwalk.
func DefaultGlossary() (*Glossary, error) { return embeddedGlossary() }

var embeddedGlossary = sync.OnceValues(func() (*Glossary, error) {
	sub, err := fs.Sub(embedded, "glossary")
	if err != nil {
		return nil, err
	}
	return LoadGlossary(sub)
})

// LoadGlossary reads terms.yaml and every <lang>.yaml of fsys. Every
// language must explain exactly the terms of terms.yaml; ids are unique,
// related terms exist, and cited ranges are well formed.
func LoadGlossary(fsys fs.FS) (*Glossary, error) {
	data, err := fs.ReadFile(fsys, "terms.yaml")
	if err != nil {
		return nil, fmt.Errorf("glossary: %w", err)
	}
	g := &Glossary{byID: map[string]*Term{}, texts: map[string]map[string]TermText{}}
	if err := strictYAML(data, &g.terms); err != nil {
		return nil, &GlossaryError{File: "terms.yaml", Msg: err.Error()}
	}
	if len(g.terms) == 0 {
		return nil, &GlossaryError{File: "terms.yaml", Msg: "no terms"}
	}
	for i, t := range g.terms {
		if !termID.MatchString(t.ID) {
			return nil, &GlossaryError{File: "terms.yaml", Msg: fmt.Sprintf("term %d: id %q is not lower-case words joined by '-'", i+1, t.ID)}
		}
		if _, dup := g.byID[t.ID]; dup {
			return nil, &GlossaryError{File: "terms.yaml", Msg: fmt.Sprintf("term %q is listed twice", t.ID)}
		}
		g.byID[t.ID] = t
		for j, c := range t.Cites {
			if err := checkCite(c); err != nil {
				return nil, &GlossaryError{File: "terms.yaml", Msg: fmt.Sprintf("%s: cites[%d]: %s", t.ID, j, err)}
			}
		}
	}
	for _, t := range g.terms {
		for _, s := range t.See {
			if _, ok := g.byID[s]; !ok || s == t.ID {
				return nil, &GlossaryError{File: "terms.yaml", Msg: fmt.Sprintf("%s: see %q: no such other term", t.ID, s)}
			}
		}
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		lang, ok := strings.CutSuffix(e.Name(), ".yaml")
		if e.IsDir() || !ok || e.Name() == "terms.yaml" {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		texts := map[string]TermText{}
		if err := strictYAML(data, &texts); err != nil {
			return nil, &GlossaryError{File: e.Name(), Msg: err.Error()}
		}
		for id, tt := range texts {
			if _, ok := g.byID[id]; !ok {
				return nil, &GlossaryError{File: e.Name(), Msg: fmt.Sprintf("%q is not a term of terms.yaml", id)}
			}
			if strings.TrimSpace(tt.Term) == "" || strings.TrimSpace(tt.Text) == "" {
				return nil, &GlossaryError{File: e.Name(), Msg: fmt.Sprintf("%s: term and text are both required", id)}
			}
			tt.Text = Unwrap(tt.Text)
			texts[id] = tt
		}
		for _, t := range g.terms {
			if _, ok := texts[t.ID]; !ok {
				return nil, &GlossaryError{File: e.Name(), Msg: fmt.Sprintf("no text for %q", t.ID)}
			}
		}
		g.texts[lang] = texts
	}
	if _, ok := g.texts[DefaultLang]; !ok {
		return nil, &GlossaryError{File: DefaultLang + ".yaml", Msg: "missing"}
	}
	return g, nil
}

// strictYAML decodes data into v, rejecting unknown fields.
func strictYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func checkCite(c Cite) error {
	switch {
	case !releaseNameRE.MatchString(c.Release):
		return fmt.Errorf("release %q is not a release number such as 17.1", c.Release)
	case c.File == "" || path.IsAbs(c.File) || path.Clean(c.File) != c.File:
		return fmt.Errorf("file %q is not a clean path in PostgreSQL's tree", c.File)
	case c.First < 1 || c.Last < c.First:
		return fmt.Errorf("range %d-%d is not a range of lines counted from 1", c.First, c.Last)
	case len(c.SHA256) != 16 || strings.Trim(c.SHA256, "0123456789abcdef") != "":
		return fmt.Errorf("sha256 %q is not 16 lowercase hex digits", c.SHA256)
	}
	return nil
}

var releaseNameRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// Terms returns every term, in the glossary's order.
func (g *Glossary) Terms() []*Term { return slices.Clone(g.terms) }

// Langs returns the languages the glossary is written in, sorted.
func (g *Glossary) Langs() []string {
	var out []string
	for l := range g.texts {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Has reports whether id is a term of the glossary.
func (g *Glossary) Has(id string) bool { _, ok := g.byID[id]; return ok }

// Entry returns the term id in lang (English when lang has no glossary).
func (g *Glossary) Entry(id, lang string) (Entry, error) {
	t, ok := g.byID[id]
	if !ok {
		return Entry{}, &UnknownTermError{Query: id}
	}
	if texts, ok := g.texts[lang]; ok {
		return Entry{Term: t, TermText: texts[id], Lang: lang}, nil
	}
	return Entry{Term: t, TermText: g.texts[DefaultLang][id], Lang: DefaultLang, FellBack: true}, nil
}

// Entries returns every term in lang, in the glossary's order.
func (g *Glossary) Entries(lang string) []Entry {
	out := make([]Entry, 0, len(g.terms))
	for _, t := range g.terms {
		e, _ := g.Entry(t.ID, lang)
		out = append(out, e)
	}
	return out
}

// fold makes names comparable: case, blanks, '-' and '_' do not matter.
func fold(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '\t', '(', ')':
			return -1
		}
		return r
	}, s)
}

// Lookup finds the term a reader asked for: by id, by alias, or by its
// name in any language, regardless of case, blanks, '-' and '_'.
func (g *Glossary) Lookup(query, lang string) (Entry, error) {
	q := fold(query)
	if q == "" {
		return Entry{}, &UnknownTermError{Query: query}
	}
	for _, t := range g.terms {
		if g.names(t, func(name string) bool { return fold(name) == q }) {
			return g.Entry(t.ID, lang)
		}
	}
	var near []string
	for _, t := range g.terms {
		if g.names(t, func(name string) bool {
			f := fold(name)
			return len(q) >= 3 && strings.Contains(f, q) || len(f) >= 3 && strings.Contains(q, f)
		}) {
			near = append(near, t.ID)
		}
	}
	return Entry{}, &UnknownTermError{Query: query, Near: near}
}

// names reports whether match holds for any of t's names.
func (g *Glossary) names(t *Term, match func(string) bool) bool {
	if match(t.ID) {
		return true
	}
	for _, a := range t.Aliases {
		if match(a) {
			return true
		}
	}
	for _, texts := range g.texts {
		for _, name := range termNames(texts[t.ID].Term) {
			if match(name) {
				return true
			}
		}
	}
	return false
}

// termNames returns a term's name and, for "child slot (PMChildSlot)", each
// of its parts: "child slot", "PMChildSlot".
func termNames(term string) []string {
	out := []string{term}
	if i := strings.LastIndex(term, " ("); i > 0 && strings.HasSuffix(term, ")") {
		out = append(out, term[:i])
		for _, part := range strings.Split(term[i+2:len(term)-1], ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// glossaryLinkRE matches a Markdown link to a glossary term: ](glossary:id).
var glossaryLinkRE = regexp.MustCompile(`\]\(glossary:([^)\s]*)\)`)

// GlossaryLinks returns the term ids that md links to as glossary:<id>.
func GlossaryLinks(md string) []string {
	var out []string
	for _, m := range glossaryLinkRE.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// Manifests returns every embedded release manifest, oldest first: the
// offered releases and those still waiting for their notes. A glossary
// cite may name any of them.
func Manifests() ([]*walkthrough.Release, error) { return embeddedManifests() }

var embeddedManifests = sync.OnceValues(func() ([]*walkthrough.Release, error) {
	sub, err := fs.Sub(embedded, "releases")
	if err != nil {
		return nil, err
	}
	return LoadReleases(sub)
})

// Permalink returns the GitHub address of the cited lines at the tag of
// their release, or "" when no embedded manifest names the release.
func (c Cite) Permalink() string {
	rels, err := Manifests()
	if err != nil {
		return ""
	}
	for _, r := range rels {
		if r.Version.Name == c.Release {
			return r.Version.Permalink(c.File, c.First, c.Last)
		}
	}
	return ""
}

// EntryOptions say how EntryMarkdown lays out an entry.
type EntryOptions struct {
	// Level is the level of the entry's heading; 0 means 2.
	Level int
	// Release, when set, keeps only the cites of that release.
	Release string
	// TermLink returns the link target of a related term; nil names them
	// as text.
	TermLink func(id string) string
}

// glossaryWords are the labels of an entry, by language.
var glossaryWords = map[string]struct{ aliases, source, see string }{
	"en": {"Also called", "Source", "See also"},
	"ko": {"다른 이름", "소스", "함께 보기"},
}

// EntryMarkdown returns e in Markdown: its name as a heading, its text, the
// other names it may be asked for by, its cited ranges with permalinks,
// and the related terms.
func (g *Glossary) EntryMarkdown(e Entry, o EntryOptions) string {
	words, ok := glossaryWords[e.Lang]
	if !ok {
		words = glossaryWords[DefaultLang]
	}
	level := o.Level
	if level <= 0 {
		level = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n\n%s\n\n", strings.Repeat("#", min(level, 6)), e.TermText.Term, strings.TrimSpace(e.Text))
	if len(e.Aliases) > 0 {
		quoted := make([]string, len(e.Aliases))
		for i, a := range e.Aliases {
			quoted[i] = "`" + a + "`"
		}
		fmt.Fprintf(&b, "**%s:** %s\n\n", words.aliases, strings.Join(quoted, ", "))
	}
	var cites []string
	for _, c := range e.Cites {
		if o.Release != "" && c.Release != o.Release {
			continue
		}
		label := fmt.Sprintf("%s %s", c.Release, c.Ref)
		if link := c.Permalink(); link != "" {
			label = fmt.Sprintf("[%s](%s)", label, link)
		}
		cites = append(cites, label)
	}
	if len(cites) > 0 {
		fmt.Fprintf(&b, "**%s:** %s\n\n", words.source, strings.Join(cites, " · "))
	}
	if len(e.See) > 0 {
		var see []string
		for _, id := range e.See {
			r, err := g.Entry(id, e.Lang)
			if err != nil {
				continue
			}
			if o.TermLink != nil {
				see = append(see, fmt.Sprintf("[%s](%s)", r.TermText.Term, o.TermLink(id)))
			} else {
				see = append(see, r.TermText.Term)
			}
		}
		fmt.Fprintf(&b, "**%s:** %s\n\n", words.see, strings.Join(see, " · "))
	}
	return b.String()
}

// gistLen is the most runes Gist keeps.
const gistLen = 100

// Gist returns the first sentence of e's text, shortened to about a line,
// for an index.
func (e Entry) Gist() string {
	text, _, _ := strings.Cut(strings.TrimSpace(e.Text), "\n")
	for i := 0; i < len(text); i++ {
		if text[i] == '.' && (i+1 == len(text) || text[i+1] == ' ') {
			text = text[:i+1]
			break
		}
	}
	r := []rune(text)
	if len(r) <= gistLen {
		return text
	}
	cut := gistLen
	for cut > gistLen/2 && r[cut] != ' ' {
		cut--
	}
	return strings.TrimRight(string(r[:cut]), " ,:;(") + " …"
}

// Unwrap joins the hard-wrapped lines of each paragraph and list item of
// md, so that a renderer wraps them at its own width. Blank lines, list
// markers, headings and fenced code blocks are kept as they are.
func Unwrap(md string) string {
	lines := strings.Split(strings.TrimRight(md, "\n"), "\n")
	var out []string
	fence, join := false, false
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			fence = !fence
			out = append(out, line)
			join = false
			continue
		case fence:
			out = append(out, line)
			continue
		case trimmed == "":
			out = append(out, "")
			join = false
			continue
		}
		starts := strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "* ") || orderedItem(trimmed)
		if join && !starts {
			out[len(out)-1] += " " + trimmed
			continue
		}
		out = append(out, line)
		join = !strings.HasPrefix(trimmed, "#")
	}
	return strings.Join(out, "\n") + "\n"
}

// orderedItem reports whether line starts an ordered list item: "1. ".
func orderedItem(line string) bool {
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && strings.HasPrefix(line[i:], ". ")
}
