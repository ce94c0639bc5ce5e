package trace

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// This file is the ptrace layer: attaching, following forks, breakpoints,
// and the wait loop. Every function here runs on the tracer goroutine,
// which is locked to its OS thread for the whole trace: Linux makes the
// thread that attached the tracer, and only that thread may issue ptrace
// requests for the tracee (ptrace(2), "Attaching and detaching"). Only
// interrupt may be called from another goroutine.

// bpKind says what a breakpoint catches.
type bpKind int

const (
	// bpExec traps before the instruction at the address runs.
	bpExec bpKind = iota
	// bpWrite8 traps after an instruction wrote to the 8 bytes at the
	// (8-aligned) address. Only a debug register can do that.
	bpWrite8
)

// breakpoint is one breakpoint set in one process.
type breakpoint struct {
	name string
	addr uint64
	kind bpKind
	// slot is the debug register that holds it, or -1 for an int3.
	slot int
	// orig holds the bytes an int3 replaced.
	orig []byte
}

func (b *breakpoint) String() string {
	if b.slot >= 0 {
		what := "hardware breakpoint"
		if b.kind == bpWrite8 {
			what = "hardware write watchpoint"
		}
		return fmt.Sprintf("%s DR%d at %#x (%s)", what, b.slot, b.addr, b.name)
	}
	return fmt.Sprintf("int3 at %#x (%s)", b.addr, b.name)
}

// procRole says what a traced process is to the driver.
type procRole int

const (
	rolePostmaster procRole = iota
	roleBackend
	roleOther
)

func (r procRole) String() string {
	switch r {
	case rolePostmaster:
		return "postmaster"
	case roleBackend:
		return "backend"
	}
	return "child"
}

// proc is one traced process.
type proc struct {
	pid  int
	role procRole
	// stopped is set while the process sits in a ptrace-stop.
	stopped bool
	// hold keeps a stopped process stopped when the others resume.
	hold bool
	// exited is set once the process is gone.
	exited bool
	// sig is a signal the process received while traced; it is delivered
	// when the process resumes.
	sig syscall.Signal
	bps []*breakpoint
	// slots are the debug registers in use, and dr7 their control word.
	slots [numHWSlots]*breakpoint
	dr7   uint64
	// usedHW is set once a debug register of the process was set.
	usedHW bool
}

// hit is what waitHit returns: a process stopped at one of its
// breakpoints, or the followed backend having ended.
type hit struct {
	p    *proc
	bp   *breakpoint
	regs regs
	// exitStatus is set instead of bp when the backend ended.
	exitStatus string
	// forked is set instead of bp when p is the connection's backend,
	// just forked and stopped at its first instruction.
	forked bool
}

// errInterrupted is returned by the wait loop after interrupt.
var errInterrupted = errors.New("trace interrupted")

// tracer holds the traced processes.
type tracer struct {
	procs map[int]*proc
	// newborn records children whose first stop arrived before their
	// parent reported the fork.
	newborn map[int]bool
	// hw is set when execution breakpoints go into debug registers and
	// registration is caught by a write watchpoint; otherwise every
	// breakpoint is an int3 (see probe_linux.go for how it is chosen).
	hw bool
	// deadDR7 clears the enable bits of every DR7 write, so that the debug
	// registers take every write and never trap: it reproduces, on any
	// machine, the virtual machines whose debug registers do exactly that.
	// Tests set it, and PGWALK_TEST_DEAD_DEBUG_REGISTERS=1 does for pgwalk.
	deadDR7 bool
	// mods are the mapped files the driver knows, for checking memory
	// against the file before a breakpoint is set.
	mods []*module
	// expectFork, when set, marks the next fork of that process as the
	// connection's backend; target is that backend once forked.
	expectFork *proc
	target     *proc
	// others counts the children the driver detached right after their
	// fork (autovacuum workers, background workers); restored counts the
	// inherited int3 bytes removed from them. Both are read by tests.
	others   atomic.Int64
	restored atomic.Int64

	mu          sync.Mutex
	running     map[int]bool
	interrupted atomic.Bool
}

