package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Hit is what Wait returns: a process stopped at one of its breakpoints,
// the followed child just forked, or the followed child ended.
type Hit struct {
	Proc *Proc
	BP   *Breakpoint
	Regs Regs
	// Exit is set instead of BP when the followed child ended: how.
	Exit string
	// Forked is set instead of BP when Proc is the child FollowNextFork
	// asked for, just forked and stopped at its first instruction.
	Forked bool
}

// Limits bound one Wait.
type Limits struct {
	// Deadline, when set, is when Wait gives up with ErrDeadline.
	Deadline time.Time
	// Wake, when closed, makes Wait return ErrWoken: the caller waits for
	// something outside the tracees (a client finishing).
	Wake <-chan struct{}
}

var (
	// ErrDeadline is returned by Wait past its deadline; the processes
	// may still run then.
	ErrDeadline = errors.New("deadline passed")
	// ErrWoken is returned by Wait once its Wake channel is closed.
	ErrWoken = errors.New("woken")
	// ErrInterrupted is returned by Wait after Interrupt.
	ErrInterrupted = errors.New("trace interrupted")
)

// TraceeExitedError is returned when a traced process the caller attached
// ended while the tracer still needed it.
type TraceeExitedError struct {
	PID int
	// Role is the process's Name: "postmaster".
	Role string
	// Status describes how it ended: "exit status 1", "killed by SIGSEGV".
	Status string
}

func (e *TraceeExitedError) Error() string {
	return fmt.Sprintf("traced %s (pid %d) ended: %s", e.Role, e.PID, e.Status)
}

// status is one wait status, decoded once for every caller.
type status struct {
	// exited is set when the process is gone, how says how it ended.
	exited bool
	how    string
	// stopped is set for a ptrace-stop, with the stop signal and, for a
	// SIGTRAP that reports a ptrace event, the event (PTRACE_EVENT_*).
	stopped bool
	sig     unix.Signal
	event   int
}

func decode(ws unix.WaitStatus) status {
	switch {
	case ws.Exited():
		return status{exited: true, how: fmt.Sprintf("exit status %d", ws.ExitStatus())}
	case ws.Signaled():
		return status{exited: true, how: "killed by " + unix.SignalName(ws.Signal())}
	case ws.Stopped():
		st := status{stopped: true, sig: ws.StopSignal()}
		if st.sig == unix.SIGTRAP {
			st.event = int(ws >> 16)
		}
		return st
	}
	return status{}
}

// forked reports whether the stop reports a fork, vfork or clone.
func (s status) forked() bool {
	return s.event == unix.PTRACE_EVENT_FORK || s.event == unix.PTRACE_EVENT_VFORK || s.event == unix.PTRACE_EVENT_CLONE
}

// stopWait bounds the wait for the stop that PTRACE_INTERRUPT asks for:
// the kernel reports it at once for a running tracee.
const stopWait = 5 * time.Second

// errNoChange says that pid reported no state change within the time
// waitPidWithin was given.
var errNoChange = errors.New("no state change")

// waitPidWithin waits for the next state change of pid only, for at most
// d (__WALL makes wait4 report every kind of child, including clone
// children): it polls with WNOHANG and returns
// errNoChange when pid reported nothing in that time.
func waitPidWithin(pid int, d time.Duration) (status, error) {
	deadline := time.Now().Add(d)
	pause := time.Millisecond
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return status{}, fmt.Errorf("wait4 %d: %w", pid, err)
		}
		if got == pid {
			return decode(ws), nil
		}
		if time.Now().After(deadline) {
			return status{}, errNoChange
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// tracingStopped reports whether pid is in a ptrace-stop ("t" in
// /proc/PID/stat, proc(5)).
func tracingStopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name's closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 't'
}

// gone records that p ended and returns what the caller is told: a hit
// for the followed child, an error for a process the caller attached,
// nothing for another child.
func (t *Tracer) gone(p *Proc, how string) (Hit, bool, error) {
	p.exited = true
	t.setRunning(p, false)
	delete(t.procs, p.PID)
	switch p.role {
	case roleRoot:
		return Hit{}, true, &TraceeExitedError{PID: p.PID, Role: p.Name, Status: how}
	case roleFollowed:
		return Hit{Proc: p, Exit: how}, true, nil
	}
	return Hit{}, false, nil
}

// Wait resumes every stopped process that is not held and returns the
// first breakpoint hit. Along the way it follows forks (detaching every
// child but the one FollowNextFork asked for), passes signals on, and
// suppresses the SIGCONTs and SIGSTOPs that Interrupt and the watchdog
// send. Past lim's deadline it returns ErrDeadline, once lim.Wake is
// closed ErrWoken; the processes may then still run.
func (t *Tracer) Wait(lim Limits) (Hit, error) {
	var h Hit
	err := t.do(func() (err error) {
		h, err = t.wait(lim)
		return err
	})
	return h, err
}

