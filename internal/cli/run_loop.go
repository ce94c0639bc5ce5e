package cli

import (
	"context"
	"io"
	"time"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// readKeys decodes key presses from in until it fails: the one reader of
// the terminal's keys for the whole run. The channel closes when in ends.
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

// liveKeysAfter is how long a run that waits for clients lets the driver
// work on the next stop before keys act at once, over the stops already
// received: past it, the driver waits for someone (a client to connect,
// one to disconnect), not for the machine. Until then, and in every other
// run, a key that comes while a stop is coming waits for it: typed ahead,
// it acts as if it came after.
const liveKeysAfter = 200 * time.Millisecond

// abandonWait bounds the wait, as the loop ends, for a stop it no longer
// wants: the driver returns at once when its context is cancelled, and
// Close ends what it started in any case.
const abandonWait = 10 * time.Second

// fetched is what the driver returned for the next stop.
type fetched struct {
	ev  walkthrough.Event
	err error
}

// screenLoop is the state of the loop of an interactive run.
type screenLoop struct {
	w  *walk
	st walkthrough.State
	// got delivers the next stop while the driver works on it (nil
	// otherwise); cancel abandons that work.
	got    chan fetched
	cancel context.CancelFunc
	// live fires when keys start to act at once while the driver works
	// (a run that waits for clients); keysLive is set from then on until
	// the stop comes.
	live     *time.Timer
	keysLive bool
	// queued are the keys that came while a stop was coming, in order.
	queued []walkthrough.Key
	// delay turns to the next stop (--delay); nil without one.
	delay *time.Timer
}

// loopScreen is the loop of an interactive run: one stop at a time on the
// alternate screen, laid out anew when the terminal is resized. Keys are
// read in one place, here, and never dropped: every key works at any
// time, while the driver works too. It returns nil when the walk is over,
// errQuit when q ended it.
func (w *walk) loopScreen(ctx context.Context, keys <-chan walkthrough.Key) error {
	resize := make(chan struct{}, 1)
	stopResize := w.opts.IO.NotifyResize(resize)
	defer stopResize()
	l := &screenLoop{w: w, st: walkthrough.State{Source: w.source != nil && w.source.avail}}
	defer l.abandon()
	if w.opts.Delay > 0 {
		l.delay = time.NewTimer(w.opts.Delay)
		defer l.delay.Stop()
	}
	if w.opts.WaitFor {
		// Nothing to show but how to connect, until the first client.
		if err := l.draw(); err != nil {
			return err
		}
	}
	for {
		l.fetch(ctx)
		// The keys that waited for a stop act once it is here (or once
		// keys act at once).
		for len(l.queued) > 0 && (l.got == nil || l.keysLive) {
			k := l.queued[0]
			l.queued = l.queued[1:]
			if done, err := l.key(k); done || err != nil {
				return err
			}
			l.fetch(ctx)
		}
		select {
		case <-ctx.Done():
			return nil // a signal: runRun says which
		case r := <-l.got:
			if done, err := l.received(r); done || err != nil {
				return err
			}
		case k, ok := <-keys:
			if !ok {
				// A terminal's input ends only when it is hung up
				// (closed).
				return errTerminalGone
			}
			if l.got != nil && !l.keysLive && k != walkthrough.KeyQuit && k != walkthrough.KeyInterrupt {
				l.queued = append(l.queued, k)
				continue
			}
			if done, err := l.key(k); done || err != nil {
				return err
			}
		case <-resize:
			if err := l.draw(); err != nil {
				return err
			}
		case <-l.liveC():
			l.keysLive = true
			if err := l.refresh(); err != nil {
				return err
			}
		case <-l.delayC():
			if len(l.st.Stops) > 0 && !l.st.Waiting() && len(l.queued) == 0 {
				// --delay advances by stop, not by page.
				if done, err := l.key(walkthrough.KeyNextStop); done || err != nil {
					return err
				}
			}
		case <-w.arrivedCh:
			if err := l.announce(); err != nil {
				return err
			}
		}
	}
}

// fetch asks the driver for the next stop, in the background, when the
// state needs one and none is coming.
func (l *screenLoop) fetch(ctx context.Context) {
	if !l.st.NeedStop() || l.got != nil {
		return
	}
	got := make(chan fetched, 1)
	fctx, cancel := context.WithCancel(ctx)
	l.got, l.cancel = got, cancel
	go func() {
		ev, err := l.w.session.Next(fctx)
		got <- fetched{ev, err}
	}()
	l.keysLive = false
	if l.w.opts.WaitFor {
		l.live = time.NewTimer(liveKeysAfter)
	}
}

// liveC and delayC return the channels of the timers, nil (never ready)
// when they are not set.
func (l *screenLoop) liveC() <-chan time.Time {
	if l.live == nil {
		return nil
	}
	return l.live.C
}

func (l *screenLoop) delayC() <-chan time.Time {
	if l.delay == nil {
		return nil
	}
	return l.delay.C
}

// abandon ends the driver's work on a stop the loop no longer wants, and
// waits (a bounded time) for the driver to return.
func (l *screenLoop) abandon() {
	if l.got == nil {
		return
	}
	l.cancel()
	t := time.NewTimer(abandonWait)
	defer t.Stop()
	select {
	case <-l.got:
	case <-t.C:
	}
}

// received takes what the driver returned: a stop, shown at once when it
// was waited for; the end of the run; or an error. done is set when the
// walk is over.
func (l *screenLoop) received(r fetched) (done bool, err error) {
	l.got = nil
	l.cancel()
	if l.live != nil {
		l.live.Stop()
		l.live = nil
	}
	l.keysLive = false
	switch {
	case walkthrough.IsEOF(r.err):
		l.st = l.st.Ended()
		if l.st.Finished {
			return true, nil
		}
		return false, l.refresh()
	case r.err != nil:
		return true, r.err
	}
	if err := l.w.received(r.ev); err != nil {
		return true, err
	}
	shown := l.st.Shown()
	l.st = l.st.Received(r.ev.Phase)
	if l.st.Shown() != shown || shown < 0 {
		// What the driver said while it worked is over; the warnings
		// and who connected stay until a key.
		l.w.screen.ClearNotices()
		for _, line := range l.w.sticky {
			l.w.screen.Queue(line)
		}
		return false, l.draw()
	}
	// The user went elsewhere meanwhile: the footer says a stop is here.
	return false, l.refresh()
}

// key acts on one key press. done is set when the walk is over.
func (l *screenLoop) key(k walkthrough.Key) (done bool, err error) {
	w := l.w
	w.screen.ClearNotices()
	w.sticky = nil
	l.st = walkthrough.Advance(l.st, k)
	msg := ""
	switch {
	case k == walkthrough.KeySource && (w.source == nil || !w.source.avail):
		msg = catalog.S(w.opts.Lang, "run.no_source_key", "version", w.opts.Version.Name)
	case k == walkthrough.KeyConnect && l.st.Connect && !w.opts.WaitFor:
		l.st.Connect = false
		msg = catalog.S(w.opts.Lang, "run.no_clients_key")
	case l.st.Message.Key != "":
		msg = catalog.Text(w.opts.Lang, l.st.Message)
	}
	if msg != "" {
		w.screen.Queue(msg)
	}
	switch {
	case l.st.Quit && l.st.Interrupted:
		return true, SilentExit(ExitInterrupt)
	case l.st.Quit:
		return true, errQuit
	case l.st.Finished:
		return true, nil
	case l.st.NeedStop() && l.got == nil && len(l.st.Stops) > 0:
		// The next stop is asked for: it is drawn when it comes.
		return false, nil
	}
	return false, l.draw()
}

// draw draws the state anew, as a new screen; before the first stop, only
// in a run that waits for clients (how to connect).
func (l *screenLoop) draw() error {
	if len(l.st.Stops) == 0 && !l.w.opts.WaitFor {
		return nil
	}
	if l.delay != nil {
		l.delay.Reset(l.w.opts.Delay)
	}
	var err error
	l.st, err = l.w.drawStop(l.st, l.keysLive)
	return err
}

// refresh shows the footer and the notices anew over the screen drawn
// last (the first screen when there is none yet).
func (l *screenLoop) refresh() error {
	if !l.w.screen.Drawn() {
		if len(l.st.Stops) == 0 && !l.w.opts.WaitFor {
			return nil
		}
		return l.draw()
	}
	l.w.screen.Refresh(l.w.footer(l.st, l.keysLive))
	return nil
}

// announce shows a banner for every client that connected since the last
// one, and the footer with how many wait.
func (l *screenLoop) announce() error {
	for _, line := range l.w.newArrivals() {
		l.w.sticky = append(l.w.sticky, line)
		l.w.screen.Queue(line)
	}
	return l.refresh()
}
