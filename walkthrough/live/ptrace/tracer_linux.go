package ptrace

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Tracer holds the traced processes. Create it with New and end it with
// Close. Its methods may be called from any one goroutine at a time (the
// caller's); they run on the tracer's own locked thread. Interrupt and
// the counters may be called from any goroutine.
type Tracer struct {
	// funcs is the function queue of the locked thread; quit ends it
	// (true: the thread may be unlocked, every tracee was detached).
	funcs chan func()
	quit  chan bool
	ended chan struct{}

	procs map[int]*Proc
	// newborn records children whose first stop arrived before their
	// parent reported the fork.
	newborn map[int]bool
	// hw is set when Arm uses the debug registers (see SetHardware).
	hw bool
	// deadDR7 clears the enable bits of every DR7 write (see Options).
	deadDR7 bool
	// fileBytes returns the bytes the file mapped at addr holds there.
	fileBytes func(addr uint64, n int) ([]byte, error)
	// expectFork, when set, marks the next fork of that process as one to
	// follow, named expectName; target is the last child followed.
	expectFork *Proc
	expectName string
	target     *Proc
	// others counts the children detached right after their fork;
	// restored counts the inherited int3 bytes removed from them.
	others   atomic.Int64
	restored atomic.Int64

	mu          sync.Mutex
	running     map[int]bool
	interrupted atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// Options configure a Tracer.
type Options struct {
	// FileBytes returns the n bytes that the file mapped at the run-time
	// address addr holds there. Arm compares them with the process's
	// memory before it sets an execution breakpoint, so that no
	// breakpoint lands on a wrong address or on another debugger's int3.
	FileBytes func(addr uint64, n int) ([]byte, error)
	// DeadDR7 clears the enable bits of every DR7 write, so that the
	// debug registers take every write and never trap: it reproduces, on
	// any machine, the virtual machines whose debug registers do exactly
	// that (tests).
	DeadDR7 bool
}

// Proc is one traced process.
type Proc struct {
	// PID is the process's pid, and Name what the caller calls it
	// ("postmaster"), for errors.
	PID  int
	Name string
	role role
	// stopped is set while the process sits in a ptrace-stop.
	stopped bool
	// hold keeps a stopped process stopped when the others resume.
	hold bool
	// exited is set once the process is gone, and how says how it ended
	// when a step saw it.
	exited bool
	how    string
	// sig is a signal the process received while traced; it is delivered
	// when the process resumes.
	sig syscall.Signal
	bps []*Breakpoint
	// slots are the debug registers in use, and dr7 their control word.
	slots [numHWSlots]*Breakpoint
	dr7   uint64
	// usedHW is set once a debug register of the process was set.
	usedHW bool
}

// role says how a process came to be traced.
type role int

const (
	// roleOther is a child detached right after its fork.
	roleOther role = iota
	// roleFollowed is a child the caller asked to follow (FollowNextFork).
	roleFollowed
	// roleRoot is a process the caller attached.
	roleRoot
)

// Exited reports whether p is gone.
func (p *Proc) Exited() bool { return p.exited }

// Hold keeps p stopped (true) when Wait resumes the others, or lets it
// run again (false).
func (p *Proc) Hold(on bool) { p.hold = on }

// ptraceOptions follow forks, vforks and clones, and make the kernel kill
// every tracee if the tracing thread dies (PTRACE_O_EXITKILL).
const ptraceOptions = unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_EXITKILL

// New returns a tracer whose locked thread is running, with no tracee.
func New(opts Options) *Tracer {
	t := &Tracer{
		funcs: make(chan func()), quit: make(chan bool), ended: make(chan struct{}),
		procs: map[int]*Proc{}, newborn: map[int]bool{}, running: map[int]bool{},
		deadDR7: opts.DeadDR7, fileBytes: opts.FileBytes,
	}
	go t.loop()
	return t
}

// loop is the tracer's thread. It stays locked to its OS thread until
// Close detached every tracee: if it ended locked, Go would end the
// thread, and PTRACE_O_EXITKILL would kill the tracees with it, which is
// the right thing when detaching failed.
func (t *Tracer) loop() {
	runtime.LockOSThread()
	defer close(t.ended)
	for {
		select {
		case fn := <-t.funcs:
			fn()
		case unlock := <-t.quit:
			if unlock {
				runtime.UnlockOSThread()
			}
			return
		}
	}
}

// ErrClosed is returned by every method of a closed Tracer.
var ErrClosed = errors.New("the tracer is closed")

// do runs fn on the tracer's thread and returns its error.
func (t *Tracer) do(fn func() error) error {
	errc := make(chan error, 1)
	select {
	case t.funcs <- func() { errc <- fn() }:
		return <-errc
	case <-t.ended:
		return ErrClosed
	}
}

// Close detaches every tracee, children first, and ends the tracer's
// thread. When detaching fails the thread ends locked, and the kernel
// kills the tracees (PTRACE_O_EXITKILL). It is safe to call twice.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() {
		err := t.do(t.detachAll)
		select {
		case t.quit <- err == nil:
		case <-t.ended:
		}
		<-t.ended
		t.closeErr = err
	})
	return t.closeErr
}