func (t *Tracer) wait(lim Limits) (Hit, error) {
	wd, stop := t.watch(lim)
	defer stop()
	for {
		for _, p := range t.procs {
			if !p.stopped || p.hold {
				continue
			}
			if err := t.resume(p); err != nil {
				return Hit{}, err
			}
			if p.exited {
				if h, report, err := t.gone(p, p.exitHow()); report {
					return h, err
				}
			}
		}
		// The flags are read after the processes were resumed: a watchdog
		// that sets one later also finds them running, and wakes wait4.
		switch {
		case t.interrupted.Load():
			return Hit{}, ErrInterrupted
		case wd.expired.Load():
			return Hit{}, ErrDeadline
		case wd.woken.Load():
			return Hit{}, ErrWoken
		}
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Hit{}, fmt.Errorf("wait4: %w", err)
		}
		st := decode(ws)
		p := t.procs[pid]
		if p == nil {
			if st.stopped {
				// A child whose parent has not reported the fork yet.
				t.newborn[pid] = true
			}
			continue
		}
		if st.exited {
			if h, report, err := t.gone(p, st.how); report {
				return h, err
			}
			continue
		}
		if !st.stopped {
			continue
		}
		t.setRunning(p, false)
		switch {
		case st.forked():
			before := t.target
			if err := t.onFork(p, st.event); err != nil {
				return Hit{}, err
			}
			if t.target != nil && t.target != before {
				return Hit{Proc: t.target, Forked: true}, nil
			}
		case st.event == unix.PTRACE_EVENT_STOP:
			// A group-stop or the stop PTRACE_INTERRUPT asked for: the
			// process is simply resumed (or kept for the interrupt).
		case st.sig == unix.SIGTRAP:
			h, ok, err := t.identify(p)
			if err != nil {
				return Hit{}, err
			}
			if ok {
				return h, nil
			}
			// A trap the tracer did not set (a step left over): drop it,
			// as delivering SIGTRAP would kill the process.
		case st.sig == unix.SIGCONT || st.sig == unix.SIGSTOP:
			// SIGCONT is Interrupt's wake-up call; a SIGSTOP would stop
			// the process for good once detached. Neither is delivered.
		default:
			p.sig = st.sig
		}
	}
}

// exitHow is how p ended, once step saw it end.
func (p *Proc) exitHow() string {
	if p.how == "" {
		return "ended"
	}
	return p.how
}

// identify finds which breakpoint of p trapped.
func (t *Tracer) identify(p *Proc) (Hit, bool, error) {
	r, err := getRegs(p.PID)
	if err != nil {
		return Hit{}, false, err
	}
	if p.usedHW {
		status, err := takeDR6(p.PID)
		if err != nil {
			return Hit{}, false, err
		}
		for i := range p.slots {
			if status&(1<<i) != 0 && p.slots[i] != nil {
				return Hit{Proc: p, BP: p.slots[i], Regs: r}, true, nil
			}
		}
	}
	if b := p.execAt(softwareBreakpointAddr(r.PC())); b != nil && b.slot < 0 {
		// Back up over the int3 so that the process stands at the
		// breakpoint address, as with a debug register.
		r.setPC(b.Addr)
		if err := setRegs(p.PID, r); err != nil {
			return Hit{}, false, err
		}
		return Hit{Proc: p, BP: b, Regs: r}, true, nil
	}
	return Hit{}, false, nil
}

