//go:build unix

package reenact

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// allPhases is the sequence of stops of a connection that got its child.
var allPhases = []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Child, walkthrough.ParentRegistration, walkthrough.Epilogue}

// stopsOf returns the stops of connection n among evs.
func stopsOf(evs []walkthrough.Event, n int) []walkthrough.Event {
	var out []walkthrough.Event
	for _, ev := range evs {
		if ev.Connection == n {
			out = append(out, ev)
		}
	}
	return out
}

// waitPID waits until ch delivers pid.
func waitPID(t *testing.T, ch <-chan int, pid int, what string) {
	t.Helper()
	for {
		select {
		case got := <-ch:
			if got == pid {
				return
			}
		case <-timeAfter():
			t.Fatalf("backend %d never reported %s", pid, what)
		}
	}
}

// factsNamed returns the values of every fact called name.
func factsNamed(facts []walkthrough.Fact, name string) []string {
	var out []string
	for _, f := range facts {
		if f.Name == name {
			out = append(out, f.Value)
		}
	}
	return out
}

// TestCancelRequest sends CancelRequests, each on a connection of its own,
// while one session is idle and another runs pg_sleep. Each is walked like
// any connection; its own child checks the request against its copy of
// BackendList and, on a match, sends SIGINT itself: the statement is
// cancelled with 57014. A mismatch signals nobody.
func TestCancelRequest(t *testing.T) {
	for _, name := range []string{"16.4", "17.1"} {
		t.Run(name, func(t *testing.T) { testCancelRequest(t, name) })
	}
}

func testCancelRequest(t *testing.T, name string) {
	signals := make(chan int, 16)
	running := make(chan int, 4)
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, name), WaitForClient: true},
		func(d *Driver) { d.signalSeen, d.queryRunning = signals, running })
	w := walk(d)
	defer w.stop(t)
	pm := os.Getpid()

	idle := openSession(t, dialUnix(t, d))
	w.until(t, 1, walkthrough.ParentRegistration)
	idle.ready(t)
	busy := openSession(t, dialUnix(t, d))
	w.until(t, 2, walkthrough.ParentRegistration)
	busy.ready(t)
	const sleep = "SELECT pg_sleep(3600)"
	busy.query(t, sleep)
	waitPID(t, running, busy.key.PID, "a running pg_sleep")

	tests := []struct {
		name    string
		pid     int
		key     int32
		matched bool
		log     string
	}{
		{"wrong key", idle.key.PID, idle.key.SecretKey + 1, false, fmt.Sprintf("wrong key in cancel request for process %d", idle.key.PID)},
		{"unknown pid", 1, idle.key.SecretKey, false, "PID 1 in cancel request did not match any process"},
		{"another session's key", idle.key.PID, busy.key.SecretKey, false, fmt.Sprintf("wrong key in cancel request for process %d", idle.key.PID)},
		{"right key", busy.key.PID, busy.key.SecretKey, true, fmt.Sprintf("processing cancel request: sending SIGINT to process %d", busy.key.PID)},
	}
	n := 2
	for _, tt := range tests {
		n++
		t.Run(tt.name, func(t *testing.T) {
			sendCancel(t, dialUnix(t, d), tt.pid, tt.key)
			stops := stopsOf(w.until(t, n, walkthrough.Epilogue), n)
			var phases []walkthrough.PhaseID
			for _, ev := range stops {
				phases = append(phases, ev.Phase)
			}
			if !slices.Equal(phases, allPhases) {
				t.Fatalf("the cancel connection's stops = %v, want %v", phases, allPhases)
			}
			init, fork, reg, epi := stops[1], stops[2], stops[4], stops[5]
			for _, ev := range stops[:5] {
				if ev.Values.CancelRequest != nil {
					t.Errorf("%s already knows the packet is a CancelRequest: only the child reads it", ev.Phase)
				}
			}
			// An ordinary connection for the postmaster: a slot, a
			// registered Backend.
			if init.Values.CanAccept != "CAC_OK" || init.Values.ChildSlot == nil || *init.Values.ChildSlot == 0 {
				t.Errorf("struct-init: can_accept %s slot %v, want CAC_OK and a slot", init.Values.CanAccept, init.Values.ChildSlot)
			}
			child := fork.Values.ChildPID
			if len(reg.Values.BackendList) == 0 || reg.Values.BackendList[0].PID != child {
				t.Errorf("registration: BackendList %+v, want child %d at its head", reg.Values.BackendList, child)
			}

			want := walkthrough.CancelRequest{PID: tt.pid, Matched: tt.matched, CheckedByPID: child}
			if cr := epi.Values.CancelRequest; cr == nil || *cr != want {
				t.Fatalf("cancel_request = %+v, want %+v", cr, want)
			}
			if child == pm {
				t.Fatalf("the request was checked by the postmaster (%d)", pm)
			}
			b, err := json.Marshal(epi.Values)
			if err != nil {
				t.Fatal(err)
			}
			if frag := fmt.Sprintf(`"cancel_request":{"pid":%d,"matched":%t,"checked_by_pid":%d}`, tt.pid, tt.matched, child); !strings.Contains(string(b), frag) {
				t.Errorf("JSON %s lacks %s", b, frag)
			}
			if !slices.Contains(epi.Values.Log, tt.log) {
				t.Errorf("log = %q, want %q", epi.Values.Log, tt.log)
			}
			signalled, _ := findFact(epi.Values.Facts, "signalled")
			if tt.matched {
				for _, k := range []string{fmt.Sprintf("kill(%d, SIGINT) done", tt.pid), fmt.Sprintf("kill(%d, SIGINT) done", -tt.pid)} {
					if !strings.Contains(signalled, k) {
						t.Errorf("signalled = %q, want %q", signalled, k)
					}
				}
			} else if !strings.HasPrefix(signalled, "nothing") {
				t.Errorf("signalled = %q, want nothing", signalled)
			}
			for _, c := range epi.Values.Checks {
				if !c.OK {
					t.Errorf("check %q failed: %s", c.Name, c.Detail)
				}
			}
			if !tt.matched {
				return
			}
			names, codes := busy.answer(t)
			if !slices.Equal(names, []string{"ErrorResponse", "ReadyForQuery(I)"}) || !slices.Equal(codes, []string{queryCanceledCode + " " + queryCanceledMessage}) {
				t.Errorf("the sleeping session got %v %q, want the 57014 error and ReadyForQuery", names, codes)
			}
		})
	}

	// The cancelled session is still a session.
	busy.query(t, "select pg_sleep(0);")
	if names, codes := busy.answer(t); !slices.Equal(names, []string{"RowDescription", "DataRow", "CommandComplete", "ReadyForQuery(I)"}) || codes != nil {
		t.Errorf("pg_sleep(0) answered %v %q", names, codes)
	}

	// The idle session was named by every mismatching request and was
	// signalled by none of them (their children had exited before).
	idle.terminate(t)
	epi := w.until(t, 1, walkthrough.Epilogue)
	if got := factsNamed(epi[len(epi)-1].Values.Facts, "signal received"); len(got) != 0 {
		t.Errorf("the idle session received %q, want no signal", got)
	}

	busy.terminate(t)
	evs := w.until(t, 2, walkthrough.Epilogue)
	v := evs[len(evs)-1].Values
	// signal_child sends to the pid and to its group: one or two SIGINTs
	// (the kernel merges a second one still pending), the first of which
	// cancelled the statement.
	got := factsNamed(v.Facts, "signal received")
	if len(got) < 1 || len(got) > 2 || !strings.HasPrefix(got[0], "SIGINT: cancel request: cancelled the running statement") {
		t.Errorf("signals the busy backend reported = %q", got)
	}
	if q := factsNamed(v.Facts, "query"); len(q) != 2 || !strings.HasPrefix(q[0], strconv.Quote(sleep)+": cancelled by SIGINT") {
		t.Errorf("queries = %q, want the cancelled pg_sleep first", q)
	}
	if !slices.Contains(v.Log, "ERROR:  "+queryCanceledMessage) {
		t.Errorf("busy backend's log = %q, want the cancel error", v.Log)
	}
}

