package live

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// This file follows the postmaster from a client's arrival to the fork:
// the accept decision, the allocation of the child's record, the child
// slot, and the fork, in whatever order the release makes those calls.

// conn collects what was observed of one connection.
type conn struct {
	// record is the address of the child's record, as the allocation
	// returned it (0: not seen); allocBy names the call, deadEnd says it
	// was the dead-end one, allocNull that the allocation returned NULL.
	record    uint64
	allocBy   string
	deadEnd   bool
	allocNull bool
	cac       *int
	slot      *int
	// slotFrom names where slot was read: a call's return or the record.
	slotFrom  string
	cancelKey *int32
	// created, initialized: the stops emitted so far.
	created, initialized bool
	forkRetAddr          uint64
	forkRet              *int
	child                *ptrace.Proc
	childPID             int
	// What the child saw, and what the walk read in it.
	childRet    *int
	childPidAt  *int32 // MyProcPid as the child found it at InitPostmasterChild
	childKey    *int32
	childSlot   *int
	childProcID *int
	childExit   string
	fdsBefore   []walkthrough.FD
	fdsAfter    []walkthrough.FD
	closed      []walkthrough.FD
	pmFDs       []rawFD
	// The registration: the record as the postmaster registered it.
	node     *walkthrough.BackendNode
	nodeAddr uint64
	// The key the backend made, where the backend makes it.
	keyHex string
	keyLen int
}

// parentProbes are the breakpoints set in the postmaster for one
// connection, by what they catch.
type parentProbes struct {
	gate, gateRet, accept, acceptRet, alloc, allocRet, dead, deadRet *ptrace.Breakpoint
	slot, slotRet, launch, fork, forkRet                             *ptrace.Breakpoint
}

func (b *parentProbes) all() []*ptrace.Breakpoint {
	return []*ptrace.Breakpoint{b.gate, b.gateRet, b.accept, b.acceptRet, b.alloc, b.allocRet, b.dead, b.deadRet,
		b.slot, b.slotRet, b.launch, b.fork, b.forkRet}
}

// armAt sets an execution breakpoint in the postmaster on p's function,
// when the binary has it.
func (w *walker) armAt(p point) (*ptrace.Breakpoint, error) {
	a, ok := w.at(p)
	if !ok {
		return nil, nil
	}
	return w.t.Arm(w.pm, p.fn, a, ptrace.Exec)
}

