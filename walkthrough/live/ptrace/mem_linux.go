package ptrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// readVM fills buf from the memory of pid at addr with process_vm_readv,
// which needs the same permission as ptrace but no ptrace-stop and no
// particular thread.
func readVM(pid int, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	n, err := unix.ProcessVMReadv(pid, local, remote, 0)
	if err != nil {
		return fmt.Errorf("read %d bytes at %#x in pid %d: %w", len(buf), addr, pid, err)
	}
	if n != len(buf) {
		return fmt.Errorf("read %d bytes at %#x in pid %d: short read (%d)", len(buf), addr, pid, n)
	}
	return nil
}

// readMem fills buf from the memory of the tracee pid at addr: with
// process_vm_readv, or PTRACE_PEEKDATA where that is refused. It runs on
// the tracer's thread.
func readMem(pid int, addr uint64, buf []byte) error {
	if readVM(pid, addr, buf) == nil {
		return nil
	}
	m, err := unix.PtracePeekData(pid, uintptr(addr), buf)
	if err != nil {
		return fmt.Errorf("read %d bytes at %#x in pid %d: %w", len(buf), addr, pid, err)
	}
	if m != len(buf) {
		return fmt.Errorf("read %d bytes at %#x in pid %d: short read (%d)", len(buf), addr, pid, m)
	}
	return nil
}

// writeMem writes buf into the memory of the stopped tracee pid at addr.
// PTRACE_POKEDATA writes through the tracee's page protection (text pages
// are copied on write, so a child's write never reaches its parent). It
// runs on the tracer's thread.
func writeMem(pid int, addr uint64, buf []byte) error {
	n, err := unix.PtracePokeData(pid, uintptr(addr), buf)
	if err != nil {
		return fmt.Errorf("write %d bytes at %#x in pid %d: %w", len(buf), addr, pid, err)
	}
	if n != len(buf) {
		return fmt.Errorf("write %d bytes at %#x in pid %d: short write (%d)", len(buf), addr, pid, n)
	}
	return nil
}
