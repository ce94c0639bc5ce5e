package export

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/export -run %s -update writes it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from what the export gives (go test ./internal/export -run %s -update rewrites it)", path, t.Name())
	}
}

func studySet(t *testing.T) *annotations.StudySet {
	t.Helper()
	s, err := annotations.DefaultStudy()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func glossary(t *testing.T) *annotations.Glossary {
	t.Helper()
	g, err := annotations.DefaultGlossary()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// toyLines gives every cited range of the toy notes made-up lines, except
// the ranges of other.c, whose lines are "not the release's".
func toyLines(ref annotations.Ref) CitedLines {
	if strings.HasSuffix(ref.File, "other.c") {
		return CitedLines{Why: "lines not shown: in /src they are not PostgreSQL 16.4's text (sha256 ffffffffffffffff, the note's 0123456789abcdef)"}
	}
	var out []source.Line
	for n := ref.First; n <= ref.Last; n++ {
		out = append(out, source.Line{Number: n, Text: "\tsheep++; /* line " + strings.Repeat("`", n%4) + " */", Cited: true})
	}
	return CitedLines{Lines: out}
}

// toyInput is the toy notes of 16.4 with the real study material and
// glossary, the toy run, and toy source lines.
func toyInput(t *testing.T, lang string) Input {
	return Input{
		Version: v164(t),
		Lang:    lang,
		Notes: toySet(t, func(p walkthrough.Phase) (string, string) {
			return p.Title, "Opening of " + p.Title + ".\n\n## What the code does\n\n- one\n- two\n\n## Why\n\nLater part.\n"
		}),
		Events:   toyEvents(),
		Study:    studySet(t),
		Glossary: glossary(t),
		Source:   toyLines,
	}
}

func TestMarkdownGolden(t *testing.T) {
	md, err := Markdown(toyInput(t, "en"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "handout-toy.md", md)
}

func TestSlidesGolden(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			page, err := Slides(toyInput(t, lang))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "slides-toy-"+lang+".html", string(page))
		})
	}
}

func TestStudyInHandout(t *testing.T) {
	in := Input{Version: v164(t), Notes: defaultNotes(t), Study: studySet(t), Glossary: glossary(t)}
	md, err := Markdown(in)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md, "\n### Questions\n"); n != len(walkthrough.Phases()) {
		t.Errorf("%d phases have questions, want %d", n, len(walkthrough.Phases()))
	}
	for _, want := range []string{
		"\nls -l /proc/{child_pid}/fd\n", "In braces, values of this stop: `{child_pid}` the new backend's pid.",
		"**Without a run's values.**", "\n## Glossary\n", "\n### PMChildSlot (child slot)\n",
		"[16.4 postmaster.c:4157-4160](https://github.com/postgres/postgres/blob/REL_16_4/src/backend/postmaster/postmaster.c#L4157-L4160)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("handout lacks %q", want)
		}
	}
	// Terms link to the glossary's headings.
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(md, -1) {
		found := false
		for _, h := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(md, -1) {
			found = found || markdownAnchor(h[1]) == m[1]
		}
		if !found {
			t.Errorf("link #%s names no heading", m[1])
		}
	}
	// The glossary cites the exported release only.
	if strings.Contains(md, "REL_17_1") || strings.Contains(md, "REL_18_4") {
		t.Error("the 16.4 handout links to another release")
	}

	t.Run("filled by the run", func(t *testing.T) {
		evs := toyEvents()
		in.Events = evs
		md, err := Markdown(in)
		if err != nil {
			t.Fatal(err)
		}
		// The toy fork stop has fork_return and the postmaster's pid but
		// no child pid: its exercise gives way to the alternative.
		for _, want := range []string{"ls -l /proc/100/fd", "This stop has no child pid"} {
			if !strings.Contains(md, want) {
				t.Errorf("handout lacks %q", want)
			}
		}
		if strings.Contains(md, "{postmaster_pid}") || strings.Contains(md, "In braces") {
			t.Error("a run's handout shows a placeholder")
		}
	})
}