// parent follows the postmaster to the fork and emits struct-creation,
// struct-init and fork (or, for a fork that failed, fork and
// fork-failure). With pgwalk's own client, a connection that is not that
// client's goes through untraced (see ours).
//
// The accept function's breakpoint is an int3 whatever the mechanism: it
// marks a client's arrival, from which the wait for an outside client is
// bounded, so it must trap on every machine. Without that function the
// accept decision marks the connection, and the allocation, which cannot
// be told from others then, is not watched.
func (w *walker) parent(c *conn) (err error) {
	t, pm, tab := w.t, w.pm, w.tab
	var b parentProbes
	defer func() {
		if derr := t.DisarmEach(pm, b.all()...); err == nil {
			err = derr
		}
	}()
	gate, trigger := w.at(tab.gate)
	trigger = !trigger
	if !trigger {
		if b.gate, err = t.ArmSoft(pm, tab.gate.fn, gate); err != nil {
			return err
		}
	} else if b.accept, err = w.armAt(tab.accept); err != nil {
		return err
	}
	w.connect()
	st := w.stDetect()
	// record is the accept function's second argument, the record it
	// fills for the connection.
	var record uint64
	disarm := func(bps ...**ptrace.Breakpoint) {
		for _, bp := range bps {
			_ = t.Disarm(pm, *bp)
			*bp = nil
		}
	}
	armReturn := func(h ptrace.Hit, name string, ret **ptrace.Breakpoint) error {
		bp, _, err := t.ArmReturn(pm, name, h.Regs)
		*ret = bp
		return err
	}
	// launchReady arms the launch (or the fork) once the accept decision
	// and the allocation are behind: every release makes them first, and
	// the debug registers are only four.
	launchReady := func() error {
		pending := []*ptrace.Breakpoint{b.gate, b.gateRet, b.accept, b.acceptRet, b.alloc, b.allocRet, b.dead, b.deadRet}
		for _, p := range pending {
			if p != nil {
				return nil
			}
		}
		if b.launch != nil || b.fork != nil || c.initialized {
			return nil
		}
		var err error
		if b.launch, err = w.armAt(tab.launch); err != nil || b.launch != nil {
			return err
		}
		b.fork, err = w.armAt(tab.fork)
		return err
	}
	for {
		h, err := w.wait(st)
		if err != nil {
			return err
		}
		if h.Forked {
			c.child, c.childPID = h.Proc, h.Proc.PID
			if b.forkRet != nil {
				continue // its return comes next
			}
			// No breakpoint marks the fork's return: report it here.
			if !c.initialized {
				if err := w.emitStructInit(c, h); err != nil {
					return err
				}
			}
			return w.emitFork(c, h, "fork_return")
		}
		if h.Proc != pm || h.BP == nil {
			continue
		}
		switch h.BP {
		case b.gate:
			if w.deadline.IsZero() {
				// An outside client connected: from now on the stops
				// are due.
				w.deadline = time.Now().Add(w.d.bounds.stage)
			}
			record = h.Regs.Arg(1)
			disarm(&b.gate)
			if err := armReturn(h, tab.gate.fn, &b.gateRet); err != nil {
				return err
			}
		case b.gateRet:
			disarm(&b.gateRet)
			accepted := int32(h.Regs.Ret()) == statusOK
			if !accepted || !w.ours(record) {
				// Accepting failed, or another client's connection:
				// let it go, and wait for the next one.
				if accepted {
					w.foreign++
				}
				if b.gate, err = t.ArmSoft(pm, tab.gate.fn, gate); err != nil {
					return err
				}
				continue
			}
			st = stParent(tab)
			if err := w.armCalls(&b, true); err != nil {
				return err
			}
			if err := launchReady(); err != nil {
				return err
			}
		case b.accept:
			if !tab.accept.matches(h.Regs.Arg) {
				continue // an autovacuum worker's, or another child's
			}
			disarm(&b.accept)
			if trigger {
				if w.deadline.IsZero() {
					w.deadline = time.Now().Add(w.d.bounds.stage)
				}
				st = stParent(tab)
				if err := w.armCalls(&b, false); err != nil {
					return err
				}
			}
			if err := armReturn(h, tab.accept.fn, &b.acceptRet); err != nil {
				return err
			}
		case b.acceptRet:
			disarm(&b.acceptRet)
			c.cac = walkthrough.Int(int(int32(h.Regs.Ret())))
			if err := launchReady(); err != nil {
				return err
			}
		case b.alloc, b.dead:
			which, ret := tab.allocate, &b.allocRet
			if h.BP == b.dead {
				which, ret = tab.deadEnd, &b.deadRet
			}
			if !which.matches(h.Regs.Arg) {
				continue // another allocation
			}
			if h.BP == b.alloc {
				disarm(&b.alloc)
			} else {
				disarm(&b.dead)
			}
			if err := armReturn(h, which.fn, ret); err != nil {
				return err
			}
		case b.allocRet, b.deadRet:
			dead := h.BP == b.deadRet
			disarm(&b.allocRet, &b.deadRet)
			if h.Regs.Ret() == 0 {
				// No record: the dead-end allocation comes next (an
				// empty pool), or BackendStartup gives up.
				c.allocNull = true
				if err := launchReady(); err != nil {
					return err
				}
				continue
			}
			disarm(&b.alloc, &b.dead)
			c.record, c.deadEnd, c.allocBy = h.Regs.Ret(), dead, tab.allocate.call
			if dead {
				c.allocBy = tab.deadEnd.call
			}
			if err := w.emitStructCreation(c, h); err != nil {
				return err
			}
			if err := launchReady(); err != nil {
				return err
			}
		case b.slot:
			disarm(&b.slot)
			if err := armReturn(h, tab.slot.fn, &b.slotRet); err != nil {
				return err
			}
		case b.slotRet:
			disarm(&b.slotRet)
			c.slot, c.slotFrom = walkthrough.Int(int(int32(h.Regs.Ret()))), tab.slot.fn
		case b.launch, b.fork:
			launch := h.BP == b.launch
			disarm(&b.launch, &b.fork, &b.slot, &b.slotRet)
			if !c.initialized {
				if err := w.emitStructInit(c, h); err != nil {
					return err
				}
			}
			t.FollowNextFork(pm, "backend")
			if launch {
				if b.fork, err = w.armAt(tab.fork); err != nil {
					return err
				}
				continue
			}
			bp, ret, err := t.ArmReturn(pm, tab.fork.fn, h.Regs)
			if err != nil {
				return err
			}
			b.forkRet, c.forkRetAddr = bp, ret
		case b.forkRet:
			disarm(&b.forkRet)
			c.forkRet = walkthrough.Int(int(int32(h.Regs.Ret())))
			if *c.forkRet < 0 {
				return w.emitForkFailure(c, h)
			}
			return w.emitFork(c, h)
		}
	}
}

