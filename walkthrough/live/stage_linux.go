package live

import (
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
)

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
	stClient = stage{name: "the client completing", expected: "pgwalk's client to receive BackendKeyData and ReadyForQuery from the backend, which runs untraced by now"}
)

func stParent(tab *table) stage {
	return stage{name: "the postmaster's stops before the fork", expected: "the postmaster to reach " + tab.fork.fn + " through " + tab.startup, traps: true}
}

func stChild(tab *table) stage {
	return stage{name: "the backend's stops", expected: "the new backend to stop at its next breakpoint (" + strings.Join(tab.steps, ", ") + " or " + strings.Join(tab.run, " -> ") + ")", traps: true}
}

func stReg(tab *table) stage {
	return stage{name: "the parent registration", expected: "the postmaster to register the new backend on " + tab.list, traps: true}
}

func stKey(tab *table) stage {
	return stage{name: "the backend making its cancel key", expected: "the backend to fill " + tab.keyVar + " with " + tab.keyFill.fn + " in " + tab.keyMadeBy, traps: true}
}

// stDetect is the stage from the client's connect to BackendStartup.
func (w *walker) stDetect() stage {
	at := w.tab.gate.fn
	if !w.has(w.tab.gate) {
		at = w.tab.accept.fn
	}
	who := "a client"
	if !w.opts.WaitForClient {
		who = "pgwalk's client"
	}
	return stage{name: "the connection reaching " + w.tab.startup, expected: "the postmaster to stop at " + at + " once " + who + " connected, then at " + w.tab.accept.fn, traps: true}
}

// stalled returns the error of st past its bound: what was expected, the
// likely cause, and what to try.
func (w *walker) stalled(st stage) error {
	e := &cluster.StageTimeoutError{Stage: st.name, Expected: st.expected, After: w.d.bounds.stage}
	if st.traps && w.t.Hardware() {
		e.Cause = "the CPU's debug registers take the breakpoints but do not trap on this machine (some virtual machines behave so)"
		e.Try = "--breakpoints software"
		return e
	}
	e.Cause = "the machine is overloaded, or the server is stuck (its log ends: " + strings.Join(cluster.LastLines(w.d.cl.LogTail(3)), " | ") + ")"
	e.Try = "again on a less loaded machine, or --driver reenact, which needs no PostgreSQL server"
	return e
}

var stFailure = stage{name: "the fork failure", expected: "the postmaster to give the record back, log the failure, and close the client socket", traps: true}