func TestHTMLGlossaryLinks(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			page, err := HTML(Input{Version: v164(t), Notes: defaultNotes(t), Lang: lang, Events: toyEvents(), Study: studySet(t), Glossary: glossary(t)})
			if err != nil {
				t.Fatal(err)
			}
			s := string(page)
			ids := map[string]bool{}
			for _, m := range regexp.MustCompile(`id="([^"]+)"`).FindAllStringSubmatch(s, -1) {
				ids[m[1]] = true
			}
			links := 0
			for _, m := range pageHrefRE.FindAllStringSubmatch(s, -1) {
				switch {
				case strings.HasPrefix(m[1], "#"):
					links++
					if !ids[m[1][1:]] {
						t.Errorf("link %s names no element", m[1])
					}
				case !strings.HasPrefix(m[1], "https://github.com/postgres/postgres/blob/REL_16_4/"):
					t.Errorf("link to %s", m[1])
				}
			}
			for _, want := range []string{`<section class="glossary" id="glossary">`, `<div class="term" id="glossary-child-slot">`, `href="#glossary-death-pipe"`, `<li><a href="#glossary">`} {
				if !strings.Contains(s, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			if m := externalRE.FindString(s); m != "" {
				t.Errorf("page loads something from elsewhere: %q", m)
			}
		})
	}
}