func ptraceRaw(req int, pid int, addr, data uintptr) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// PermissionError says that the kernel refused to let the tracer attach.
type PermissionError struct {
	PID int
	Err error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("PTRACE_SEIZE %d refused: %v", e.PID, e.Err)
}

// Unwrap returns the system call's error.
func (e *PermissionError) Unwrap() error { return e.Err }

// Attach seizes pid and stops it; name is what errors call it.
// PTRACE_SEIZE, unlike PTRACE_ATTACH, sends no SIGSTOP; PTRACE_INTERRUPT
// then brings the process into a ptrace-stop reported as
// PTRACE_EVENT_STOP. A refusal (EPERM: a container without
// CAP_SYS_PTRACE, kernel.yama.ptrace_scope 3) is a *PermissionError.
func (t *Tracer) Attach(pid int, name string) (*Proc, error) {
	var p *Proc
	err := t.do(func() error {
		if err := ptraceRaw(unix.PTRACE_SEIZE, pid, 0, ptraceOptions); err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
				return &PermissionError{PID: pid, Err: err}
			}
			return fmt.Errorf("PTRACE_SEIZE %d: %w", pid, err)
		}
		p = &Proc{PID: pid, Name: name, role: roleRoot}
		t.procs[pid] = p
		t.setRunning(p, true)
		return t.stop(p)
	})
	return p, err
}

func (t *Tracer) setRunning(p *Proc, running bool) {
	t.mu.Lock()
	if running {
		t.running[p.PID] = true
	} else {
		delete(t.running, p.PID)
	}
	t.mu.Unlock()
	p.stopped = !running
}

// SetHardware makes Arm use the debug registers (on) or int3 (off).
func (t *Tracer) SetHardware(on bool) { t.hw = on }

// Hardware reports whether Arm uses the debug registers.
func (t *Tracer) Hardware() bool { return t.hw }

// FollowNextFork marks the next fork of parent as the one to follow: Wait
// reports its child, named name, stopped and held, as a Hit with Forked
// set. Any other child is detached at once.
func (t *Tracer) FollowNextFork(parent *Proc, name string) {
	t.expectFork, t.expectName = parent, name
}

// StopFollowing forgets FollowNextFork and the followed child.
func (t *Tracer) StopFollowing() { t.expectFork, t.target = nil, nil }

// Others returns how many children were detached right after their fork,
// and Restored how many inherited int3 bytes were removed from them.
func (t *Tracer) Others() int64   { return t.others.Load() }
func (t *Tracer) Restored() int64 { return t.restored.Load() }

// ResetCounts sets Others and Restored back to zero.
func (t *Tracer) ResetCounts() {
	t.others.Store(0)
	t.restored.Store(0)
}

// Interrupt makes the current and every later Wait return ErrInterrupted
// soon. It may be called from any goroutine: it sends every running
// tracee SIGCONT, which reaches the tracer as a signal-delivery-stop
// (every signal but SIGKILL does, ptrace(2)) and wakes its wait4.
// SIGCONT, unlike the SIGSTOP debuggers often use, does no harm if it is
// still pending when the process is detached, and is rarely blocked.
func (t *Tracer) Interrupt() {
	t.interrupted.Store(true)
	t.kick()
}

// Interrupted reports whether Interrupt was called.
func (t *Tracer) Interrupted() bool { return t.interrupted.Load() }

