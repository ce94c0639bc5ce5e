//go:build !linux

package reenact

import (
	"errors"
	"syscall"
)

// limitForks reports that this OS has no cgroups: the fork-failure
// scenario falls back to a launch of a program that does not exist.
func limitForks(l *launcher, probe []string) (*forkLimit, error) {
	return nil, errors.New("process-limiting cgroups are Linux-only")
}

// apply does nothing: there is no limit.
func (fl *forkLimit) apply(sys *syscall.SysProcAttr) {}

// release does nothing: there is no limit.
func (fl *forkLimit) release(l *launcher) error { return nil }

// SweepCgroups does nothing: only Linux has cgroups.
func SweepCgroups() ([]string, error) { return nil, nil }
