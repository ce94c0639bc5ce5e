// Package export turns pgwalk's notes, and optionally the events of one run,
// into documents to hand out: a Markdown handout, one self-contained HTML
// page, and a VS Code CodeTour that opens each cited range in a PostgreSQL
// checkout.
package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/internal/source"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// Formats lists the export formats.
var Formats = []string{"md", "html", "slides", "codetour"}

// Input is what an export is made from.
type Input struct {
	Version walkthrough.Version
	// Lang is the language of the notes; "" means English.
	Lang  string
	Notes *annotations.Set
	// Events are the stops of one run, in the order they happened; nil
	// exports the notes alone.
	Events []walkthrough.Event
	// Study is the questions and exercises of each phase; nil leaves them
	// out. The exercise is filled with the values of the phase's first
	// stop in Events, or shows its placeholders when there are no Events.
	Study *annotations.StudySet
	// Glossary, when set, is appended to the document, and the terms each
	// phase relies on link to it.
	Glossary *annotations.Glossary
	// Source, when set, gives the lines of each cited range to put under
	// it: the caller reads them and checks their hash (see CitedLines).
	Source func(ref annotations.Ref) CitedLines
}

// CitedLines are the lines of one cited range, read from a PostgreSQL
// source by the caller, who shows them only when the range's SHA-256 is
// the note's.
type CitedLines struct {
	// Lines are the range's lines, in order; nil when Why is set.
	Lines []source.Line
	// Why says in one line why the lines are not shown.
	Why string
}

// EventsError says what is wrong with an events file.
type EventsError struct {
	// Line is the line of the file, counted from 1.
	Line int
	Err  error
}

func (e *EventsError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Err) }
func (e *EventsError) Unwrap() error { return e.Err }

// ReadEvents decodes the JSON lines that `pgwalk run --output json` writes,
// one stop per line. Blank lines are skipped; a line that is not a stop of a
// known phase is an error that names it.
func ReadEvents(r io.Reader) ([]walkthrough.Event, error) {
	var out []walkthrough.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var stop render.JSONStop
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&stop); err != nil {
			return nil, &EventsError{Line: n, Err: fmt.Errorf("not a stop of pgwalk run --output json: %w", err)}
		}
		ev := stop.Event
		if ev.Phase == "" {
			return nil, &EventsError{Line: n, Err: errors.New("the stop names no phase")}
		}
		if p, err := walkthrough.LookupPhase(string(ev.Phase)); ev.Phase != walkthrough.Epilogue && (err != nil || p.ID != ev.Phase) {
			return nil, &EventsError{Line: n, Err: &walkthrough.UnknownPhaseError{Name: string(ev.Phase)}}
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading events: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("no stops in the events file")
	}
	return out, nil
}

// VersionMismatchError is returned when the events belong to another
// release than the one exported.
type VersionMismatchError struct {
	Want, Got string
	Seq       int
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("stop %d of the events is from PostgreSQL %s, not %s: export --version %s", e.Seq, e.Got, e.Want, e.Got)
}

// words are the fixed texts of an export in one language.
type words struct {
	title, intro, phase, branch, source, observed, notReached, notTaken, closing, fellBack, alsoCited, glossary, contents string
	// run says which driver observed the values, how many stops and how
	// many connections, in singular and plural.
	run func(driver string, stops, conns int) string
}