// kick wakes the tracer's wait4 by sending SIGCONT to every running
// tracee. It may be called from any goroutine.
func (t *Tracer) kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for pid := range t.running {
		_ = unix.Kill(pid, unix.SIGCONT)
	}
}

// Stop brings the running process p into a ptrace-stop.
func (t *Tracer) Stop(p *Proc) error { return t.do(func() error { return t.stop(p) }) }

func (t *Tracer) stop(p *Proc) error {
	if p.stopped || p.exited {
		return nil
	}
	if err := unix.PtraceInterrupt(p.PID); err != nil {
		if errors.Is(err, unix.ESRCH) {
			p.exited = true
			return nil
		}
		return fmt.Errorf("PTRACE_INTERRUPT %d: %w", p.PID, err)
	}
	for {
		st, err := waitPidWithin(p.PID, stopWait)
		if errors.Is(err, errNoChange) {
			// PTRACE_INTERRUPT stops a running tracee; a tracee that is
			// in a ptrace-stop already (one an interrupted Wait took
			// and did not hand on) reports nothing new, and wait4
			// would block for ever. ptrace(2): "If the tracee was
			// already stopped by a signal and PTRACE_LISTEN was sent
			// to it, the tracee stops with PTRACE_EVENT_STOP"; else
			// nothing. So ask the kernel what state it is in.
			if tracingStopped(p.PID) {
				t.setRunning(p, false)
				return nil
			}
			return fmt.Errorf("ptrace: process %d did not stop within %v after PTRACE_INTERRUPT", p.PID, stopWait)
		}
		if err != nil {
			return err
		}
		if st.exited {
			p.exited = true
			t.setRunning(p, false)
			delete(t.procs, p.PID)
			return nil
		}
		if !st.stopped {
			continue
		}
		t.setRunning(p, false)
		switch {
		case st.forked():
			if err := t.onFork(p, st.event); err != nil {
				return err
			}
			// The fork-event stop is a ptrace-stop too, but the pending
			// interrupt would surface later: wait for it now.
			if err := t.contQuiet(p); err != nil {
				return err
			}
		case st.event == unix.PTRACE_EVENT_STOP:
			return nil
		case st.sig == unix.SIGTRAP:
			_, _, err := t.identify(p)
			return err
		case st.sig == unix.SIGCONT || st.sig == unix.SIGSTOP:
			if err := t.contQuiet(p); err != nil {
				return err
			}
		default:
			if p.sig == 0 {
				p.sig = st.sig
			}
			if err := t.contQuiet(p); err != nil {
				return err
			}
		}
	}
}

// contQuiet restarts p without a signal, while stop waits for the
// interrupt's stop.
func (t *Tracer) contQuiet(p *Proc) error {
	t.setRunning(p, true)
	return unix.PtraceCont(p.PID, 0)
}

// Detach removes every breakpoint from p and lets it go, delivering the
// signal it was stopped with.
func (t *Tracer) Detach(p *Proc) error { return t.do(func() error { return t.detach(p) }) }

func (t *Tracer) detach(p *Proc) error {
	if p.exited {
		delete(t.procs, p.PID)
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
	if derr := ptraceRaw(unix.PTRACE_DETACH, p.PID, 0, uintptr(sig)); derr != nil && !errors.Is(derr, unix.ESRCH) && err == nil {
		err = fmt.Errorf("detach pid %d: %w", p.PID, derr)
	}
	t.setRunning(p, false)
	delete(t.procs, p.PID)
	if t.target == p {
		t.target = nil
	}
	return err
}

// DetachAll detaches every traced process, children first.
func (t *Tracer) DetachAll() error { return t.do(t.detachAll) }

func (t *Tracer) detachAll() error {
	var first error
	// A child whose fork was never reported still carries the int3 bytes
	// of its parent: take them out before letting it go.
	for pid := range t.newborn {
		for _, p := range t.procs {
			if p.role != roleRoot {
				continue
			}
			for _, b := range p.bps {
				if b.slot < 0 {
					_ = writeMem(pid, b.Addr, b.orig)
				}
			}
		}
		_ = ptraceRaw(unix.PTRACE_DETACH, pid, 0, 0)
		delete(t.newborn, pid)
	}
	for _, r := range []role{roleOther, roleFollowed, roleRoot} {
		for _, p := range t.procs {
			if p.role != r {
				continue
			}
			if err := t.detach(p); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
