package export

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// StudyMarkdown returns the questions, the exercise and the terms of s,
// with headings at level, or "". The exercise is filled with the values of
// the phase's first stop when the document has a run; a phase the run did
// not reach shows the exercise's alternative; without a run it shows the
// placeholders, each explained. termLink links each term; nil names them.
func (d *document) StudyMarkdown(s section, level int, termLink func(id string) string) string {
	return d.studyMarkdown(s, annotations.StudyOptions{Level: level, TermLink: termLink})
}

// studyMarkdown is StudyMarkdown with o's Level, TermLink and Compact.
func (d *document) studyMarkdown(s section, o annotations.StudyOptions) string {
	if d.in.Study == nil || s.Epilogue {
		return ""
	}
	st, fell, ok := d.in.Study.Get(d.in.Version.Name, s.Phase.ID, d.in.lang())
	if !ok {
		return ""
	}
	lang := d.in.lang()
	if fell {
		lang = annotations.DefaultLang
	}
	o.Lang, o.Glossary = lang, d.in.Glossary
	if len(d.in.Events) > 0 {
		o.Values = &walkthrough.Values{}
		if len(s.Stops) > 0 {
			o.Values = &s.Stops[0].Values
		}
	}
	return annotations.StudyMarkdown(st, o)
}

// LinesMarkdown returns the cited lines of s, each range under its name,
// in a fenced block with its line numbers; a range whose lines are not
// shown says why, with its permalink. "" when the document has no source.
func (d *document) LinesMarkdown(s section) string {
	if d.in.Source == nil || s.Note == nil {
		return ""
	}
	var b strings.Builder
	for _, r := range s.Note.Refs {
		name := r.String()
		if r.Label != "" && d.in.lang() == annotations.DefaultLang {
			name += " · " + r.Label
		}
		cl := d.in.Source(r)
		if cl.Why != "" || len(cl.Lines) == 0 {
			why := cl.Why
			if why == "" {
				why = "lines not shown"
			}
			fmt.Fprintf(&b, "*%s: %s.* <%s>\n\n", name, strings.TrimSuffix(why, "."), d.in.Version.Permalink(r.File, r.First, r.Last))
			continue
		}
		width := len(fmt.Sprint(cl.Lines[len(cl.Lines)-1].Number))
		var code strings.Builder
		for _, l := range cl.Lines {
			fmt.Fprintf(&code, "%*d  %s\n", width, l.Number, l.Text)
		}
		fence := codeFence(code.String())
		fmt.Fprintf(&b, "*%s*\n\n%sc\n%s%s\n\n", name, fence, code.String(), fence)
	}
	return b.String()
}

// codeFence returns a backtick fence longer than any run of backticks in
// text, at least three.
func codeFence(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// GlossaryMarkdown returns the glossary under a heading at level, each
// term one level below it and citing the lines of the document's release
// only, or "" when the document has no glossary. termLink links the
// related terms; nil names them.
func (d *document) GlossaryMarkdown(level int, termLink func(id string) string) string {
	if d.in.Glossary == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n\n", strings.Repeat("#", level), d.w.glossary)
	for _, e := range d.in.Glossary.Entries(d.in.lang()) {
		b.WriteString(d.in.Glossary.EntryMarkdown(e, annotations.EntryOptions{Level: level + 1, Release: d.in.Version.Name, TermLink: termLink}))
	}
	return b.String()
}

// markdownAnchor returns the anchor a Markdown viewer such as GitHub's
// gives heading: lower case, blanks as '-', punctuation other than '-'
// and '_' dropped.
func markdownAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// glossaryAnchors returns the link target of each term of the document's
// glossary in a Markdown handout.
func (d *document) glossaryAnchors() func(id string) string {
	if d.in.Glossary == nil {
		return nil
	}
	return func(id string) string {
		e, err := d.in.Glossary.Entry(id, d.in.lang())
		if err != nil {
			return "#" + markdownAnchor(d.w.glossary)
		}
		return "#" + markdownAnchor(e.TermText.Term)
	}
}
