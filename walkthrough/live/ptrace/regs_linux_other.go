//go:build linux && !amd64

package ptrace

import (
	"fmt"
	"runtime"
)

// This file stands in for the architecture layer on Linux machines other
// than x86-64 (arm64 among them): ArchSupported fails before any of these
// functions could run. An architecture gets traced by giving it its own
// regs_linux_<arch>.go with the functions of regs_linux_amd64.go
// (registers, calling convention, breakpoint instruction, hardware
// breakpoints) and excluding it here.

// ArchSupported says that the tracer knows x86-64 only.
func ArchSupported() error {
	return fmt.Errorf("live tracing needs Linux x86-64: the tracer knows x86-64 registers and breakpoints only (this is linux/%s)", runtime.GOARCH)
}

// Regs is empty where the tracer knows no registers.
type Regs struct{}

func getRegs(pid int) (Regs, error) { return Regs{}, ArchSupported() }

func setRegs(pid int, r Regs) error { return ArchSupported() }

// PC returns 0.
func (r *Regs) PC() uint64 { return 0 }

func (r *Regs) setPC(v uint64) {}

// SP returns 0.
func (r *Regs) SP() uint64 { return 0 }

// Ret returns 0.
func (r *Regs) Ret() uint64 { return 0 }

// Arg returns 0.
func (r *Regs) Arg(i int) uint64 { return 0 }

func (r *Regs) returnAddressAt() uint64 { return 0 }

var breakpointInsn []byte

func softwareBreakpointAddr(pc uint64) uint64 { return pc }

const (
	numHWSlots = 0
	dr7Enables = 0
)

func dr7Bits(slot int, kind Kind) uint64 { return 0 }

func dr7SlotMask(slot int) uint64 { return 0 }

func setDebugAddr(pid, slot int, addr uint64) error { return ArchSupported() }

func writeDR7(pid int, v uint64) error { return ArchSupported() }

func takeDR6(pid int) (uint64, error) { return 0, ArchSupported() }