// armCalls arms the calls BackendStartup makes for the connection before
// the launch: the accept decision, the allocations (with alloc) and the
// slot. Each traps once; its return is armed when it does.
func (w *walker) armCalls(b *parentProbes, alloc bool) (err error) {
	tab := w.tab
	if b.accept == nil && b.acceptRet == nil && alloc {
		if b.accept, err = w.armAt(tab.accept); err != nil {
			return err
		}
	}
	if alloc {
		if b.alloc, err = w.armAt(tab.allocate); err != nil {
			return err
		}
		if b.dead, err = w.armAt(tab.deadEnd); err != nil {
			return err
		}
	}
	b.slot, err = w.armAt(tab.slot)
	return err
}

// readRecord reads the child's record at addr from the postmaster.
func (w *walker) readRecord(addr uint64) (*walkthrough.BackendNode, error) {
	raw := make([]byte, w.tab.rec.size)
	if err := w.t.ReadMem(w.pm, addr, raw); err != nil {
		return nil, err
	}
	n, err := w.tab.rec.decode(raw)
	return &n, err
}

// emitStructCreation reports phase 1 where the allocation returned.
func (w *walker) emitStructCreation(c *conn, h ptrace.Hit) error {
	c.created = true
	tab := w.tab
	v := w.values(c)
	v.Facts = append(v.Facts, walkthrough.F("fact.live.allocated", "call", c.allocBy, "address", fmt.Sprintf("%#x", c.record), "record", tab.rec.typ))
	if c.allocNull {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.allocate_null", "call", tab.allocate.call))
	}
	if !tab.joinedAtRegistration {
		// The record is on the list already: read it, and the list.
		if n, err := w.readRecord(c.record); err == nil {
			v.Backend = n
			v.ChildSlot = walkthrough.Int(n.ChildSlot)
			v.DeadEnd = walkthrough.Bool(c.deadEnd)
			c.slot, c.slotFrom = walkthrough.Int(n.ChildSlot), tab.rec.typ+".child_slot ("+string(walkthrough.StructCreation)+")"
		}
		if list, head, ok := w.childList(); ok {
			v.BackendList = list
			v.Checks = append(v.Checks, walkthrough.C(head == c.record, "check.live.record_at_head",
				"list", tab.list, "head", fmt.Sprintf("%#x", head), "record", fmt.Sprintf("%#x", c.record)))
		}
	}
	if c.cac != nil {
		v.CanAccept = tab.cacName(*c.cac)
	}
	where := w.exe.FuncAt(h.BP.Addr)
	if in := w.inlined(); in != "" {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.inlined", "functions", in, "startup", tab.startup, "into", where))
	}
	v.Facts = append(v.Facts,
		walkthrough.F("fact.live.binary", "path", w.exe.Path()),
		walkthrough.F("fact.live.record_layout", "record", tab.rec.typ, "layout", tab.rec.String()),
		bpFact(h.BP))
	return w.emit(walkthrough.StructCreation, w.pm.PID, v)
}

// inlined lists the functions of the path that have no symbol of their
// own in this binary: the compiler folded them into their callers.
func (w *walker) inlined() string {
	if w.exe.NoSymtab() {
		return ""
	}
	var gone []string
	for _, n := range w.tab.inlined {
		if !w.hasSym(n) {
			gone = append(gone, n)
		}
	}
	return strings.Join(gone, ", ")
}

