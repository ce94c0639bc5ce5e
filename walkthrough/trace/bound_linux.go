package trace

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// This file bounds the tracer's waits. wait4 has no timeout, so a
// watchdog goroutine wakes it instead: it sends SIGCONT to every running
// tracee, which the kernel reports to the tracer as a signal-delivery-stop
// (every signal but SIGKILL is, ptrace(2) "Signal-delivery-stop"), and
// waitHit, which never delivers a SIGCONT it did not expect, finds the
// flag the watchdog set before it.

// limits bound one waitHit.
type limits struct {
	// deadline, when set, is when waitHit gives up with errDeadline.
	deadline time.Time
	// wake, when closed, makes waitHit return errWoken: the tracer waits
	// for something outside the tracees (a client finishing).
	wake <-chan struct{}
}

// errDeadline is returned by waitHit past its deadline; the walker turns
// it into a StageTimeoutError that names the stage.
var errDeadline = errors.New("deadline passed")

// errWoken is returned by waitHit once its wake channel is closed.
var errWoken = errors.New("woken")

// watchdog holds what the watchdog of one waitHit saw. Each waitHit has
// its own, so that a watchdog that fires just as its waitHit returns
// cannot end the next one.
type watchdog struct {
	expired atomic.Bool
	woken   atomic.Bool
}

// watch starts the watchdog of one waitHit and returns it with the
// function that ends it. A SIGCONT it sent late reaches a later wait,
// which drops it.
func (t *tracer) watch(lim limits) (*watchdog, func()) {
	wd := &watchdog{}
	if lim.deadline.IsZero() && lim.wake == nil {
		return wd, func() {}
	}
	var timeout <-chan time.Time
	var timer *time.Timer
	if !lim.deadline.IsZero() {
		timer = time.NewTimer(time.Until(lim.deadline))
		timeout = timer.C
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-timeout:
			wd.expired.Store(true)
		case <-lim.wake:
			wd.woken.Store(true)
		case <-done:
			return
		}
		t.kick()
	}()
	return wd, func() {
		close(done)
		if timer != nil {
			timer.Stop()
		}
	}
}

// kick wakes the tracer's wait4 by sending SIGCONT to every running
// tracee. It may be called from any goroutine. SIGCONT does no harm if it
// is still pending when a process is detached, and PostgreSQL never blocks
// it.
func (t *tracer) kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for pid := range t.running {
		_ = unix.Kill(pid, unix.SIGCONT)
	}
}

// stage names what the traced processes are expected to do next, for the
// error that says they did not.
type stage struct {
	name, expected string
	// traps is set when the stage ends at a breakpoint, so that a debug
	// register that does not trap may be the cause.
	traps bool
}

var (
	stWarmUp = stage{name: "the warm-up connection", expected: "pgwalk's first connection to the new cluster to be served"}
	stParent = stage{name: "the postmaster's stops before the fork", expected: "the postmaster to stop at " + symSlot + " or " + symFork, traps: true}
	stChild  = stage{name: "the backend's stops", expected: "the new backend to stop at its next breakpoint (" + symInitChild + ", " + symClosePorts + " or its main function)", traps: true}
	stReg    = stage{name: "the parent registration", expected: "the postmaster to push the new backend onto BackendList", traps: true}
	stClient = stage{name: "the client completing", expected: "pgwalk's client to receive BackendKeyData and ReadyForQuery from the backend, which runs untraced by now"}
)

// stDetect is the stage from the client's connect to BackendStartup.
func (w *walker) stDetect() stage {
	at := symCanAccept
	if !w.has(at) {
		at = w.plan.accept
	}
	who := "a client"
	if !w.opts.WaitForClient {
		who = "pgwalk's client"
	}
	return stage{name: "the connection reaching BackendStartup", expected: "the postmaster to stop at " + at + " once " + who + " connected", traps: true}
}

// stalled returns the error of st past its bound: what was expected, the
// likely cause, and what to try.
func (w *walker) stalled(st stage) error {
	e := &StageTimeoutError{Stage: st.name, Expected: st.expected, After: w.d.bounds.stage}
	if st.traps && w.t.hw {
		e.Cause = "the CPU's debug registers take the breakpoints but do not trap on this machine (some virtual machines behave so)"
		e.Try = "--breakpoints software"
		return e
	}
	e.Cause = "the machine is overloaded, or the server is stuck (its log ends: " + strings.Join(lastLines(w.d.cl.logTail(3)), " | ") + ")"
	e.Try = "again on a less loaded machine, or --driver reenact, which needs no PostgreSQL server"
	return e
}

func lastLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
