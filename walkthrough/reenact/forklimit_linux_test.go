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

// TestCgroupPaths reads mountinfo and cgroup names as limitForks and
// SweepCgroups do.
func TestCgroupPaths(t *testing.T) {
	mountinfo := []byte(`31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 /docker/abc /sys/fs/cgroup/my\040v2 rw,relatime shared:9 - cgroup2 cgroup2 rw
`)
	v1, ok := findCgroupMount(mountinfo, "cgroup", "pids")
	if !ok || v1.point != "/sys/fs/cgroup/pids" || v1.root != "/" {
		t.Errorf("v1 pids mount %+v, %t", v1, ok)
	}
	if _, ok := findCgroupMount(mountinfo, "cgroup", "memory"); ok {
		t.Error("found a memory hierarchy that is not mounted")
	}
	v2, ok := findCgroupMount(mountinfo, "cgroup2", "")
	if !ok || v2.point != "/sys/fs/cgroup/my v2" || v2.root != "/docker/abc" {
		t.Errorf("v2 mount %+v, %t", v2, ok)
	}
	for _, tt := range []struct {
		m          cgroupMount
		path, want string
		ok         bool
	}{
		{v1, "/", "/sys/fs/cgroup/pids", true},
		{v1, "/a/b", "/sys/fs/cgroup/pids/a/b", true},
		{v2, "/docker/abc/x", "/sys/fs/cgroup/my v2/x", true},
		{v2, "/docker/abc", "/sys/fs/cgroup/my v2", true},
		{v2, "/docker/abcd", "", false},
		{v2, "/other", "", false},
	} {
		got, err := tt.m.dir(tt.path)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("dir(%s) under %+v = %q, %v; want %q", tt.path, tt.m, got, err, tt.want)
		}
	}
	file := filepath.Join(t.TempDir(), "cgroup")
	if err := os.WriteFile(file, []byte("9:name=systemd:/\n8:pids:/user/1\n0::/user.slice/s.scope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := ownCgroup(file, func(c string, h int) bool { return h > 0 && c == "pids" }); err != nil || p != "/user/1" {
		t.Errorf("v1 pids cgroup %q, %v", p, err)
	}
	if p, err := ownCgroup(file, func(c string, h int) bool { return h == 0 && c == "" }); err != nil || p != "/user.slice/s.scope" {
		t.Errorf("v2 cgroup %q, %v", p, err)
	}
	for name, want := range map[string]bool{
		cgroupPrefix + ".42.1000": true, cgroupPrefix + ".42": false, cgroupPrefix + ".x.1": false,
		cgroupPrefix + ".0.1": false, "pgwalk-other.42.1": false, cgroupPrefix + "x.42.1": false,
	} {
		if o, ok := cgroupOwner(name); ok != want || (ok && (o.PID != 42 || o.Start != 1000)) {
			t.Errorf("cgroupOwner(%s) = %+v, %t; want %t", name, o, ok, want)
		}
	}
}
