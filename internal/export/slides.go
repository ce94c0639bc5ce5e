package export

import (
	"bytes"
	"fmt"
	"html/template"
	"regexp"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/render"
)

// slide is one page of the slides.
type slide struct {
	ID      string
	Heading string
	Body    template.HTML
}

// slidesPage is what the slides template is filled with.
type slidesPage struct {
	Lang   string
	Title  string
	Intro  template.HTML
	Slides []slide
	Keys   string
}

// slideKeys says how to move between slides, by language.
var slideKeys = map[string]string{
	"en": "→ / Space / PageDown: next · ← / PageUp: back · Home / End: first / last",
	"ko": "→ / Space / PageDown: 다음 · ← / PageUp: 이전 · Home / End: 처음 / 끝",
}

// Slides returns the notes as one self-contained HTML page of slides, for a
// projector and for print: a title slide, then one slide per phase (and
// the closing check when there is a run). A phase's slide holds the note's
// opening and its first part (what the code does), the cited ranges (with
// their lines when in.Source gives them), the values of the run, and the
// questions and exercise. The type is large; the arrow keys, Space,
// PageUp/PageDown, Home and End move between slides (a few lines of inline
// script); printed, each slide starts a page. Nothing is loaded from
// elsewhere.
func Slides(in Input) ([]byte, error) {
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
		// goldmark escapes text and drops raw HTML (no WithUnsafe).
		return template.HTML(buf.String()), nil
	}
	lang := d.in.lang()
	page := slidesPage{Lang: lang, Title: d.Title(), Keys: slideKeys[lang]}
	if page.Keys == "" {
		page.Keys = slideKeys[annotations.DefaultLang]
	}
	if page.Intro, err = conv(d.IntroMarkdown()); err != nil {
		return nil, err
	}
	for _, s := range d.sections {
		body, err := conv(d.slideMarkdown(s))
		if err != nil {
			return nil, err
		}
		page.Slides = append(page.Slides, slide{ID: s.ID(), Heading: d.Heading(s), Body: body})
	}
	tmpl, err := template.New("slides").Parse(slidesHTML)
	if err != nil {
		return nil, fmt.Errorf("parsing the slides template: %w", err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, page); err != nil {
		return nil, fmt.Errorf("writing the slides: %w", err)
	}
	return out.Bytes(), nil
}

// slideMarkdown returns the body of s's slide: what a projector can show
// of the phase. The note's later parts, the run's facts and descriptor
// lists and the exercise's alternative stay in the handout.
func (d *document) slideMarkdown(s section) string {
	var b strings.Builder
	if s.Note != nil {
		lead, first := noteOpening(s.Note.Body)
		b.WriteString(lead)
		b.WriteString(shiftHeadings(firstSteps(first), 1))
		var refs []string
		for _, r := range s.Note.Refs {
			refs = append(refs, fmt.Sprintf("[%s](%s)", r.String(), d.in.Version.Permalink(r.File, r.First, r.Last)))
		}
		fmt.Fprintf(&b, "**%s:** %s\n\n", d.w.source, strings.Join(refs, " · "))
		b.WriteString(d.LinesMarkdown(s))
	}
	for _, ev := range s.Stops {
		ev.Values.Facts, ev.Values.FDsBefore, ev.Values.FDsAfter = nil, nil, nil
		values := render.ValuesMarkdownIn(ev, false, d.in.lang())
		if _, rest, ok := strings.Cut(values, "\n"); ok && strings.HasPrefix(values, "#") {
			values = strings.TrimLeft(rest, "\n")
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n", fmt.Sprintf(d.w.observed, ev.Seq), shiftHeadings(values, 2))
	}
	b.WriteString(d.studyMarkdown(s, annotations.StudyOptions{Level: 3, Compact: true}))
	return b.String()
}

// noteOpening splits a note's body into its opening (the text before its
// first level-2 heading) and its first level-2 part, heading included.
func noteOpening(body string) (lead, first string) {
	body = strings.TrimSpace(body)
	lines := strings.Split(body, "\n")
	start := -1
	part := func(ls []string) string {
		if p := strings.TrimSpace(strings.Join(ls, "\n")); p != "" {
			return p + "\n\n"
		}
		return ""
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") {
			if start >= 0 {
				return part(lines[:start]), part(lines[start:i])
			}
			start = i
		}
	}
	if start < 0 {
		return part(lines), ""
	}
	return part(lines[:start]), part(lines[start:])
}

