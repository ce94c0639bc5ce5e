//go:build !linux

package reenact

import "syscall"

// askParentDeathSignal reports that this OS has no parent-death signal for
// pgwalk to ask for.
func askParentDeathSignal() string {
	return "skipped: prctl(PR_SET_PDEATHSIG) is Linux-only; the child relies on the death pipe and its control channel"
}

// childSysProcAttr returns the attributes the postmaster launches a child
// with.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}

// awaitExit returns at once: without pidfds the caller's Wait blocks.
func awaitExit(pid int) {}