// onFork handles a fork (or vfork, or clone) that parent reported with
// event. The child starts stopped. The child FollowNextFork asked for is
// kept, held; any other gets the int3 bytes it inherited removed and is
// detached at once.
func (t *Tracer) onFork(parent *Proc, event int) error {
	msg, err := unix.PtraceGetEventMsg(parent.PID)
	if err != nil {
		return fmt.Errorf("PTRACE_GETEVENTMSG %d: %w", parent.PID, err)
	}
	pid := int(msg)
	if !t.newborn[pid] {
		// The new child's first stop is reported as soon as it exists
		// (ptrace(2), PTRACE_O_TRACEFORK): bounded all the same.
		st, err := waitPidWithin(pid, stopWait)
		if errors.Is(err, errNoChange) {
			return fmt.Errorf("ptrace: the new child %d of %d did not report its first stop within %v", pid, parent.PID, stopWait)
		}
		if err != nil {
			return err
		}
		if st.exited {
			return nil
		}
	}
	delete(t.newborn, pid)
	// A fork copies the parent's memory, int3 bytes included, but not its
	// debug registers (copy_thread clears the ptrace breakpoints). A
	// vfork or clone child shares the parent's memory: nothing to remove
	// there, and removing would remove the parent's.
	follow := event == unix.PTRACE_EVENT_FORK && parent == t.expectFork
	if event == unix.PTRACE_EVENT_FORK {
		for _, b := range parent.bps {
			if b.slot < 0 {
				if err := writeMem(pid, b.Addr, b.orig); err != nil {
					return fmt.Errorf("restore inherited int3 at %#x in pid %d: %w", b.Addr, pid, err)
				}
				if !follow {
					t.restored.Add(1)
				}
			}
		}
	}
	if follow {
		c := &Proc{PID: pid, Name: t.expectName, role: roleFollowed, stopped: true, hold: true}
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

// SingleStep executes one instruction of the stopped process p.
func (t *Tracer) SingleStep(p *Proc) error {
	return t.do(func() error {
		err := t.step(p)
		if p.exited {
			delete(t.procs, p.PID)
		}
		return err
	})
}

// StepUntil single-steps the stopped process p until done returns true,
// at most max instructions, checking done before each step. It gives up
// with ErrInterrupted after Interrupt and ErrDeadline past deadline
// (checked every 1024 steps; zero: none). done runs on the tracer's
// thread: it reads p's memory with the Memory it is given, never with
// the Tracer's methods.
func (t *Tracer) StepUntil(p *Proc, max int, deadline time.Time, done func(read Memory) bool) (bool, error) {
	read := func(addr uint64, buf []byte) error { return readMem(p.PID, addr, buf) }
	found := false
	err := t.do(func() error {
		for i := 0; i < max; i++ {
			if i%1024 == 0 {
				if t.interrupted.Load() {
					return ErrInterrupted
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					return ErrDeadline
				}
			}
			if done(read) {
				found = true
				return nil
			}
			if err := t.step(p); err != nil {
				if p.exited {
					delete(t.procs, p.PID)
				}
				return err
			}
		}
		return nil
	})
	return found, err
}

// step executes one instruction of the stopped process p. A fork the
// instruction makes is handled as Wait handles it; another signal that
// arrives first is kept for later.
func (t *Tracer) step(p *Proc) error {
	for {
		if err := unix.PtraceSingleStep(p.PID); err != nil {
			return fmt.Errorf("PTRACE_SINGLESTEP %d: %w", p.PID, err)
		}
		st, err := waitPidWithin(p.PID, stopWait)
		if errors.Is(err, errNoChange) {
			return fmt.Errorf("ptrace: process %d did not stop within %v after PTRACE_SINGLESTEP", p.PID, stopWait)
		}
		if err != nil {
			return err
		}
		if st.exited {
			p.exited, p.how = true, st.how
			t.setRunning(p, false)
			return &TraceeExitedError{PID: p.PID, Role: p.Name, Status: st.how}
		}
		switch {
		case st.forked():
			if err := t.onFork(p, st.event); err != nil {
				return err
			}
		case st.sig == unix.SIGTRAP && st.event == 0:
			if p.usedHW {
				if _, err := takeDR6(p.PID); err != nil {
					return err
				}
			}
			return nil
		case st.event == unix.PTRACE_EVENT_STOP, st.sig == unix.SIGCONT, st.sig == unix.SIGSTOP, st.sig == unix.SIGTRAP:
		default:
			if p.sig == 0 {
				p.sig = st.sig
			}
		}
	}
}

// This part bounds the waits. wait4 has no timeout, so a watchdog
// goroutine wakes it instead: it sends SIGCONT to every running tracee,
// which the kernel reports to the tracer as a signal-delivery-stop (every
// signal but SIGKILL is, ptrace(2) "Signal-delivery-stop"), and wait,
// which never delivers a SIGCONT, finds the flag the watchdog set before.

// watchdog holds what the watchdog of one Wait saw. Each Wait has its own,
// so that a watchdog that fires just as its Wait returns cannot end the
// next one.
type watchdog struct {
	expired atomic.Bool
	woken   atomic.Bool
}

// watch starts the watchdog of one Wait and returns it with the function
// that ends it. A SIGCONT it sent late reaches a later wait, which drops
// it.
func (t *Tracer) watch(lim Limits) (*watchdog, func()) {
	wd := &watchdog{}
	if lim.Deadline.IsZero() && lim.Wake == nil {
		return wd, func() {}
	}
	var timeout <-chan time.Time
	var timer *time.Timer
	if !lim.Deadline.IsZero() {
		timer = time.NewTimer(time.Until(lim.Deadline))
		timeout = timer.C
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-timeout:
			wd.expired.Store(true)
		case <-lim.Wake:
			wd.woken.Store(true)
		case <-done:
			return
		}
		t.kick()
	}()
	return wd, func() {
		close(done)
		if timer != nil {
			timer.Stop()
		}
	}
}