// TestCancelChecksTheCopyAtLaunch: a cancel connection whose child was
// launched before a session registered does not find that session, although
// the postmaster's list has it by then: the child searches the copy it was
// given at launch, as a forked child searches the copy it got at the fork.
func TestCancelChecksTheCopyAtLaunch(t *testing.T) {
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "16.4"), WaitForClient: true}, nil)
	w := walk(d)
	defer w.stop(t)

	early := dialUnix(t, d) // connection 1: its packet comes later
	w.until(t, 1, walkthrough.ParentRegistration)
	s := openSession(t, dialUnix(t, d)) // connection 2
	evs := w.until(t, 2, walkthrough.ParentRegistration)
	s.ready(t)
	if list := evs[len(evs)-1].Values.BackendList; len(list) != 2 || list[0].PID != s.key.PID {
		t.Fatalf("the postmaster's list = %+v, want the session at its head, then connection 1", list)
	}

	sendCancel(t, early, s.key.PID, s.key.SecretKey)
	evs = w.until(t, 1, walkthrough.Epilogue)
	epi := evs[len(evs)-1]
	if cr := epi.Values.CancelRequest; cr == nil || cr.Matched || cr.PID != s.key.PID {
		t.Errorf("cancel_request = %+v, want pid %d not matched", cr, s.key.PID)
	}
	if want := fmt.Sprintf("PID %d in cancel request did not match any process", s.key.PID); !slices.Contains(epi.Values.Log, want) {
		t.Errorf("log = %q, want %q", epi.Values.Log, want)
	}
	if v, _ := findFact(epi.Values.Facts, "list searched"); !strings.Contains(v, "(0 entries)") {
		t.Errorf("list searched = %q, want the empty copy of connection 1's launch", v)
	}
	s.terminate(t)
	evs = w.until(t, 2, walkthrough.Epilogue)
	if got := factsNamed(evs[len(evs)-1].Values.Facts, "signal received"); len(got) != 0 {
		t.Errorf("the session received %q, want no signal", got)
	}
}
