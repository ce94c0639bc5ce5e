package trace

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// This file finds the parent's registration of the new backend: the push
// of its Backend record onto BackendList.

// registration runs the postmaster until it pushes the new Backend record
// onto BackendList, with the backend held at its last stop.
func (w *walker) registration(o *obs) error {
	a, ok := w.addr[symBackendLst]
	if !ok || o.forkRet == nil || *o.forkRet <= 0 {
		return nil
	}
	t, pm := w.t, w.pm
	if o.child != nil && !o.child.exited {
		o.child.hold = true
	}
	headNext := a + 8 // dlist_head { dlist_node head { prev, next } }
	var h hit
	var bp *breakpoint
	var err error
	switch {
	case t.hw:
		bp, err = t.arm(pm, symBackendLst+".head.next", headNext, bpWrite8)
	case w.has(symClose):
		// The postmaster's first call after the push is close() on the
		// client socket, once BackendStartup returned (16.4
		// postmaster.c:1788 through StreamClose, 17.1 postmaster.c:1679).
		// Any close() before it finds the head unchanged.
		bp, err = t.armSoft(pm, symClose, w.addr[symClose])
	default:
		if h, err = w.stepToRegistration(o, headNext); err != nil {
			return err
		}
		return w.emitRegistration(o, h, a)
	}
	if err != nil {
		return err
	}
	for {
		if h, err = w.wait(stReg); err != nil {
			return err
		}
		if h.p != pm || h.bp != bp {
			continue
		}
		if node, addr, ok := w.headNode(headNext, *o.forkRet); ok {
			o.node, o.nodeAddr = node, addr
			break
		}
	}
	_ = t.disarm(pm, bp)
	return w.emitRegistration(o, h, a)
}

// headNode reads the record at the head of BackendList and returns it when
// its pid is pid.
func (w *walker) headNode(headNext uint64, pid int) (*walkthrough.BackendNode, uint64, bool) {
	elem, err := readU64(w.pm.pid, headNext)
	if err != nil || elem == 0 {
		return nil, 0, false
	}
	addr := elem - uint64(w.layout.Elem)
	raw := make([]byte, w.layout.Size)
	if readMem(w.pm.pid, addr, raw) != nil {
		return nil, 0, false
	}
	n, err := w.layout.decode(raw)
	if err != nil || n.PID != pid {
		return nil, 0, false
	}
	return &n, addr, true
}

// stepToRegistration single-steps the postmaster until BackendList's head
// holds the new record: the fallback when neither a debug register nor
// close() can mark it.
func (w *walker) stepToRegistration(o *obs, headNext uint64) (hit, error) {
	pm := w.pm
	const maxSteps = 5_000_000
	for i := 0; i < maxSteps; i++ {
		if i%1024 == 0 {
			if w.t.interrupted.Load() {
				return hit{}, errClosed
			}
			if !w.deadline.IsZero() && time.Now().After(w.deadline) {
				return hit{}, w.stalled(stReg)
			}
		}
		if node, addr, ok := w.headNode(headNext, *o.forkRet); ok {
			o.node, o.nodeAddr = node, addr
			r, err := getRegs(pm.pid)
			return hit{p: pm, regs: r}, err
		}
		if err := w.t.singleStep(pm); err != nil {
			return hit{}, err
		}
	}
	return hit{}, fmt.Errorf("BackendList did not change within %d instructions", maxSteps)
}

func (w *walker) emitRegistration(o *obs, h hit, listAddr uint64) error {
	v := w.values(o)
	v.Backend = o.node
	v.BackendList = w.backendList(listAddr)
	lines, off := w.d.cl.logLinesFrom(w.logOff)
	w.logOff = off
	for _, l := range lines {
		if strings.Contains(l, "forked new backend") && strings.Contains(l, fmt.Sprintf("pid=%d ", *o.forkRet)) {
			v.Log = append(v.Log, l)
		}
	}
	want := expectedNode{PID: *o.forkRet, CancelKey: o.cancelKey, ChildSlot: o.slot}
	bad := checkLayout(*o.node, want)
	layout := "checked: " + w.layout.String()
	if len(bad) > 0 {
		layout = "does not hold: " + strings.Join(bad, "; ")
	}
	v.Facts = append(v.Facts,
		fact("record", fmt.Sprintf("%#x, pushed at the head of BackendList (%#x)", o.nodeAddr, listAddr)),
		fact("layout", layout),
	)
	v.Checks = append(v.Checks, w.nodeChecks(o)...)
	if h.bp != nil && h.bp.kind == bpExec {
		v.Facts = append(v.Facts, bpFact(h.bp), fact("found by", "the postmaster's first close() after the fork: BackendList's head held the new record there"))
	} else if h.bp != nil {
		v.Facts = append(v.Facts, bpFact(h.bp))
	} else {
		v.Facts = append(v.Facts, fact("found by", "single-stepping the postmaster until BackendList changed"))
	}
	return w.emit(w.event(walkthrough.ParentRegistration, w.pm, "dlist_push_head(&BackendList) done", v))
}

// nodeChecks compares the registered record with what was seen before.
func (w *walker) nodeChecks(o *obs) []walkthrough.Check {
	n := o.node
	var cs []walkthrough.Check
	cs = append(cs, check("Backend.pid = fork_process return", []string{"Backend.pid", "fork_process"},
		[]string{strconv.Itoa(n.PID), strconv.Itoa(*o.forkRet)}))
	if o.cancelKey != nil {
		cs = append(cs, check("Backend.cancel_key = MyCancelKey", []string{"Backend.cancel_key", "MyCancelKey"},
			[]string{fmt.Sprint(n.CancelKey), fmt.Sprint(*o.cancelKey)}))
	}
	if o.slot != nil {
		cs = append(cs, check("Backend.child_slot = AssignPostmasterChildSlot", []string{"Backend.child_slot", symSlot},
			[]string{strconv.Itoa(n.ChildSlot), strconv.Itoa(*o.slot)}))
	}
	if o.allocSeen {
		cs = append(cs, check("BackendList head = the record allocated at struct-creation", []string{"head", w.plan.alloc},
			[]string{fmt.Sprintf("%#x", o.nodeAddr), fmt.Sprintf("%#x", o.allocAddr)}))
	}
	return cs
}

// backendList reads every record of the postmaster's BackendList.
func (w *walker) backendList(listAddr uint64) []walkthrough.BackendNode {
	var out []walkthrough.BackendNode
	next, err := readU64(w.pm.pid, listAddr+8)
	for i := 0; err == nil && next != 0 && next != listAddr && i < 256; i++ {
		raw := make([]byte, w.layout.Size)
		if readMem(w.pm.pid, next-uint64(w.layout.Elem), raw) != nil {
			break
		}
		n, derr := w.layout.decode(raw)
		if derr != nil {
			break
		}
		out = append(out, n)
		next, err = readU64(w.pm.pid, next+8)
	}
	return out
}
