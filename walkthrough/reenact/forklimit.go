package reenact

import "syscall"

// cgroupPrefix starts the name of the cgroup a fork-failure run makes:
// "<cgroupPrefix>.<pid>.<start time>", naming the pgwalk process that made
// it, so that a later run can tell one that a killed run left behind.
const cgroupPrefix = "pgwalk-fork-failure"

// forkLimit is a process limit that makes every launch of the driver fail
// in the kernel, the way fork() fails when a limit is reached: a cgroup
// whose pids.max is 0, which every child is started in (limitForks).
type forkLimit struct {
	// Hierarchy is "cgroup v2" or "cgroup v1"; Dir the cgroup's directory
	// and Max its pids.max.
	Hierarchy string
	Dir       string
	Max       int
	// Errno is what the probe launch failed with at Start.
	Errno syscall.Errno

	// fd is Dir open for CLONE_INTO_CGROUP (v2), -1 otherwise.
	fd int
	// tid is the launching thread moved into Dir (v1), and backTo the
	// tasks file of the cgroup it came from.
	tid    int
	backTo string
	// subtree is the cgroup.subtree_control file where pgwalk enabled the
	// pids controller (v2), to disable it again.
	subtree string
	// made is true while Dir exists.
	made bool
}
