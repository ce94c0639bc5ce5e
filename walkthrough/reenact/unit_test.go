package reenact

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func TestAssignSlot(t *testing.T) {
	tests := []struct {
		name string
		// ops: a positive number assigns and expects that slot; a
		// negative one releases slot -n.
		ops []int
	}{
		{"scans down from the top", []int{16, 15, 14}},
		{"goes on below a released slot", []int{16, 15, 14, -15, 13}},
		{"wraps around", append(seq(16, 1), -16, 16)},
		{"full table gives 0", append(seq(16, 1), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(walkthrough.DriverOptions{})
			for i, op := range tt.ops {
				if op < 0 {
					d.releaseSlot(-op)
					continue
				}
				if got := d.assignSlot(); got != op {
					t.Fatalf("op %d: assigned %d, want %d", i, got, op)
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i >= to; i-- {
		s = append(s, i)
	}
	return s
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"A"}, "A"},
		{[]string{"A", "B", "B", "B", "C", "B"}, "A, B x3, C, B"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnsupportedOSError(t *testing.T) {
	err := &UnsupportedOSError{GOOS: "windows"}
	if msg := err.Error(); !strings.Contains(msg, "--driver narrate") || !strings.Contains(msg, "windows") {
		t.Errorf("message %q should name the OS and the way out", msg)
	}
}

func TestProcessCancelRequest(t *testing.T) {
	list := []walkthrough.BackendNode{
		{PID: 300, CancelKey: 3},
		{PID: 200, CancelKey: 2, DeadEnd: true},
		{PID: 300, CancelKey: 33}, // never on a real list twice: the first decides
		{PID: 0, CancelKey: 9},    // not registered yet: never matches
	}
	tests := []struct {
		name    string
		pid     int
		key     int32
		matched bool
		log     string
	}{
		{"match", 300, 3, true, "processing cancel request: sending SIGINT to process 300"},
		{"wrong key", 300, 4, false, "wrong key in cancel request for process 300"},
		{"the first record with the pid decides", 300, 33, false, "wrong key in cancel request for process 300"},
		{"a dead end is on the list too", 200, 2, true, "processing cancel request: sending SIGINT to process 200"},
		{"no such pid", 400, 3, false, "PID 400 in cancel request did not match any process"},
		{"pid 0", 0, 9, false, "PID 0 in cancel request did not match any process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := processCancelRequest(list, tt.pid, tt.key)
			if got.matched != tt.matched || got.log != tt.log {
				t.Errorf("processCancelRequest(%d, %d) = %+v, want matched %t log %q", tt.pid, tt.key, got, tt.matched, tt.log)
			}
		})
	}
	if got := processCancelRequest(nil, 300, 3); got.matched {
		t.Error("an empty list matched")
	}
}

func TestParsePgSleep(t *testing.T) {
	tests := []struct {
		q  string
		d  time.Duration
		ok bool
	}{
		{"select pg_sleep(30)", 30 * time.Second, true},
		{"SELECT pg_sleep(30);", 30 * time.Second, true},
		{"  Select  PG_SLEEP ( 0.25 ) ; ", 250 * time.Millisecond, true},
		{"select pg_sleep('1.5')", 1500 * time.Millisecond, true},
		{"select pg_sleep(-1)", 0, true},
		{"select pg_sleep(1e300)", time.Duration(math.MaxInt64), true},
		{"select pg_sleep(0)", 0, true},
		{"select pg_sleep()", 0, false},
		{"select pg_sleep(NaN)", 0, false},
		{"select pg_sleep(inf)", 0, false},
		{"select pg_sleep(1), 2", 0, false},
		{"selectpg_sleep(1)", 0, false},
		{"select pg_sleep_for('1 s')", 0, false},
		{"select 1", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			d, ok := parsePgSleep(tt.q)
			if d != tt.d || ok != tt.ok {
				t.Errorf("parsePgSleep(%q) = %v, %t; want %v, %t", tt.q, d, ok, tt.d, tt.ok)
			}
		})
	}
}

func TestInitSteps(t *testing.T) {
	tests := []struct {
		version string
		steps   []string
	}{
		{"16.4", []string{initRandomKey, initCancelKey, initCanAccept, initDeadEnd, initSlot, initBgworker}},
		{"17.1", []string{initRandomKey, initCanAccept, initDeadEnd, initCancelKey, initSlot, initBgworker}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			fl := flavorFor(version(t, tt.version))
			var got []string
			for _, st := range fl.initSteps {
				got = append(got, st.Role)
				if st.At == "" || st.Step == "" {
					t.Errorf("step %+v has no name or no line", st)
				}
			}
			if !slices.Equal(got, tt.steps) {
				t.Errorf("initSteps = %v, want %v", got, tt.steps)
			}
		})
	}
}

func TestCanAcceptConnections(t *testing.T) {
	live := func(pid int) *walkthrough.BackendNode { return &walkthrough.BackendNode{PID: pid, ChildSlot: 1} }
	dead := func(pid int) *walkthrough.BackendNode { return &walkthrough.BackendNode{PID: pid, DeadEnd: true} }
	tests := []struct {
		name  string
		limit int
		list  []*walkthrough.BackendNode
		want  string
		count int
	}{
		{"empty", 2, nil, "CAC_OK", 0},
		{"below", 2, []*walkthrough.BackendNode{live(1)}, "CAC_OK", 1},
		{"at the limit", 2, []*walkthrough.BackendNode{live(1), live(2)}, "CAC_TOOMANY", 2},
		{"dead ends not counted", 2, []*walkthrough.BackendNode{live(1), dead(2), dead(3)}, "CAC_OK", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(walkthrough.DriverOptions{})
			d.maxChildren = tt.limit
			d.backendList = tt.list
			if got, n := d.canAcceptConnections(); got != tt.want || n != tt.count {
				t.Errorf("canAcceptConnections = %s (count %d), want %s (%d)", got, n, tt.want, tt.count)
			}
		})
	}
}
