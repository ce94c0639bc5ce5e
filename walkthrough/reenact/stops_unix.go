//go:build unix

package reenact

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func (d *Driver) structCreation(a accepted) (walkthrough.Event, error) {
	d.walked++
	c := &conn{n: d.walked, nc: a.nc, via: a.via, own: !d.opts.WaitForClient, pmFD: -1}
	_ = withFD(a.nc.(syscall.Conn), func(fd int) error {
		c.pmFD = fd
		c.pmInode, _ = inode(fd)
		return nil
	})
	c.peer = a.nc.RemoteAddr().String()
	c.peerPID = peerPID(a.nc)
	c.node = walkthrough.BackendNode{NoKey: !d.fl.facts.CancelKey.InRecord}
	allocator := d.fl.allocator
	var taken []walkthrough.Fact
	if d.fl.pooled() {
		allocator, taken = d.takeEntry(c)
	}
	d.mu.Lock()
	d.all = append(d.all, c)
	if d.fl.listAtAllocation() {
		// The allocator itself pushes the entry onto the list: it is
		// there before any child exists, with pid 0.
		d.backendList = append([]*walkthrough.BackendNode{&c.node}, d.backendList...)
	}
	list := d.backendListSnapshot()
	d.mu.Unlock()
	d.cur = c
	c.next = walkthrough.StructInit

	pm := os.Getpid()
	point := fmt.Sprintf("BackendStartup(%s): the %s record was just allocated with %s", d.fl.connArg(), d.fl.record, allocator)
	if d.fl.pooled() {
		point = fmt.Sprintf("BackendStartup(%s): %s answered %s, then %s returned the %s entry", d.fl.connArg(),
			d.fl.facts.Functions.Accept.Function, c.canAccept, allocator, d.fl.record)
	}
	ev := d.event(c, walkthrough.StructCreation, walkthrough.Postmaster, pm, point)
	ev.Values.PostmasterPID = pm
	ev.Values.BackendList = list
	ev.Values.Facts = []walkthrough.Fact{
		{Name: "allocator", Value: allocator},
		{Name: "struct", Value: d.fl.connStruct},
		{Name: "client socket", Value: fmt.Sprintf("fd %d in the postmaster, accepted on the %s", c.pmFD, d.listenerName(a.via))},
		{Name: "client", Value: d.describeClient(c)},
		{Name: "listen sockets", Value: d.describeListeners()},
		{Name: "death pipe", Value: fmt.Sprintf("read end fd %d, write end fd %d", d.death[0], d.death[1])},
	}
	if d.fl.pooled() {
		node := c.node
		ev.Values.CanAccept = c.canAccept
		ev.Values.DeadEnd = walkthrough.Bool(c.node.DeadEnd)
		ev.Values.ChildSlot = walkthrough.Int(c.node.ChildSlot)
		ev.Values.Backend = &node
		ev.Values.Facts = append(ev.Values.Facts, taken...)
	} else {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "Backend fields", Value: "not set yet: the allocator does not zero them"})
	}
	if d.fl.listAtAllocation() {
		at := d.fl.facts.Pool.PushAt
		if c.node.DeadEnd {
			at = d.fl.facts.Pool.DeadEndPushAt
		}
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.list_push", "push", d.fl.facts.ChildList.Push,
			"list", d.fl.facts.ChildList.Name, "at", at))
	}
	ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "startup packet", Value: "not read by the postmaster: whether this is a session or a CancelRequest, only the child will find out"})
	ev.Values.Facts = append(ev.Values.Facts, d.scenarioFacts()...)
	return ev, nil
}

