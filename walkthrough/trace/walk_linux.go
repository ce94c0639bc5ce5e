package trace

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// This file is the walk itself: where the driver stops in each version,
// and what it reads there. It runs on the tracer goroutine.

// The symbols the walk uses. Functions are breakpoints; variables are read.
const (
	symCanAccept  = "canAcceptConnections"
	symSlot       = "AssignPostmasterChildSlot"
	symFork       = "fork_process"
	symInitChild  = "InitPostmasterChild"
	symClosePorts = "ClosePostmasterPorts"
	symBackendLst = "BackendList"
	symCancelKey  = "MyCancelKey"
	symPMSlot     = "MyPMChildSlot"
	symProcPid    = "MyProcPid"
	symAliveFDs   = "postmaster_alive_fds"
	symSyslogPipe = "syslogPipe"
	// symClose is the C library's close(): the postmaster's first call
	// after the push onto BackendList is close() on the client socket.
	symClose = "close"
)

// statusOK is PostgreSQL's STATUS_OK (c.h).
const statusOK = 0

// mcxtAllocNoOOM is MCXT_ALLOC_NO_OOM (utils/palloc.h), the flag 17.1's
// BackendStartup passes to palloc_extended.
const mcxtAllocNoOOM = 0x02

// plan holds what differs between the versions.
type plan struct {
	// accept is the function that accepts the connection, called just
	// before BackendStartup.
	accept string
	// alloc allocates the Backend record; allocInLibc says it is the C
	// library's; allocFlags is its second argument (-1: none).
	alloc       string
	allocInLibc bool
	allocFlags  int64
	// main is the function the backend runs once it is set up.
	main string
	// inlinable are the functions of the path that a compiler may fold
	// into their callers: the struct-creation stop says which it did.
	inlinable []string
	// peerOff is where, in the record the accept function fills (its
	// second argument), the client's address lies: raddr, a SockAddr.
	// 16.4's Port (libpq-be.h:146-152) holds sock, noblock, proto and the
	// SockAddr laddr before it; 17.1's ClientSocket (libpq-be.h:236-240)
	// only sock. A SockAddr is a sockaddr_storage (128 bytes, 8-aligned)
	// and a socklen_t: 136 bytes on LP64.
	peerOff int
}

func planFor(major int) plan {
	if major >= 17 {
		return plan{accept: "AcceptConnection", alloc: "palloc_extended", allocFlags: mcxtAllocNoOOM,
			main: "BackendMain", inlinable: []string{"BackendStartup", "RandomCancelKey"}, peerOff: 8}
	}
	return plan{accept: "StreamConnection", alloc: "malloc", allocInLibc: true, allocFlags: -1,
		main: "PostgresMain", inlinable: []string{"BackendStartup", "RandomCancelKey", "BackendRun", "ConnCreate"}, peerOff: 16 + 136}
}

// walker walks one connection after another through the stops.
type walker struct {
	d      *Driver
	opts   walkthrough.DriverOptions
	t      *tracer
	pm     *proc
	exe    *module
	libc   *module
	plan   plan
	addr   map[string]uint64
	layout backendLayout
	conn   int
	logOff int64
	// deadline bounds the wait for the next stop; zero while the walk
	// waits for an outside client, which may take any time.
	deadline time.Time
	// client is pgwalk's own client of the connection being walked.
	client *client
	// foreign counts the connections let through untraced because they
	// were not pgwalk's own client's; peerUnknown is set once the driver
	// said it cannot tell.
	foreign     int
	peerUnknown bool
}

