package cli

import (
	"errors"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// errTerminalGone reports that the terminal's input ended: it was hung up.
var errTerminalGone = errors.New("the terminal went away")

// errQuit reports that the user pressed q.
var errQuit = errors.New("quit")

// Layout of a terminal wide enough to show the source beside the note.
const (
	// besideWidth is the narrowest terminal that shows the source beside
	// the note: a note column of 78 and a source column of 80.
	besideWidth = 160
	// sourceColumn is the widest source column: PostgreSQL's lines are
	// at most 80 columns, plus the line numbers.
	sourceColumn = 96
)

// viewKey names a stop laid out for one terminal size.
type viewKey struct {
	pos           int
	source        bool
	width, height int
}

// stopView is a stop laid out for one terminal size.
type stopView struct {
	body    render.Body
	pages   []int
	lastTop int
}

// widths returns the columns of the note's text and of the source on a
// terminal of width columns, and whether the source goes beside the note.
func (w *walk) widths(width int, source bool) (text, src int, beside bool) {
	text = min(width, iostreams.MaxWidth)
	if w.opts.Width > 0 {
		text = w.opts.Width
	}
	text = max(text, iostreams.MinWidth)
	if source && width >= besideWidth {
		src = min(width/2, sourceColumn)
		return min(text, width-src-2), src, true
	}
	return text, text, false
}

// view lays out stop pos for a terminal of width columns with height rows
// for it, once per size.
func (w *walk) view(pos int, source bool, width, height int) (*stopView, error) {
	key := viewKey{pos, source, width, height}
	if v, ok := w.views[key]; ok {
		return v, nil
	}
	s := w.built[pos]
	sourceOn := source && w.source != nil && w.source.avail && s.ShowNote && s.Note != nil
	textW, srcW, beside := w.widths(width, sourceOn)
	r := w.renderer.WithWidth(textW)
	parts := render.StopParts{Beside: beside, TextWidth: textW}
	var err error
	if parts.Head, err = r.Document(s.HeadMarkdown(w.ascii)); err != nil {
		return nil, err
	}
	if parts.Note, err = r.Document(s.BodyMarkdown()); err != nil {
		return nil, err
	}
	if md := s.DetailsMarkdown(w.ascii); md != "" {
		if parts.Details, err = r.Document(md); err != nil {
			return nil, err
		}
	}
	if sourceOn {
		parts.Sources = w.source.WithWidth(srcW).BlockList(w.ctx, s.Note)
	}
	v := &stopView{body: render.Compose(parts)}
	v.pages = v.body.Pages(height, width)
	v.lastTop = v.body.LastTop(height, width)
	if len(w.views) > 64 {
		clear(w.views) // a long resize session: keep the cache small
	}
	w.views[key] = v
	return v, nil
}

// drawStop lays out the stop on screen (st.Shown) for the terminal's size
// now and draws it (with the key help or the connect commands over it
// when asked), and returns st with the stop's layout. Before the first
// stop of a run that waits for clients, it draws how to connect.
// keysLive says that keys act while the driver works (the footer says
// what pgwalk waits for).
func (w *walk) drawStop(st walkthrough.State, keysLive bool) (walkthrough.State, error) {
	width, height := w.opts.IO.TerminalSize()
	if w.opts.Width == 0 && width < iostreams.MinWidth && w.narrowWarned != width {
		w.narrowWarned = width
		if w.shown != nil { // the first was said when the run began
			w.screen.Queue(narrowWarning(width, w.opts.Lang))
		}
	}
	rows := w.screen.BodyRows(width, height)
	ascii := w.renderer.Style() == "ascii"
	var lines []string
	if pos := st.Shown(); pos >= 0 {
		v, err := w.view(pos, st.Source, width, rows)
		if err != nil {
			return st, err
		}
		st = st.WithLayout(walkthrough.Layout{Lines: len(v.body.Lines), Pages: v.pages, Breaks: v.body.Breaks(), LastTop: v.lastTop, Values: v.body.Values, Source: v.body.Source})
		lines = v.body.Window(st.Top, v.pages, rows, width)
		w.markSeen(w.built[pos].Event.Connection)
	} else {
		lines = render.ConnectBox(w.connectInfo(false), width, ascii)
		for len(lines) < rows {
			lines = append(lines, "")
		}
	}
	switch {
	case st.Help:
		lines = render.Overlay(lines, render.KeyHelp(w.opts.Lang, ascii), width)
	case st.Connect:
		lines = render.Overlay(lines, render.ConnectBox(w.connectInfo(true), width, ascii), width)
	}
	w.screen.Enter()
	w.screen.Draw(lines, w.footer(st, keysLive))
	w.shown = &st
	return st, nil
}

// footer returns the footer line of st on the terminal as it is now.
func (w *walk) footer(st walkthrough.State, keysLive bool) string {
	width, _ := w.opts.IO.TerminalSize()
	heading := catalog.S(w.opts.Lang, "footer.waiting_heading", "version", w.opts.Version.Name, "driver", w.opts.Driver)
	if pos := st.Shown(); pos >= 0 {
		heading = w.built[pos].Heading()
	}
	return render.Footer(st, heading, w.alert(st, keysLive), width, w.renderer.Color(), w.renderer.Style() == "ascii", w.opts.Lang)
}
