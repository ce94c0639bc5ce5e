package ptrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Kind says what a breakpoint catches.
type Kind int

const (
	// Exec traps before the instruction at the address runs.
	Exec Kind = iota
	// Write8 traps after an instruction wrote to the 8 bytes at the
	// (8-aligned) address. Only a debug register can do that.
	Write8
)

// Breakpoint is one breakpoint set in one process.
type Breakpoint struct {
	// Name says what the caller set it on ("fork_process:return").
	Name string
	Addr uint64
	Kind Kind
	// slot is the debug register that holds it, or -1 for an int3.
	slot int
	// orig holds the bytes an int3 replaced.
	orig []byte
}

// Register returns the debug register that holds b (0-3), or -1 for an
// int3.
func (b *Breakpoint) Register() int { return b.slot }

func (b *Breakpoint) String() string {
	if b.slot >= 0 {
		what := "hardware breakpoint"
		if b.Kind == Write8 {
			what = "hardware write watchpoint"
		}
		return fmt.Sprintf("%s DR%d at %#x (%s)", what, b.slot, b.Addr, b.Name)
	}
	return fmt.Sprintf("int3 at %#x (%s)", b.Addr, b.Name)
}

// Arm sets a breakpoint in p, which it stops first: in a free debug
// register when the tracer uses them (SetHardware), else (execution
// breakpoints only) as an int3.
func (t *Tracer) Arm(p *Proc, name string, addr uint64, kind Kind) (*Breakpoint, error) {
	return t.armVia(p, name, addr, kind, t.hw)
}

// ArmSoft sets an execution breakpoint as an int3 whatever the mechanism:
// for the points that must trap on every machine.
func (t *Tracer) ArmSoft(p *Proc, name string, addr uint64) (*Breakpoint, error) {
	return t.armVia(p, name, addr, Exec, false)
}

// ArmHardware sets a breakpoint in a debug register whatever the
// mechanism, for a test of whether the registers trap.
func (t *Tracer) ArmHardware(p *Proc, name string, addr uint64, kind Kind) (*Breakpoint, error) {
	return t.armVia(p, name, addr, kind, true)
}

// ArmReturn sets an execution breakpoint in p where the function that p
// is stopped at the first instruction of (regs) will return to, and
// returns it with that address. name names the function.
func (t *Tracer) ArmReturn(p *Proc, name string, regs Regs) (*Breakpoint, uint64, error) {
	ret, err := t.ReadU64(p, regs.returnAddressAt())
	if err != nil {
		return nil, 0, fmt.Errorf("read the return address of %s at sp %#x: %w", name, regs.SP(), err)
	}
	b, err := t.Arm(p, name+":return", ret, Exec)
	return b, ret, err
}

func (t *Tracer) armVia(p *Proc, name string, addr uint64, kind Kind, hw bool) (*Breakpoint, error) {
	var b *Breakpoint
	err := t.do(func() (err error) {
		b, err = t.arm(p, name, addr, kind, hw)
		return err
	})
	return b, err
}

// arm sets a breakpoint in p, in a debug register when hw is set and one
// is free, else as an int3.
func (t *Tracer) arm(p *Proc, name string, addr uint64, kind Kind, hw bool) (*Breakpoint, error) {
	if err := t.stop(p); err != nil {
		return nil, err
	}
	if p.exited {
		return nil, &TraceeExitedError{PID: p.PID, Role: p.Name, Status: "gone"}
	}
	if kind == Exec {
		if err := t.verify(p, addr, len(breakpointInsn)); err != nil {
			return nil, fmt.Errorf("breakpoint on %s: %w", name, err)
		}
	}
	b := &Breakpoint{Name: name, Addr: addr, Kind: kind, slot: -1}
	if hw {
		for i := range p.slots {
			if p.slots[i] != nil {
				continue
			}
			p.usedHW = true
			if err := setDebugAddr(p.PID, i, addr); err != nil {
				return nil, fmt.Errorf("set DR%d for %s: %w", i, name, err)
			}
			dr7 := p.dr7 | dr7Bits(i, kind)
			if err := t.setDR7(p.PID, dr7); err != nil {
				return nil, fmt.Errorf("enable DR%d for %s: %w", i, name, err)
			}
			p.dr7 = dr7
			b.slot = i
			p.slots[i] = b
			p.bps = append(p.bps, b)
			return b, nil
		}
	}
	if kind != Exec {
		return nil, fmt.Errorf("watchpoint on %s: no free debug register", name)
	}
	b.orig = make([]byte, len(breakpointInsn))
	if err := readMem(p.PID, addr, b.orig); err != nil {
		return nil, err
	}
	if err := writeMem(p.PID, addr, breakpointInsn); err != nil {
		return nil, err
	}
	p.bps = append(p.bps, b)
	return b, nil
}

// setDR7 writes p's debug control register, through deadDR7.
func (t *Tracer) setDR7(pid int, v uint64) error {
	if t.deadDR7 {
		v &^= dr7Enables
	}
	return writeDR7(pid, v)
}

// verify compares the process's memory at addr with the file it was
// loaded from.
func (t *Tracer) verify(p *Proc, addr uint64, n int) error {
	if t.fileBytes == nil {
		return nil
	}
	want, err := t.fileBytes(addr, n)
	if err != nil {
		return err
	}
	got := make([]byte, n)
	if err := readMem(p.PID, addr, got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("memory at %#x in pid %d is % x, the file has % x: refusing to set a breakpoint there", addr, p.PID, got, want)
	}
	return nil
}