// newWalker attaches to the postmaster and resolves the symbols.
func (d *Driver) newWalker() (*walker, error) {
	t := newTracer()
	t.deadDR7 = d.deadDR7 || deadRegistersFromEnv()
	d.mu.Lock()
	d.tr = t
	d.mu.Unlock()
	w := &walker{d: d, opts: d.opts, t: t, plan: planFor(d.opts.Version.Major), addr: map[string]uint64{}, layout: backendRecordLayout()}
	pm, err := t.attach(d.cl.pid)
	if err != nil {
		return w, err
	}
	w.pm = pm
	exePath, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pm.pid))
	if err != nil {
		return w, err
	}
	maps, err := readMaps(pm.pid)
	if err != nil {
		return w, err
	}
	// The file is opened through /proc/PID/exe: exactly what runs, even
	// if the path was replaced since.
	w.exe, err = loadModule(fmt.Sprintf("/proc/%d/exe", pm.pid), exePath, maps, false)
	if err != nil {
		return w, err
	}
	t.mods = append(t.mods, w.exe)
	if p, ok := libcPath(maps); ok {
		if m, err := loadModule(p, p, maps, true); err == nil {
			w.libc = m
			t.mods = append(t.mods, m)
		}
	}
	w.resolve()
	if err := w.warmUp(); err != nil {
		return w, err
	}
	w.logOff = d.cl.logSize()
	w.sayUnavailable()
	return w, nil
}

// resolve looks up every symbol the walk may use.
func (w *walker) resolve() {
	hidden := map[string]bool{}
	for _, h := range w.d.hide {
		hidden[h] = true
	}
	names := []string{symCanAccept, symSlot, symFork, symInitChild, symClosePorts, symBackendLst,
		symCancelKey, symPMSlot, symProcPid, symAliveFDs, symSyslogPipe, w.plan.accept, w.plan.main}
	if !w.plan.allocInLibc {
		names = append(names, w.plan.alloc)
	}
	for _, n := range names {
		if hidden[n] {
			continue
		}
		if a, _, ok := w.exe.lookup(n); ok {
			w.addr[n] = a
		}
	}
	for _, n := range []string{w.plan.alloc, symClose} {
		if n == w.plan.alloc && !w.plan.allocInLibc || hidden[n] {
			continue
		}
		if a, _, ok := w.libc.lookup(n); ok {
			w.addr[n] = a
		}
	}
}

func (w *walker) has(name string) bool { _, ok := w.addr[name]; return ok }

// sayUnavailable tells the user which stops this binary cannot give.
func (w *walker) sayUnavailable() {
	var msgs []string
	need := func(sym, what string) {
		if !w.has(sym) {
			msgs = append(msgs, fmt.Sprintf("%s (no symbol %s)", what, sym))
		}
	}
	if w.exe.noSymtab {
		w.opts.Say(fmt.Sprintf("%s has no symbol table (.symtab): only its exported symbols can be used", w.exe.path))
	}
	if !w.has(symCanAccept) && !w.has(w.plan.accept) {
		w.opts.Say(fmt.Sprintf("no symbol %s or %s: the driver cannot see a connection arrive, so only the closing check is available", symCanAccept, w.plan.accept))
		return
	}
	if !w.has(w.plan.accept) || !w.has(w.plan.alloc) {
		msgs = append(msgs, "the allocation of the Backend record (struct-creation is reported at the first later stop)")
	}
	need(symCanAccept, "the canAcceptConnections result (struct-init)")
	need(symSlot, "the child slot (struct-init)")
	need(symCancelKey, "the cancel key")
	need(symFork, "the fork stops")
	need(symInitChild, "the InitPostmasterChild stop (child)")
	need(symClosePorts, "the ClosePostmasterPorts stop and the child's descriptors (child)")
	need(w.plan.main, "the "+w.plan.main+" stop (child)")
	need(symBackendLst, "parent-registration")
	if w.has(symBackendLst) && !w.t.hw && !w.has(symClose) {
		w.opts.Say("no symbol close in the C library: parent-registration is found by single-stepping the postmaster (slower)")
	}
	if !w.opts.WaitForClient && !w.has(w.plan.accept) {
		w.opts.Say(fmt.Sprintf("no symbol %s: pgwalk cannot tell its own connection from others, and walks the first to reach BackendStartup", w.plan.accept))
	}
	if len(msgs) > 0 {
		w.opts.Say("unavailable with this binary: " + strings.Join(msgs, "; "))
	}
}

// close releases the files the walker opened.
func (w *walker) close() {
	w.exe.close()
	w.libc.close()
}

// awaitResume waits for the next Next, with no bound: the processes are
// stopped on purpose while the reader looks. The bound of the wait for
// the next stop starts when it comes.
func (w *walker) awaitResume() error {
	select {
	case <-w.d.resume:
		w.deadline = time.Now().Add(w.d.bounds.stage)
		return nil
	case <-w.d.quit:
		return errClosed
	}
}