func newTracer() *tracer {
	return &tracer{procs: map[int]*proc{}, newborn: map[int]bool{}, running: map[int]bool{}}
}

// ptraceOptions follow forks, vforks and clones, and make the kernel kill
// every tracee if the tracing thread dies (PTRACE_O_EXITKILL), so that a
// crashed pgwalk never leaves a postmaster full of int3 bytes behind.
const ptraceOptions = unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_EXITKILL

func ptraceRaw(req int, pid int, addr, data uintptr) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// attach seizes pid and stops it. PTRACE_SEIZE, unlike PTRACE_ATTACH,
// sends no SIGSTOP; PTRACE_INTERRUPT then brings the process into a
// ptrace-stop reported as PTRACE_EVENT_STOP.
func (t *tracer) attach(pid int) (*proc, error) {
	if err := ptraceRaw(unix.PTRACE_SEIZE, pid, 0, ptraceOptions); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
			return nil, &UnsupportedError{Reason: "ptrace is not permitted here (PTRACE_SEIZE refused; a container may need CAP_SYS_PTRACE, or kernel.yama.ptrace_scope is 3)", Err: err}
		}
		return nil, fmt.Errorf("PTRACE_SEIZE %d: %w", pid, err)
	}
	p := &proc{pid: pid, role: rolePostmaster}
	t.procs[pid] = p
	t.setRunning(p, true)
	if err := t.stop(p); err != nil {
		return nil, err
	}
	return p, nil
}

func (t *tracer) setRunning(p *proc, running bool) {
	t.mu.Lock()
	if running {
		t.running[p.pid] = true
	} else {
		delete(t.running, p.pid)
	}
	t.mu.Unlock()
	p.stopped = !running
}

// interrupt makes the wait loop return errInterrupted soon. It may be
// called from any goroutine: it sends every running tracee SIGCONT, which
// reaches the tracer as a signal-delivery-stop (every signal but SIGKILL
// does, ptrace(2)) and wakes its wait4. SIGCONT, unlike the SIGSTOP
// debuggers often use, does no harm if it is still pending when the
// process is detached, and PostgreSQL never blocks it.
func (t *tracer) interrupt() {
	t.interrupted.Store(true)
	t.kick()
}

// moduleAt returns the known module that holds addr.
func (t *tracer) moduleAt(addr uint64) *module {
	for _, m := range t.mods {
		if m.contains(addr) {
			return m
		}
	}
	return nil
}

// verify compares the process's memory at addr with the file it was
// loaded from, so that no breakpoint lands on a wrong address or on
// another debugger's int3.
func (t *tracer) verify(p *proc, addr uint64, n int) error {
	m := t.moduleAt(addr)
	if m == nil {
		return fmt.Errorf("%#x lies in no file the driver knows", addr)
	}
	want, err := m.fileBytes(addr, n)
	if err != nil {
		return err
	}
	got := make([]byte, n)
	if err := readMem(p.pid, addr, got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("memory at %#x in pid %d is % x, %s has % x: refusing to set a breakpoint there", addr, p.pid, got, m.path, want)
	}
	return nil
}

// arm sets a breakpoint in the stopped process p: in a free debug register
// when the driver uses them, else (execution breakpoints only) as an int3.
func (t *tracer) arm(p *proc, name string, addr uint64, kind bpKind) (*breakpoint, error) {
	return t.armIn(p, name, addr, kind, t.hw)
}

// armSoft sets an execution breakpoint as an int3 whatever the mode: for
// the points that must trap on every machine.
func (t *tracer) armSoft(p *proc, name string, addr uint64) (*breakpoint, error) {
	return t.armIn(p, name, addr, bpExec, false)
}

