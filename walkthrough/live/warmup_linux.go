package live

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
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

// deadRegistersFromEnv reports whether envDeadDebugRegisters asks for
// registers that never trap.
func deadRegistersFromEnv() bool { return os.Getenv(envDeadDebugRegisters) == "1" }

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
	w.t.SetHardware(hw)
	if w.opts.Teller != nil {
		w.opts.Tell(why)
	} else {
		w.opts.Say("breakpoints: " + mechanism(hw) + " (" + line(why) + ")")
	}
	if c == nil {
		c = startClient(w.d.cl.Dir, cluster.Port)
	}
	if err := w.serve(c, stWarmUp); err != nil {
		return err
	}
	if c.err != nil {
		return fmt.Errorf("first connection to the new cluster: %w: %s", c.err, w.d.cl.LogTail(10))
	}
	// What the warm-up forked is not part of the walk.
	w.t.ResetCounts()
	return w.t.Stop(w.pm)
}

// serve runs the traced processes until c is done, within the stage bound.
func (w *walker) serve(c *client, st stage) error {
	deadline := time.Now().Add(w.d.bounds.stage)
	for {
		_, err := w.t.Wait(ptrace.Limits{Deadline: deadline, Wake: c.done})
		switch {
		case errors.Is(err, ptrace.ErrWoken):
			return nil
		case errors.Is(err, ptrace.ErrDeadline):
			return w.stalled(st)
		case errors.Is(err, ptrace.ErrInterrupted):
			return errClosed
		case err != nil:
			return err
		}
	}
}

// probe sets hardware breakpoints for the warm-up connection and watches
// them: an execution breakpoint on the first function of the path it
// finds, and a write watchpoint on the head of the postmaster's list of
// children, which every release writes when a child's record joins it.
// The reference that says they had their chance is an int3 on close() in
// the C library, which the postmaster calls on the client socket right
// after BackendStartup returns (facts.functions.close_socket), so after
// the record joined the list. Without that symbol the client being served
// is the reference. It returns the client it started.
func (w *walker) probe() (probeResult, *client, error) {
	t, pm, tab := w.t, w.pm, w.tab
	var r probeResult
	var execBP, watchBP, ref *ptrace.Breakpoint
	cleanup := func() { _ = t.DisarmEach(pm, execBP, watchBP, ref) }
	for _, p := range []point{tab.accept, tab.gate, tab.fork} {
		a, ok := w.at(p)
		if !ok {
			continue
		}
		r.execOn = p.fn
		if execBP, r.err = t.ArmHardware(pm, p.fn, a, ptrace.Exec); r.err != nil {
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
	if a, ok := w.sym(tab.list); ok {
		headNext = a + 8 // dlist_head { dlist_node head { prev, next } }
		headBefore, _ = t.ReadU64(pm, headNext)
		r.watchOn = tab.list
		if watchBP, r.err = t.ArmHardware(pm, tab.list+".head.next", headNext, ptrace.Write8); r.err != nil {
			cleanup()
			return r, nil, nil
		}
	}
	if a, ok := w.at(tab.close); ok && headNext != 0 {
		var err error
		if ref, err = t.ArmSoft(pm, tab.close.fn, a); err != nil {
			cleanup()
			return r, nil, err
		}
	}
	c := startClient(w.d.cl.Dir, cluster.Port)
	lim := ptrace.Limits{Deadline: time.Now().Add(w.d.bounds.probe), Wake: c.done}
	for !r.settled {
		if r.execTrapped && (r.watchTrapped || r.watchOn == "") {
			break // everything trapped: nothing left to learn
		}
		h, err := t.Wait(lim)
		switch {
		case errors.Is(err, ptrace.ErrDeadline):
			r.waited = w.d.bounds.probe.String()
			cleanup()
			return r, c, nil
		case errors.Is(err, ptrace.ErrWoken):
			// The client was served: the execution breakpoint's function
			// ran before the fork. Only the close() reference tells
			// whether the postmaster has registered its record yet.
			lim.Wake = nil
			r.settled = ref == nil
			continue
		case errors.Is(err, ptrace.ErrInterrupted):
			cleanup()
			return r, c, errClosed
		case err != nil:
			cleanup()
			return r, c, err
		}
		if h.Proc != pm || h.BP == nil {
			continue
		}
		switch h.BP {
		case execBP:
			r.execTrapped = true
			_ = t.Disarm(pm, execBP)
			execBP = nil
		case watchBP:
			r.watchTrapped = true
			_ = t.Disarm(pm, watchBP)
			watchBP = nil
		case ref:
			r.settled = w.normalPushedSince(headNext, headBefore)
		}
	}
	cleanup()
	return r, c, nil
}

// normalPushedSince reports whether the list's head holds a client
// backend's record other than the one it held (before).
func (w *walker) normalPushedSince(headNext, before uint64) bool {
	elem, err := w.t.ReadU64(w.pm, headNext)
	if err != nil || elem == 0 || elem == before {
		return false
	}
	n, err := w.readRecord(elem - uint64(w.tab.rec.elem))
	return err == nil && w.tab.rec.isNormal(*n)
}
