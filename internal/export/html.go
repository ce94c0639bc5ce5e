package export

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/pgwalk/pgwalk/annotations"
)

// newMarkdown returns the Markdown converter of the HTML export. It keeps
// goldmark's default of dropping raw HTML, so nothing in a note or an event
// can inject markup into the page.
func newMarkdown() goldmark.Markdown {
	return goldmark.New(goldmark.WithExtensions(extension.GFM))
}

// htmlSection is one phase of the page.
type htmlSection struct {
	ID      string
	Heading string
	Body    template.HTML
}

// htmlPage is what the page template is filled with.
type htmlPage struct {
	Lang     string
	Title    string
	Intro    template.HTML
	Contents string
	Sections []htmlSection
	// Glossary is the glossary's heading and its terms, when there is one.
	Glossary      string
	GlossaryTerms []htmlSection
}

// glossaryLink is the link target of a term in the HTML page.
func glossaryLink(id string) string { return "#glossary-" + id }

// htmlGlossary returns the terms of d's glossary for the page, each with
// its heading apart from its body.
func htmlGlossary(d *document, conv func(string) (template.HTML, error)) ([]htmlSection, error) {
	if d.in.Glossary == nil {
		return nil, nil
	}
	var out []htmlSection
	for _, e := range d.in.Glossary.Entries(d.in.lang()) {
		md := d.in.Glossary.EntryMarkdown(e, annotations.EntryOptions{Level: 3, Release: d.in.Version.Name, TermLink: glossaryLink})
		_, body, _ := strings.Cut(md, "\n")
		html, err := conv(body)
		if err != nil {
			return nil, err
		}
		out = append(out, htmlSection{ID: "glossary-" + e.ID, Heading: e.TermText.Term, Body: html})
	}
	return out, nil
}

// HTML returns the handout as one self-contained HTML page: inline CSS, no
// script, no external asset. The type is large enough for a projector, and
// the print stylesheet fits it on paper with the permalinks spelled out.
func HTML(in Input) ([]byte, error) {
	d, err := build(in)
	if err != nil {
		return nil, err
	}
	md := newMarkdown()
	conv := func(src string) (template.HTML, error) {
		var buf bytes.Buffer
		if err := md.Convert([]byte(src), &buf); err != nil {
			return "", fmt.Errorf("converting Markdown to HTML: %w", err)
		}
		// goldmark escapes text and drops raw HTML (no WithUnsafe), so
		// its output is safe to insert as it is.
		return template.HTML(buf.String()), nil
	}
	page := htmlPage{Lang: d.in.lang(), Title: d.Title(), Contents: contentsLabel[d.in.lang()]}
	if page.Contents == "" {
		page.Contents = contentsLabel["en"]
	}
	if page.Intro, err = conv(d.IntroMarkdown()); err != nil {
		return nil, err
	}
	for _, s := range d.sections {
		body, err := conv(d.SourceMarkdown(s) + d.LinesMarkdown(s) + d.BodyMarkdown(s, 2) + d.StopsMarkdown(s, 3) + d.StudyMarkdown(s, 3, glossaryLink))
		if err != nil {
			return nil, err
		}
		page.Sections = append(page.Sections, htmlSection{ID: s.ID(), Heading: d.Heading(s), Body: body})
	}
	if page.GlossaryTerms, err = htmlGlossary(d, conv); err != nil {
		return nil, err
	}
	if len(page.GlossaryTerms) > 0 {
		page.Glossary = d.w.glossary
	}
	// html/template escapes every field that is not already template.HTML.
	tmpl, err := template.New("page").Parse(pageHTML)
	if err != nil {
		return nil, fmt.Errorf("parsing the page template: %w", err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, page); err != nil {
		return nil, fmt.Errorf("writing the HTML page: %w", err)
	}
	return out.Bytes(), nil
}

var contentsLabel = map[string]string{"en": "Contents", "ko": "차례"}

const pageHTML = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pgwalk export">
<title>{{.Title}}</title>
<style>
:root {
  --fg: #111; --muted: #444; --bg: #fff; --accent: #0b4f8a;
  --code-bg: #f1f3f5; --rule: #c9ced4;
}
* { box-sizing: border-box; }
html { font-size: clamp(20px, 1.1vw + 12px, 30px); }
body {
  margin: 0 auto; padding: 1.5rem 2rem 4rem; max-width: 46rem;
  color: var(--fg); background: var(--bg); line-height: 1.55;
  font-family: "Noto Sans", "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  word-break: keep-all; overflow-wrap: anywhere;
}
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 0.8rem; color: var(--accent); }
h3 { font-size: 1.15rem; margin: 1.6rem 0 0.5rem; }
h4 { font-size: 1rem; margin: 1.2rem 0 0.4rem; }
p, li { margin: 0.45rem 0; }
ul, ol { padding-left: 1.4rem; }
a { color: var(--accent); text-underline-offset: 0.15em; }
code {
  font-family: "Noto Sans Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 0.88em; background: var(--code-bg); padding: 0.05em 0.3em; border-radius: 0.2em;
}
pre { background: var(--code-bg); padding: 0.7rem 1rem; overflow-x: auto; border-radius: 0.3rem; tab-size: 4; }
section.glossary { border-top: 3px solid var(--rule); padding-top: 1.4rem; margin-top: 2.2rem; }
section.glossary h3 { color: var(--accent); }
pre code { background: none; padding: 0; }
nav { border: 1px solid var(--rule); border-radius: 0.4rem; padding: 0.6rem 1.2rem; margin: 1.2rem 0 2rem; }
nav h2 { font-size: 1.1rem; color: var(--muted); margin: 0.3rem 0; }
nav ol { margin: 0.3rem 0; }
section.phase { border-top: 3px solid var(--rule); padding-top: 1.4rem; margin-top: 2.2rem; }
.intro { color: var(--muted); }
@page { margin: 16mm 15mm; }
@media print {
  html { font-size: 11pt; }
  body { max-width: none; padding: 0; color: #000; }
  h2 { color: #000; }
  a { color: #000; text-decoration: none; }
  a[href^="http"]::after { content: " <" attr(href) ">"; font-size: 0.8em; color: #333; word-break: break-all; }
  code, pre { background: none; border: 1px solid #bbb; }
  nav { display: none; }
  section.phase, section.glossary { break-before: page; border-top: none; margin-top: 0; }
  h1, h2, h3, h4 { break-after: avoid; }
  li, pre { break-inside: avoid; }
}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<div class="intro">
{{.Intro}}</div>
</header>
<nav>
<h2>{{.Contents}}</h2>
<ol>
{{- range .Sections}}
<li><a href="#{{.ID}}">{{.Heading}}</a></li>
{{- end}}
{{- if .Glossary}}
<li><a href="#glossary">{{.Glossary}}</a></li>
{{- end}}
</ol>
</nav>
<main>
{{- range .Sections}}
<section class="phase" id="{{.ID}}">
<h2>{{.Heading}}</h2>
{{.Body}}</section>
{{- end}}
{{- if .Glossary}}
<section class="glossary" id="glossary">
<h2>{{.Glossary}}</h2>
{{- range .GlossaryTerms}}
<div class="term" id="{{.ID}}">
<h3>{{.Heading}}</h3>
{{.Body}}</div>
{{- end}}
</section>
{{- end}}
</main>
</body>
</html>
`
