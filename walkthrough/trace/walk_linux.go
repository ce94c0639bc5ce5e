package trace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
}

func planFor(major int) plan {
	if major >= 17 {
		return plan{accept: "AcceptConnection", alloc: "palloc_extended", allocFlags: mcxtAllocNoOOM,
			main: "BackendMain", inlinable: []string{"BackendStartup", "RandomCancelKey"}}
	}
	return plan{accept: "StreamConnection", alloc: "malloc", allocInLibc: true, allocFlags: -1,
		main: "PostgresMain", inlinable: []string{"BackendStartup", "RandomCancelKey", "BackendRun", "ConnCreate"}}
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
}

// newWalker attaches to the postmaster and resolves the symbols.
func (d *Driver) newWalker() (*walker, error) {
	t := newTracer()
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
	if !d.forceSoftware {
		a, ok := w.addr[symFork]
		if !ok && len(w.exe.loads) > 0 {
			a = w.exe.bias + w.exe.loads[0].Vaddr
		}
		t.hw = t.probeHW(pm, a)
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
	if w.plan.allocInLibc && !hidden[w.plan.alloc] {
		if a, _, ok := w.libc.lookup(w.plan.alloc); ok {
			w.addr[w.plan.alloc] = a
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
	if w.has(symBackendLst) && !w.t.hw {
		w.opts.Say("debug registers are unavailable: parent-registration is found by single-stepping the postmaster (slower)")
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

// awaitResume waits for the next Next.
func (w *walker) awaitResume() error {
	select {
	case <-w.d.resume:
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

// wait runs the processes to the next breakpoint.
func (w *walker) wait() (hit, error) {
	h, err := w.t.waitHit()
	if errors.Is(err, errInterrupted) {
		return h, errClosed
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
		return
	}
	c := startClient(w.d.cl.dir, clusterPort)
	w.d.mu.Lock()
	w.d.client = c
	w.d.mu.Unlock()
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

// detect waits for a connection to reach BackendStartup: canAcceptConnections
// called for a normal backend, or (without that symbol) the accept function
// returning STATUS_OK. On the way it catches the allocation of the Backend
// record and reports struct-creation there. It returns the hit it detected
// the connection at.
func (w *walker) detect(o *obs) (hit, error) {
	t, pm := w.t, w.pm
	var trig, gate, gateRet, alloc, allocRet *breakpoint
	var err error
	armPM := func(name string, addr uint64) (*breakpoint, error) { return t.arm(pm, name, addr, bpExec) }
	if a, ok := w.addr[symCanAccept]; ok {
		if trig, err = armPM(symCanAccept, a); err != nil {
			return hit{}, err
		}
	}
	if a, ok := w.addr[w.plan.accept]; ok {
		if gate, err = armPM(w.plan.accept, a); err != nil {
			return hit{}, err
		}
	}
	w.connect()
	disarmAll := func() {
		for _, b := range []*breakpoint{trig, gate, gateRet, alloc, allocRet} {
			_ = t.disarm(pm, b)
		}
	}
	for {
		h, err := w.wait()
		if err != nil {
			return h, err
		}
		if h.p != pm || h.bp == nil {
			continue
		}
		switch h.bp {
		case gate:
			ret, err := returnAddress(pm.pid, &h.regs)
			if err != nil {
				return h, err
			}
			_ = t.disarm(pm, gate)
			gate = nil
			if gateRet, err = armPM(w.plan.accept+" (return)", ret); err != nil {
				return h, err
			}
		case gateRet:
			_ = t.disarm(pm, gateRet)
			gateRet = nil
			if int32(h.regs.ret()) != statusOK {
				// Accepting failed: wait for the next connection.
				if gate, err = armPM(w.plan.accept, w.addr[w.plan.accept]); err != nil {
					return h, err
				}
				continue
			}
			if a, ok := w.addr[w.plan.alloc]; ok {
				if alloc, err = armPM(w.plan.alloc, a); err != nil {
					return h, err
				}
			}
			if trig == nil && alloc == nil {
				disarmAll()
				return h, nil
			}
		case alloc:
			if h.regs.arg(0) != uint64(w.layout.Size) || (w.plan.allocFlags >= 0 && int64(h.regs.arg(1)) != w.plan.allocFlags) {
				continue // another allocation
			}
			ret, err := returnAddress(pm.pid, &h.regs)
			if err != nil {
				return h, err
			}
			_ = t.disarm(pm, alloc)
			alloc = nil
			if allocRet, err = armPM(w.plan.alloc+" (return)", ret); err != nil {
				return h, err
			}
		case allocRet:
			_ = t.disarm(pm, allocRet)
			allocRet = nil
			o.allocAddr, o.allocSeen = h.regs.ret(), true
			if err := w.emitStructCreation(o, h, ""); err != nil {
				return h, err
			}
			if trig == nil {
				disarmAll()
				return h, nil
			}
		case trig:
			if int32(h.regs.arg(0)) != backendTypeNormal {
				continue // an autovacuum worker or a background worker
			}
			disarmAll()
			return h, nil
		}
	}
}

// emitStructCreation reports phase 1. With the allocation seen it stops
// where the allocator returned; otherwise at the first later stop, saying
// so.
func (w *walker) emitStructCreation(o *obs, h hit, point string) error {
	v := w.values(o)
	call := fmt.Sprintf("%s(%d)", w.plan.alloc, w.layout.Size)
	if w.plan.allocFlags >= 0 {
		call = fmt.Sprintf("%s(%d, MCXT_ALLOC_NO_OOM)", w.plan.alloc, w.layout.Size)
	}
	if o.allocSeen {
		point = w.plan.alloc + " returned"
		if fn := w.exe.funcAt(h.bp.addr); fn != "" {
			point += " in " + fn
		}
		v.Facts = append(v.Facts,
			fact("allocation", fmt.Sprintf("%s returned %#x: the new Backend record", call, o.allocAddr)),
			fact("allocator", w.plan.alloc),
		)
	} else {
		v.Facts = append(v.Facts,
			fact("allocation", fmt.Sprintf("%s already ran in BackendStartup, just before this stop: the driver could not break on it in this binary", call)),
		)
	}
	where := ""
	if o.allocSeen {
		where = w.exe.funcAt(h.bp.addr)
	}
	if in := w.inlined(where); in != "" {
		v.Facts = append(v.Facts, fact("inlined", in))
	}
	v.Facts = append(v.Facts,
		fact("binary", w.exe.path),
		fact("backend record", fmt.Sprintf("sizeof(Backend) = %d; layout %s", w.layout.Size, w.layout)),
		bpFact(h.bp),
	)
	return w.emit(w.event(walkthrough.StructCreation, w.pm, point, v))
}

// inlined says which functions of the path have no symbol of their own:
// the compiler folded them into their callers. where names the function
// BackendStartup's allocation returned into, when known.
func (w *walker) inlined(where string) string {
	if w.exe.noSymtab {
		return ""
	}
	var gone []string
	for _, n := range w.plan.inlinable {
		if _, _, ok := w.exe.lookup(n); !ok {
			gone = append(gone, n)
		}
	}
	if len(gone) == 0 {
		return ""
	}
	msg := strings.Join(gone, ", ") + ": no symbol of their own in this binary, the compiler inlined them into their callers"
	if gone[0] == "BackendStartup" {
		msg += "; no breakpoint can mark where BackendStartup begins"
		if where != "" {
			msg += fmt.Sprintf(" (its allocation returned into %s)", where)
		}
	}
	return msg
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
		h, err := w.wait()
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
		h, err := w.wait()
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
	var err error
	if t.hw {
		watch, err := t.arm(pm, symBackendLst+".head.next", headNext, bpWrite8)
		if err != nil {
			return err
		}
		for {
			if h, err = w.wait(); err != nil {
				return err
			}
			if h.p != pm || h.bp != watch {
				continue
			}
			if node, addr, ok := w.headNode(headNext, *o.forkRet); ok {
				o.node, o.nodeAddr = node, addr
				break
			}
		}
		_ = t.disarm(pm, watch)
	} else if h, err = w.stepToRegistration(o, headNext); err != nil {
		return err
	}
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
// holds the new record: the fallback when no debug register can watch it.
func (w *walker) stepToRegistration(o *obs, headNext uint64) (hit, error) {
	pm := w.pm
	const maxSteps = 5_000_000
	for i := 0; i < maxSteps; i++ {
		if i%1024 == 0 && w.t.interrupted.Load() {
			return hit{}, errClosed
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
	if h.bp != nil {
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

// epilogue lets the processes go and reports the closing check: the
// BackendKeyData pgwalk's client received against what memory held.
func (w *walker) epilogue(o *obs) error {
	t := w.t
	if o.child != nil {
		if err := t.detach(o.child); err != nil {
			return err
		}
	}
	// Once the walked backend is running on its own, the postmaster stays
	// attached with its breakpoints removed until Close, so that
	// PTRACE_O_EXITKILL still takes the cluster down if pgwalk is killed at
	// the closing check. When no backend was seen, the connection has yet
	// to be forked, and a postmaster left attached would stop at that fork
	// with nobody to continue it: detach it then.
	if o.child == nil && !w.opts.WaitForClient {
		if err := t.detachAll(); err != nil {
			return err
		}
	} else if err := t.disarmAll(w.pm); err != nil {
		return err
	}
	t.target = nil
	t.expectFork = nil
	v := w.values(o)
	ev := w.event(walkthrough.Epilogue, nil, "the client is connected", v)
	if c := w.d.client; c != nil && !w.opts.WaitForClient {
		select {
		case <-c.done:
		case <-w.d.quit:
			return errClosed
		case <-time.After(10 * time.Minute):
			return errors.New("pgwalk's client did not finish connecting within 10 minutes")
		}
		ev.Process = walkthrough.Client
		ev.PID = os.Getpid()
		if c.err != nil {
			// A dead-end child, for one, sends an error instead of the
			// key: report it, it is what happened.
			ev.Point = "the client was refused"
			ev.Values.Facts = append(ev.Values.Facts, fact("client error", c.err.Error()))
		}
		ev.Values.ClientBackendKey = c.key
		ev.Values.Facts = append(ev.Values.Facts, fact("client", fmt.Sprintf("pgwalk's own client (pgconn) over %s", filepath.Join(w.d.cl.dir, fmt.Sprintf(".s.PGSQL.%d", clusterPort)))))
	} else {
		ev.Process = walkthrough.Client
		ev.Point = "the backend runs on its own"
		ev.Values.Facts = append(ev.Values.Facts, fact("client", "an outside client: pgwalk does not see the BackendKeyData it received, so the checks compare what memory held"))
	}
	ev.Values.Checks = w.finalChecks(o, ev.Values.ClientBackendKey)
	if n := t.others.Load(); n > 0 {
		ev.Values.Facts = append(ev.Values.Facts, fact("other children", fmt.Sprintf("%d other children of the postmaster were forked while traced and let go at once (%d inherited int3 bytes removed from them)", n, t.restored.Load())))
	}
	return w.emit(ev)
}

// finalChecks are the cross-checks of the closing stop.
func (w *walker) finalChecks(o *obs, key *walkthrough.BackendKey) []walkthrough.Check {
	var cs []walkthrough.Check
	add := func(name string, pairs ...string) {
		var names, vals []string
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] != "" {
				names = append(names, pairs[i])
				vals = append(vals, pairs[i+1])
			}
		}
		if len(vals) >= 2 {
			cs = append(cs, check(name, names, vals))
		}
	}
	str := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	str32 := func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	}
	var keyPID, keySecret string
	if key != nil {
		keyPID, keySecret = strconv.Itoa(key.PID), strconv.Itoa(int(key.SecretKey))
	}
	var nodePID, nodeKey, nodeSlot string
	if o.node != nil {
		nodePID, nodeKey, nodeSlot = strconv.Itoa(o.node.PID), strconv.Itoa(int(o.node.CancelKey)), strconv.Itoa(o.node.ChildSlot)
	}
	childPID := ""
	if o.childPID != 0 {
		childPID = strconv.Itoa(o.childPID)
	}
	add("BackendKeyData pid = fork_process return = Backend.pid",
		"BackendKeyData.pid", keyPID, "fork_process", str(o.forkRet), "PTRACE_EVENT_FORK", childPID, "MyProcPid", str(o.childProcID), "Backend.pid", nodePID)
	add("BackendKeyData secret = MyCancelKey = Backend.cancel_key",
		"BackendKeyData.secret", keySecret, "MyCancelKey (postmaster)", str32(o.cancelKey), "MyCancelKey (backend)", str32(o.childKey), "Backend.cancel_key", nodeKey)
	add("AssignPostmasterChildSlot = MyPMChildSlot = Backend.child_slot",
		symSlot, str(o.slot), "MyPMChildSlot", str(o.childSlot), "Backend.child_slot", nodeSlot)
	if o.fdsBefore != nil {
		had, kept := false, false
		for _, fd := range o.fdsBefore {
			had = had || fd.Kind == walkthrough.FDListenSocket
		}
		for _, fd := range o.fdsAfter {
			kept = kept || fd.Kind == walkthrough.FDListenSocket
		}
		cs = append(cs, walkthrough.Check{Name: "listen socket closed in the child", OK: had && !kept,
			Detail: fmt.Sprintf("before ClosePostmasterPorts: %v, after: %v", had, kept)})
		client := false
		for _, fd := range o.fdsAfter {
			client = client || fd.Kind == walkthrough.FDClientSocket
		}
		cs = append(cs, walkthrough.Check{Name: "client socket kept in the child", OK: client})
	}
	return cs
}

// ownFDs lists the descriptors of child that the postmaster's table pm
// did not hold at the fork; "" when pm is unknown or all were inherited.
func ownFDs(child []walkthrough.FD, pm []rawFD) string {
	if pm == nil {
		return ""
	}
	had := map[string]bool{}
	for _, fd := range pm {
		had[strconv.Itoa(fd.Num)+" "+fd.Target] = true
	}
	var out []string
	for _, fd := range child {
		if !had[strconv.Itoa(fd.Num)+" "+fd.Target] {
			out = append(out, fmt.Sprintf("fd %d (%s)", fd.Num, fd.Kind))
		}
	}
	return strings.Join(out, ", ")
}
