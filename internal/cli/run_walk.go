package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/annotations"
	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
	"github.com/pgwalk/pgwalk/internal/render"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// walk is the state of one run of `pgwalk run`.
type walk struct {
	opts     *RunOptions
	notes    *annotations.Set
	renderer *render.Renderer
	session  *walkthrough.Session
	// built holds the render.Stop of every stop received, in order.
	built []render.Stop
	// firstOfPhase remembers, per connection and phase, the first stop
	// that showed the phase's note.
	firstOfPhase map[string]int
	source       *sourceView
	hint         func() string
	ctx          context.Context
	interactive  bool
	ascii        bool
	// screen is the terminal of an interactive run; views caches its
	// stops laid out for a size, shown is the state last drawn.
	screen       *iostreams.Screen
	views        map[viewKey]*stopView
	shown        *walkthrough.State
	narrowWarned int
	// sticky are the notices that stay on screen until a key, over a new
	// stop too: the warnings, who connected.
	sticky []string
	// drv is the run's driver, caps what it can do.
	drv  walkthrough.Driver
	caps Capabilities
	// clients are the clients of a run that waits for them; arrivedCh
	// tells the loop that one connected.
	clients   clients
	arrivedCh chan struct{}
}

// errorf says the message key on ErrOut, in the run's language.
func (w *walk) errorf(key string, pairs ...any) {
	fmt.Fprintf(w.opts.IO.ErrOut, "pgwalk: %s\n", catalog.S(w.opts.Lang, key, pairs...))
}

// notice says a line now on ErrOut, and on the first screen until the
// first key.
func (w *walk) notice(line string) {
	fmt.Fprintf(w.opts.IO.ErrOut, "pgwalk: %s\n", line)
	if w.screen != nil {
		w.screen.Queue(line)
		w.sticky = append(w.sticky, line)
	}
}

// say shows a driver's line: on the screen while it is up (and on ErrOut
// too when that is not the same terminal), else on ErrOut.
func (w *walk) say(line string) {
	if w.screen != nil && w.screen.NoticeIfActive(line) && w.opts.IO.IsStderrTTY() {
		return
	}
	fmt.Fprintf(w.opts.IO.ErrOut, "pgwalk: %s\n", line)
}

// loop is the run off a terminal (or with --no-pause): it fetches stops
// and prints each one, then goes on by itself (after --delay). It returns
// nil when the walk is over. Without --delay no one looks at the paused
// processes, so the driver works on the next stop while this one is
// rendered; with it, the processes stay at the stop on screen.
func (w *walk) loop(ctx context.Context) error {
	next := w.session.Next
	if w.opts.Delay == 0 {
		ahead, stop := w.fetchAhead(ctx)
		defer stop()
		next = ahead
	}
	var st walkthrough.State
	for {
		if st.NeedStop() {
			ev, err := next(ctx)
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
		if err := w.print(st.Pos); err != nil {
			return err
		}
		if err := sleep(ctx, w.opts.Delay); err != nil {
			return nil
		}
		st = walkthrough.Advance(st, walkthrough.KeyNextStop)
	}
}

// fetchAhead asks the driver for every stop, one after another, in the
// background, and returns the function that gives them in order (as
// Session.Next does), and the function that ends the fetching and waits
// (a bounded time) for the driver to return. It stops after the end of
// the run or an error, which it hands on like a stop. The driver may run
// several stops ahead: the child it starts at the fork then starts while
// the first stops render (measured on a loaded 2-core machine: the whole
// run 6 ms sooner, the first stop 4 ms later, than one stop ahead only).
func (w *walk) fetchAhead(ctx context.Context) (next func(context.Context) (walkthrough.Event, error), stop func()) {
	fctx, cancel := context.WithCancel(ctx)
	got := make(chan fetched, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.session.Next(fctx)
			select {
			case got <- fetched{ev, err}:
			case <-fctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	next = func(ctx context.Context) (walkthrough.Event, error) {
		select {
		case r := <-got:
			return r.ev, r.err
		case <-ctx.Done():
			return walkthrough.Event{}, ctx.Err()
		}
	}
	stop = func() {
		cancel()
		t := time.NewTimer(abandonWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		}
	}
	return next, stop
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// received builds the render.Stop of a stop the driver just reported: the
// note is shown at the first stop of each phase of a connection, and the
// stop knows the earlier stops of its connection.
func (w *walk) received(ev walkthrough.Event) error {
	i := len(w.built)
	s := render.Stop{Event: ev, Version: w.opts.Version, Lang: w.opts.Lang, ShowNote: true}
	for _, b := range w.built {
		if b.Event.Connection == ev.Connection {
			s.Earlier = append(s.Earlier, b.Event)
		}
	}
	if ev.Phase != walkthrough.Epilogue {
		n, fell, err := w.notes.Note(w.opts.Version.Name, ev.Phase, w.opts.Lang)
		if err != nil {
			return err
		}
		s.Note, s.FellBack = withStudy(n, ev, w.opts.Version, w.opts.Lang), fell && w.opts.Lang != annotations.DefaultLang
		k := fmt.Sprintf("%d/%s", ev.Connection, ev.Phase)
		if first, ok := w.firstOfPhase[k]; ok && first != i {
			s.ShowNote = false
		} else {
			w.firstOfPhase[k] = i
		}
	}
	w.built = append(w.built, s)
	return nil
}

// print writes stop i off a terminal: plain text, or one line of JSON.
func (w *walk) print(i int) error {
	s := w.built[i]
	out := w.opts.IO.Out
	if w.opts.Output == "json" {
		return render.WriteJSON(out, s)
	}
	head, err := w.renderer.Document(s.HeadMarkdown(w.ascii))
	if err != nil {
		return err
	}
	note, err := w.renderer.Document(s.BodyMarkdown())
	if err != nil {
		return err
	}
	details := ""
	if md := s.DetailsMarkdown(w.ascii); md != "" {
		if details, err = w.renderer.Document(md); err != nil {
			return err
		}
	}
	text := strings.TrimRight(head, "\n") + "\n" + strings.TrimRight(note, "\n") + "\n"
	if details != "" {
		text += strings.TrimRight(details, "\n") + "\n"
	}
	if w.source != nil && s.ShowNote {
		text += "\n" + w.source.Blocks(w.ctx, s.Note)
	}
	if i > 0 {
		fmt.Fprintln(out, strings.Repeat("-", min(w.renderer.Width(), 72)))
	}
	_, err = fmt.Fprint(out, text)
	return err
}
