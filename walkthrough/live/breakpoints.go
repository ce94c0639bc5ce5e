package live

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
// decision; warmup_linux.go makes the observation it rests on.

// probeResult is what the probe saw during the warm-up connection.
type probeResult struct {
	// err is set when a debug register refused a write.
	err error
	// execOn names the function an execution breakpoint was set on ("":
	// none could be); execTrapped says whether it trapped.
	execOn      string
	execTrapped bool
	// watchOn names the list whose head a write watchpoint was set on
	// ("": none), and watchTrapped whether it trapped.
	watchOn      string
	watchTrapped bool
	// settled is set when the warm-up connection got past every point the
	// breakpoints were set on (the postmaster registered its backend, or
	// the client was served): a breakpoint that did not trap by then
	// never will. Otherwise the probe's bound passed first.
	settled bool
	// waited is how long the probe waited when it did not settle.
	waited string
}

// chooseBreakpoints returns whether to use the debug registers and why, as
// a catalog message, for mode (a walkthrough.BreakpointModes value; "" is
// auto). probe runs only in auto mode.
func chooseBreakpoints(mode string, probe func() probeResult) (hw bool, why walkthrough.Msg, err error) {
	switch mode {
	case "software":
		return false, walkthrough.M("say.live.breakpoints_software_forced"), nil
	case "hardware":
		return true, walkthrough.M("say.live.breakpoints_hardware_forced"), nil
	case "", "auto":
	default:
		return false, walkthrough.Msg{}, fmt.Errorf("unknown breakpoint mechanism %q (use %s)", mode, strings.Join(walkthrough.BreakpointModes, ", "))
	}
	r := probe()
	switch {
	case r.err != nil:
		return false, walkthrough.M("say.live.breakpoints_refused", "error", r.err), nil
	case r.execOn == "":
		return false, walkthrough.M("say.live.breakpoints_nothing_to_test"), nil
	case r.execTrapped && r.watchOn == "":
		return true, walkthrough.M("say.live.breakpoints_hardware_trapped", "function", r.execOn), nil
	case r.execTrapped && r.watchTrapped:
		return true, walkthrough.M("say.live.breakpoints_hardware_watch_trapped", "function", r.execOn, "list", r.watchOn), nil
	case !r.settled:
		return false, walkthrough.M("say.live.breakpoints_no_trap_within", "bound", r.waited), nil
	case !r.execTrapped:
		return false, walkthrough.M("say.live.breakpoints_no_trap", "function", r.execOn), nil
	}
	return false, walkthrough.M("say.live.breakpoints_watch_no_trap", "function", r.execOn, "list", r.watchOn), nil
}

// mechanism names the mechanism a breakpoints message chose, for the
// fallback line and the tests: "hardware" or "software".
func mechanism(hw bool) string {
	if hw {
		return "hardware"
	}
	return "software"
}

// validBreakpoints reports whether mode is a value of --breakpoints.
func validBreakpoints(mode string) bool {
	return mode == "" || slices.Contains(walkthrough.BreakpointModes, mode)
}
