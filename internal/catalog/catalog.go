// Package catalog is pgwalk's message catalog: every sentence, label and
// word that pgwalk's code writes, in English and in Korean. The notes and
// the diff texts are not here: they are translated Markdown files of their
// own (annotations/).
//
// A message has a stable key and one or more fields, each a whole sentence
// or label in which {name} stands for a value the code gives:
//
//   - a fact key ("fact.…") has a text and may have a label: a fact is
//     said "- {label}: {text}", or "- {text}" when the text is a whole
//     sentence; like a message, it may have a one field;
//   - a check key ("check.…") has a name and a detail;
//   - every other key has a text, and may have a one field: the text when
//     the value {n} is 1 ("walked 1 stop"), for the languages that need it.
//
// The messages are data files embedded in the binary, one per language
// (en.txt, ko.txt): a translator reads each whole sentence next to its
// English twin. Tests prove that every language has the same keys with the
// same placeholders, and that every key the code uses is there.
//
// The `at:` lines of the release manifests are release data, written in
// English in each manifest; their translations are keyed by that English
// text (at.ko.txt), so that a changed English line has no stale
// translation: it shows in English until it is translated again, and a
// test says so.
package catalog

import (
	"embed"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pgwalk/pgwalk/walkthrough"
)

//go:embed en.txt ko.txt at.ko.txt
var files embed.FS

// DefaultLang is the language every key has a text in, and the one used
// where another language has none.
const DefaultLang = "en"

// langs lists the languages of the catalog, DefaultLang first: a language
// is a file <lang>.txt.
var langs = []string{"en", "ko"}

// Langs returns the languages the catalog speaks, English first.
func Langs() []string { return slices.Clone(langs) }

// IsLang reports whether the catalog has lang.
func IsLang(lang string) bool { return slices.Contains(langs, lang) }

// Entry is one message in one language: the fields its key has.
type Entry struct {
	// Text is the message (every key that is not a fact's or a check's).
	Text string
	// One is the text (a message's or a fact's) when the value {n} is 1;
	// "" when the language says it like any other number.
	One string
	// Label and Text say a fact: "- {label}: {text}" ("- {text}" when
	// it has no label).
	Label string
	// Name and Detail say a check: its name, and the compared values.
	Name, Detail string
}

// fields returns e's fields by name, the empty ones left out.
func (e Entry) fields() map[string]string {
	out := map[string]string{}
	for name, v := range map[string]string{"text": e.Text, "one": e.One, "label": e.Label, "name": e.Name, "detail": e.Detail} {
		if v != "" {
			out[name] = v
		}
	}
	return out
}

// table is the messages of one language.
type table struct {
	entries map[string]Entry
	// order is the keys in file order.
	order []string
}

var (
	loadOnce sync.Once
	tables   map[string]*table
	atText   map[string]map[string]string // lang -> English at -> translation
	loadErr  error
)

// load parses the embedded files once. The embedded files are checked by
// the tests; a file that fails to parse at run time leaves the catalog
// empty, and every message is then said by its key.
func load() {
	loadOnce.Do(func() {
		tables = map[string]*table{}
		atText = map[string]map[string]string{}
		for _, l := range langs {
			data, err := files.ReadFile(l + ".txt")
			if err != nil {
				loadErr = err
				return
			}
			t, err := parse(l+".txt", string(data))
			if err != nil {
				loadErr = err
				return
			}
			tables[l] = t
		}
		for _, l := range langs[1:] {
			data, err := files.ReadFile("at." + l + ".txt")
			if err != nil {
				continue
			}
			m, err := parseAt("at."+l+".txt", string(data))
			if err != nil {
				loadErr = err
				return
			}
			atText[l] = m
		}
	})
}

// Err returns the error that made the embedded catalog unreadable, or nil.
func Err() error {
	load()
	return loadErr
}

// lookup returns the entry of key in lang, else in English.
func lookup(lang, key string) (Entry, bool) {
	load()
	if t := tables[lang]; t != nil {
		if e, ok := t.entries[key]; ok {
			return e, true
		}
	}
	if t := tables[DefaultLang]; t != nil {
		if e, ok := t.entries[key]; ok {
			return e, true
		}
	}
	return Entry{}, false
}

// Has reports whether lang has its own entry for key.
func Has(lang, key string) bool {
	load()
	t := tables[lang]
	if t == nil {
		return false
	}
	_, ok := t.entries[key]
	return ok
}

// Lookup returns the entry of key in lang itself (no English fallback).
func Lookup(lang, key string) (Entry, bool) {
	load()
	t := tables[lang]
	if t == nil {
		return Entry{}, false
	}
	e, ok := t.entries[key]
	return e, ok
}