// Disarm removes b from p. Removing nil or a breakpoint that is not set
// does nothing.
func (t *Tracer) Disarm(p *Proc, b *Breakpoint) error {
	if b == nil {
		return nil
	}
	return t.do(func() error { return t.disarm(p, b) })
}

// DisarmEach removes every breakpoint of bps that is set in p, and
// returns the first error.
func (t *Tracer) DisarmEach(p *Proc, bps ...*Breakpoint) error {
	return t.do(func() error {
		var first error
		for _, b := range bps {
			if err := t.disarm(p, b); err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}

func (t *Tracer) disarm(p *Proc, b *Breakpoint) error {
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
		if err := t.setDR7(p.PID, p.dr7); err != nil {
			return fmt.Errorf("disable DR%d in pid %d: %w", b.slot, p.PID, err)
		}
		return nil
	}
	return writeMem(p.PID, b.Addr, b.orig)
}

// DisarmAll removes every breakpoint of p and clears its debug registers.
func (t *Tracer) DisarmAll(p *Proc) error { return t.do(func() error { return t.disarmAll(p) }) }

func (t *Tracer) disarmAll(p *Proc) error {
	first := t.stop(p)
	for len(p.bps) > 0 {
		// disarm forgets the breakpoint even when restoring it fails.
		if err := t.disarm(p, p.bps[len(p.bps)-1]); err != nil && first == nil {
			first = err
		}
	}
	if p.usedHW && !p.exited {
		if err := t.setDR7(p.PID, 0); err != nil && first == nil {
			first = err
		}
		for i := range p.slots {
			p.slots[i] = nil
			_ = setDebugAddr(p.PID, i, 0)
		}
		p.dr7 = 0
	}
	return first
}

// execAt returns p's armed execution breakpoint at addr.
func (p *Proc) execAt(addr uint64) *Breakpoint {
	for _, b := range p.bps {
		if b.Kind == Exec && b.Addr == addr {
			return b
		}
	}
	return nil
}

// resume lets a stopped process run, first stepping over a breakpoint it
// is stopped at, and delivering the signal it was stopped with.
func (t *Tracer) resume(p *Proc) error {
	if !p.stopped || p.exited {
		return nil
	}
	r, err := getRegs(p.PID)
	if errors.Is(err, unix.ESRCH) {
		// Killed while stopped: wait4 reports its end next.
		t.setRunning(p, true)
		return nil
	}
	if err != nil {
		return fmt.Errorf("registers of pid %d: %w", p.PID, err)
	}
	if b := p.execAt(r.PC()); b != nil {
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
	if err := unix.PtraceCont(p.PID, int(sig)); err != nil && !errors.Is(err, unix.ESRCH) {
		t.setRunning(p, false)
		return fmt.Errorf("PTRACE_CONT %d: %w", p.PID, err)
	}
	return nil
}

// stepOver executes the one instruction under b with b lifted, then sets
// b again.
func (t *Tracer) stepOver(p *Proc, b *Breakpoint) error {
	if err := t.lift(p, b, true); err != nil {
		return err
	}
	if err := t.step(p); err != nil {
		if _, gone := err.(*TraceeExitedError); gone {
			return nil
		}
		return err
	}
	return t.lift(p, b, false)
}

// lift takes b out of p (off) or puts it back (!off) without forgetting it.
func (t *Tracer) lift(p *Proc, b *Breakpoint, off bool) error {
	if b.slot >= 0 {
		dr7 := p.dr7
		if off {
			dr7 &^= dr7SlotMask(b.slot)
		}
		return t.setDR7(p.PID, dr7)
	}
	if off {
		return writeMem(p.PID, b.Addr, b.orig)
	}
	return writeMem(p.PID, b.Addr, breakpointInsn)
}

// Regs returns the registers of the stopped process p.
func (t *Tracer) Regs(p *Proc) (Regs, error) {
	var r Regs
	err := t.do(func() (err error) {
		r, err = getRegs(p.PID)
		return err
	})
	return r, err
}

// Memory reads a process's memory: it fills buf from addr.
type Memory func(addr uint64, buf []byte) error

// Memory returns the reader of p's memory.
func (t *Tracer) Memory(p *Proc) Memory {
	return func(addr uint64, buf []byte) error { return t.ReadMem(p, addr, buf) }
}

// ReadMem fills buf from p's memory at addr.
func (t *Tracer) ReadMem(p *Proc, addr uint64, buf []byte) error {
	if err := readVM(p.PID, addr, buf); err == nil {
		return nil
	}
	// process_vm_readv was refused: PTRACE_PEEKDATA, on the thread.
	return t.do(func() error { return readMem(p.PID, addr, buf) })
}

// ReadU64 reads a little-endian 64-bit word of p's memory.
func (t *Tracer) ReadU64(p *Proc, addr uint64) (uint64, error) {
	var b [8]byte
	err := t.ReadMem(p, addr, b[:])
	return binary.LittleEndian.Uint64(b[:]), err
}

// ReadI32 reads a little-endian 32-bit integer of p's memory.
func (t *Tracer) ReadI32(p *Proc, addr uint64) (int32, error) {
	var b [4]byte
	err := t.ReadMem(p, addr, b[:])
	return int32(binary.LittleEndian.Uint32(b[:])), err
}