// emit hands ev to Next and waits, with every traced process stopped, for
// the Next after it.
func (w *walker) emit(ev walkthrough.Event) error {
	ev.Connection = w.conn
	select {
	case w.d.events <- ev:
	case <-w.d.quit:
		return errClosed
	}
	return w.awaitResume()
}

// wait runs the processes to the next breakpoint, within w.deadline; st
// names what they are expected to reach, for the error past it.
func (w *walker) wait(st stage) (hit, error) {
	h, err := w.t.waitHit(limits{deadline: w.deadline})
	switch {
	case errors.Is(err, errInterrupted):
		return h, errClosed
	case errors.Is(err, errDeadline):
		return h, w.stalled(st)
	}
	return h, err
}

// run walks connections until the run is over.
func (w *walker) run() error {
	if err := w.awaitResume(); err != nil {
		return err
	}
	for {
		w.conn++
		if err := w.walkConnection(); err != nil {
			return err
		}
		if !w.opts.WaitForClient {
			return walkthrough.EOF
		}
	}
}

// obs collects what was observed of one connection.
type obs struct {
	allocAddr   uint64
	allocSeen   bool
	cancelKey   *int32
	cac         *int
	slot        *int
	forkRetAddr uint64
	forkRet     *int
	child       *proc
	childPID    int
	childRet    *int
	childKey    *int32
	childSlot   *int
	childProcID *int
	childExit   string
	fdsBefore   []walkthrough.FD
	fdsAfter    []walkthrough.FD
	closed      []walkthrough.FD
	pmFDs       []rawFD
	node        *walkthrough.BackendNode
	nodeAddr    uint64
	structInit  bool
}

// values starts the Values of a stop with what every stop carries.
func (w *walker) values(o *obs) walkthrough.Values {
	v := walkthrough.Values{PostmasterPID: w.pm.pid}
	if o.childPID != 0 {
		v.ChildPID = o.childPID
	}
	return v
}

func (w *walker) event(phase walkthrough.PhaseID, p *proc, point string, v walkthrough.Values) walkthrough.Event {
	ev := walkthrough.Event{Phase: phase, Process: walkthrough.Postmaster, Point: point, Values: v}
	if p != nil {
		ev.PID = p.pid
		if p.role == roleBackend {
			ev.Process = walkthrough.Backend
		}
	}
	return ev
}

func fact(name, value string) walkthrough.Fact { return walkthrough.Fact{Name: name, Value: value} }

func bpFact(b *breakpoint) walkthrough.Fact { return fact("breakpoint", b.String()) }

// readVar reads a 32-bit variable of p; nil when the symbol is missing or
// the read fails.
func (w *walker) readVar(p *proc, sym string) *int32 {
	a, ok := w.addr[sym]
	if !ok {
		return nil
	}
	v, err := readI32(p.pid, a)
	if err != nil {
		return nil
	}
	return &v
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	return walkthrough.Int(int(*v))
}

// connect starts pgwalk's client, or tells the user how to connect.
func (w *walker) connect() {
	if w.opts.WaitForClient {
		if w.conn == 1 {
			w.opts.Say(fmt.Sprintf("waiting for a client; connect with: psql -h %s -p %d -U postgres postgres", w.d.cl.dir, clusterPort))
		} else {
			w.opts.Say("waiting for the next client")
		}
		// A person may take any time to connect: the bound starts when
		// the client arrives (see detect).
		w.deadline = time.Time{}
		return
	}
	if w.d.beforeClient != nil {
		w.d.beforeClient()
	}
	c := startClient(w.d.cl.dir, clusterPort)
	w.client = c
	w.d.mu.Lock()
	w.d.client = c
	w.d.mu.Unlock()
	w.deadline = time.Now().Add(w.d.bounds.stage)
}

// walkConnection follows one connection from accept to the closing check.
func (w *walker) walkConnection() error {
	o := &obs{}
	if !w.has(symCanAccept) && !w.has(w.plan.accept) {
		w.connect()
		return w.epilogue(o)
	}
	detected, err := w.detect(o)
	if err != nil {
		return err
	}
	if err := w.parentUntilFork(o, detected); err != nil {
		return err
	}
	if o.child == nil {
		return w.epilogue(o)
	}
	if err := w.childStops(o); err != nil {
		return err
	}
	if err := w.registration(o); err != nil {
		return err
	}
	return w.epilogue(o)
}