const slidesHTML = `<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pgwalk export --format slides">
<title>{{.Title}}</title>
<style>
:root { --fg: #111; --muted: #444; --bg: #fff; --accent: #0b4f8a; --code-bg: #f1f3f5; --rule: #c9ced4; }
* { box-sizing: border-box; }
html { font-size: clamp(18px, 1.6vw + 0.6vh, 40px); scroll-snap-type: y mandatory; }
body {
  margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45;
  font-family: "Noto Sans", "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  word-break: keep-all; overflow-wrap: anywhere;
}
section.slide {
  min-height: 100vh; padding: 4vh 6vw 6vh; border-bottom: 4px solid var(--rule);
  scroll-snap-align: start; position: relative;
}
section.slide > h2 { font-size: 1.8rem; line-height: 1.15; margin: 0 0 1.2rem; color: var(--accent); }
section.title { display: flex; flex-direction: column; justify-content: center; }
section.title h1 { font-size: 2.4rem; line-height: 1.15; margin: 0 0 1.5rem; }
h3 { font-size: 1.2rem; margin: 1.3rem 0 0.5rem; }
h4 { font-size: 1.05rem; margin: 1rem 0 0.4rem; }
p, li { margin: 0.4rem 0; }
ul, ol { padding-left: 1.4rem; }
a { color: var(--accent); text-underline-offset: 0.15em; }
code { font-family: "Noto Sans Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; background: var(--code-bg); padding: 0.05em 0.3em; border-radius: 0.2em; }
pre { background: var(--code-bg); padding: 0.6rem 1rem; overflow-x: auto; border-radius: 0.3rem; tab-size: 4; font-size: 0.8rem; }
pre code { background: none; padding: 0; }
.intro, .keys { color: var(--muted); }
.keys { font-size: 0.7rem; }
.count { position: absolute; right: 6vw; bottom: 2vh; color: var(--muted); font-size: 0.7rem; }
@media screen and (min-width: 1100px) and (min-aspect-ratio: 4/3) {
  section.slide:not(.title) { column-count: 2; column-gap: 4vw; }
  section.slide > h2 { column-span: all; }
}
@page { size: A4 landscape; margin: 10mm 12mm; }
@media print {
  html { font-size: 9pt; scroll-snap-type: none; }
  section.slide:not(.title) { column-count: 2; column-gap: 8mm; }
  section.slide > h2 { column-span: all; }
  body { color: #000; }
  section.slide { min-height: 0; padding: 0; border: none; break-after: page; page-break-after: always; }
  section.slide:last-of-type { break-after: auto; page-break-after: auto; }
  section.slide > h2 { font-size: 18pt; color: #000; }
  section.title h1 { font-size: 24pt; }
  a { color: #000; text-decoration: none; }
  code, pre { background: none; border: 1px solid #bbb; }
  pre { font-size: 8pt; white-space: pre-wrap; }
  .keys, .count { display: none; }
  h2, h3, h4 { break-after: avoid; }
  li, pre { break-inside: avoid; }
}
</style>
</head>
<body>
<section class="slide title" id="title">
<h1>{{.Title}}</h1>
<div class="intro">
{{.Intro}}</div>
<p class="keys">{{.Keys}}</p>
</section>
{{- range $i, $s := .Slides}}
<section class="slide" id="{{$s.ID}}">
<h2>{{$s.Heading}}</h2>
{{$s.Body}}</section>
{{- end}}
<script>
(function () {
  var slides = Array.prototype.slice.call(document.querySelectorAll("section.slide"));
  var at = Math.max(0, slides.findIndex(function (s) { return "#" + s.id === location.hash; }));
  function show(i, scroll) {
    at = Math.min(Math.max(i, 0), slides.length - 1);
    document.body.setAttribute("data-slide", String(at));
    if (scroll) { slides[at].scrollIntoView(); history.replaceState(null, "", "#" + slides[at].id); }
  }
  slides.forEach(function (s, i) {
    var n = document.createElement("div");
    n.className = "count";
    n.textContent = (i + 1) + " / " + slides.length;
    s.appendChild(n);
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    var next = {ArrowRight: 1, ArrowDown: 1, PageDown: 1, " ": 1, ArrowLeft: -1, ArrowUp: -1, PageUp: -1}[e.key];
    if (e.key === "Home") { show(0, true); } else if (e.key === "End") { show(slides.length - 1, true); }
    else if (next) { show(at + (e.shiftKey && e.key === " " ? -1 : next), true); } else { return; }
    e.preventDefault();
  });
  show(at, false);
})();
</script>
</body>
</html>
`

// firstSteps keeps of a note's part its heading and its text up to the end
// of its first list: the steps, not the paragraphs that follow them. A
// paragraph that ends in a colon introduces the list and is kept; a part
// with no list keeps its first paragraph.
func firstSteps(part string) string {
	if strings.TrimSpace(part) == "" {
		return ""
	}
	var out []string
	list, paragraphs := false, 0
	for i, blk := range strings.Split(strings.TrimSpace(part), "\n\n") {
		isItem := listItemRE.MatchString(blk)
		indented := strings.HasPrefix(blk, " ") || strings.HasPrefix(blk, "\t")
		switch {
		case i == 0 && strings.HasPrefix(blk, "#"):
		case isItem || list && indented:
			list = true
		case list:
			return strings.Join(out, "\n\n") + "\n\n"
		default:
			if paragraphs > 0 && !strings.HasSuffix(strings.TrimSpace(out[len(out)-1]), ":") {
				return strings.Join(out, "\n\n") + "\n\n"
			}
			paragraphs++
		}
		out = append(out, blk)
	}
	return strings.Join(out, "\n\n") + "\n\n"
}

// listItemRE matches a block that starts a list item: "- ", "* ", "1. ".
var listItemRE = regexp.MustCompile(`^(?:[-*] |\d+\. )`)