func TestLinesMarkdown(t *testing.T) {
	d, err := build(toyInput(t, "en"))
	if err != nil {
		t.Fatal(err)
	}
	md := d.LinesMarkdown(d.sections[0])
	for _, want := range []string{
		"*toy.c:1-5 · toy range 0*\n\n````c\n1  \tsheep++; /* line ` */\n",
		"5  \tsheep++; /* line ` */\n````\n",
		"*other.c:7-7: lines not shown: in /src they are not PostgreSQL 16.4's text (sha256 ffffffffffffffff, the note's 0123456789abcdef).* <https://github.com/postgres/postgres/blob/REL_16_4/src/toy/other.c#L7-L7>",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q in:\n%s", want, md)
		}
	}
	d.in.Source = nil
	if d.LinesMarkdown(d.sections[0]) != "" {
		t.Error("lines without a source")
	}
	for text, want := range map[string]string{"plain": "```", "a ``` fence": "````", "````": "`````"} {
		if got := codeFence(text); got != want {
			t.Errorf("codeFence(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestMarkdownAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"PMChildSlot (child slot)":      "pmchildslot-child-slot",
		"BackendList / ActiveChildList": "backendlist--activechildlist",
		"EXEC_BACKEND":                  "exec_backend",
		"데드엔드 자식 (dead-end child)":      "데드엔드-자식-dead-end-child",
		"canAcceptConnections (CAC 상태)": "canacceptconnections-cac-상태",
	} {
		if got := markdownAnchor(in); got != want {
			t.Errorf("markdownAnchor(%q) = %q, want %q", in, got, want)
		}
	}
}

// slideScriptRE matches the one inline script of the slides.
var slideScriptRE = regexp.MustCompile(`(?s)<script>.*?</script>`)

func TestSlides(t *testing.T) {
	for _, lang := range []string{"en", "ko"} {
		t.Run(lang, func(t *testing.T) {
			in := Input{Version: v164(t), Notes: defaultNotes(t), Lang: lang, Events: toyEvents(), Study: studySet(t), Glossary: glossary(t)}
			page, err := Slides(in)
			if err != nil {
				t.Fatal(err)
			}
			s := string(page)
			scripts := slideScriptRE.FindAllString(s, -1)
			if len(scripts) != 1 {
				t.Fatalf("%d scripts, want one inline", len(scripts))
			}
			rest := slideScriptRE.ReplaceAllString(s, "")
			if m := externalRE.FindString(rest); m != "" {
				t.Errorf("page loads something from elsewhere: %q", m)
			}
			for _, bad := range []string{"src=", "fetch(", "XMLHttpRequest", "import("} {
				if strings.Contains(scripts[0], bad) {
					t.Errorf("the script has %q", bad)
				}
			}
			for _, want := range []string{`<html lang="` + lang + `">`, "@media print", "break-after: page", `<section class="slide title" id="title">`, `addEventListener("keydown"`, "ArrowRight", "PageDown"} {
				if !strings.Contains(s, want) {
					t.Errorf("page lacks %s", want)
				}
			}
			d, err := build(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range d.sections {
				if !strings.Contains(s, `<section class="slide" id="`+sec.ID()+`">`+"\n<h2>"+d.Heading(sec)+"</h2>") {
					t.Errorf("no slide for %s", sec.ID())
				}
			}
			if n := strings.Count(s, `<section class="slide`); n != len(d.sections)+1 {
				t.Errorf("%d slides, want the title and %d", n, len(d.sections))
			}
			// A slide shows the note's opening and its first part, not the
			// rest; the handout has that.
			if !strings.Contains(s, "This is the moment one process becomes two") && lang == "en" {
				t.Error("the fork slide lacks the note's opening")
			}
			if strings.Contains(s, "How pgwalk does it") {
				t.Error("a slide holds a later part of a note")
			}
		})
	}
	t.Run("escapes", func(t *testing.T) {
		set := toySet(t, func(p walkthrough.Phase) (string, string) {
			return "<b>" + p.Title + "</b>", "Text with <script>alert(1)</script> and a & b < c.\n"
		})
		page, err := Slides(Input{Version: v164(t), Notes: set})
		if err != nil {
			t.Fatal(err)
		}
		s := slideScriptRE.ReplaceAllString(string(page), "")
		for _, bad := range []string{"<script", "<b>"} {
			if strings.Contains(s, bad) {
				t.Errorf("page holds %q unescaped", bad)
			}
		}
	})
}

func TestNoteOpening(t *testing.T) {
	tests := []struct{ body, lead, first string }{
		{"Lead.\n\n## A\n\na\n\n## B\n\nb", "Lead.\n\n", "## A\n\na\n\n"},
		{"Lead only.", "Lead only.\n\n", ""},
		{"## A\n\na", "", "## A\n\na\n\n"},
	}
	for _, tt := range tests {
		lead, first := noteOpening(tt.body)
		if lead != tt.lead || first != tt.first {
			t.Errorf("noteOpening(%q) = %q, %q; want %q, %q", tt.body, lead, first, tt.lead, tt.first)
		}
	}
}

// pdfPageRE matches a page object of a PDF that Chromium prints.
var pdfPageRE = regexp.MustCompile(`/Type\s*/Page[^s]`)

// TestSlidesInChromium opens the slides in headless Chromium: the DOM has
// every slide, the script runs (it marks the slide the address names), and
// printed, every slide fills exactly one page.
func TestSlidesInChromium(t *testing.T) {
	bin := chromium(t)
	for _, v := range walkthrough.Versions() {
		for _, lang := range []string{"en", "ko"} {
			t.Run(v.Name+"/"+lang, func(t *testing.T) {
				in := Input{Version: v, Notes: defaultNotes(t), Lang: lang, Study: studySet(t), Glossary: glossary(t)}
				page, err := Slides(in)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				file := filepath.Join(dir, "slides.html")
				if err := os.WriteFile(file, page, 0o644); err != nil {
					t.Fatal(err)
				}
				slides := strings.Count(string(page), `<section class="slide`)
				dom := string(runChromium(t, bin, "--dump-dom", "file://"+file+"#fork"))
				if n := strings.Count(dom, `<section class="slide`); n != slides {
					t.Errorf("the DOM has %d slides, want %d", n, slides)
				}
				// title 0, struct-creation 1, struct-init 2, fork 3.
				if !strings.Contains(dom, `<body data-slide="3">`) {
					t.Errorf("the script did not mark the fork's slide: %.200s", dom[strings.Index(dom, "<body"):])
				}
				if !strings.Contains(dom, `<div class="count">4 / `) {
					t.Error("the script did not number the slides")
				}
				pdf := filepath.Join(dir, "slides.pdf")
				runChromium(t, bin, "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+file)
				data, err := os.ReadFile(pdf)
				if err != nil {
					t.Fatalf("no PDF: %v", err)
				}
				if n := len(pdfPageRE.FindAll(data, -1)); n != slides {
					t.Errorf("printed on %d pages, want one per slide: %d", n, slides)
				}
			})
		}
	}
}

func TestFirstSteps(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"list then paragraphs", "## Do\n\n1. a\n2. b\n\n   more of b\n\nAfter.\n\nMore.", "## Do\n\n1. a\n2. b\n\n   more of b\n\n"},
		{"loose list", "## Do\n\n- a\n\n- b\n\nAfter.", "## Do\n\n- a\n\n- b\n\n"},
		{"intro to a list", "## Do\n\nTwo ways:\n\n- a\n- b\n\nAfter.", "## Do\n\nTwo ways:\n\n- a\n- b\n\n"},
		{"paragraphs only", "## Do\n\nFirst.\n\nSecond.", "## Do\n\nFirst.\n\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstSteps(tt.in); got != tt.want {
				t.Errorf("firstSteps(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
