package live

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// This file follows the new backend from its first instruction to the
// plan's child stop, with the postmaster held at its fork stop: the
// child's cleanup steps run, in the release's order, and the stop comes
// where the child's path goes on (the entry of the first function of its
// run that has a symbol of its own, else the return of the last step).
// What the child saw on the way (the fork's return, its pid variable,
// its descriptors around ClosePostmasterPorts) becomes the stop's values
// and facts.

// childStop walks the child to the plan's child stop and emits it.
func (w *walker) childStop(c *conn) error {
	t, tab, ch := w.t, w.tab, c.child
	w.pm.Hold(true)
	defer w.pm.Hold(false)
	var forkRet, stopBP *ptrace.Breakpoint
	steps := map[*ptrace.Breakpoint]string{}
	returns := map[*ptrace.Breakpoint]string{}
	arm := func(name string, addr uint64) (*ptrace.Breakpoint, error) { return t.Arm(ch, name, addr, ptrace.Exec) }
	var err error
	if c.forkRetAddr != 0 {
		if forkRet, err = arm(tab.fork.fn+":return", c.forkRetAddr); err != nil {
			return err
		}
	}
	for _, s := range tab.steps {
		if a, ok := w.sym(s); ok {
			bp, err := arm(s, a)
			if err != nil {
				return err
			}
			steps[bp] = s
		}
	}
	// The stop: the first function of the child's run with a symbol of
	// its own, if it is the next call after the steps; else the return of
	// the last step.
	last := tab.steps[len(tab.steps)-1]
	if len(tab.run) > 0 {
		if a, ok := w.sym(tab.run[0]); ok {
			if stopBP, err = arm(tab.run[0], a); err != nil {
				return err
			}
		}
	}
	if stopBP == nil && !w.hasSym(last) {
		// Nothing marks the end of the cleanup: the child stands at its
		// first instruction, and the stop says what it could not see.
		return w.emitChild(c, nil)
	}
	ch.Hold(false)
	defer ch.Hold(true)
	var namer fdNamer
	for {
		h, err := w.wait(stChild(tab))
		if err != nil {
			return err
		}
		if h.Proc != ch {
			continue
		}
		if h.Exit != "" {
			c.childExit = h.Exit
			w.tell("say.live.backend_ended", "pid", ch.PID, "status", h.Exit)
			return w.emitChild(c, nil)
		}
		if h.BP == nil {
			continue
		}
		if err := t.Disarm(ch, h.BP); err != nil {
			return err
		}
		switch {
		case h.BP == forkRet:
			c.childRet = walkthrough.Int(int(int32(h.Regs.Ret())))
		case steps[h.BP] != "":
			step := steps[h.BP]
			switch step {
			case stepClosePorts:
				namer = w.namer(ch)
				fds, err := readFDs(ch.PID)
				if err != nil {
					return err
				}
				c.fdsBefore = namer.table(fds)
			case stepInitChild:
				c.childPidAt = w.readVar(ch, tab.pidVar)
			}
			if step == stepClosePorts || (step == last && stopBP == nil) {
				bp, _, err := t.ArmReturn(ch, step, h.Regs)
				if err != nil {
					return err
				}
				returns[bp] = step
			}
		case returns[h.BP] != "":
			step := returns[h.BP]
			if step == stepClosePorts && c.fdsBefore != nil {
				fds, err := readFDs(ch.PID)
				if err != nil {
					return err
				}
				c.fdsAfter = namer.table(fds)
				c.closed = walkthrough.ClosedFDs(c.fdsBefore, c.fdsAfter)
			}
			if step == last && stopBP == nil {
				return w.emitChild(c, h.BP)
			}
		case h.BP == stopBP:
			return w.emitChild(c, h.BP)
		}
	}
}

// emitChild reports the child stop, with the child stopped at bp (nil:
// where it stands).
func (w *walker) emitChild(c *conn, bp *ptrace.Breakpoint) error {
	tab, ch := w.tab, c.child
	if err := w.t.DisarmAll(ch); err != nil {
		return err
	}
	v := w.values(c)
	if !ch.Exited() {
		if tab.keyInPostmaster {
			if c.childKey = w.readVar(ch, tab.keyVar); c.childKey != nil {
				v.CancelKey = c.childKey
				v.Facts = append(v.Facts, walkthrough.F("fact.live.key_inherited", "variable", tab.keyVar))
			}
		}
		if c.childSlot = intPtr(w.readVar(ch, tab.slotVar)); c.childSlot != nil {
			v.ChildSlot = c.childSlot
			v.Facts = append(v.Facts, walkthrough.F("fact.live.variable_read", "variable", tab.slotVar, "value", *c.childSlot, "process", walkthrough.Backend))
		}
		// Only past its cleanup does the child surely hold its own pid
		// there.
		if bp != nil {
			c.childProcID = intPtr(w.readVar(ch, tab.pidVar))
		}
		if c.childProcID != nil {
			v.Facts = append(v.Facts, walkthrough.F("fact.live.variable_read", "variable", tab.pidVar, "value", *c.childProcID, "process", walkthrough.Backend))
		}
	}
	if c.childRet != nil {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.child_fork_return", "function", tab.fork.fn, "value", *c.childRet, "address", fmt.Sprintf("%#x", c.forkRetAddr)))
	}
	if c.childPidAt != nil {
		key := "fact.live.proc_pid_own"
		if int(*c.childPidAt) == w.pm.PID {
			key = "fact.live.proc_pid_inherited"
		}
		v.Facts = append(v.Facts, walkthrough.F(key, "variable", tab.pidVar, "value", *c.childPidAt, "step", stepInitChild))
	}
	if c.fdsBefore != nil && c.fdsAfter != nil {
		v.FDsBefore, v.FDsAfter, v.ClosedFDs = c.fdsBefore, c.fdsAfter, c.closed
		v.Facts = append(v.Facts, walkthrough.F("fact.live.descriptors", "pid", ch.PID, "step", stepClosePorts, "alive_fds", tab.aliveFDs))
		if own := ownFDs(c.fdsBefore, c.pmFDs); own != "" {
			v.Facts = append(v.Facts, walkthrough.F("fact.live.opened_by_backend", "fds", own, "step", stepClosePorts))
		}
	}
	if c.childExit != "" {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.backend_ended", "status", c.childExit))
	}
	if bp != nil {
		v.Facts = append(v.Facts, bpFact(bp))
	} else {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.child_unseen"))
	}
	return w.emit(walkthrough.Child, ch.PID, v)
}

// namer prepares the names of the child's descriptors before
// ClosePostmasterPorts runs.
func (w *walker) namer(ch *ptrace.Proc) fdNamer {
	n := fdNamer{deathRead: -1, deathWrite: -1, syslogRead: -1}
	if a, ok := w.sym(w.tab.aliveFDs); ok {
		var b [8]byte
		if w.t.ReadMem(ch, a, b[:]) == nil {
			n.deathRead = int(int32(binary.LittleEndian.Uint32(b[0:])))
			n.deathWrite = int(int32(binary.LittleEndian.Uint32(b[4:])))
		}
	}
	if v := w.readVar(ch, w.tab.syslogPipe); v != nil {
		n.syslogRead = int(*v)
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/net/unix", ch.PID)); err == nil {
		n.sockets, _ = parseNetUnix(f)
		f.Close()
	}
	return n
}