// parentUntilFork follows the postmaster from the detected connection to
// fork_process's return: the accept decision, the cancel key, the child
// slot, and the fork.
func (w *walker) parentUntilFork(o *obs, detected hit) error {
	t, pm := w.t, w.pm
	t.expectFork = pm
	armPM := func(name string, addr uint64) (*breakpoint, error) { return t.arm(pm, name, addr, bpExec) }
	var cacRet, slotEntry, slotRet, forkEntry, forkRet *breakpoint
	var err error
	if detected.bp != nil && detected.bp.name == symCanAccept {
		if !o.allocSeen {
			if err := w.emitStructCreation(o, detected, symCanAccept+"(BACKEND_TYPE_NORMAL) called"); err != nil {
				return err
			}
		}
		ret, err := returnAddress(pm.pid, &detected.regs)
		if err != nil {
			return err
		}
		if cacRet, err = armPM(symCanAccept+" (return)", ret); err != nil {
			return err
		}
	} else if !o.allocSeen {
		if err := w.emitStructCreation(o, detected, w.plan.accept+" returned"); err != nil {
			return err
		}
	}
	if a, ok := w.addr[symSlot]; ok {
		if slotEntry, err = armPM(symSlot, a); err != nil {
			return err
		}
	}
	if a, ok := w.addr[symFork]; ok {
		if forkEntry, err = armPM(symFork, a); err != nil {
			return err
		}
	}
	for {
		h, err := w.wait(stParent)
		if err != nil {
			return err
		}
		if h.forked {
			o.child = h.p
			o.childPID = h.p.pid
			if forkRet == nil {
				for _, b := range []*breakpoint{cacRet, slotEntry, slotRet, forkEntry} {
					_ = t.disarm(pm, b)
				}
				return nil
			}
			continue
		}
		if h.p != pm || h.bp == nil {
			continue
		}
		switch h.bp {
		case cacRet:
			_ = t.disarm(pm, cacRet)
			o.cac = walkthrough.Int(int(int32(h.regs.ret())))
			o.cancelKey = w.readVar(pm, symCancelKey)
			if *o.cac != 0 || slotEntry == nil {
				// A dead-end child gets no slot: struct-init is complete.
				_ = t.disarm(pm, slotEntry)
				slotEntry = nil
				if err := w.emitStructInit(o, h, symCanAccept+" returned"); err != nil {
					return err
				}
			}
		case slotEntry:
			_ = t.disarm(pm, slotEntry)
			ret, err := returnAddress(pm.pid, &h.regs)
			if err != nil {
				return err
			}
			if slotRet, err = armPM(symSlot+" (return)", ret); err != nil {
				return err
			}
		case slotRet:
			_ = t.disarm(pm, slotRet)
			o.slot = walkthrough.Int(int(int32(h.regs.ret())))
			if o.cancelKey == nil {
				o.cancelKey = w.readVar(pm, symCancelKey)
			}
			if err := w.emitStructInit(o, h, symSlot+" returned"); err != nil {
				return err
			}
		case forkEntry:
			_ = t.disarm(pm, forkEntry)
			_ = t.disarm(pm, slotEntry)
			if !o.structInit {
				if o.cancelKey == nil {
					o.cancelKey = w.readVar(pm, symCancelKey)
				}
				if err := w.emitStructInit(o, h, symFork+" called"); err != nil {
					return err
				}
			}
			ret, err := returnAddress(pm.pid, &h.regs)
			if err != nil {
				return err
			}
			o.forkRetAddr = ret
			if forkRet, err = armPM(symFork+" (return)", ret); err != nil {
				return err
			}
		case forkRet:
			_ = t.disarm(pm, forkRet)
			ret := int(int32(h.regs.ret()))
			o.forkRet = walkthrough.Int(ret)
			if ret < 0 {
				return w.emitForkFailure(o, h)
			}
			return w.emitParentFork(o, h)
		}
	}
}

