package reenact

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// askParentDeathSignal asks the kernel to send SIGKILL to this process when
// its parent dies (prctl(2) PR_SET_PDEATHSIG), as InitPostmasterChild does
// through PostmasterDeathSignalInit, and reads the setting back. It returns
// a sentence for the child stop.
func askParentDeathSignal() string {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Sprintf("prctl(PR_SET_PDEATHSIG) failed: %v", err)
	}
	var sig int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
		return fmt.Sprintf("prctl(PR_GET_PDEATHSIG) failed: %v", err)
	}
	return fmt.Sprintf("%s, read back with PR_GET_PDEATHSIG (PostgreSQL asks for SIGPWR and then checks the death pipe; pgwalk's child simply dies)",
		unix.SignalName(syscall.Signal(sig)))
}

// childSysProcAttr returns the attributes the postmaster launches a child
// with: on Linux the child is killed if the launching thread dies, even
// before it has asked for that itself.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
