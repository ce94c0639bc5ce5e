//go:build linux && !amd64

package trace

import (
	"fmt"
	"runtime"
)

// This file stands in for the architecture layer on Linux machines other
// than x86-64 (arm64 among them): Start fails with a clear error before any
// of these functions could run. An architecture gets traced by giving it
// its own regs_linux_<arch>.go with the functions of regs_linux_amd64.go
// (registers, calling convention, breakpoint instruction, hardware
// breakpoints) and excluding it here.

func archSupported() error {
	return &UnsupportedError{Reason: fmt.Sprintf("the live driver knows x86-64 registers and breakpoints only (this is %s)", runtime.GOARCH)}
}

func backendRecordLayout() backendLayout { return amd64BackendLayout }

type regs struct{}

func getRegs(pid int) (regs, error) { return regs{}, archSupported() }

func setRegs(pid int, r regs) error { return archSupported() }

func (r *regs) pc() uint64 { return 0 }

func (r *regs) setPC(v uint64) {}

func (r *regs) sp() uint64 { return 0 }

func (r *regs) ret() uint64 { return 0 }

func (r *regs) arg(i int) uint64 { return 0 }

func returnAddress(pid int, r *regs) (uint64, error) { return 0, archSupported() }

var breakpointInsn []byte

func softwareBreakpointAddr(pc uint64) uint64 { return pc }

const (
	numHWSlots = 0
	dr6Step    = 0
	dr7Enables = 0
)

func dr7Bits(slot int, kind bpKind) uint64 { return 0 }

func dr7SlotMask(slot int) uint64 { return 0 }

func setDebugAddr(pid, slot int, addr uint64) error { return archSupported() }

func setDR7(pid int, v uint64) error { return archSupported() }

func takeDR6(pid int) (uint64, error) { return 0, archSupported() }
