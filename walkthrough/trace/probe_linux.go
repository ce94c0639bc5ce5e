package trace

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// This file makes the cluster's first connection, the warm-up, with the
// postmaster attached, and in auto mode uses it to see whether the debug
// registers trap (breakpoints.go decides from what it saw). Without the
// warm-up the first backend of a fresh server builds the relation cache
// from the catalogs and writes the file later backends load, which costs
// it several milliseconds: not what the walk is about.

// envDeadDebugRegisters, set to 1, makes the driver clear the enable bits
// of every DR7 write: the debug registers then take the writes and never
// trap, as on the machines this file guards against. It exists to test
// pgwalk on a machine whose registers do trap.
const envDeadDebugRegisters = "PGWALK_TEST_DEAD_DEBUG_REGISTERS"

// setDR7 writes p's debug control register, through deadDR7.
func (t *tracer) setDR7(pid int, v uint64) error {
	if t.deadDR7 {
		v &^= dr7Enables
	}
	return setDR7(pid, v)
}

// warmUp makes the warm-up connection, chooses the breakpoint mechanism
// and says which it chose and why. It returns with the postmaster stopped
// and no breakpoint set.
func (w *walker) warmUp() error {
	var c *client
	var perr error
	hw, why, err := chooseBreakpoints(w.opts.Breakpoints, func() probeResult {
		var r probeResult
		r, c, perr = w.probe()
		return r
	})
	defer func() { c.close() }()
	if perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	w.t.hw = hw
	w.opts.Say("breakpoints: " + why)
	if c == nil {
		c = startClient(w.d.cl.dir, clusterPort)
	}
	if err := w.serve(c, stWarmUp); err != nil {
		return err
	}
	if c.err != nil {
		return fmt.Errorf("first connection to the new cluster: %w: %s", c.err, w.d.cl.logTail(10))
	}
	// What the warm-up forked is not part of the walk.
	w.t.others.Store(0)
	w.t.restored.Store(0)
	return w.t.stop(w.pm)
}

// serve runs the traced processes until c is done, within the stage bound.
func (w *walker) serve(c *client, st stage) error {
	deadline := time.Now().Add(w.d.bounds.stage)
	for {
		_, err := w.t.waitHit(limits{deadline: deadline, wake: c.done})
		switch {
		case errors.Is(err, errWoken):
			return nil
		case errors.Is(err, errDeadline):
			return w.stalled(st)
		case errors.Is(err, errInterrupted):
			return errClosed
		case err != nil:
			return err
		}
	}
}

// probe sets hardware breakpoints for the warm-up connection and watches
// them: an execution breakpoint on the first function of the path it
// finds, and a write watchpoint on BackendList's head. The reference that
// says they had their chance is an int3 on the C library's close(), which
// the postmaster calls on the client socket right after BackendStartup
// returns, so after the push onto BackendList (16.4 postmaster.c:1787
// through StreamClose, 17.1 postmaster.c:1681). Without that symbol the
// client being served is the reference. It returns the client it started.
func (w *walker) probe() (probeResult, *client, error) {
	t, pm := w.t, w.pm
	var r probeResult
	var execBP, watchBP, ref *breakpoint
	cleanup := func() {
		for _, b := range []*breakpoint{execBP, watchBP, ref} {
			_ = t.disarm(pm, b)
		}
	}
	for _, n := range []string{symCanAccept, w.plan.accept, symFork} {
		a, ok := w.addr[n]
		if !ok {
			continue
		}
		if err := t.stop(pm); err != nil {
			return r, nil, err
		}
		if err := t.verify(pm, a, len(breakpointInsn)); err != nil {
			return r, nil, fmt.Errorf("breakpoint on %s: %w", n, err)
		}
		r.execOn = n
		if execBP, r.err = t.armIn(pm, n, a, bpExec, true); r.err != nil {
			cleanup()
			return r, nil, nil
		}
		break
	}
	if r.execOn == "" {
		return r, nil, nil
	}
	headNext := uint64(0)
	var headBefore uint64
	if a, ok := w.addr[symBackendLst]; ok {
		headNext = a + 8 // dlist_head { dlist_node head { prev, next } }
		headBefore, _ = readU64(pm.pid, headNext)
		r.watchSet = true
		if watchBP, r.err = t.armIn(pm, symBackendLst+".head.next", headNext, bpWrite8, true); r.err != nil {
			cleanup()
			return r, nil, nil
		}
	}
	if a, ok := w.addr[symClose]; ok && headNext != 0 {
		var err error
		if ref, err = t.armSoft(pm, symClose, a); err != nil {
			cleanup()
			return r, nil, err
		}
	}
	c := startClient(w.d.cl.dir, clusterPort)
	lim := limits{deadline: time.Now().Add(w.d.bounds.probe), wake: c.done}
	for !r.settled {
		if r.execTrapped && (r.watchTrapped || !r.watchSet) {
			break // everything trapped: nothing left to learn
		}
		h, err := t.waitHit(lim)
		switch {
		case errors.Is(err, errDeadline):
			r.waited = w.d.bounds.probe.String()
			cleanup()
			return r, c, nil
		case errors.Is(err, errWoken):
			// The client was served: the execution breakpoint's function
			// ran before the fork. Only the close() reference tells
			// whether the postmaster has pushed its record yet.
			lim.wake = nil
			r.settled = ref == nil
			continue
		case errors.Is(err, errInterrupted):
			cleanup()
			return r, c, errClosed
		case err != nil:
			cleanup()
			return r, c, err
		}
		if h.p != pm || h.bp == nil {
			continue
		}
		switch h.bp {
		case execBP:
			r.execTrapped = true
			_ = t.disarm(pm, execBP)
			execBP = nil
		case watchBP:
			r.watchTrapped = true
			_ = t.disarm(pm, watchBP)
			watchBP = nil
		case ref:
			r.settled = w.normalPushedSince(headNext, headBefore)
		}
	}
	cleanup()
	return r, c, nil
}

// normalPushedSince reports whether BackendList's head holds a client
// backend's record other than the one it held (before).
func (w *walker) normalPushedSince(headNext, before uint64) bool {
	elem, err := readU64(w.pm.pid, headNext)
	if err != nil || elem == 0 || elem == before {
		return false
	}
	raw := make([]byte, w.layout.Size)
	if readMem(w.pm.pid, elem-uint64(w.layout.Elem), raw) != nil {
		return false
	}
	n, err := w.layout.decode(raw)
	return err == nil && n.BkendType == bkendTypeName(backendTypeNormal)
}

// deadRegistersFromEnv reports whether envDeadDebugRegisters asks for
// registers that never trap.
func deadRegistersFromEnv() bool { return os.Getenv(envDeadDebugRegisters) == "1" }
