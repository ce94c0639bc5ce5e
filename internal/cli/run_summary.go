package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pgwalk/pgwalk/internal/catalog"
	"github.com/pgwalk/pgwalk/internal/iostreams"
)

// finish reports the end of the run on ErrOut (after the alternate screen
// is gone): how many stops were walked, whether q ended the walk, failed
// checks, and the hint about the live driver.
func (w *walk) finish(quit bool) {
	lang := w.opts.Lang
	n := len(w.built)
	failed := 0
	for _, s := range w.built {
		for _, c := range s.Event.Values.Checks {
			if !c.OK {
				failed++
			}
		}
	}
	key := "run.walked"
	if quit {
		key = "run.walked_quit"
	}
	msg := catalog.S(lang, key, "n", n, "driver", w.opts.Driver)
	if failed > 0 {
		msg += "; " + catalog.S(lang, "run.checks_failed", "n", failed)
	}
	fmt.Fprintf(w.opts.IO.ErrOut, "pgwalk: %s\n", msg)
	if w.hint != nil {
		if h := w.hint(); h != "" {
			fmt.Fprintf(w.opts.IO.ErrOut, "pgwalk: %s\n", h)
		}
	}
}

// interrupted says, in lang, that sig ended the run, and returns the exit
// that goes with it.
func interrupted(io *iostreams.IOStreams, lang string, sig os.Signal) error {
	fmt.Fprintf(io.ErrOut, "pgwalk: %s\n", catalog.S(lang, "run.interrupted", "signal", sig))
	return SilentExit(signalExit(sig))
}

// signalExit maps the signal that ended a run to its exit code.
func signalExit(sig os.Signal) ExitCode {
	switch sig {
	case syscall.SIGTERM:
		return ExitTerm
	case syscall.SIGHUP:
		return ExitHangup
	}
	return ExitInterrupt
}

// signalContext returns a context cancelled by SIGINT, SIGTERM or SIGHUP,
// a function that reports which signal arrived (nil if none), and the
// function that ends the watch. stop(true), or stop after a signal, keeps
// the signals caught: pgwalk is about to exit, and a late one (a hang-up
// signals twice) must not turn exit code 129, 130 or 143 into a death by
// signal. (signal.Ignore would not do: a signal from the kernel that lands
// while Ignore switches the handler still kills the process.)
func signalContext(parent context.Context) (context.Context, func() os.Signal, func(exiting bool)) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	got := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			got <- s
			cancel()
		case <-done:
		}
	}()
	which := func() os.Signal {
		select {
		case s := <-got:
			got <- s
			return s
		default:
			return nil
		}
	}
	stop := func(exiting bool) {
		if !exiting && which() == nil {
			signal.Stop(ch)
		}
		close(done)
		cancel()
	}
	return ctx, which, stop
}
