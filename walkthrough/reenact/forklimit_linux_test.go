//go:build linux

package reenact

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// cgroupsWritable says whether this machine lets pgwalk make a cgroup with
// a process limit: root, with a cgroup v1 pids hierarchy or a cgroup v2
// one that offers the pids controller. Where it does, the fork-failure
// scenario must use it.
func cgroupsWritable() (bool, string) {
	if os.Geteuid() != 0 {
		return false, "not root"
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err.Error()
	}
	if m, ok := findCgroupMount(mounts, "cgroup", "pids"); ok && unix.Access(m.point, unix.W_OK) == nil && !strings.Contains(mountOptions(mounts, m.point), "ro") {
		return true, "cgroup v1 pids at " + m.point
	}
	if m, ok := findCgroupMount(mounts, "cgroup2", ""); ok {
		if own, err := ownCgroup("/proc/self/cgroup", func(c string, h int) bool { return h == 0 && c == "" }); err == nil {
			if dir, err := m.dir(own); err == nil {
				if b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil && slices.Contains(strings.Fields(string(b)), "pids") {
					return false, "cgroup v2 with pids at " + dir + ": may or may not let pgwalk enable pids there"
				}
			}
		}
	}
	return false, "no writable cgroup with a pids controller"
}

// mountOptions returns the mount options of the mount at point.
func mountOptions(mountinfo []byte, point string) string {
	for _, line := range strings.Split(string(mountinfo), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == point {
			return "," + f[5] + ","
		}
	}
	return ""
}

// TestForkLimit: where the machine allows it, the fork-failure scenario
// fails the launch in the kernel, with EAGAIN, from a cgroup whose
// pids.max is 0 that exists only while the driver runs; the launching
// thread goes back to its own cgroup. A cgroup that a killed run left is
// swept by the next one; a live run's is not.
func TestForkLimit(t *testing.T) {
	ok, why := cgroupsWritable()
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "16.4"), Scenario: walkthrough.ScenarioForkFailure}, nil)
	if d.limit == nil {
		if ok {
			t.Fatalf("%s, but no process limit was set: %v", why, d.limitErr)
		}
		if !strings.HasSuffix(d.exe, missingBackend) {
			t.Errorf("no limit, and the launch runs %s, not the missing program", d.exe)
		}
		t.Skipf("no process limit here (%s): %v", why, d.limitErr)
	}
	fl := d.limit
	if fl.Errno != syscall.EAGAIN {
		t.Errorf("the probe launch failed with %s, want EAGAIN", errnoName(fl.Errno))
	}
	if b, err := os.ReadFile(filepath.Join(fl.Dir, "pids.max")); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Errorf("pids.max of %s = %q (%v), want 0", fl.Dir, b, err)
	}
	if !strings.HasPrefix(filepath.Base(fl.Dir), fmt.Sprintf("%s.%d.", cgroupPrefix, os.Getpid())) {
		t.Errorf("cgroup %s is not named after this process", fl.Dir)
	}

	// A cgroup named after a process that is gone, as a killed run leaves
	// it, is swept; the live run's is not.
	gone := exec.Command(os.Args[0], "-test.run=^$")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(filepath.Dir(fl.Dir), fmt.Sprintf("%s.%d.1", cgroupPrefix, gone.Process.Pid))
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Rmdir(stale) })
	removed, err := SweepCgroups()
	if err != nil {
		t.Errorf("SweepCgroups: %v", err)
	}
	if !slices.Contains(removed, stale) || slices.Contains(removed, fl.Dir) {
		t.Errorf("SweepCgroups removed %q; want %s and not %s", removed, stale, fl.Dir)
	}

	evs := runAll(t, d, nil)
	if len(evs) != 5 || evs[2].Values.Errno == nil || evs[2].Values.Errno.Name != "EAGAIN" {
		t.Fatalf("stops %d, fork errno %+v: want the fork-failure branch with EAGAIN", len(evs), evs[2].Values.Errno)
	}
	// Close moves the launching thread back to its own cgroup before it
	// removes this one: a cgroup that still holds a task cannot be
	// removed, and Close would say so.
	dir := fl.Dir
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cgroup %s is still there after Close (%v)", dir, err)
	}
}