// armIn sets a breakpoint in the stopped process p, in a debug register
// when hw is set and one is free, else as an int3.
func (t *tracer) armIn(p *proc, name string, addr uint64, kind bpKind, hw bool) (*breakpoint, error) {
	if err := t.stop(p); err != nil {
		return nil, err
	}
	if p.exited {
		return nil, &TraceeExitedError{PID: p.pid, Role: p.role.String(), Status: "gone"}
	}
	if kind == bpExec {
		if err := t.verify(p, addr, len(breakpointInsn)); err != nil {
			return nil, fmt.Errorf("breakpoint on %s: %w", name, err)
		}
	}
	b := &breakpoint{name: name, addr: addr, kind: kind, slot: -1}
	if hw {
		for i := range p.slots {
			if p.slots[i] != nil {
				continue
			}
			p.usedHW = true
			if err := setDebugAddr(p.pid, i, addr); err != nil {
				return nil, fmt.Errorf("set DR%d for %s: %w", i, name, err)
			}
			dr7 := p.dr7 | dr7Bits(i, kind)
			if err := t.setDR7(p.pid, dr7); err != nil {
				return nil, fmt.Errorf("enable DR%d for %s: %w", i, name, err)
			}
			p.dr7 = dr7
			b.slot = i
			p.slots[i] = b
			p.bps = append(p.bps, b)
			return b, nil
		}
	}
	if kind != bpExec {
		return nil, fmt.Errorf("watchpoint on %s: no free debug register", name)
	}
	b.orig = make([]byte, len(breakpointInsn))
	if err := readMem(p.pid, addr, b.orig); err != nil {
		return nil, err
	}
	if err := writeMem(p.pid, addr, breakpointInsn); err != nil {
		return nil, err
	}
	p.bps = append(p.bps, b)
	return b, nil
}

// disarm removes b from p. Removing a breakpoint that is not set does
// nothing.
func (t *tracer) disarm(p *proc, b *breakpoint) error {
	if b == nil {
		return nil
	}
	idx := -1
	for i, x := range p.bps {
		if x == b {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	p.bps = append(p.bps[:idx], p.bps[idx+1:]...)
	// Memory and debug registers can be written only while the tracee is
	// stopped (ptrace(2): ESRCH otherwise); a wait that gave up may have
	// left it running.
	if err := t.stop(p); err != nil {
		return err
	}
	if p.exited {
		return nil
	}
	if b.slot >= 0 {
		p.slots[b.slot] = nil
		p.dr7 &^= dr7SlotMask(b.slot)
		if err := t.setDR7(p.pid, p.dr7); err != nil {
			return fmt.Errorf("disable DR%d in pid %d: %w", b.slot, p.pid, err)
		}
		return nil
	}
	return writeMem(p.pid, b.addr, b.orig)
}

// disarmAll removes every breakpoint of p and clears its debug registers.
func (t *tracer) disarmAll(p *proc) error {
	first := t.stop(p)
	for len(p.bps) > 0 {
		// disarm forgets the breakpoint even when restoring it fails.
		if err := t.disarm(p, p.bps[len(p.bps)-1]); err != nil && first == nil {
			first = err
		}
	}
	if p.usedHW && !p.exited {
		if err := t.setDR7(p.pid, 0); err != nil && first == nil {
			first = err
		}
		for i := range p.slots {
			p.slots[i] = nil
			_ = setDebugAddr(p.pid, i, 0)
		}
		p.dr7 = 0
	}
	return first
}

// execAt returns p's armed execution breakpoint at addr.
func (p *proc) execAt(addr uint64) *breakpoint {
	for _, b := range p.bps {
		if b.kind == bpExec && b.addr == addr {
			return b
		}
	}
	return nil
}

// resume lets a stopped process run, first stepping over a breakpoint it
// is stopped at, and delivering the signal it was stopped with.
func (t *tracer) resume(p *proc) error {
	if !p.stopped || p.exited {
		return nil
	}
	r, err := getRegs(p.pid)
	if err != nil {
		return fmt.Errorf("registers of pid %d: %w", p.pid, err)
	}
	if b := p.execAt(r.pc()); b != nil {
		if err := t.stepOver(p, b); err != nil {
			return err
		}
		if p.exited {
			return nil
		}
	}
	sig := p.sig
	p.sig = 0
	t.setRunning(p, true)
	if err := unix.PtraceCont(p.pid, int(sig)); err != nil {
		t.setRunning(p, false)
		return fmt.Errorf("PTRACE_CONT %d: %w", p.pid, err)
	}
	return nil
}

// stepOver executes the one instruction under b with b lifted, then sets
// b again.
func (t *tracer) stepOver(p *proc, b *breakpoint) error {
	if err := t.lift(p, b, true); err != nil {
		return err
	}
	for {
		if err := unix.PtraceSingleStep(p.pid); err != nil {
			return fmt.Errorf("PTRACE_SINGLESTEP %d: %w", p.pid, err)
		}
		ws, err := waitPid(p.pid)
		if err != nil {
			return err
		}
		if ws.Exited() || ws.Signaled() {
			p.exited = true
			return nil
		}
		sig := ws.StopSignal()
		if sig == unix.SIGTRAP && ws>>16 == 0 {
			if _, err := takeDR6(p.pid); err != nil && p.usedHW {
				return err
			}
			break
		}
		// Another signal arrived first: keep it for later and step again.
		if sig != unix.SIGSTOP && sig != unix.SIGCONT && sig != unix.SIGTRAP && p.sig == 0 {
			p.sig = sig
		}
	}
	return t.lift(p, b, false)
}

// lift takes b out of p (off) or puts it back (!off) without forgetting it.
func (t *tracer) lift(p *proc, b *breakpoint, off bool) error {
	if b.slot >= 0 {
		dr7 := p.dr7
		if off {
			dr7 &^= dr7SlotMask(b.slot)
		}
		return t.setDR7(p.pid, dr7)
	}
	if off {
		return writeMem(p.pid, b.addr, b.orig)
	}
	return writeMem(p.pid, b.addr, breakpointInsn)
}

// waitPid waits for the next state change of pid only. __WALL makes
// wait4 report every kind of child, including clone children.
func waitPid(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("wait4 %d: %w", pid, err)
		}
		return ws, nil
	}
}