var dictionary = map[string]words{
	"en": {
		title: "BackendStartup, phase by phase · PostgreSQL %s",
		intro: "How PostgreSQL's postmaster turns a new client connection into a backend process, in the order the code runs, tied to the exact source lines of release %s (tag `%s`). Every range links to those lines on GitHub.",
		run: func(driver string, stops, conns int) string {
			return fmt.Sprintf("With the values observed in one run of the %s driver: %s, %s.", driver, plural(stops, "stop", "stops"), plural(conns, "connection", "connections"))
		},
		phase:      "Phase %d/%d · %s",
		branch:     "Branch · %s",
		source:     "Source",
		observed:   "Observed at stop %d",
		notReached: "This run did not reach this phase.",
		notTaken:   "This run did not take this branch.",
		closing:    "Closing check",
		fellBack:   "No %q note for this phase yet: this is the English one.",
		alsoCited:  "Also cited in this phase: %s.",
		glossary:   "Glossary",
		contents:   "Contents",
	},
	"ko": {
		title: "BackendStartup 단계별 해설 · PostgreSQL %s",
		intro: "PostgreSQL의 포스트마스터가 새 클라이언트 연결을 백엔드 프로세스로 바꾸는 과정을, 코드가 실행되는 순서대로 릴리스 %s(태그 `%s`)의 정확한 소스 줄에 맞춰 설명합니다. 모든 범위는 GitHub의 해당 줄로 연결됩니다.",
		run: func(driver string, stops, conns int) string {
			return fmt.Sprintf("%s 드라이버로 한 번 실행하며 관찰한 값이 함께 들어 있습니다. 정지 지점 %d개, 연결 %d개입니다.", driver, stops, conns)
		},
		phase:      "%d/%d단계 · %s",
		branch:     "분기 · %s",
		source:     "소스",
		observed:   "%d번째 정지 지점에서 관찰한 값",
		notReached: "이번 실행은 이 단계에 이르지 않았습니다.",
		notTaken:   "이번 실행은 이 분기를 지나지 않았습니다.",
		closing:    "마무리 확인",
		fellBack:   "이 단계의 %q 노트가 아직 없어 영어 노트를 싣습니다.",
		alsoCited:  "이 단계에서 함께 보는 범위입니다: %s",
		glossary:   "용어집",
		contents:   "차례",
	},
}

func (in Input) lang() string {
	if in.Lang == "" {
		return annotations.DefaultLang
	}
	return in.Lang
}

func (in Input) words() words {
	if w, ok := dictionary[in.lang()]; ok {
		return w
	}
	return dictionary[annotations.DefaultLang]
}

// section is one phase of a document: its note and the stops of the run
// that belong to it.
type section struct {
	Phase    walkthrough.Phase
	Note     *annotations.Note
	FellBack bool
	Stops    []walkthrough.Event
	// Epilogue marks the closing-check section, which has no note.
	Epilogue bool
}

// ID returns an identifier for the section, usable as an HTML id.
func (s section) ID() string {
	if s.Epilogue {
		return string(walkthrough.Epilogue)
	}
	return string(s.Phase.ID)
}

// document is what every format is made of.
type document struct {
	in       Input
	w        words
	sections []section
	// FellBack lists the phases whose note is English although another
	// language was asked for.
	FellBack []walkthrough.PhaseID
}

// build gathers the notes of in.Version and assigns the run's stops to them.
func build(in Input) (*document, error) {
	if in.Notes == nil {
		return nil, errors.New("export: no notes")
	}
	d := &document{in: in, w: in.words()}
	for _, ev := range in.Events {
		if ev.Version != "" && ev.Version != in.Version.Name {
			return nil, &VersionMismatchError{Want: in.Version.Name, Got: ev.Version, Seq: ev.Seq}
		}
	}
	for _, p := range walkthrough.Phases() {
		n, fell, err := in.Notes.Note(in.Version.Name, p.ID, in.lang())
		if err != nil {
			return nil, err
		}
		if fell {
			d.FellBack = append(d.FellBack, p.ID)
		}
		s := section{Phase: p, Note: n, FellBack: fell}
		for _, ev := range in.Events {
			if ev.Phase == p.ID {
				s.Stops = append(s.Stops, ev)
			}
		}
		d.sections = append(d.sections, s)
	}
	var closing section
	for _, ev := range in.Events {
		if ev.Phase == walkthrough.Epilogue {
			closing.Stops = append(closing.Stops, ev)
		}
	}
	if len(closing.Stops) > 0 {
		closing.Epilogue = true
		d.sections = append(d.sections, closing)
	}
	return d, nil
}

