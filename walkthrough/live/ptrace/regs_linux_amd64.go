package ptrace

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds everything the tracer knows about x86-64: register
// names, the calling convention, the breakpoint instruction and the debug
// registers. Another architecture provides the same functions in its own
// regs_linux_<arch>.go (and leaves regs_linux_other.go).

// ArchSupported returns nil: the tracer knows x86-64.
func ArchSupported() error { return nil }

// Regs is a snapshot of a stopped thread's general registers.
type Regs struct{ r unix.PtraceRegs }

func getRegs(pid int) (Regs, error) {
	var r Regs
	err := unix.PtraceGetRegs(pid, &r.r)
	return r, err
}

func setRegs(pid int, r Regs) error { return unix.PtraceSetRegs(pid, &r.r) }

// PC is the instruction pointer.
func (r *Regs) PC() uint64 { return r.r.Rip }

func (r *Regs) setPC(v uint64) { r.r.Rip = v }

// SP is the stack pointer.
func (r *Regs) SP() uint64 { return r.r.Rsp }

// Ret is the integer return value of a function that just returned.
func (r *Regs) Ret() uint64 { return r.r.Rax }

// Arg is the i-th integer argument (from 0) of a function at its first
// instruction, by the System V AMD64 calling convention.
func (r *Regs) Arg(i int) uint64 {
	switch i {
	case 0:
		return r.r.Rdi
	case 1:
		return r.r.Rsi
	case 2:
		return r.r.Rdx
	case 3:
		return r.r.Rcx
	case 4:
		return r.r.R8
	case 5:
		return r.r.R9
	}
	return 0
}

// returnAddressAt is where the return address of a function stopped at
// its first instruction lies: the CALL pushed it at the top of the stack.
func (r *Regs) returnAddressAt() uint64 { return r.SP() }

// breakpointInsn is INT3. After it traps, the instruction pointer is one
// byte past the breakpoint address.
var breakpointInsn = []byte{0xCC}

// softwareBreakpointAddr returns the address of the int3 that trapped when
// the thread reports pc.
func softwareBreakpointAddr(pc uint64) uint64 { return pc - uint64(len(breakpointInsn)) }

// The debug registers. ptrace reaches them through the user area: struct
// user's u_debugreg array starts at byte 848 on x86-64 (sys/user.h), and
// Linux checks every write (arch/x86/kernel/ptrace.c, ptrace_set_debugreg).
const (
	numHWSlots     = 4
	debugRegOffset = 848
	dr6            = 6
	dr7            = 7
	// dr7Enables are DR7's local and global enable bits of the four slots
	// (L0, G0 ... L3, G3: bits 0-7, Intel SDM vol. 3, 18.2.4); with them
	// clear nothing traps, though every register takes its write.
	dr7Enables = 0xFF
)

func pokeUser(pid int, off uintptr, v uint64) error {
	_, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_POKEUSR, uintptr(pid), off, uintptr(v), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func peekUser(pid int, off uintptr) (uint64, error) {
	var v uint64
	_, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_PEEKUSR, uintptr(pid), off, uintptr(unsafe.Pointer(&v)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return v, nil
}

func debugRegAddr(i int) uintptr { return uintptr(debugRegOffset + 8*i) }

// dr7Bits returns the DR7 bits that enable slot for kind: the local enable
// bit, and the condition and length fields (00/00 for execution, 01 and
// the size for a data write; Intel SDM vol. 3, 18.2.4).
func dr7Bits(slot int, kind Kind) uint64 {
	bits := uint64(1) << (2 * slot)
	if kind == Write8 {
		const rwWrite, len8 = 0x1, 0x2
		bits |= (rwWrite | len8<<2) << (16 + 4*slot)
	}
	return bits
}

// dr7SlotMask covers every DR7 bit that belongs to slot.
func dr7SlotMask(slot int) uint64 {
	return uint64(3)<<(2*slot) | uint64(0xF)<<(16+4*slot)
}

// setDebugAddr writes a slot's address register.
func setDebugAddr(pid, slot int, addr uint64) error { return pokeUser(pid, debugRegAddr(slot), addr) }

// writeDR7 writes the debug control register.
func writeDR7(pid int, v uint64) error { return pokeUser(pid, debugRegAddr(dr7), v) }

// takeDR6 reads and clears the debug status register: bits 0-3 say which
// slot trapped. Linux keeps a per-thread copy for ptrace
// (thread.virtual_dr6), which is what this reads.
func takeDR6(pid int) (uint64, error) {
	v, err := peekUser(pid, debugRegAddr(dr6))
	if err != nil {
		return 0, err
	}
	if v != 0 {
		if err := pokeUser(pid, debugRegAddr(dr6), 0); err != nil {
			return v, err
		}
	}
	return v, nil
}