func (w *walker) emitStructInit(o *obs, h hit, point string) error {
	o.structInit = true
	v := w.values(o)
	v.CancelKey = o.cancelKey
	if o.cac != nil {
		v.CanAccept = cacName(*o.cac)
		v.DeadEnd = walkthrough.Bool(*o.cac != 0)
		if *o.cac != 0 {
			v.ChildSlot = walkthrough.Int(0)
		}
	}
	if o.slot != nil {
		v.ChildSlot = o.slot
		if o.cac == nil {
			// Only a child that is not dead-end gets a slot.
			v.DeadEnd = walkthrough.Bool(false)
		}
	}
	if o.cancelKey != nil {
		v.Facts = append(v.Facts, fact("MyCancelKey", fmt.Sprintf("read from the postmaster's memory at %#x", w.addr[symCancelKey])))
	}
	if o.cac != nil {
		v.Facts = append(v.Facts, fact(symCanAccept, fmt.Sprintf("returned %d (%s)", *o.cac, cacName(*o.cac))))
	}
	if o.slot != nil {
		v.Facts = append(v.Facts, fact(symSlot, fmt.Sprintf("returned %d", *o.slot)))
	}
	v.Facts = append(v.Facts, bpFact(h.bp))
	return w.emit(w.event(walkthrough.StructInit, w.pm, point, v))
}

func (w *walker) emitParentFork(o *obs, h hit) error {
	// The child's descriptors start as a copy of this table.
	o.pmFDs, _ = readFDs(w.pm.pid)
	v := w.values(o)
	v.ForkReturn = o.forkRet
	v.ChildPID = *o.forkRet
	if fn := w.exe.funcAt(h.bp.addr); fn != "" {
		v.Facts = append(v.Facts, fact("returned into", fn))
	}
	if o.child != nil {
		v.Checks = append(v.Checks, check("PTRACE_EVENT_FORK pid = fork_process return",
			[]string{"event", "fork_process"}, []string{strconv.Itoa(o.child.pid), strconv.Itoa(*o.forkRet)}))
		v.Facts = append(v.Facts, fact("followed", fmt.Sprintf("the kernel reported the fork (PTRACE_EVENT_FORK) and attached pid %d, stopped as it came out of fork()", o.child.pid)))
	}
	v.Facts = append(v.Facts, bpFact(h.bp))
	return w.emit(w.event(walkthrough.Fork, w.pm, symFork+" returned in the postmaster", v))
}

func (w *walker) emitForkFailure(o *obs, h hit) error {
	v := w.values(o)
	v.ForkReturn = o.forkRet
	v.Facts = append(v.Facts, bpFact(h.bp))
	return w.emit(w.event(walkthrough.ForkFailure, w.pm, symFork+" returned -1", v))
}

