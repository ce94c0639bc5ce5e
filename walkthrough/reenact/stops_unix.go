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
	point := walkthrough.M("point.reenact.allocated", "param", d.fl.connArg(), "record", d.fl.record, "allocator", allocator)
	if d.fl.pooled() {
		point = walkthrough.M("point.reenact.entry_taken", "param", d.fl.connArg(),
			"accept", d.fl.facts.Functions.Accept.Function, "state", c.canAccept, "allocator", allocator, "record", d.fl.record)
	}
	ev := d.event(c, walkthrough.StructCreation, walkthrough.Postmaster, pm, point)
	ev.Values.PostmasterPID = pm
	ev.Values.BackendList = list
	ev.Values.Facts = []walkthrough.Fact{
		fact("fact.reenact.allocator", "allocator", allocator),
		fact("fact.reenact.conn_struct", "struct", d.fl.connStruct),
		d.clientSocketFact(c, a.via),
		d.describeClient(c),
		d.describeListeners(),
		fact("fact.reenact.death_pipe", "read", d.death[0], "write", d.death[1]),
	}
	if d.fl.pooled() {
		node := c.node
		ev.Values.CanAccept = c.canAccept
		ev.Values.DeadEnd = walkthrough.Bool(c.node.DeadEnd)
		ev.Values.ChildSlot = walkthrough.Int(c.node.ChildSlot)
		ev.Values.Backend = &node
		ev.Values.Facts = append(ev.Values.Facts, taken...)
	} else {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.fields_unset", "record", d.fl.record))
	}
	if d.fl.listAtAllocation() {
		at := d.fl.facts.Pool.PushAt
		if c.node.DeadEnd {
			at = d.fl.facts.Pool.DeadEndPushAt
		}
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.list_push", "push", d.fl.facts.ChildList.Push,
			"list", d.fl.facts.ChildList.Name, "at", at))
	}
	ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.packet_unread"))
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
	ev := d.event(c, walkthrough.StructInit, walkthrough.Postmaster, pm, walkthrough.M("point.reenact.before_fork"))
	node := c.node
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		CanAccept:     c.canAccept,
		DeadEnd:       walkthrough.Bool(c.node.DeadEnd),
		ChildSlot:     walkthrough.Int(slot),
		Backend:       &node,
		// The steps in order, each with its line: an arrow reads the same
		// in every language.
		Facts: []walkthrough.Fact{fact("fact.reenact.init_order", "steps", strings.Join(order, " → "))},
	}
	if keyMade {
		ev.Values.CancelKey = walkthrough.Int32(key)
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.key_source"))
	} else {
		ck := d.fl.facts.CancelKey
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.no_key_in_postmaster", "function", ck.Function, "at", ck.At, "record", d.fl.record))
	}
	if d.fl.pooled() {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.accept_passed", "field", d.fl.canAcceptField, "state", c.canAccept))
		if c.node.DeadEnd {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.dead_end", "message", tooManyClients))
		}
		return ev, nil
	}
	cmp := "<"
	if children >= d.maxChildren {
		cmp = ">="
	}
	ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.can_accept", "field", d.fl.canAcceptField, "state", c.canAccept,
		"children", children, "cmp", cmp, "max", d.maxChildren))
	d.mu.Lock()
	inUse := d.slotsInUse()
	d.mu.Unlock()
	if c.node.DeadEnd {
		ev.Values.Facts = append(ev.Values.Facts,
			fact("fact.reenact.no_slot", "in_use", inUse, "slots", len(d.slots)),
			fact("fact.reenact.dead_end", "message", tooManyClients))
	} else {
		ev.Values.Facts = append(ev.Values.Facts,
			fact("fact.reenact.slot", "slot", slot, "in_use", inUse, "slots", len(d.slots)))
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
		ev := d.event(c, walkthrough.Fork, walkthrough.Postmaster, pm, walkthrough.M("point.reenact.launch_failed"))
		ev.Values = walkthrough.Values{
			PostmasterPID: pm,
			ForkReturn:    walkthrough.Int(-1),
			Backend:       &node,
			Errno:         errnoValue(errno),
			Facts: []walkthrough.Fact{
				fact("fact.reenact.launch_via", "exe", d.exe, "command", ChildCommand, "launch", d.fl.launch),
			},
		}
		ev.Values.Facts = append(ev.Values.Facts, d.forkFailureFacts(c)...)
		return ev, nil
	}
	c.next = walkthrough.Child
	ev := d.event(c, walkthrough.Fork, walkthrough.Postmaster, pm, walkthrough.M("point.reenact.launched", "launch", d.fl.launch))
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ChildPID:      c.pid,
		ForkReturn:    walkthrough.Int(c.pid),
		Backend:       &node,
		Facts: []walkthrough.Fact{
			fact("fact.reenact.launch", "exe", d.exe, "command", ChildCommand),
			fact("fact.reenact.pg_exec", "argv", d.fl.execArgv),
			fact("fact.reenact.why_exec", "launch", d.fl.launch),
			fact("fact.reenact.passed", "tcp", childFDTCP, "unix", childFDUnix, "death_read", childFDDeathRead,
				"death_write", childFDDeathWrite, "client", childFDClient, "control", childFDControl),
		},
	}
	f := d.fl.facts
	if d.fl.keyInPostmaster() {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.vars", "param_file", d.fl.paramFile))
	} else {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.vars_no_key", "slot", c.node.ChildSlot, "param_file", d.fl.paramFile,
			"function", f.CancelKey.Function))
	}
	if d.fl.sharedKeys() {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.key_table", "path", d.keysPath, "rows", d.keys.rows,
			"published_by", f.CancelKey.PublishedBy, "checked_by", f.CancelKey.CheckedBy, "list", f.ChildList.Name))
	} else {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.list_copy", "n", c.listAtLaunch))
	}
	ev.Values.Facts = append(ev.Values.Facts,
		fact("fact.reenact.pid_unset", "record", d.fl.record),
		fact("fact.reenact.child_waiting", "pid", c.pid))
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

	first, second := twoSteps(m.Steps)
	ev := d.event(c, walkthrough.Child, walkthrough.Backend, m.PID,
		walkthrough.M("point.reenact.child", "first", first, "second", second, "next", d.fl.backendMain))
	// cancel_key and child_slot as the child has them (MyCancelKey,
	// MyPMChildSlot), not as the postmaster set them. fork_return stays
	// unset: nothing returns from a fork in an exec'd child.
	ev.Values = walkthrough.Values{
		PostmasterPID: m.PPID,
		ChildPID:      m.PID,
		ChildSlot:     walkthrough.Int(m.MyPMChildSlot),
		FDsBefore:     m.FDsBefore,
		FDsAfter:      m.FDsAfter,
		ClosedFDs:     walkthrough.ClosedFDs(m.FDsBefore, m.FDsAfter),
	}
	facts := []walkthrough.Fact{
		fact("fact.reenact.child_order", "first", first, "second", second),
		d.fl.whichPath,
	}
	f := d.fl.facts
	switch {
	case d.fl.keyInPostmaster():
		ev.Values.CancelKey = walkthrough.Int32(m.MyCancelKey)
		facts = append(facts, fact("fact.reenact.child_vars", "param_file", d.fl.paramFile))
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
		fact("fact.reenact.no_fork_return"),
		fact("fact.reenact.parent", "ppid", m.PPID))
	facts = append(facts, m.Facts...)
	if d.fl.freeInChild {
		facts = append(facts, fact("fact.reenact.free_in_child", "version", d.fl.version, "record", d.fl.record))
	} else {
		facts = append(facts, fact("fact.reenact.record_kept", "version", d.fl.version, "record", d.fl.record))
	}
	facts = append(facts, fact("fact.reenact.epoll"))
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
	point := walkthrough.M("point.reenact.registered")
	if d.fl.listAtAllocation() {
		point = walkthrough.M("point.reenact.pid_stored")
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
		fact("fact.reenact.client_socket_open", "fd", c.pmFD, "at", d.fl.serverLoopClose),
		fact("fact.reenact.child_before_init"))
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

	ev := d.event(c, walkthrough.ForkFailure, walkthrough.Postmaster, pm, walkthrough.M("point.reenact.fork_failed"))
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
			fact("fact.reenact.slot_released", "slot", c.node.ChildSlot, "free", released),
			fact("fact.reenact.record_freed", "record", d.fl.record, "release", d.fl.release))
	}
	ev.Values.Facts = append(ev.Values.Facts,
		sent,
		fact("fact.reenact.fork_failure_wire", "at", d.fl.facts.Cites["report_fork_failure"], "bytes", len(packet)),
		fact("fact.reenact.client_socket_error", "fd", c.pmFD, "at", d.fl.serverLoopClose))
	return ev, nil
}
