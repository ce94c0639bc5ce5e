package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough/live/elfsym"
)

// shell starts a shell that forks /bin/true for ever, and returns it with
// the modules it maps (its program and the C library) once the loader
// mapped the library.
func shell(t *testing.T) (*exec.Cmd, elfsym.Set, *elfsym.Module) {
	t.Helper()
	if err := ArchSupported(); err != nil {
		t.Skip(err)
	}
	// A subshell is a fork (a simple command may be a vfork in dash).
	cmd := exec.Command("/bin/sh", "-c", "while :; do (/bin/true); done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	deadline := time.Now().Add(time.Minute)
	for {
		maps, err := elfsym.ReadMaps(pid)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := elfsym.LibcPath(maps); ok {
			exe, err := elfsym.Load(fmt.Sprintf("/proc/%d/exe", pid), mustReadlink(t, fmt.Sprintf("/proc/%d/exe", pid)), maps, false)
			if err != nil {
				t.Fatal(err)
			}
			libc, err := elfsym.Load(p, p, maps, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { exe.Close(); libc.Close() })
			return cmd, elfsym.Set{exe, libc}, libc
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell (pid %d) did not map the C library within a minute", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tracerOf reads /proc/PID/status for the pid of pid's tracer (0: none).
func tracerOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "TracerPid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestTracer attaches to a shell, breaks where it calls fork, follows the
// fork, and checks what each side saw; then the bounds: a deadline, an
// interrupt from another goroutine, and Close, which leaves the shell
// running untraced.
func TestTracer(t *testing.T) {
	cmd, mods, libc := shell(t)
	pid := cmd.Process.Pid
	tr := New(Options{FileBytes: mods.FileBytes})
	defer tr.Close()
	p, err := tr.Attach(pid, "shell")
	if err != nil {
		var pe *PermissionError
		if errors.As(err, &pe) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	// The tracer is the tracer's thread, a thread of this process.
	if got := tracerOf(t, pid); got == "0" {
		t.Error("the shell has no tracer")
	} else if _, err := os.Stat("/proc/self/task/" + got); err != nil {
		t.Errorf("the shell's tracer %s is not a thread of this process: %v", got, err)
	}
	forkAt, _, ok := libc.Lookup("fork")
	if !ok {
		t.Skip("the C library exports no fork")
	}
	if _, err := tr.ArmSoft(p, "not code", 1); err == nil {
		t.Error("a breakpoint on an address no file holds was set")
	}
	entry, err := tr.ArmSoft(p, "fork", forkAt)
	if err != nil {
		t.Fatal(err)
	}
	limits := func() Limits { return Limits{Deadline: time.Now().Add(time.Minute)} }
	h, err := tr.Wait(limits())
	if err != nil {
		t.Fatal(err)
	}
	if h.Proc != p || h.BP != entry || h.Regs.PC() != forkAt || entry.Register() != -1 || !strings.HasPrefix(entry.String(), "int3 at ") {
		t.Fatalf("first hit %+v, want the shell at fork (%#x) by an int3", h, forkAt)
	}
	if err := tr.Disarm(p, entry); err != nil {
		t.Fatal(err)
	}
	tr.FollowNextFork(p, "child")
	ret, retAddr, err := tr.ArmReturn(p, "fork", h.Regs)
	if err != nil {
		t.Fatal(err)
	}
	h, err = tr.Wait(limits())
	if err != nil {
		t.Fatal(err)
	}
	if !h.Forked || h.Proc.Name != "child" || h.Proc == p {
		t.Fatalf("second hit %+v, want the followed child", h)
	}
	child := h.Proc
	// The child inherited the int3 at fork's return: it was taken out.
	got := make([]byte, 1)
	if err := tr.ReadMem(child, retAddr, got); err != nil {
		t.Fatal(err)
	}
	if want, _ := mods.FileBytes(retAddr, 1); !bytes.Equal(got, want) {
		t.Errorf("the child holds % x at fork's return, the file % x: the inherited int3 is still there", got, want)
	}
	h, err = tr.Wait(limits())
	if err != nil {
		t.Fatal(err)
	}
	if h.Proc != p || h.BP != ret || int(int32(h.Regs.Ret())) != child.PID {
		t.Fatalf("third hit %+v (returned %d), want fork returning the child's pid %d in the shell", h, int32(h.Regs.Ret()), child.PID)
	}
	if err := tr.DisarmEach(p, ret); err != nil {
		t.Fatal(err)
	}
	if err := tr.Detach(child); err != nil {
		t.Fatal(err)
	}
	// Nothing armed: the shell forks on, its children are let go, and the
	// wait ends at its deadline.
	start := time.Now()
	if _, err := tr.Wait(Limits{Deadline: start.Add(300 * time.Millisecond)}); !errors.Is(err, ErrDeadline) {
		t.Errorf("Wait with nothing armed = %v, want ErrDeadline", err)
	}
	if tr.Others() == 0 {
		t.Error("the shell forked while traced, and no child was detached")
	}
	wake := make(chan struct{})
	close(wake)
	if _, err := tr.Wait(Limits{Wake: wake}); !errors.Is(err, ErrWoken) {
		t.Errorf("Wait with a closed wake channel = %v, want ErrWoken", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		tr.Interrupt()
	}()
	if _, err := tr.Wait(Limits{}); !errors.Is(err, ErrInterrupted) {
		t.Errorf("interrupted Wait = %v, want ErrInterrupted", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := tr.Wait(Limits{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close = %v, want ErrClosed", err)
	}
	if got := tracerOf(t, pid); got != "0" {
		t.Errorf("after Close the shell's tracer is %s, want none", got)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the shell did not survive the trace: %v", err)
	}
}

// TestTracerHardware sets a debug register where the shell calls fork.
// Whether it traps depends on the machine (some virtual machines take the
// write and never trap): the test checks what it can either way.
func TestTracerHardware(t *testing.T) {
	cmd, mods, libc := shell(t)
	tr := New(Options{FileBytes: mods.FileBytes})
	defer tr.Close()
	p, err := tr.Attach(cmd.Process.Pid, "shell")
	if err != nil {
		t.Skip(err)
	}
	forkAt, _, ok := libc.Lookup("fork")
	if !ok {
		t.Skip("the C library exports no fork")
	}
	b, err := tr.ArmHardware(p, "fork", forkAt, Exec)
	if err != nil {
		t.Skipf("the debug registers refused a write here: %v", err)
	}
	if b.Register() < 0 || !strings.HasPrefix(b.String(), "hardware breakpoint DR") {
		t.Fatalf("ArmHardware set %s", b)
	}
	h, err := tr.Wait(Limits{Deadline: time.Now().Add(5 * time.Second)})
	if errors.Is(err, ErrDeadline) {
		t.Skip("the debug registers took the write but did not trap within 5s on this machine")
	}
	if err != nil {
		t.Fatal(err)
	}
	if h.BP != b || h.Regs.PC() != forkAt {
		t.Errorf("hit %+v, want the debug register at fork (%#x)", h, forkAt)
	}
	// Resuming steps over it with the register lifted: a second trap
	// comes at the next fork, not at the same instruction.
	h2, err := tr.Wait(Limits{Deadline: time.Now().Add(time.Minute)})
	if err != nil || h2.BP != b {
		t.Errorf("next hit %+v, %v; want the same register at the next fork", h2, err)
	}
	if err := tr.DisarmAll(p); err != nil {
		t.Error(err)
	}
}

// TestTracerTraceeExits: a process the caller attached that ends makes
// Wait fail with a TraceeExitedError that names it and says how it ended.
func TestTracerTraceeExits(t *testing.T) {
	cmd, mods, _ := shell(t)
	tr := New(Options{FileBytes: mods.FileBytes})
	defer tr.Close()
	if _, err := tr.Attach(cmd.Process.Pid, "shell"); err != nil {
		t.Skip(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := tr.Wait(Limits{Deadline: time.Now().Add(time.Minute)})
	var ex *TraceeExitedError
	if !errors.As(err, &ex) || ex.PID != cmd.Process.Pid || ex.Role != "shell" || ex.Status != "killed by SIGKILL" {
		t.Errorf("Wait = %v, want the shell killed by SIGKILL", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("Close after the tracee ended: %v", err)
	}
}
