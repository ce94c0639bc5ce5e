package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// errTerminalGone reports that the terminal's input ended: it was hung up.
var errTerminalGone = errors.New("the terminal went away")

// errQuit reports that the user pressed q.
var errQuit = errors.New("quit")

// keyResize is what key returns when the terminal was resized.
const keyResize walkthrough.Key = "resize"

// readKeys decodes key presses from in until it fails.
func readKeys(in io.Reader) <-chan walkthrough.Key {
	ch := make(chan walkthrough.Key)
	go func() {
		defer close(ch)
		buf := make([]byte, 16)
		for {
			n, err := in.Read(buf)
			for _, k := range walkthrough.DecodeKeys(buf[:n]) {
				ch <- k
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// loopScreen is the loop of an interactive run: one stop at a time on the
// alternate screen, laid out anew when the terminal is resized. It returns
// nil when the walk is over, errQuit when q ended it.
func (w *walk) loopScreen(ctx context.Context, keys <-chan walkthrough.Key) error {
	resize := make(chan struct{}, 1)
	stopResize := w.opts.IO.NotifyResize(resize)
	defer stopResize()
	st := walkthrough.State{Source: w.source != nil && w.source.avail}
	for {
		if st.NeedStop() {
			ev, err := w.next(ctx, keys, resize)
			switch {
			case walkthrough.IsEOF(err):
				st = st.Ended()
			case err != nil:
				return err
			default:
				if err := w.received(ev); err != nil {
					return err
				}
				st = st.Received(ev.Phase)
			}
		}
		if st.Finished || len(st.Stops) == 0 {
			return nil
		}
		var err error
		if st, err = w.drawStop(st); err != nil {
			return err
		}
		k, err := w.key(ctx, keys, resize)
		switch {
		case errors.Is(err, errTerminalGone):
			return err
		case err != nil:
			return nil // a signal: runRun says which
		case k == keyResize:
			continue
		}
		w.screen.ClearNotices()
		st = walkthrough.Advance(st, k)
		if k == walkthrough.KeySource && (w.source == nil || !w.source.avail) {
			st.Message = catalog.S(w.opts.Lang, "run.no_source_key", "version", w.opts.Version.Name)
		}
		if st.Message != "" {
			w.screen.Queue(st.Message)
		}
		if st.Quit {
			if st.Interrupted {
				return SilentExit(ExitInterrupt)
			}
			return errQuit
		}
	}
}

// next asks the driver for the next stop. Meanwhile q or Ctrl-C abandons
// the wait, and a resized terminal gets the stop on screen laid out anew.
func (w *walk) next(ctx context.Context, keys <-chan walkthrough.Key, resize <-chan struct{}) (walkthrough.Event, error) {
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		ev  walkthrough.Event
		err error
	}
	got := make(chan result, 1)
	go func() {
		ev, err := w.session.Next(nctx)
		got <- result{ev, err}
	}()
	quit := walkthrough.KeyNone
	for {
		select {
		case r := <-got:
			switch quit {
			case walkthrough.KeyInterrupt:
				return r.ev, SilentExit(ExitInterrupt)
			case walkthrough.KeyQuit:
				return r.ev, errQuit
			}
			return r.ev, r.err
		case k, ok := <-keys:
			if !ok {
				keys = nil // hung up: the SIGHUP ends the wait
				continue
			}
			if k == walkthrough.KeyQuit || k == walkthrough.KeyInterrupt {
				quit = k
				cancel()
			}
		case <-resize:
			// Only what was received is drawn: the session is busy.
			if w.shown != nil {
				if _, err := w.drawStop(*w.shown); err != nil {
					cancel()
					<-got
					return walkthrough.Event{}, err
				}
			}
		}
	}
}

// key waits for the next key, for --delay to pass (the next stop), or for
// the terminal to be resized (keyResize).
func (w *walk) key(ctx context.Context, keys <-chan walkthrough.Key, resize <-chan struct{}) (walkthrough.Key, error) {
	var tick <-chan time.Time
	if w.opts.Delay > 0 {
		t := time.NewTimer(w.opts.Delay)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ctx.Done():
		return walkthrough.KeyNone, ctx.Err()
	case k, ok := <-keys:
		if !ok {
			// A terminal's input ends only when it is hung up (closed).
			return walkthrough.KeyNone, errTerminalGone
		}
		return k, nil
	case <-tick:
		// --delay advances by stop, not by page.
		return walkthrough.KeyNextStop, nil
	case <-resize:
		return keyResize, nil
	}
}

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

// drawStop lays out the stop at st.Pos for the terminal's size now and
// draws it (with the key help over it when asked), and returns st with the
// stop's layout.
func (w *walk) drawStop(st walkthrough.State) (walkthrough.State, error) {
	width, height := w.opts.IO.TerminalSize()
	if w.opts.Width == 0 && width < iostreams.MinWidth && w.narrowWarned != width {
		w.narrowWarned = width
		if w.shown != nil { // the first was said when the run began
			w.screen.Queue(narrowWarning(width, w.opts.Lang))
		}
	}
	rows := w.screen.BodyRows(width, height)
	v, err := w.view(st.Pos, st.Source, width, rows)
	if err != nil {
		return st, err
	}
	st = st.WithLayout(walkthrough.Layout{Lines: len(v.body.Lines), Pages: v.pages, Breaks: v.body.Breaks(), LastTop: v.lastTop, Values: v.body.Values, Source: v.body.Source})
	lines := v.body.Window(st.Top, v.pages, rows, width)
	if st.Help {
		lines = render.Overlay(lines, render.KeyHelp(w.opts.Lang, w.renderer.Style() == "ascii"), width)
	}
	footer := render.Footer(st, w.built[st.Pos].Heading(), width, w.renderer.Color(), w.renderer.Style() == "ascii", w.opts.Lang)
	w.screen.Enter()
	w.screen.Draw(lines, footer)
	w.shown = &st
	return st, nil
}
