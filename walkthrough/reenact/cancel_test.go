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

	"github.com/jackc/pgx/v5/pgproto3"

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

// signalsOf returns the facts that say a signal the backend received.
func signalsOf(facts []walkthrough.Fact) []walkthrough.Fact {
	var out []walkthrough.Fact
	for _, f := range facts {
		if f.Key == "fact.reenact.signal_idle" || f.Key == "fact.reenact.signal_cancelled" {
			out = append(out, f)
		}
	}
	return out
}

// TestCancelRequest sends CancelRequests, each on a connection of its own,
// while one session is idle and another runs pg_sleep. Each is walked like
// any connection; its own child checks the request (against its copy of
// BackendList in 16.4 and 17.1, against the keys the backends published in
// the shared key table in 18.4) and, on a match, sends SIGINT itself: the
// statement is cancelled with 57014. A mismatch signals nobody. The
// sessions of 18.4 ask for protocol 3.2, so their keys are 32 bytes long.
func TestCancelRequest(t *testing.T) {
	for _, tt := range []struct {
		name  string
		proto uint32
		bytes int
	}{{"16.4", protocol30, 4}, {"17.1", protocol30, 4}, {"18.4", pgproto3.ProtocolVersion32, 32}} {
		t.Run(tt.name, func(t *testing.T) { testCancelRequest(t, tt.name, tt.proto, tt.bytes) })
	}
}

// flip returns key with its last byte changed.
func flip(key []byte) []byte {
	c := append([]byte(nil), key...)
	c[len(c)-1] ^= 1
	return c
}

func testCancelRequest(t *testing.T, name string, proto uint32, keyBytes int) {
	signals := make(chan int, 16)
	running := make(chan int, 4)
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, name), WaitForClient: true},
		func(d *Driver) { d.signalSeen, d.queryRunning = signals, running })
	w := walk(d)
	defer w.stop(t)
	pm := os.Getpid()

	shared := d.fl.sharedKeys()
	idle := openSessionAt(t, dialUnix(t, d), proto)
	w.until(t, 1, walkthrough.ParentRegistration)
	idle.ready(t)
	busy := openSessionAt(t, dialUnix(t, d), proto)
	w.until(t, 2, walkthrough.ParentRegistration)
	busy.ready(t)
	if len(idle.raw) != keyBytes || len(busy.raw) != keyBytes {
		t.Fatalf("keys of %d and %d bytes, want %d", len(idle.raw), len(busy.raw), keyBytes)
	}
	const sleep = "SELECT pg_sleep(3600)"
	busy.query(t, sleep)
	waitPID(t, running, busy.key.PID, "a running pg_sleep")

	type cancelCase struct {
		name    string
		pid     int
		key     []byte
		matched bool
		log     string
	}
	wrong := fmt.Sprintf("wrong key in cancel request for process %d", idle.key.PID)
	tests := []cancelCase{
		{"wrong key", idle.key.PID, flip(idle.raw), false, wrong},
		{"unknown pid", 1, idle.raw, false, "PID 1 in cancel request did not match any process"},
		{"another session's key", idle.key.PID, busy.raw, false, wrong},
	}
	if keyBytes > 4 {
		// Keys of another length are allowed in a request, and never
		// match: the lengths are compared too.
		tests = append(tests, cancelCase{"the key's first 4 bytes", idle.key.PID, idle.raw[:4], false, wrong})
	}
	tests = append(tests, cancelCase{"right key", busy.key.PID, busy.raw, true, fmt.Sprintf("processing cancel request: sending SIGINT to process %d", busy.key.PID)})
	n := 2
	for _, tt := range tests {
		n++
		t.Run(tt.name, func(t *testing.T) {
			sendCancelKey(t, dialUnix(t, d), tt.pid, tt.key)
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
			switch {
			case shared && tt.matched:
				// SendCancelRequest signals the backend's process group.
				f, _ := factKey(epi.Values.Facts, "fact.reenact.cancel_signalled")
				if want := fmt.Sprintf("kill(%d, SIGINT) = 0", -tt.pid); f.Args["kills"] != want {
					t.Errorf("signalled = %+v, want %q", f, want)
				}
			case shared:
				if _, ok := factKey(epi.Values.Facts, "fact.reenact.cancel_not_signalled"); !ok {
					t.Errorf("facts %+v: no fact.reenact.cancel_not_signalled", epi.Values.Facts)
				}
			case tt.matched:
				signalled, _ := findFact(epi.Values.Facts, "fact.reenact.list_signalled")
				if want := fmt.Sprintf("kill(%d, SIGINT) = 0; kill(%d, SIGINT) = 0", tt.pid, -tt.pid); signalled["kills"] != want {
					t.Errorf("signalled = %v, want kills %q", signalled, want)
				}
			default:
				if _, ok := findFact(epi.Values.Facts, "fact.reenact.list_not_signalled"); !ok {
					t.Errorf("facts %+v: no fact.reenact.list_not_signalled", epi.Values.Facts)
				}
			}
			if shared {
				// The child searched the shared key table, where both
				// sessions had published their keys; it had no list.
				f, ok := factKey(epi.Values.Facts, "fact.reenact.keys_searched")
				if !ok || f.Args["published"] != "2" || f.Args["rows"] != strconv.Itoa(d.keys.rows) {
					t.Errorf("keys searched = %+v, want 2 published of %d rows", f, d.keys.rows)
				}
				if _, ok := findFact(epi.Values.Facts, "fact.reenact.list_searched"); ok {
					t.Error("a child of 18.4 searched a list")
				}
			}
			for _, c := range epi.Values.Checks {
				if !c.OK {
					t.Errorf("check %s failed: %v", c.Key, c.Args)
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
	if got := signalsOf(epi[len(epi)-1].Values.Facts); len(got) != 0 {
		t.Errorf("the idle session received %+v, want no signal", got)
	}

	busy.terminate(t)
	evs := w.until(t, 2, walkthrough.Epilogue)
	v := evs[len(evs)-1].Values
	// signal_child sends to the pid and to its group: one or two SIGINTs
	// (the kernel merges a second one still pending), the first of which
	// cancelled the statement.
	got := signalsOf(v.Facts)
	if len(got) < 1 || len(got) > 2 || got[0].Key != "fact.reenact.signal_cancelled" || got[0].Args["signal"] != "SIGINT" || got[0].Args["query"] != strconv.Quote(sleep) {
		t.Errorf("signals the busy backend reported = %+v", got)
	}
	cancelled, slept := factsWith(v.Facts, "fact.reenact.query_cancelled"), factsWith(v.Facts, "fact.reenact.query_slept")
	if len(cancelled) != 1 || len(slept) != 1 || cancelled[0]["query"] != strconv.Quote(sleep) || cancelled[0]["code"] != queryCanceledCode {
		t.Errorf("queries: cancelled %v, slept %v; want the cancelled pg_sleep, then pg_sleep(0)", cancelled, slept)
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
	if v, _ := findFact(epi.Values.Facts, "fact.reenact.list_searched"); v["n"] != "0" {
		t.Errorf("list searched = %v, want the empty copy of connection 1's launch", v)
	}
	s.terminate(t)
	evs = w.until(t, 2, walkthrough.Epilogue)
	if got := signalsOf(evs[len(evs)-1].Values.Facts); len(got) != 0 {
		t.Errorf("the session received %+v, want no signal", got)
	}
}
