package trace

import (
	"errors"
	"strings"
	"testing"
)

func TestChooseBreakpoints(t *testing.T) {
	tests := []struct {
		name   string
		mode   string
		probe  *probeResult // nil: the probe must not run
		wantHW bool
		why    string
	}{
		{
			name:  "writes accepted, never traps",
			mode:  "auto",
			probe: &probeResult{execOn: "canAcceptConnections", watchSet: true, settled: true},
			why:   "software (the hardware debug registers took the writes but did not trap when the warm-up connection ran canAcceptConnections)",
		},
		{
			name:  "writes accepted, nothing within the probe's bound",
			mode:  "",
			probe: &probeResult{execOn: "canAcceptConnections", watchSet: true, waited: "5s"},
			why:   "software (the hardware debug registers took the writes but did not trap within 5s)",
		},
		{
			name:   "both trap",
			mode:   "auto",
			probe:  &probeResult{execOn: "canAcceptConnections", execTrapped: true, watchSet: true, watchTrapped: true, settled: true},
			wantHW: true,
			why:    "hardware (a debug register trapped on canAcceptConnections and the write watchpoint on BackendList trapped during the warm-up connection)",
		},
		{
			name:   "execution traps, no list to watch",
			mode:   "auto",
			probe:  &probeResult{execOn: "StreamConnection", execTrapped: true},
			wantHW: true,
			why:    "hardware (a debug register trapped on StreamConnection during the warm-up connection)",
		},
		{
			name:  "execution traps, the watchpoint does not",
			mode:  "auto",
			probe: &probeResult{execOn: "canAcceptConnections", execTrapped: true, watchSet: true, settled: true},
			why:   "software (a debug register trapped on canAcceptConnections, but the write watchpoint on BackendList did not)",
		},
		{
			name:  "a write refused",
			mode:  "auto",
			probe: &probeResult{execOn: "canAcceptConnections", err: errors.New("input/output error")},
			why:   "software (the debug registers refused a write: input/output error)",
		},
		{
			name:  "nothing to test them on",
			mode:  "auto",
			probe: &probeResult{},
			why:   "software (no function of this binary to test the debug registers on)",
		},
		{name: "software forced", mode: "software", why: "software (--breakpoints software)"},
		{name: "hardware forced", mode: "hardware", wantHW: true, why: "hardware (--breakpoints hardware: the debug registers are used without testing them first)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			hw, why, err := chooseBreakpoints(tt.mode, func() probeResult {
				ran = true
				if tt.probe == nil {
					return probeResult{}
				}
				return *tt.probe
			})
			if err != nil {
				t.Fatal(err)
			}
			if ran != (tt.probe != nil) {
				t.Errorf("probe ran: %v, want %v", ran, tt.probe != nil)
			}
			if hw != tt.wantHW || why != tt.why {
				t.Errorf("chooseBreakpoints = %v, %q; want %v, %q", hw, why, tt.wantHW, tt.why)
			}
		})
	}
	if _, _, err := chooseBreakpoints("int3", func() probeResult { return probeResult{} }); err == nil || !strings.Contains(err.Error(), "auto, hardware, software") {
		t.Errorf("an unknown mode gave %v", err)
	}
}

func TestStageTimeoutError(t *testing.T) {
	e := &StageTimeoutError{Stage: "the parent registration", Expected: "the postmaster to push the new backend onto BackendList",
		After: 30e9, Cause: "the debug registers do not trap", Try: "--breakpoints software"}
	want := "the live trace gave up at the parent registration: expected the postmaster to push the new backend onto BackendList, and nothing came within 30s; likely cause: the debug registers do not trap; try --breakpoints software"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
}
