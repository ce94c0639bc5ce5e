//go:build !linux

package reenact

import (
	"syscall"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// askParentDeathSignal reports that this OS has no parent-death signal for
// pgwalk to ask for.
func askParentDeathSignal() walkthrough.Fact {
	return fact("fact.reenact.pdeathsig_none")
}

// childSysProcAttr returns the attributes the postmaster launches a child
// with.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}

// awaitExit returns at once: without pidfds the caller's Wait blocks.
func awaitExit(pid int) {}