// Title returns the document's title.
func (d *document) Title() string { return fmt.Sprintf(d.w.title, d.in.Version.Name) }

// IntroMarkdown returns the paragraph under the title.
func (d *document) IntroMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, d.w.intro+"\n", d.in.Version.Name, d.in.Version.Tag)
	if ev := d.in.Events; len(ev) > 0 {
		conns := map[int]bool{}
		for _, e := range ev {
			conns[e.Connection] = true
		}
		fmt.Fprintf(&b, "\n%s\n", d.w.run(ev[0].Driver, len(ev), len(conns)))
	}
	return b.String()
}

// Heading returns the heading of s: "Phase 3/5 · Fork".
func (d *document) Heading(s section) string {
	if s.Epilogue {
		return d.w.closing
	}
	title := s.Phase.Title
	if !s.FellBack && s.Note != nil && d.in.lang() != annotations.DefaultLang {
		title = s.Note.Title
	}
	if s.Phase.Number == 0 {
		return fmt.Sprintf(d.w.branch, title)
	}
	return fmt.Sprintf(d.w.phase, s.Phase.Number, walkthrough.MainPhaseCount, title)
}

// SourceMarkdown lists the ranges s cites, with their permalinks.
func (d *document) SourceMarkdown(s section) string {
	if s.Note == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", d.w.source)
	for _, r := range s.Note.Refs {
		fmt.Fprintf(&b, "- [%s](%s)", r.String(), d.in.Version.Permalink(r.File, r.First, r.Last))
		if r.Label != "" && d.in.lang() == annotations.DefaultLang {
			fmt.Fprintf(&b, " · %s", r.Label)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// StopsMarkdown returns the values observed at the stops of s, each under
// its own heading at level, or a line saying the run did not get there.
func (d *document) StopsMarkdown(s section, level int) string {
	if len(d.in.Events) == 0 {
		return ""
	}
	if len(s.Stops) == 0 {
		if s.Phase.Number == 0 {
			return "*" + d.w.notTaken + "*\n\n"
		}
		return "*" + d.w.notReached + "*\n\n"
	}
	var b strings.Builder
	for _, ev := range s.Stops {
		fmt.Fprintf(&b, "%s %s\n\n%s\n\n", strings.Repeat("#", level), fmt.Sprintf(d.w.observed, ev.Seq), render.Subheading(ev, d.in.lang()))
		values := render.ValuesMarkdownIn(ev, false, d.in.lang())
		// ValuesMarkdown opens with its own "What happened" heading: the
		// stop's heading above already says it.
		if _, rest, ok := strings.Cut(values, "\n"); ok && strings.HasPrefix(values, "#") {
			values = strings.TrimLeft(rest, "\n")
		}
		b.WriteString(shiftHeadings(values, level))
		b.WriteString("\n")
	}
	return b.String()
}

// BodyMarkdown returns the note of s with its headings shifted below level.
func (d *document) BodyMarkdown(s section, level int) string {
	if s.Note == nil {
		return ""
	}
	var b strings.Builder
	if s.FellBack {
		fmt.Fprintf(&b, "*"+d.w.fellBack+"*\n\n", d.in.lang())
	}
	b.WriteString(shiftHeadings(strings.TrimSpace(s.Note.Body), level-1))
	b.WriteString("\n\n")
	return b.String()
}

// shiftHeadings makes every ATX heading of md outside code fences by levels
// deeper, up to level 6.
func shiftHeadings(md string, levels int) string {
	if levels <= 0 {
		return md
	}
	lines := strings.Split(md, "\n")
	fence := ""
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		if fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence = trimmed[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			hashes := len(line) - len(strings.TrimLeft(line, "#"))
			if hashes <= 6 && (len(line) == hashes || line[hashes] == ' ') {
				lines[i] = strings.Repeat("#", min(6, hashes+levels)) + line[hashes:]
			}
		}
	}
	return strings.Join(lines, "\n")
}

// plural returns "1 stop" or "6 stops".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
