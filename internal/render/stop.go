package render

import (
	"fmt"
	"path"
	"strings"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
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
		return catalog.S(lang, "render.heading.closing", "version", v.Name)
	case walkthrough.ForkFailure:
		return catalog.S(lang, "render.heading.branch", "title", title, "version", v.Name)
	}
	p, err := walkthrough.LookupPhase(string(ev.Phase))
	if err != nil {
		return fmt.Sprintf("%s · %s", ev.Phase, v.Name)
	}
	return catalog.S(lang, "render.heading.phase", "n", p.Number, "total", walkthrough.MainPhaseCount, "title", title, "version", v.Name)
}

// Subheading returns the lines under the heading: which process and
// driver, then where in the code the stop happened.
func Subheading(ev walkthrough.Event, lang string) string {
	var parts []string
	proc := string(ev.Process)
	if ev.PID != 0 {
		proc = catalog.S(lang, "render.process_pid", "process", proc, "pid", ev.PID)
	}
	if proc != "" {
		parts = append(parts, proc)
	}
	if ev.Connection > 0 {
		parts = append(parts, catalog.S(lang, "render.connection", "n", ev.Connection))
	}
	parts = append(parts, catalog.S(lang, "render.driver", "driver", ev.Driver))
	line := strings.Join(parts, " · ")
	if at := catalog.EventPoint(lang, ev); at != "" {
		line += "\n\n" + catalog.S(lang, "render.at", "point", at)
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
		fmt.Fprintf(&b, "*%s*\n\n", catalog.S(s.Lang, "render.fell_back", "lang", s.Lang))
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
		return fmt.Sprintf("*%s*\n\n", catalog.S(s.Lang, "render.more_of", "title", s.title()))
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(s.Note.Body))
	b.WriteString("\n\n")
	if !strings.Contains(s.Note.Body, "/blob/"+s.Version.Tag+"/") {
		b.WriteString(refsMarkdown(s.Note, s.Version, s.Lang))
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
	return fmt.Sprintf("## %s\n\n%s", catalog.S(s.Lang, "render.every_value"), body)
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

// RefsMarkdown lists a note's cited ranges with their permalinks, in the
// note's language.
func RefsMarkdown(n *annotations.Note, v walkthrough.Version) string {
	return refsMarkdown(n, v, n.Lang)
}

// refsMarkdown is RefsMarkdown in lang.
func refsMarkdown(n *annotations.Note, v walkthrough.Version, lang string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** ", catalog.S(lang, "render.source"))
	for i, r := range n.Refs {
		if i > 0 {
			b.WriteString(" · ")
		}
		fmt.Fprintf(&b, "[%s](%s)", r.String(), v.Permalink(r.File, r.First, r.Last))
	}
	b.WriteString("\n\n")
	return b.String()
}

// factLine returns the Markdown list item of fact f in lang.
func factLine(f walkthrough.Fact, lang string) string {
	label, text := catalog.Fact(lang, f)
	if label == "" {
		return "- " + text + "\n"
	}
	return "- " + label + ": " + text + "\n"
}

// checkLine returns the Markdown list item of check c in lang.
func checkLine(c walkthrough.Check, ascii bool, lang string) string {
	name, detail := catalog.Check(lang, c)
	line := "- " + mark(c.OK, ascii) + " " + name
	if detail != "" {
		line += " — " + detail
	}
	return line + "\n"
}

// fdKinds are the catalog keys of the kinds of file descriptor.
var fdKinds = map[string]string{
	walkthrough.FDListenSocket:    "fd.listen_socket",
	walkthrough.FDClientSocket:    "fd.client_socket",
	walkthrough.FDDeathPipeRead:   "fd.death_pipe_read",
	walkthrough.FDDeathPipeWrite:  "fd.death_pipe_write",
	walkthrough.FDEpoll:           "fd.epoll",
	walkthrough.FDStdio:           "fd.stdio",
	walkthrough.FDSyslogPipe:      "fd.syslog_pipe",
	walkthrough.FDOther:           "fd.other",
	walkthrough.FDDriverChannel:   "fd.control_channel",
	walkthrough.FDPostmasterOther: "fd.postmaster_file",
}

// fdKind returns the kind of a file descriptor in lang; a kind the
// vocabulary does not name is shown as it is.
func fdKind(lang, kind string) string {
	if k, ok := fdKinds[kind]; ok {
		return catalog.S(lang, k)
	}
	return kind
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
	return fmt.Sprintf("## %s\n\n%s", catalog.S(lang, "render.what_happened"), body)
}

// nothingObserved is the line that stands for the values of a stop where
// nothing was observed.
func nothingObserved(ev walkthrough.Event, lang string) string {
	if ev.Driver == "narrate" {
		return "*" + catalog.S(lang, "render.narration") + "*\n"
	}
	return "*" + catalog.S(lang, "render.nothing") + "*\n"
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
		b.WriteString("`backend` (" + catalog.S(lang, "render.record_in_postmaster") + ")\n\n")
		b.WriteString(backendList([]walkthrough.BackendNode{*v.Backend}))
	}
	fdList := func(title string, fds []walkthrough.FD) {
		if len(fds) == 0 {
			return
		}
		fmt.Fprintf(&b, "`%s`\n\n", title)
		for _, f := range fds {
			fmt.Fprintf(&b, "- fd %d · %s", f.Num, fdKind(lang, f.Kind))
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
		b.WriteString("`backend_list` (" + catalog.S(lang, "render.head_first") + ")\n\n")
		if len(v.BackendList) == 0 {
			b.WriteString("- (" + catalog.S(lang, "render.empty") + ")\n\n")
		} else {
			b.WriteString(backendList(v.BackendList))
		}
	}
	if len(v.Log) > 0 {
		b.WriteString(catalog.S(lang, "render.log") + "\n\n```\n")
		for _, l := range v.Log {
			b.WriteString(l + "\n")
		}
		b.WriteString("```\n\n")
	}
	if len(v.Facts) > 0 {
		b.WriteString(catalog.S(lang, "render.also_observed") + "\n\n")
	}
	for _, f := range v.Facts {
		b.WriteString(factLine(f, lang))
	}
	if len(v.Facts) > 0 {
		b.WriteString("\n")
	}
	if len(v.Checks) > 0 {
		b.WriteString(catalog.S(lang, "render.checks") + "\n\n")
		for _, c := range v.Checks {
			b.WriteString(checkLine(c, ascii, lang))
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
// notes (one note per phase, in phase order), in lang.
func PhaseListMarkdown(v walkthrough.Version, notes []*annotations.Note, lang string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n%s\n|---|---|---|---|\n", catalog.S(lang, "render.phase_list.title", "version", v.Name, "tag", v.Tag), catalog.S(lang, "render.phase_list.header"))
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