// takeEntry does what BackendStartup does first when the release has a
// pool: it asks canAcceptConnections, which looks at the server's state
// only (the mini postmaster is always running, so the answer is CAC_OK),
// then takes an entry from the pool; an empty pool turns the answer into
// the "too many" state, and a connection with no entry gets a dead-end
// one, outside the pool, with slot 0. It fills c.canAccept and c.node and
// returns the allocator called and what it observed.
func (d *Driver) takeEntry(c *conn) (string, []walkthrough.Fact) {
	f := d.fl.facts
	p := f.Pool
	c.canAccept = f.CanAccept[0] // CAC_OK
	facts := []walkthrough.Fact{fact("fact.reenact.accept_first", "call", f.Functions.Accept.String(), "state", c.canAccept)}
	d.mu.Lock()
	slot, ok := d.pool.take()
	free, size := len(d.pool.free), d.pool.size
	d.mu.Unlock()
	if ok {
		// AssignPostmasterChildSlot: pid 0, the type, and
		// bgworker_notify set true until struct init clears it.
		c.node.ChildSlot = slot
		c.node.BkendType = p.BackendType
		c.node.BgworkerNotify = true
		facts = append(facts, fact("fact.reenact.pool_entry", "allocate", f.Functions.Allocate.String(), "slot", slot,
			"type", p.BackendType, "free", free, "size", size, "rule", p.Size, "rule_at", p.SizeAt))
		return f.Functions.Allocate.String(), facts
	}
	c.canAccept = p.Empty
	c.node.DeadEnd = true
	c.node.BkendType = f.Record.DeadEnd
	facts = append(facts,
		fact("fact.reenact.pool_empty", "type", p.BackendType, "size", size, "state", p.Empty, "at", p.EmptyAt),
		fact("fact.reenact.dead_end_entry", "allocate", f.Functions.AllocateDeadEnd.String(), "type", f.Record.DeadEnd))
	return f.Functions.AllocateDeadEnd.String(), facts
}

// structInit fills the record in the release's order. Without a pool that
// is the cancel key (where the postmaster makes it), the accept decision
// (from a count of children, as canAcceptConnections makes it), dead_end,
// and a child slot only when the answer was CAC_OK; with a pool, whose
// entry came with its slot and type, it passes the accept decision on and
// clears what the allocator left set.
func (d *Driver) structInit(c *conn) (walkthrough.Event, error) {
	var (
		key      int32
		keyMade  bool
		children = -1
		slot     = c.node.ChildSlot
		order    []string
	)
	for _, step := range d.fl.initSteps {
		switch step.Role {
		case initRandomKey:
			var b [4]byte
			if _, err := rand.Read(b[:]); err != nil {
				return walkthrough.Event{}, fmt.Errorf("reenact: could not generate random cancel key: %w", err)
			}
			key = int32(binary.BigEndian.Uint32(b[:]))
			keyMade = true
		case initCancelKey:
			c.node.CancelKey = key
		case initCanAccept:
			d.mu.Lock()
			c.canAccept, children = d.canAcceptConnections()
			d.mu.Unlock()
		case initDeadEnd:
			c.node.DeadEnd = c.canAccept != "CAC_OK"
		case initSlot:
			if !c.node.DeadEnd {
				d.mu.Lock()
				slot = d.assignSlot()
				d.mu.Unlock()
				if slot == 0 {
					// PostgreSQL: elog(FATAL) in the postmaster. The
					// count above makes this unreachable.
					return walkthrough.Event{}, errors.New("reenact: no free slots in PMChildFlags array")
				}
			}
			c.node.ChildSlot = slot
		case initBgworker:
			c.node.BgworkerNotify = false
		case initPassAccept:
			// The decision travels to the child with the backend
			// variables (backendVars.CanAccept), as startup_data does.
		case initClearRW:
			// rw: only a background worker has a registration; the
			// re-enactment's record has no such field.
		}
		order = append(order, fmt.Sprintf("%s (%s)", step.Step, step.At))
	}
	c.next = walkthrough.Fork

	pm := os.Getpid()
	ev := d.event(c, walkthrough.StructInit, walkthrough.Postmaster, pm, "BackendStartup: after bgworker_notify = false, just before the fork")
	node := c.node
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		CanAccept:     c.canAccept,
		DeadEnd:       walkthrough.Bool(c.node.DeadEnd),
		ChildSlot:     walkthrough.Int(slot),
		Backend:       &node,
		Facts:         []walkthrough.Fact{{Name: "order", Value: strings.Join(order, ", then ")}},
	}
	if keyMade {
		ev.Values.CancelKey = walkthrough.Int32(key)
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "cancel key source", Value: "crypto/rand (the OS CSPRNG): 4 bytes read as an int32, as RandomCancelKey does with pg_strong_random"})
	} else {
		ck := d.fl.facts.CancelKey
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.no_key_in_postmaster", "function", ck.Function, "at", ck.At, "record", d.fl.record))
	}
	if d.fl.pooled() {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.accept_passed", "field", d.fl.canAcceptField, "state", c.canAccept))
		if c.node.DeadEnd {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "dead end", Value: "the child will only tell the client \"sorry, too many clients already\""})
		}
		return ev, nil
	}
	cmp := "<"
	if children >= d.maxChildren {
		cmp = ">="
	}
	ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "canAcceptConnections", Value: fmt.Sprintf("%s = %s: CountChildren(BACKEND_TYPE_ALL) = %d %s MaxLivePostmasterChildren() = %d (dead-end children are not counted; the mini postmaster is always in PM_RUN)",
		d.fl.canAcceptField, c.canAccept, children, cmp, d.maxChildren)})
	d.mu.Lock()
	inUse := d.slotsInUse()
	d.mu.Unlock()
	if c.node.DeadEnd {
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "child slot", Value: fmt.Sprintf("none assigned (0): a dead-end child gets no slot; %d of %d slots in use", inUse, len(d.slots))},
			walkthrough.Fact{Name: "dead end", Value: "the child will only tell the client \"sorry, too many clients already\""})
	} else {
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "child slot", Value: fmt.Sprintf("%d, from AssignPostmasterChildSlot, which scans down from the slot it assigned last; %d of %d slots in use", slot, inUse, len(d.slots))})
	}
	return ev, nil
}

