package live

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestChooseBreakpoints(t *testing.T) {
	tests := []struct {
		name   string
		mode   string
		probe  *probeResult // nil: the probe must not run
		wantHW bool
		why    walkthrough.Msg
	}{
		{
			name:  "writes accepted, never traps",
			mode:  "auto",
			probe: &probeResult{execOn: "canAcceptConnections", watchOn: "BackendList", settled: true},
			why:   walkthrough.M("say.live.breakpoints_no_trap", "function", "canAcceptConnections"),
		},
		{
			name:  "writes accepted, nothing within the probe's bound",
			mode:  "",
			probe: &probeResult{execOn: "canAcceptConnections", watchOn: "BackendList", waited: "5s"},
			why:   walkthrough.M("say.live.breakpoints_no_trap_within", "bound", "5s"),
		},
		{
			name:   "both trap",
			mode:   "auto",
			probe:  &probeResult{execOn: "canAcceptConnections", execTrapped: true, watchOn: "BackendList", watchTrapped: true, settled: true},
			wantHW: true,
			why:    walkthrough.M("say.live.breakpoints_hardware_watch_trapped", "function", "canAcceptConnections", "list", "BackendList"),
		},
		{
			name:   "execution traps, no list to watch",
			mode:   "auto",
			probe:  &probeResult{execOn: "StreamConnection", execTrapped: true},
			wantHW: true,
			why:    walkthrough.M("say.live.breakpoints_hardware_trapped", "function", "StreamConnection"),
		},
		{
			name:  "execution traps, the watchpoint does not",
			mode:  "auto",
			probe: &probeResult{execOn: "canAcceptConnections", execTrapped: true, watchOn: "BackendList", settled: true},
			why:   walkthrough.M("say.live.breakpoints_watch_no_trap", "function", "canAcceptConnections", "list", "BackendList"),
		},
		{
			name:  "a write refused",
			mode:  "auto",
			probe: &probeResult{execOn: "canAcceptConnections", err: errors.New("input/output error")},
			why:   walkthrough.M("say.live.breakpoints_refused", "error", "input/output error"),
		},
		{
			name:  "nothing to test them on",
			mode:  "auto",
			probe: &probeResult{},
			why:   walkthrough.M("say.live.breakpoints_nothing_to_test"),
		},
		{name: "software forced", mode: "software", why: walkthrough.M("say.live.breakpoints_software_forced")},
		{name: "hardware forced", mode: "hardware", wantHW: true, why: walkthrough.M("say.live.breakpoints_hardware_forced")},
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
			if hw != tt.wantHW || !reflect.DeepEqual(why, tt.why) {
				t.Errorf("chooseBreakpoints = %v, %+v; want %v, %+v", hw, why, tt.wantHW, tt.why)
			}
			checkMsg(t, why)
		})
	}
	if _, _, err := chooseBreakpoints("int3", func() probeResult { return probeResult{} }); err == nil || !strings.Contains(err.Error(), "auto, hardware, software") {
		t.Errorf("an unknown mode gave %v", err)
	}
}

func TestUnsupportedError(t *testing.T) {
	err := error(&UnsupportedError{Reason: "live tracing needs Linux x86-64 (this is plan9/386)"})
	if !errors.Is(err, ErrNotSupported) {
		t.Error("UnsupportedError does not match ErrNotSupported")
	}
	for _, want := range []string{"needs Linux x86-64", "--driver reenact"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
}

func TestLine(t *testing.T) {
	if got := line(walkthrough.M("say.live.staged", "user", "postgres", "bin", "/a", "copy", "/b")); got != "say.live.staged: bin=/a, copy=/b, user=postgres" {
		t.Errorf("line = %q", got)
	}
	if got := line(walkthrough.M("say.live.wait_next_client")); got != "say.live.wait_next_client" {
		t.Errorf("line = %q", got)
	}
}