// Keys returns every key of lang, in file order.
func Keys(lang string) []string {
	load()
	t := tables[lang]
	if t == nil {
		return nil
	}
	return slices.Clone(t.order)
}

// Text returns m said in lang: its text with its arguments put in. A key
// that lang does not have is said in English; a key the catalog does not
// have at all is said as the key and its arguments, so that nothing is
// lost.
func Text(lang string, m walkthrough.Msg) string {
	e, ok := lookup(lang, m.Key)
	if !ok {
		return unknown(m)
	}
	s := e.Text
	if e.One != "" && m.Args["n"] == "1" {
		s = e.One
	}
	switch {
	case e.Label != "":
		// A fact's key said as one text: "label: text".
		s = e.Label + ": " + s
	case e.Name != "":
		// A check's key said as one text: "name (detail)".
		s = e.Name
		if e.Detail != "" {
			s += " (" + e.Detail + ")"
		}
	}
	return Fill(s, m.Args)
}

// S returns the message key said in lang, with args given as name, value
// pairs as in walkthrough.M.
func S(lang, key string, pairs ...any) string {
	return Text(lang, walkthrough.M(key, pairs...))
}

// Errorf returns an error whose text is the message key said in lang.
func Errorf(lang, key string, pairs ...any) error {
	return &Error{Msg: walkthrough.M(key, pairs...), Lang: lang}
}

// Wrap returns an error whose text is the message key said in lang,
// followed by ": " and err's text; it unwraps to err.
func Wrap(lang string, err error, key string, pairs ...any) error {
	return &Error{Msg: walkthrough.M(key, pairs...), Lang: lang, Err: err}
}

// Error is an error said through the catalog.
type Error struct {
	Msg  walkthrough.Msg
	Lang string
	// Err is the error it wraps, if any.
	Err error
}

func (e *Error) Error() string {
	s := Text(e.Lang, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Fact returns the label and the text of f in lang: from the catalog when
// f has a key (the label is "" for a fact said as one sentence), else its
// own (old-style, English) name and value.
func Fact(lang string, f walkthrough.Fact) (label, text string) {
	if f.Key == "" {
		return f.Name, f.Value
	}
	e, ok := lookup(lang, f.Key)
	if !ok {
		return f.Key, joinArgs(f.Args)
	}
	text = e.Text
	if e.One != "" && f.Args["n"] == "1" {
		text = e.One
	}
	return Fill(e.Label, f.Args), Fill(text, f.Args)
}

// Check returns the name and the detail of c in lang: from the catalog
// when c has a key, else its own (old-style, English) name and detail.
func Check(lang string, c walkthrough.Check) (name, detail string) {
	if c.Key == "" {
		return c.Name, c.Detail
	}
	e, ok := lookup(lang, c.Key)
	if !ok {
		return c.Key, joinArgs(c.Args)
	}
	return Fill(e.Name, c.Args), Fill(e.Detail, c.Args)
}

// Point returns the `at:` line at (a release manifest's English text, or
// a driver's) in lang: its translation when the catalog has one, else at
// as it is.
func Point(lang, at string) string {
	if lang == DefaultLang || at == "" {
		return at
	}
	load()
	if s, ok := atText[lang][at]; ok {
		return s
	}
	return at
}

// EventPoint returns the `at:` line of ev in lang: its point's catalog
// message when the driver worded it (Event.PointKey), else its Point
// translated (see Point).
func EventPoint(lang string, ev walkthrough.Event) string {
	if ev.PointKey != "" {
		return Text(lang, ev.PointMsg())
	}
	return Point(lang, ev.Point)
}

// HasPoint reports whether lang has a translation of the `at:` line at.
func HasPoint(lang, at string) bool {
	load()
	_, ok := atText[lang][at]
	return ok
}

// Points returns the English `at:` lines that lang translates.
func Points(lang string) []string {
	load()
	var out []string
	for k := range atText[lang] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// placeholder matches {name} in a text.
var placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// Fill returns s with each {name} replaced by args[name]; a name args does
// not have stays as {name}.
func Fill(s string, args map[string]string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return placeholder.ReplaceAllStringFunc(s, func(p string) string {
		if v, ok := args[p[1:len(p)-1]]; ok {
			return v
		}
		return p
	})
}

// Placeholders returns the names of the placeholders of s, sorted, each
// once.
func Placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// unknown says a message the catalog does not have: its key and arguments.
func unknown(m walkthrough.Msg) string {
	if len(m.Args) == 0 {
		return m.Key
	}
	return m.Key + " (" + joinArgs(m.Args) + ")"
}

func joinArgs(args map[string]string) string {
	names := make([]string, 0, len(args))
	for k := range args {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + args[k]
	}
	return strings.Join(parts, ", ")
}