func (d *Driver) fork(c *conn) (walkthrough.Event, error) {
	pm := os.Getpid()
	node := c.node
	err := d.launch(c)
	if err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return walkthrough.Event{}, fmt.Errorf("reenact: launch backend: %w", err)
		}
		c.forkErr = err
		c.errno = errno
		c.next = walkthrough.ForkFailure
		ev := d.event(c, walkthrough.Fork, walkthrough.Postmaster, pm, "the launch returned -1 in the postmaster: no child process")
		ev.Values = walkthrough.Values{
			PostmasterPID: pm,
			ForkReturn:    walkthrough.Int(-1),
			Backend:       &node,
			Errno:         errnoValue(errno),
			Facts: []walkthrough.Fact{
				{Name: "launch", Value: fmt.Sprintf("fork+exec of %s %s (%s)", d.exe, ChildCommand, d.fl.launch)},
			},
		}
		ev.Values.Facts = append(ev.Values.Facts, d.forkFailureFacts(c)...)
		return ev, nil
	}
	c.next = walkthrough.Child
	ev := d.event(c, walkthrough.Fork, walkthrough.Postmaster, pm, "the launch returned the child's pid in the postmaster ("+d.fl.launch+")")
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ChildPID:      c.pid,
		ForkReturn:    walkthrough.Int(c.pid),
		Backend:       &node,
		Facts: []walkthrough.Fact{
			{Name: "launch", Value: fmt.Sprintf("fork+exec of %s %s", d.exe, ChildCommand)},
			{Name: "PostgreSQL's exec", Value: d.fl.execArgv},
			{Name: "why exec", Value: "Go cannot fork without exec; PostgreSQL starts backends the same way on Windows and in EXEC_BACKEND builds (" + d.fl.launch + ")"},
			{Name: "passed to the child", Value: fmt.Sprintf("fd %d TCP listen socket, fd %d Unix listen socket, fd %d/%d death pipe read/write ends, fd %d client socket, fd %d pgwalk control channel",
				childFDTCP, childFDUnix, childFDDeathRead, childFDDeathWrite, childFDClient, childFDControl)},
		},
	}
	f := d.fl.facts
	if d.fl.keyInPostmaster() {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "backend variables", Value: fmt.Sprintf("MyCancelKey, MyPMChildSlot and the fd numbers are sent over the control channel; EXEC_BACKEND writes them to a backend_var file that the child reads back (%s); a forked child has them in its copy of the postmaster's memory", d.fl.paramFile)})
	} else {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.vars_no_key", "slot", c.node.ChildSlot, "param_file", d.fl.paramFile,
			"function", f.CancelKey.Function))
	}
	if d.fl.sharedKeys() {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.key_table", "path", d.keysPath, "rows", d.keys.rows,
			"published_by", f.CancelKey.PublishedBy, "checked_by", f.CancelKey.CheckedBy, "list", f.ChildList.Name))
	} else {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "BackendList copy", Value: fmt.Sprintf("the child is also sent BackendList as it is now (%s): the copy a forked child has of it, which the child searches if its startup packet is a CancelRequest (an EXEC_BACKEND child searches ShmemBackendArray in shared memory instead, which the postmaster keeps current)", entries(c.listAtLaunch))})
	}
	registration := "the postmaster fills it in at registration"
	ev.Values.Facts = append(ev.Values.Facts,
		walkthrough.Fact{Name: d.fl.record + ".pid", Value: "still 0: " + registration},
		walkthrough.Fact{Name: "child state", Value: fmt.Sprintf("process %d is running and waits on its control channel before its first step", c.pid)})
	return ev, nil
}

