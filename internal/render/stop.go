package render

import (
	"fmt"
	"path"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// Stop is everything shown at one stop of a run.
type Stop struct {
	Event walkthrough.Event
	// Note is the phase's note; nil for the epilogue.
	Note *annotations.Note
	// Version is the release being walked.
	Version walkthrough.Version
	// ShowNote is false when the note was already shown for an earlier
	// stop of the same phase and connection: only the values are shown.
	ShowNote bool
	// FellBack is set when the note is English because the requested
	// language has none.
	FellBack bool
	// Lang is the requested language.
	Lang string
	// Earlier are the stops of the same connection before this one, in
	// order: what they observed is not new at this stop.
	Earlier []walkthrough.Event
}

// Heading returns the stop's heading in English: "Phase 3/5 · Fork · 16.4".
func Heading(ev walkthrough.Event, v walkthrough.Version) string {
	return HeadingIn(ev, v, "", "")
}

// HeadingIn returns the stop's heading in lang, with title as the phase's
// title when it is not empty (a translated note's title).
func HeadingIn(ev walkthrough.Event, v walkthrough.Version, lang, title string) string {
	if title == "" {
		title = walkthrough.PhaseTitle(ev.Phase)
	}
	switch ev.Phase {
	case walkthrough.Epilogue:
		return fmt.Sprintf("%s · %s", tr(lang, "Closing check"), v.Name)
	case walkthrough.ForkFailure:
		return fmt.Sprintf("%s · %s · %s", tr(lang, "Branch"), title, v.Name)
	}
	p, err := walkthrough.LookupPhase(string(ev.Phase))
	if err != nil {
		return fmt.Sprintf("%s · %s", ev.Phase, v.Name)
	}
	if lang == "ko" {
		return fmt.Sprintf("%d/%d%s · %s · %s", p.Number, walkthrough.MainPhaseCount, tr(lang, "Phase"), title, v.Name)
	}
	return fmt.Sprintf("Phase %d/%d · %s · %s", p.Number, walkthrough.MainPhaseCount, title, v.Name)
}

// Subheading returns the lines under the heading: which process and
// driver, then where in the code the stop happened.
func Subheading(ev walkthrough.Event, lang string) string {
	var parts []string
	proc := string(ev.Process)
	if ev.PID != 0 {
		proc = fmt.Sprintf("%s pid %d", proc, ev.PID)
	}
	if proc != "" {
		parts = append(parts, proc)
	}
	if ev.Connection > 0 {
		parts = append(parts, fmt.Sprintf("%s %d", tr(lang, "connection"), ev.Connection))
	}
	parts = append(parts, tr(lang, "driver")+" "+ev.Driver)
	line := strings.Join(parts, " · ")
	if ev.Point != "" {
		line += "\n\n" + tr(lang, "at") + ": " + ev.Point
	}
	return line
}

// Markdown returns the Markdown of s: HeadMarkdown, NoteMarkdown, then
// DetailsMarkdown.
func (s Stop) Markdown(ascii bool) string {
	return s.HeadMarkdown(ascii) + s.BodyMarkdown() + s.DetailsMarkdown(ascii)
}

// HeadMarkdown returns what a stop's first screen must hold: its heading,
// the process and the point in the code, and a compact "What happened"
// that lists what is new at this stop.
func (s Stop) HeadMarkdown(ascii bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", s.Heading(), Subheading(s.Event, s.Lang))
	if s.FellBack {
		fmt.Fprintf(&b, "*"+tr(s.Lang, "fell back")+"*\n\n", s.Lang)
	}
	b.WriteString(CompactValuesMarkdown(s.Event, s.Earlier, ascii, s.Lang))
	return b.String()
}

// BodyMarkdown returns the note of s with its cited ranges, or the line
// that says it was shown at an earlier stop; "" for the epilogue.
func (s Stop) BodyMarkdown() string {
	if s.Note == nil {
		return ""
	}
	if !s.ShowNote {
		return fmt.Sprintf("*"+tr(s.Lang, "more of")+"*\n\n", s.title())
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(s.Note.Body))
	b.WriteString("\n\n")
	if !strings.Contains(s.Note.Body, "/blob/"+s.Version.Tag+"/") {
		b.WriteString(RefsMarkdown(s.Note, s.Version))
	}
	return b.String()
}

// DetailsMarkdown returns every value observed at s, the checks left out
// (the head lists them all), or "" when nothing was observed.
func (s Stop) DetailsMarkdown(ascii bool) string {
	ev := s.Event
	ev.Values.Checks = nil
	body := valuesBody(ev, ascii, s.Lang)
	if body == "" {
		return ""
	}
	return fmt.Sprintf("## %s\n\n%s", tr(s.Lang, "Every value at this stop"), body)
}

// title returns the phase title of the stop: the note's, else the English.
func (s Stop) title() string {
	if s.Note != nil && s.Note.Title != "" && !s.FellBack {
		return s.Note.Title
	}
	return walkthrough.PhaseTitle(s.Event.Phase)
}

// Heading returns the stop's heading in its language.
func (s Stop) Heading() string {
	if s.Lang == "" || s.Lang == annotations.DefaultLang {
		return Heading(s.Event, s.Version)
	}
	return HeadingIn(s.Event, s.Version, s.Lang, s.title())
}

// RefsMarkdown lists a note's cited ranges with their permalinks.
func RefsMarkdown(n *annotations.Note, v walkthrough.Version) string {
	var b strings.Builder
	b.WriteString("**Source** ")
	for i, r := range n.Refs {
		if i > 0 {
			b.WriteString(" · ")
		}
		fmt.Fprintf(&b, "[%s](%s)", r.String(), v.Permalink(r.File, r.First, r.Last))
	}
	b.WriteString("\n\n")
	return b.String()
}

func mark(ok, ascii bool) string {
	switch {
	case ok && ascii:
		return "[ok]"
	case ok:
		return "✓"
	case ascii:
		return "[FAILED]"
	}
	return "✗"
}

// ValuesMarkdown returns the "what happened" section of ev in English, or a
// line that says nothing was observed.
func ValuesMarkdown(ev walkthrough.Event, ascii bool) string {
	return ValuesMarkdownIn(ev, ascii, "")
}

// ValuesMarkdownIn is ValuesMarkdown with its headings in lang.
func ValuesMarkdownIn(ev walkthrough.Event, ascii bool, lang string) string {
	body := valuesBody(ev, ascii, lang)
	if body == "" {
		body = nothingObserved(ev, lang)
	}
	return fmt.Sprintf("## %s\n\n%s", tr(lang, "What happened"), body)
}

// nothingObserved is the line that stands for the values of a stop where
// nothing was observed.
func nothingObserved(ev walkthrough.Event, lang string) string {
	if ev.Driver == "narrate" {
		return "*" + tr(lang, "narration") + "*\n"
	}
	return "*" + tr(lang, "nothing") + "*\n"
}

// valuesBody returns the Markdown of every value of ev, or "".
func valuesBody(ev walkthrough.Event, ascii bool, lang string) string {
	v := ev.Values
	var b strings.Builder
	n := b.Len()
	for _, sc := range scalars(v) {
		fmt.Fprintf(&b, "- `%s` = %s\n", sc.name, sc.value)
	}
	if b.Len() > n {
		b.WriteString("\n")
	}
	if v.Backend != nil {
		b.WriteString("`backend` (" + tr(lang, "the record in the postmaster") + ")\n\n")
		b.WriteString(backendList([]walkthrough.BackendNode{*v.Backend}))
	}
	fdList := func(title string, fds []walkthrough.FD) {
		if len(fds) == 0 {
			return
		}
		fmt.Fprintf(&b, "`%s`\n\n", title)
		for _, f := range fds {
			fmt.Fprintf(&b, "- fd %d · %s", f.Num, f.Kind)
			if f.Target != "" {
				fmt.Fprintf(&b, " · `%s`", f.Target)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	fdList("fds_before", v.FDsBefore)
	fdList("fds_after", v.FDsAfter)
	fdList("closed_fds", v.ClosedFDs)
	if v.BackendList != nil {
		b.WriteString("`backend_list` (" + tr(lang, "head first") + ")\n\n")
		if len(v.BackendList) == 0 {
			b.WriteString("- (" + tr(lang, "empty") + ")\n\n")
		} else {
			b.WriteString(backendList(v.BackendList))
		}
	}
	if len(v.Log) > 0 {
		b.WriteString(tr(lang, "Log") + "\n\n```\n")
		for _, l := range v.Log {
			b.WriteString(l + "\n")
		}
		b.WriteString("```\n\n")
	}
	if len(v.Facts) > 0 {
		b.WriteString(tr(lang, "Also observed") + "\n\n")
	}
	for _, f := range v.Facts {
		fmt.Fprintf(&b, "- %s: %s\n", f.Name, f.Value)
	}
	if len(v.Facts) > 0 {
		b.WriteString("\n")
	}
	if len(v.Checks) > 0 {
		b.WriteString(tr(lang, "Checks") + "\n\n")
		for _, c := range v.Checks {
			fmt.Fprintf(&b, "- %s %s", mark(c.OK, ascii), c.Name)
			if c.Detail != "" {
				fmt.Fprintf(&b, " — %s", c.Detail)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if b.Len() == n {
		return ""
	}
	return b.String()
}

func backendList(nodes []walkthrough.BackendNode) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "- pid %d%s · child_slot %d · bkend_type %s · dead_end %t · bgworker_notify %t\n",
			n.PID, nodeKey(n), n.ChildSlot, cell(n.BkendType), n.DeadEnd, n.BgworkerNotify)
	}
	b.WriteString("\n")
	return b.String()
}

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// PhaseListMarkdown returns the table of phases and their cited ranges for
// notes (one note per phase, in phase order).
func PhaseListMarkdown(v walkthrough.Version, notes []*annotations.Note) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# BackendStartup phases · %s (%s)\n\n| # | phase | title | source |\n|---|---|---|---|\n", v.Name, v.Tag)
	for _, n := range notes {
		p, _ := walkthrough.LookupPhase(string(n.Phase))
		num := fmt.Sprint(p.Number)
		if p.Number == 0 {
			num = "-"
		}
		var refs []string
		for _, r := range n.Refs {
			refs = append(refs, path.Base(r.File)+":"+fmt.Sprintf("%d-%d", r.First, r.Last))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", num, n.Phase, n.Title, strings.Join(refs, ", "))
	}
	return b.String()
}

// NoteMarkdown returns a note on its own, as `pgwalk show` prints it.
func NoteMarkdown(n *annotations.Note, v walkthrough.Version) string {
	heading := Stop{Event: walkthrough.Event{Phase: n.Phase}, Version: v, Note: n, Lang: n.Lang}.Heading()
	md := fmt.Sprintf("# %s\n\n%s\n\n", heading, strings.TrimSpace(n.Body))
	if !strings.Contains(n.Body, "/blob/"+v.Tag+"/") {
		md += RefsMarkdown(n, v)
	}
	return md
}
