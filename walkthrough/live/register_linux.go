package live

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// This file finds the parent's registration of the new backend, with the
// backend held at its stop. Where a child's record joins the list after
// the fork (facts.child_list.joined_in), registration is the push of the
// record onto the list; where it joined at allocation, it is the store of
// the child's pid into the record. Either way the walk knows it happened
// once a record on the list holds the child's pid. It catches the moment
// with a write watchpoint (on the list's head, or on the record's pid)
// where the debug registers trap, else at the postmaster's first call of
// close() after the fork, the client socket's (facts.functions.
// close_socket), else by single-stepping.

// maxRegistrationSteps bounds the single-stepping fallback.
const maxRegistrationSteps = 5_000_000

// registration runs the postmaster until it has registered the new
// backend, and emits the stop.
func (w *walker) registration(c *conn) error {
	t, pm, tab := w.t, w.pm, w.tab
	if c.forkRet == nil && c.childPID == 0 {
		return nil
	}
	pid := c.childPID
	if c.child != nil && !c.child.Exited() {
		c.child.Hold(true)
	}
	listAddr, haveList := w.sym(tab.list)
	// watch is the word registration writes, when known.
	var watch uint64
	var watched string
	switch {
	case haveList && tab.joinedAtRegistration:
		watch, watched = listAddr+8, tab.list+".head.next" // dlist_head { dlist_node head { prev, next } }
	case c.record != 0:
		watch, watched = (c.record+uint64(tab.rec.pid))&^7, tab.rec.typ+".pid"
	}
	found := func(read ptrace.Memory) bool {
		if haveList {
			if n, addr, ok := w.findInList(read, listAddr, pid); ok {
				c.node, c.nodeAddr = n, addr
				return true
			}
			return false
		}
		if c.record != 0 {
			if n, err := w.readRecordWith(read, c.record); err == nil && n.PID == pid {
				c.node, c.nodeAddr = n, c.record
				return true
			}
			return false
		}
		return true // nothing to read: the first close() after the fork
	}
	var bp *ptrace.Breakpoint
	var err error
	closeAt, haveClose := w.at(tab.close)
	switch {
	case t.Hardware() && watch != 0:
		bp, err = t.Arm(pm, watched, watch, ptrace.Write8)
	case haveClose:
		bp, err = t.ArmSoft(pm, tab.close.fn, closeAt)
	default:
		ok, err := t.StepUntil(pm, maxRegistrationSteps, w.deadline, found)
		switch {
		case errors.Is(err, ptrace.ErrDeadline):
			return w.stalled(stReg(tab))
		case errors.Is(err, ptrace.ErrInterrupted):
			return errClosed
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("the postmaster did not register pid %d within %d instructions", pid, maxRegistrationSteps)
		}
		return w.emitRegistration(c, nil, "fact.live.found_by_stepping")
	}
	if err != nil {
		return err
	}
	for {
		h, err := w.wait(stReg(tab))
		if err != nil {
			return err
		}
		if h.Proc != pm || h.BP != bp {
			continue
		}
		if found(w.t.Memory(pm)) {
			break
		}
	}
	if err := t.Disarm(pm, bp); err != nil {
		return err
	}
	how := ""
	if bp.Kind == ptrace.Exec {
		how = "fact.live.found_at_close"
	}
	return w.emitRegistration(c, bp, how)
}

// readRecordWith reads the record at addr with read.
func (w *walker) readRecordWith(read ptrace.Memory, addr uint64) (*walkthrough.BackendNode, error) {
	raw := make([]byte, w.tab.rec.size)
	if err := read(addr, raw); err != nil {
		return nil, err
	}
	n, err := w.tab.rec.decode(raw)
	return &n, err
}

// findInList looks for the record of pid on the list at listAddr.
func (w *walker) findInList(read ptrace.Memory, listAddr uint64, pid int) (*walkthrough.BackendNode, uint64, bool) {
	var found *walkthrough.BackendNode
	var at uint64
	w.walkList(read, listAddr, func(n walkthrough.BackendNode, addr uint64) bool {
		if n.PID == pid {
			found, at = &n, addr
			return false
		}
		return true
	})
	return found, at, found != nil
}