func (d *Driver) childStop(ctx context.Context, c *conn) (walkthrough.Event, error) {
	if err := c.ctlW.send(toChild{Type: msgProceed}); err != nil {
		return walkthrough.Event{}, d.childGone(c, err)
	}
	var m fromChild
	select {
	case <-ctx.Done():
		return walkthrough.Event{}, ctx.Err()
	case <-c.exited:
		return walkthrough.Event{}, d.childGone(c, nil)
	case m = <-c.reports:
	}
	c.next = walkthrough.ParentRegistration

	order := strings.Join(m.Steps, ", then ")
	ev := d.event(c, walkthrough.Child, walkthrough.Backend, m.PID,
		fmt.Sprintf("in the child, after %s; before %s", order, d.fl.backendMain))
	// cancel_key and child_slot as the child has them (MyCancelKey,
	// MyPMChildSlot), not as the postmaster set them. fork_return stays
	// unset: nothing returns from a fork in an exec'd child.
	ev.Values = walkthrough.Values{
		PostmasterPID: m.PPID,
		ChildPID:      m.PID,
		ChildSlot:     walkthrough.Int(m.MyPMChildSlot),
		FDsBefore:     m.FDsBefore,
		FDsAfter:      m.FDsAfter,
		ClosedFDs:     closedFDs(m.FDsBefore, m.FDsAfter),
	}
	facts := []walkthrough.Fact{
		{Name: "order", Value: order},
		{Name: "which path", Value: "the launch is EXEC_BACKEND's (fork+exec, variables passed by the parent); the order of the two steps is " + d.fl.childPath},
	}
	f := d.fl.facts
	switch {
	case d.fl.keyInPostmaster():
		ev.Values.CancelKey = walkthrough.Int32(m.MyCancelKey)
		facts = append(facts, walkthrough.Fact{Name: "MyCancelKey, MyPMChildSlot", Value: fmt.Sprintf("received over the control channel before the first step, as an EXEC_BACKEND child reads them from its parameter file (%s); a forked child has them in its copy of the postmaster's memory", d.fl.paramFile)})
	case f.Child.SetsSlot:
		facts = append(facts,
			fact("fact.reenact.child_sets_slot", "slot", m.MyPMChildSlot, "at", f.Child.SlotAt),
			fact("fact.reenact.child_no_key", "function", f.CancelKey.Function, "at", f.CancelKey.At, "variable", f.CancelKey.Variable))
	default:
		facts = append(facts,
			fact("fact.reenact.child_got_slot", "slot", m.MyPMChildSlot, "param_file", d.fl.paramFile),
			fact("fact.reenact.child_no_key", "function", f.CancelKey.Function, "at", f.CancelKey.At, "variable", f.CancelKey.Variable))
	}
	facts = append(facts,
		walkthrough.Fact{Name: "fork return in the child", Value: "none: an exec'd child starts in main (SubPostmasterMain under EXEC_BACKEND), not at fork's return"},
		walkthrough.Fact{Name: "parent", Value: fmt.Sprintf("getppid() = %d", m.PPID)})
	facts = append(facts, m.Facts...)
	if d.fl.freeInChild {
		facts = append(facts, walkthrough.Fact{Name: "free(bn)", Value: d.fl.version + "'s forked child frees its copy of the Backend record; an exec'd child never had one"})
	} else {
		facts = append(facts, walkthrough.Fact{Name: d.fl.record + " record", Value: d.fl.version + "'s child leaves it alone (no free in the child any more)"})
	}
	facts = append(facts, walkthrough.Fact{Name: "postmaster epoll", Value: "not inherited: Go opens it close-on-exec (PostgreSQL's child frees the postmaster's wait set in ClosePostmasterPorts)"})
	ev.Values.Facts = facts
	return ev, nil
}