// childStops follows the new backend from its first instruction to its
// main function, with the postmaster held at its fork stop.
func (w *walker) childStops(o *obs) error {
	t, pm, ch := w.t, w.pm, o.child
	pm.hold = true
	defer func() { pm.hold = false }()
	armCh := func(name string, addr uint64) (*breakpoint, error) { return t.arm(ch, name, addr, bpExec) }
	var forkRet, initChild, closePorts, closeRet, mainBP *breakpoint
	var err error
	armed := 0
	if o.forkRetAddr != 0 {
		if forkRet, err = armCh(symFork+" (return)", o.forkRetAddr); err != nil {
			return err
		}
		armed++
	}
	for _, s := range []struct {
		bp   **breakpoint
		name string
	}{{&initChild, symInitChild}, {&closePorts, symClosePorts}, {&mainBP, w.plan.main}} {
		if a, ok := w.addr[s.name]; ok {
			if *s.bp, err = armCh(s.name, a); err != nil {
				return err
			}
			armed++
		}
	}
	ch.hold = false
	defer func() { ch.hold = true }()
	var namer fdNamer
	for armed > 0 {
		h, err := w.wait(stChild)
		if err != nil {
			return err
		}
		if h.p != ch {
			continue
		}
		if h.exitStatus != "" {
			o.childExit = h.exitStatus
			w.opts.Say(fmt.Sprintf("the backend (pid %d) ended before reaching %s: %s", ch.pid, w.plan.main, h.exitStatus))
			return nil
		}
		if h.bp == nil {
			continue
		}
		_ = t.disarm(ch, h.bp)
		if h.bp != closePorts {
			armed--
		}
		v := w.values(o)
		switch h.bp {
		case forkRet:
			o.childRet = walkthrough.Int(int(int32(h.regs.ret())))
			v.ForkReturn = o.childRet
			v.Facts = append(v.Facts, fact("same code, other process", fmt.Sprintf("the child resumes at the same return address %#x as the postmaster, with its own copy of memory", o.forkRetAddr)), bpFact(h.bp))
			if err := w.emit(w.event(walkthrough.Fork, ch, symFork+" returned in the child", v)); err != nil {
				return err
			}
		case initChild:
			pid := w.readVar(ch, symProcPid)
			if pid != nil {
				v.Facts = append(v.Facts, fact("MyProcPid", fmt.Sprintf("%d: still the postmaster's pid, inherited with the memory; InitPostmasterChild sets it to the child's", *pid)))
			}
			v.Facts = append(v.Facts, bpFact(h.bp))
			if err := w.emit(w.event(walkthrough.Child, ch, symInitChild+" called", v)); err != nil {
				return err
			}
		case closePorts:
			namer = w.namer(ch)
			fds, err := readFDs(ch.pid)
			if err != nil {
				return err
			}
			o.fdsBefore = namer.table(fds)
			ret, err := returnAddress(ch.pid, &h.regs)
			if err != nil {
				return err
			}
			if closeRet, err = armCh(symClosePorts+" (return)", ret); err != nil {
				return err
			}
		case closeRet:
			fds, err := readFDs(ch.pid)
			if err != nil {
				return err
			}
			o.fdsAfter = namer.table(fds)
			o.closed = closedFDs(o.fdsBefore, o.fdsAfter)
			v.FDsBefore, v.FDsAfter, v.ClosedFDs = o.fdsBefore, o.fdsAfter, o.closed
			v.Facts = append(v.Facts, fact("descriptors", fmt.Sprintf("read from /proc/%d/fd; sockets named from /proc/net/unix, the death pipe from postmaster_alive_fds", ch.pid)))
			if own := ownFDs(o.fdsBefore, o.pmFDs); own != "" {
				v.Facts = append(v.Facts, fact("opened by the backend", own+": not in the postmaster's table at the fork, so the backend opened it itself before ClosePostmasterPorts ran"))
			}
			v.Facts = append(v.Facts, bpFact(h.bp))
			if err := w.emit(w.event(walkthrough.Child, ch, symClosePorts+" returned", v)); err != nil {
				return err
			}
		case mainBP:
			o.childKey = w.readVar(ch, symCancelKey)
			o.childSlot = intPtr(w.readVar(ch, symPMSlot))
			o.childProcID = intPtr(w.readVar(ch, symProcPid))
			v.CancelKey = o.childKey
			v.ChildSlot = o.childSlot
			if o.childProcID != nil {
				v.Facts = append(v.Facts, fact("MyProcPid", strconv.Itoa(*o.childProcID)))
			}
			if o.childKey != nil {
				v.Facts = append(v.Facts, fact("MyCancelKey", "read from the backend's memory: its copy of the postmaster's"))
			}
			if o.childSlot != nil {
				v.Facts = append(v.Facts, fact("MyPMChildSlot", "read from the backend's memory"))
			}
			v.Facts = append(v.Facts, bpFact(h.bp))
			if err := w.emit(w.event(walkthrough.Child, ch, w.plan.main+" reached", v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// namer prepares the names of the child's descriptors before
// ClosePostmasterPorts runs.
func (w *walker) namer(ch *proc) fdNamer {
	n := fdNamer{deathRead: -1, deathWrite: -1, syslogRead: -1}
	if a, ok := w.addr[symAliveFDs]; ok {
		var b [8]byte
		if readMem(ch.pid, a, b[:]) == nil {
			n.deathRead = int(int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24))
			n.deathWrite = int(int32(uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24))
		}
	}
	if v := w.readVar(ch, symSyslogPipe); v != nil {
		n.syslogRead = int(*v)
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/net/unix", ch.pid)); err == nil {
		n.sockets, _ = parseNetUnix(f)
		f.Close()
	}
	return n
}
