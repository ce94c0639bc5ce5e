//go:build unix

package reenact

import (
	"fmt"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// setLimit makes MaxLivePostmasterChildren n: the too-many-children limit
// and the size of the slot table, as in PostgreSQL.
func setLimit(n int) func(*Driver) {
	return func(d *Driver) {
		d.maxChildren = n
		d.slots = make([]bool, n)
	}
}

// TestAcceptDecision checks the order of struct init: canAcceptConnections
// decides first, from a count of the children on BackendList that are not
// dead ends, and a child slot is assigned only when it answered CAC_OK.
// (TestDeadEnd covers a full count with a free slot table.)
func TestAcceptDecision(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		// live sessions opened first; deadEnds connections then held open
		// before sending anything (refused ones, on the list as dead
		// ends); closeLive ends the live sessions before the probe.
		live, deadEnds int
		closeLive      bool
		// what the probe connection gets
		canAccept string
		slot      int
		slotsUsed int // slots in use at the probe's struct-init stop
	}{
		{"room left", 2, 1, 0, false, "CAC_OK", 1, 2},
		{"count reaches the limit", 1, 1, 0, false, "CAC_TOOMANY", 0, 1},
		{"a larger table, full", 3, 3, 0, false, "CAC_TOOMANY", 0, 3},
		{"dead ends are not counted", 1, 1, 2, true, "CAC_OK", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "17.1"), WaitForClient: true}, setLimit(tt.limit))
			w := walk(d)
			defer w.stop(t)
			n := 0
			var live []*session
			for range tt.live {
				n++
				s := openSession(t, dialUnix(t, d))
				w.until(t, n, walkthrough.ParentRegistration)
				s.ready(t)
				live = append(live, s)
			}
			for range tt.deadEnds {
				n++
				dialUnix(t, d)
				evs := w.until(t, n, walkthrough.ParentRegistration)
				if head := evs[len(evs)-1].Values.BackendList[0]; !head.DeadEnd || head.ChildSlot != 0 {
					t.Fatalf("held connection %d registered as %+v, want a dead end", n, head)
				}
			}
			if tt.closeLive {
				for i, s := range live {
					s.terminate(t)
					w.until(t, i+1, walkthrough.Epilogue)
				}
			}

			n++
			probe := openSession(t, dialUnix(t, d))
			evs := w.until(t, n, walkthrough.StructInit)
			init := evs[len(evs)-1]
			d.mu.Lock()
			used := d.slotsInUse()
			d.mu.Unlock()
			v := init.Values
			if v.CanAccept != tt.canAccept || v.DeadEnd == nil || *v.DeadEnd != (tt.canAccept != "CAC_OK") || v.ChildSlot == nil || *v.ChildSlot != tt.slot {
				t.Errorf("struct-init: can_accept %s dead_end %v child_slot %v; want %s, %t, %d",
					v.CanAccept, v.DeadEnd, v.ChildSlot, tt.canAccept, tt.canAccept != "CAC_OK", tt.slot)
			}
			if used != tt.slotsUsed {
				t.Errorf("%d slots in use at struct-init, want %d", used, tt.slotsUsed)
			}
			children := tt.live
			if tt.closeLive {
				children = 0
			}
			if f, _ := findFact(v.Facts, "fact.reenact.can_accept"); f["children"] != fmt.Sprint(children) || f["max"] != fmt.Sprint(tt.limit) {
				t.Errorf("canAcceptConnections fact = %v, want CountChildren %d and the limit %d", f, children, tt.limit)
			}
			w.until(t, n, walkthrough.ParentRegistration)
			if tt.canAccept == "CAC_OK" {
				probe.ready(t)
				return
			}
			if got := probe.refused(t); got != "53300 sorry, too many clients already" {
				t.Errorf("refused with %q", got)
			}
		})
	}
}