// emitStructInit reports phase 2 at the launch (or the fork): the record
// is filled in. Where the allocation was not seen, struct-creation comes
// first, at the same place: the allocation ran before it.
func (w *walker) emitStructInit(c *conn, h ptrace.Hit) error {
	tab := w.tab
	if !c.created {
		c.created = true
		v := w.values(c)
		v.Facts = append(v.Facts, walkthrough.F("fact.live.allocation_unseen", "call", tab.allocate.call, "startup", tab.startup), bpFact(h.BP))
		if err := w.emit(walkthrough.StructCreation, w.pm.PID, v); err != nil {
			return err
		}
	}
	c.initialized = true
	v := w.values(c)
	if tab.keyInPostmaster {
		if c.cancelKey = w.readVar(w.pm, tab.keyVar); c.cancelKey != nil {
			v.CancelKey = c.cancelKey
			v.Facts = append(v.Facts, walkthrough.F("fact.live.key_read", "variable", tab.keyVar, "process", walkthrough.Postmaster, "by", tab.keyMadeBy))
		}
	}
	if c.cac != nil {
		v.CanAccept = tab.cacName(*c.cac)
		v.Facts = append(v.Facts, walkthrough.F("fact.live.returned", "function", tab.accept.fn, "value", fmt.Sprintf("%d (%s)", *c.cac, v.CanAccept)))
	}
	if c.record != 0 {
		// The record is filled in but for what the fork brings (the pid,
		// and where it joins the list later, the type): show it whole only
		// where it is on the list already.
		if n, err := w.readRecord(c.record); err == nil {
			if !tab.joinedAtRegistration {
				v.Backend = n
			}
			v.ChildSlot = walkthrough.Int(n.ChildSlot)
			v.DeadEnd = walkthrough.Bool(n.DeadEnd || c.deadEnd)
			v.Facts = append(v.Facts, walkthrough.F("fact.live.record_read", "record", tab.rec.typ, "address", fmt.Sprintf("%#x", c.record)))
		}
	} else {
		if c.slot != nil {
			v.ChildSlot = c.slot
		}
		if c.cac != nil && tab.rec.deadEnd >= 0 {
			// A record with a dead_end flag: BackendStartup sets it from
			// the accept decision, and gives a dead end slot 0.
			v.DeadEnd = walkthrough.Bool(*c.cac != statusOK)
			if *c.cac != statusOK && c.slot == nil {
				v.ChildSlot = walkthrough.Int(0)
			}
		}
	}
	if c.slot != nil && c.slotFrom == tab.slot.fn {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.returned", "function", tab.slot.fn, "value", *c.slot))
	}
	v.Facts = append(v.Facts, bpFact(h.BP))
	return w.emit(walkthrough.StructInit, w.pm.PID, v)
}

// emitFork reports phase 3 in the postmaster, the fork having returned
// the child's pid. unobserved names fork_return where no breakpoint
// caught the return.
func (w *walker) emitFork(c *conn, h ptrace.Hit, unobserved ...string) error {
	// The child's descriptors start as a copy of this table.
	c.pmFDs, _ = readFDs(w.pm.PID)
	v := w.values(c)
	v.ForkReturn = c.forkRet
	if c.forkRet != nil {
		v.ChildPID = *c.forkRet
		if fn := w.exe.FuncAt(h.BP.Addr); fn != "" {
			v.Facts = append(v.Facts, walkthrough.F("fact.live.returned_into", "function", w.tab.fork.fn, "into", fn))
		}
	}
	if c.child != nil {
		if c.forkRet != nil {
			v.Checks = append(v.Checks, walkthrough.C(c.child.PID == *c.forkRet, "check.live.fork_event",
				"event", c.child.PID, "function", w.tab.fork.fn, "returned", *c.forkRet))
		}
		v.Facts = append(v.Facts, walkthrough.F("fact.live.followed", "pid", c.child.PID))
	}
	if h.BP != nil {
		v.Facts = append(v.Facts, bpFact(h.BP))
	}
	return w.emit(walkthrough.Fork, w.pm.PID, v, unobserved...)
}