// describeExit says how a process ended.
func describeExit(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// waitHit resumes every stopped process that is not held and returns the
// first breakpoint hit. Along the way it follows forks (detaching every
// child that is not the connection's backend), passes signals on, and
// suppresses the SIGCONTs and SIGSTOPs that interrupt and the watchdog
// send. Past lim's deadline it returns errDeadline, once lim.wake is
// closed errWoken; the processes may then still run.
func (t *tracer) waitHit(lim limits) (hit, error) {
	wd, stop := t.watch(lim)
	defer stop()
	for {
		for _, p := range t.procs {
			if p.stopped && !p.hold {
				if err := t.resume(p); err != nil {
					return hit{}, err
				}
			}
		}
		// The flags are read after the processes were resumed: a watchdog
		// that sets one later also finds them running, and wakes wait4.
		if t.interrupted.Load() {
			return hit{}, errInterrupted
		}
		if wd.expired.Load() {
			return hit{}, errDeadline
		}
		if wd.woken.Load() {
			return hit{}, errWoken
		}
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return hit{}, fmt.Errorf("wait4: %w", err)
		}
		p := t.procs[pid]
		if p == nil {
			if ws.Stopped() {
				// A child whose parent has not reported the fork yet.
				t.newborn[pid] = true
			}
			continue
		}
		t.setRunning(p, false)
		if ws.Exited() || ws.Signaled() {
			p.exited = true
			delete(t.procs, pid)
			switch p.role {
			case rolePostmaster:
				return hit{}, &TraceeExitedError{PID: pid, Role: "postmaster", Status: describeExit(ws)}
			case roleBackend:
				return hit{p: p, exitStatus: describeExit(ws)}, nil
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig := ws.StopSignal()
		event := int(ws >> 16)
		switch {
		case sig == unix.SIGTRAP && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
			msg, err := unix.PtraceGetEventMsg(pid)
			if err != nil {
				return hit{}, fmt.Errorf("PTRACE_GETEVENTMSG %d: %w", pid, err)
			}
			before := t.target
			if err := t.onFork(p, int(msg), event); err != nil {
				return hit{}, err
			}
			if t.target != nil && t.target != before {
				return hit{p: t.target, forked: true}, nil
			}
		case event == unix.PTRACE_EVENT_STOP:
			// A group-stop or the stop PTRACE_INTERRUPT asked for: the
			// process is simply resumed (or kept for the interrupt).
		case sig == unix.SIGTRAP:
			h, ok, err := t.identify(p)
			if err != nil {
				return hit{}, err
			}
			if ok {
				return h, nil
			}
			// A trap the driver did not set (a step left over): drop it,
			// as delivering SIGTRAP would kill the process.
		case sig == unix.SIGCONT || sig == unix.SIGSTOP:
			// SIGCONT is interrupt's wake-up call; a SIGSTOP would stop the
			// server for good once detached. Neither is delivered.
		default:
			p.sig = sig
		}
	}
}

// identify finds which breakpoint of p trapped.
func (t *tracer) identify(p *proc) (hit, bool, error) {
	r, err := getRegs(p.pid)
	if err != nil {
		return hit{}, false, err
	}
	if p.usedHW {
		status, err := takeDR6(p.pid)
		if err != nil {
			return hit{}, false, err
		}
		for i := range p.slots {
			if status&(1<<i) != 0 && p.slots[i] != nil {
				return hit{p: p, bp: p.slots[i], regs: r}, true, nil
			}
		}
	}
	if b := p.execAt(softwareBreakpointAddr(r.pc())); b != nil && b.slot < 0 {
		// Back up over the int3 so that the process stands at the
		// breakpoint address, as with a debug register.
		r.setPC(b.addr)
		if err := setRegs(p.pid, r); err != nil {
			return hit{}, false, err
		}
		return hit{p: p, bp: b, regs: r}, true, nil
	}
	return hit{}, false, nil
}

// onFork handles a fork (or vfork, or clone) reported by parent. The child
// starts stopped. The connection's backend is kept, held; any other child
// gets the int3 bytes it inherited removed and is detached at once.
func (t *tracer) onFork(parent *proc, pid int, event int) error {
	c := &proc{pid: pid, role: roleOther}
	if !t.newborn[pid] {
		ws, err := waitPid(pid)
		if err != nil {
			return err
		}
		if ws.Exited() || ws.Signaled() {
			return nil
		}
	}
	delete(t.newborn, pid)
	c.stopped = true
	// A fork copies the parent's memory, int3 bytes included, but not its
	// debug registers (copy_thread clears the ptrace breakpoints). A
	// vfork or clone child shares the parent's memory: nothing to remove
	// there, and removing would remove the parent's.
	if event == unix.PTRACE_EVENT_FORK {
		for _, b := range parent.bps {
			if b.slot < 0 {
				if err := writeMem(pid, b.addr, b.orig); err != nil {
					return fmt.Errorf("restore inherited int3 at %#x in pid %d: %w", b.addr, pid, err)
				}
				if parent != t.expectFork {
					t.restored.Add(1)
				}
			}
		}
	}
	if event == unix.PTRACE_EVENT_FORK && parent == t.expectFork {
		c.role = roleBackend
		c.hold = true
		t.procs[pid] = c
		t.target = c
		t.expectFork = nil
		return nil
	}
	t.others.Add(1)
	if err := ptraceRaw(unix.PTRACE_DETACH, pid, 0, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("detach pid %d: %w", pid, err)
	}
	return nil
}

// stop brings the running process p into a ptrace-stop.
func (t *tracer) stop(p *proc) error {
	if p.stopped || p.exited {
		return nil
	}
	if err := unix.PtraceInterrupt(p.pid); err != nil {
		if errors.Is(err, unix.ESRCH) {
			p.exited = true
			return nil
		}
		return fmt.Errorf("PTRACE_INTERRUPT %d: %w", p.pid, err)
	}
	for {
		ws, err := waitPid(p.pid)
		if err != nil {
			return err
		}
		if ws.Exited() || ws.Signaled() {
			p.exited = true
			t.setRunning(p, false)
			delete(t.procs, p.pid)
			return nil
		}
		if !ws.Stopped() {
			continue
		}
		t.setRunning(p, false)
		sig := ws.StopSignal()
		event := int(ws >> 16)
		switch {
		case sig == unix.SIGTRAP && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
			msg, err := unix.PtraceGetEventMsg(p.pid)
			if err != nil {
				return err
			}
			if err := t.onFork(p, int(msg), event); err != nil {
				return err
			}
			// The fork-event stop is a ptrace-stop too, but the pending
			// interrupt would surface later: wait for it now.
			if err := t.contQuiet(p); err != nil {
				return err
			}
		case event == unix.PTRACE_EVENT_STOP:
			return nil
		case sig == unix.SIGTRAP:
			if _, _, err := t.identify(p); err != nil {
				return err
			}
			return nil
		case sig == unix.SIGCONT || sig == unix.SIGSTOP:
			if err := t.contQuiet(p); err != nil {
				return err
			}
		default:
			if p.sig == 0 {
				p.sig = sig
			}
			if err := t.contQuiet(p); err != nil {
				return err
			}
		}
	}
}

// contQuiet restarts p without a signal, while stop waits for the
// interrupt's stop.
func (t *tracer) contQuiet(p *proc) error {
	t.setRunning(p, true)
	return unix.PtraceCont(p.pid, 0)
}

// detach removes every breakpoint from p and lets it go, delivering the
// signal it was stopped with.
func (t *tracer) detach(p *proc) error {
	if p.exited {
		delete(t.procs, p.pid)
		return nil
	}
	if err := t.stop(p); err != nil {
		return err
	}
	if p.exited {
		return nil
	}
	err := t.disarmAll(p)
	sig := p.sig
	p.sig = 0
	if derr := ptraceRaw(unix.PTRACE_DETACH, p.pid, 0, uintptr(sig)); derr != nil && !errors.Is(derr, unix.ESRCH) && err == nil {
		err = fmt.Errorf("detach pid %d: %w", p.pid, derr)
	}
	t.setRunning(p, false)
	delete(t.procs, p.pid)
	return err
}

// detachAll detaches every traced process, children first.
func (t *tracer) detachAll() error {
	var first error
	// A child whose fork was never reported still carries the int3 bytes
	// of the postmaster: take them out before letting it go.
	for pid := range t.newborn {
		for _, p := range t.procs {
			if p.role != rolePostmaster {
				continue
			}
			for _, b := range p.bps {
				if b.slot < 0 {
					_ = writeMem(pid, b.addr, b.orig)
				}
			}
		}
		_ = ptraceRaw(unix.PTRACE_DETACH, pid, 0, 0)
		delete(t.newborn, pid)
	}
	for _, role := range []procRole{roleOther, roleBackend, rolePostmaster} {
		for _, p := range t.procs {
			if p.role != role {
				continue
			}
			if err := t.detach(p); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// singleStep executes one instruction of the stopped process p.
func (t *tracer) singleStep(p *proc) error {
	for {
		if err := unix.PtraceSingleStep(p.pid); err != nil {
			return fmt.Errorf("PTRACE_SINGLESTEP %d: %w", p.pid, err)
		}
		ws, err := waitPid(p.pid)
		if err != nil {
			return err
		}
		if ws.Exited() || ws.Signaled() {
			p.exited = true
			delete(t.procs, p.pid)
			return &TraceeExitedError{PID: p.pid, Role: p.role.String(), Status: describeExit(ws)}
		}
		sig := ws.StopSignal()
		event := int(ws >> 16)
		switch {
		case sig == unix.SIGTRAP && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
			msg, err := unix.PtraceGetEventMsg(p.pid)
			if err != nil {
				return err
			}
			return t.onFork(p, int(msg), event)
		case sig == unix.SIGTRAP:
			if p.usedHW {
				_, _ = takeDR6(p.pid)
			}
			return nil
		case event == unix.PTRACE_EVENT_STOP, sig == unix.SIGCONT, sig == unix.SIGSTOP:
		default:
			if p.sig == 0 {
				p.sig = sig
			}
		}
	}
}