// walkList calls fn with each record on the list at listAddr, head first,
// until fn returns false; at most 1024 records.
func (w *walker) walkList(read ptrace.Memory, listAddr uint64, fn func(n walkthrough.BackendNode, addr uint64) bool) {
	var b [8]byte
	if read(listAddr+8, b[:]) != nil {
		return
	}
	next := leU64(b[:])
	elem := uint64(w.tab.rec.elem)
	for i := 0; next != 0 && next != listAddr && i < 1024; i++ {
		addr := next - elem
		n, err := w.readRecordWith(read, addr)
		if err != nil || !fn(*n, addr) {
			return
		}
		if read(next+8, b[:]) != nil {
			return
		}
		next = leU64(b[:])
	}
}

func leU64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// childList reads the postmaster's list of children, head first, and
// returns it with the address of the head's record (0 for an empty list).
func (w *walker) childList() ([]walkthrough.BackendNode, uint64, bool) {
	listAddr, ok := w.sym(w.tab.list)
	if !ok {
		return nil, 0, false
	}
	out := []walkthrough.BackendNode{}
	var head uint64
	w.walkList(w.t.Memory(w.pm), listAddr, func(n walkthrough.BackendNode, addr uint64) bool {
		if head == 0 {
			head = addr
		}
		out = append(out, n)
		return true
	})
	return out, head, true
}

// emitRegistration reports the registration, found at bp (nil when found
// by stepping); how names the fact that says how it was found.
func (w *walker) emitRegistration(c *conn, bp *ptrace.Breakpoint, how string) error {
	tab := w.tab
	v := w.values(c)
	v.Backend = c.node
	if c.node != nil {
		v.ChildSlot = walkthrough.Int(c.node.ChildSlot)
	}
	if list, head, ok := w.childList(); ok {
		v.BackendList = list
		if tab.joinedAtRegistration && c.node != nil {
			v.Checks = append(v.Checks, walkthrough.C(head == c.nodeAddr, "check.live.record_at_head",
				"list", tab.list, "head", fmt.Sprintf("%#x", head), "record", fmt.Sprintf("%#x", c.nodeAddr)))
		}
	}
	lines, off := w.d.cl.LogLinesFrom(w.logOff)
	w.logOff = off
	for _, l := range lines {
		if strings.Contains(l, "forked new ") && strings.Contains(l, fmt.Sprintf("pid=%d ", c.childPID)) {
			v.Log = append(v.Log, l)
		}
	}
	if c.node != nil {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.registered", "record", tab.rec.typ, "address", fmt.Sprintf("%#x", c.nodeAddr), "list", tab.list))
		v.Checks = append(v.Checks, w.recordChecks(c)...)
	}
	if how != "" {
		v.Facts = append(v.Facts, walkthrough.F(how, "function", tab.close.fn, "list", tab.list))
	}
	if bp != nil {
		v.Facts = append(v.Facts, bpFact(bp))
	}
	return w.emit(walkthrough.ParentRegistration, w.pm.PID, v)
}

// recordChecks compare the registered record with what was seen before:
// the fork's return, the key, the slot, the type, the allocation.
func (w *walker) recordChecks(c *conn) []walkthrough.Check {
	tab, n := w.tab, c.node
	rec := tab.rec.typ
	cs := []walkthrough.Check{walkthrough.C(n.PID == c.childPID, "check.live.record_pid",
		"record", rec, "value", n.PID, "function", tab.fork.fn, "returned", c.childPID)}
	if c.cancelKey != nil && !n.NoKey {
		cs = append(cs, walkthrough.C(n.CancelKey == *c.cancelKey, "check.live.record_key",
			"record", rec, "value", n.CancelKey, "variable", tab.keyVar, "read", *c.cancelKey))
	}
	if c.slot != nil {
		cs = append(cs, walkthrough.C(n.ChildSlot == *c.slot, "check.live.record_slot",
			"record", rec, "value", n.ChildSlot, "source", c.slotFrom, "read", *c.slot))
	}
	want := tab.rec.names.Normal
	if c.deadEnd && tab.rec.hasDeadEndType {
		want = tab.rec.names.DeadEnd
	}
	cs = append(cs, walkthrough.C(n.BkendType == want, "check.live.record_type", "record", rec, "value", n.BkendType, "want", want))
	if c.record != 0 {
		cs = append(cs, walkthrough.C(c.nodeAddr == c.record, "check.live.record_allocated",
			"record", rec, "address", fmt.Sprintf("%#x", c.nodeAddr), "call", c.allocBy, "allocated", fmt.Sprintf("%#x", c.record)))
	}
	return cs
}