func (d *Driver) register(c *conn) (walkthrough.Event, error) {
	pm := os.Getpid()
	line := d.fl.forkedLog(c.node.BkendType, c.pid, c.pmFD)
	d.mu.Lock()
	c.node.PID = c.pid
	if !d.fl.listAtAllocation() {
		c.node.BkendType = d.fl.bkendNormal
		d.backendList = append([]*walkthrough.BackendNode{&c.node}, d.backendList...)
	}
	list := d.backendListSnapshot()
	d.mu.Unlock()
	// The postmaster still holds its copy of the client socket: ServerLoop
	// closes it once BackendStartup has returned (closeClientSocket, at the
	// next step).
	c.next = stageRelease

	node := c.node
	point := "BackendStartup: after dlist_push_head(&BackendList, &bn->elem)"
	if d.fl.listAtAllocation() {
		point = "BackendStartup: after bn->pid = pid, all that registration still does"
	}
	ev := d.event(c, walkthrough.ParentRegistration, walkthrough.Postmaster, pm, point)
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ChildPID:      c.pid,
		// Still the pid variable BackendStartup got from the launch.
		ForkReturn:  walkthrough.Int(c.pid),
		ChildSlot:   walkthrough.Int(c.node.ChildSlot),
		Backend:     &node,
		BackendList: list,
		Log:         []string{line},
	}
	if d.fl.listAtAllocation() {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.pid_store", "list", d.fl.facts.ChildList.Name, "type", c.node.BkendType))
	}
	ev.Values.Facts = append(ev.Values.Facts,
		walkthrough.Fact{Name: "client socket", Value: fmt.Sprintf("fd %d is still open in the postmaster: BackendStartup has not returned yet; ServerLoop closes it after the return (%s), and the closing check reports it", c.pmFD, d.fl.serverLoopClose)},
		walkthrough.Fact{Name: "child state", Value: "waiting before BackendInitialize; it reads the startup packet next"})
	return ev, nil
}

func (d *Driver) forkFailure(c *conn) (walkthrough.Event, error) {
	pm := os.Getpid()
	msg := forkFailureText(c.errno)
	released := d.releaseRecord(c)

	// report_fork_failure_to_client: one try, never blocking the
	// postmaster.
	packet := forkFailureMessage(c.errno)
	sent := d.reportForkFailure(c, packet)
	c.sent = sent
	d.mu.Lock()
	list := d.backendListSnapshot()
	d.mu.Unlock()
	c.next = walkthrough.Epilogue

	ev := d.event(c, walkthrough.ForkFailure, walkthrough.Postmaster, pm, "BackendStartup: the launch failed (pid < 0)")
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ForkReturn:    walkthrough.Int(-1),
		ChildSlot:     walkthrough.Int(c.node.ChildSlot),
		Errno:         errnoValue(c.errno),
		BackendList:   list,
		Log:           []string{msg},
	}
	f := d.fl.facts
	switch {
	case d.fl.pooled() && c.node.DeadEnd:
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.dead_end_freed", "release", d.fl.release, "list", f.ChildList.Name))
	case d.fl.pooled():
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.entry_released", "release", d.fl.release, "list", f.ChildList.Name,
			"type", f.Pool.BackendType, "slot", c.node.ChildSlot, "free", released))
	default:
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "slot released", Value: fmt.Sprintf("slot %d is free again: %t", c.node.ChildSlot, released)},
			walkthrough.Fact{Name: "Backend record", Value: "given back with " + d.fl.release})
	}
	ev.Values.Facts = append(ev.Values.Facts, []walkthrough.Fact{
		{Name: "sent to client", Value: sent},
		fact("fact.reenact.fork_failure_wire", "at", d.fl.facts.Cites["report_fork_failure"], "bytes", len(packet)),
		{Name: "client socket", Value: fmt.Sprintf("fd %d is still open: BackendStartup returns STATUS_ERROR next, and ServerLoop closes the socket after the return (%s)", c.pmFD, d.fl.serverLoopClose)},
	}...)
	return ev, nil
}
