package trace

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// On some virtual machines the x86 debug registers take every
// PTRACE_POKEUSER write and never trap (gdb's hbreak stays silent there
// too), so that a successful write proves nothing. The driver trusts a
// hardware breakpoint only after one was seen to trap, and a write
// watchpoint likewise; everywhere else it uses int3. This file holds that
// decision; probe_linux.go makes the observation it rests on.

// probeResult is what the probe saw during the warm-up connection.
type probeResult struct {
	// err is set when a debug register refused a write.
	err error
	// execOn names the function an execution breakpoint was set on ("":
	// none could be); execTrapped says whether it trapped.
	execOn      string
	execTrapped bool
	// watchSet says a write watchpoint was set on BackendList's head, and
	// watchTrapped whether it trapped.
	watchSet     bool
	watchTrapped bool
	// settled is set when the warm-up connection got past every point the
	// breakpoints were set on (the postmaster registered its backend, or
	// the client was served): a breakpoint that did not trap by then
	// never will. Otherwise settledWithin passed first.
	settled bool
	// waited is how long the probe waited when it did not settle.
	waited string
}

// chooseBreakpoints returns whether to use the debug registers and why, for
// mode (a walkthrough.BreakpointModes value; "" is auto). probe runs only
// in auto mode.
func chooseBreakpoints(mode string, probe func() probeResult) (hw bool, why string, err error) {
	switch mode {
	case "software":
		return false, "software (--breakpoints software)", nil
	case "hardware":
		return true, "hardware (--breakpoints hardware: the debug registers are used without testing them first)", nil
	case "", "auto":
	default:
		return false, "", fmt.Errorf("unknown breakpoint mechanism %q (use %s)", mode, strings.Join(walkthrough.BreakpointModes, ", "))
	}
	r := probe()
	switch {
	case r.err != nil:
		return false, fmt.Sprintf("software (the debug registers refused a write: %v)", r.err), nil
	case r.execOn == "":
		return false, "software (no function of this binary to test the debug registers on)", nil
	case r.execTrapped && (r.watchTrapped || !r.watchSet):
		why := "a debug register trapped on " + r.execOn
		if r.watchSet {
			why += " and the write watchpoint on BackendList trapped"
		}
		return true, "hardware (" + why + " during the warm-up connection)", nil
	case !r.settled:
		return false, fmt.Sprintf("software (the hardware debug registers took the writes but did not trap within %s)", r.waited), nil
	case !r.execTrapped:
		return false, fmt.Sprintf("software (the hardware debug registers took the writes but did not trap when the warm-up connection ran %s)", r.execOn), nil
	}
	return false, "software (a debug register trapped on " + r.execOn + ", but the write watchpoint on BackendList did not)", nil
}

// validBreakpoints reports whether mode is a value of --breakpoints.
func validBreakpoints(mode string) bool {
	return mode == "" || slices.Contains(walkthrough.BreakpointModes, mode)
}
