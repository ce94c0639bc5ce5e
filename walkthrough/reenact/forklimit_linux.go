//go:build linux

package reenact

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
)

// The hierarchies a fork limit can be set in (forkLimit.Hierarchy).
const (
	cgroupV2 = "cgroup v2"
	cgroupV1 = "cgroup v1"
)

// limitForks makes every launch of l fail in the kernel, as fork() fails
// when a process limit is reached: it creates a cgroup of its own whose
// pids.max is 0, and starts every child in it. With cgroup v2 each launch
// asks clone3 to start the child there (CLONE_INTO_CGROUP); with cgroup v1
// the launching thread itself is moved into it (its tasks file), since a
// v1 child starts in its parent thread's cgroup. A probe launch proves the
// limit before any connection: it must fail. It returns the limit, or an
// error that says why no cgroup could do it here (not root, no writable
// cgroup file system, no pids controller): the caller falls back then.
func limitForks(l *launcher, probe []string) (*forkLimit, error) {
	owner, err := tmpdir.Self()
	if err != nil {
		return nil, fmt.Errorf("who am I: %w", err)
	}
	name := fmt.Sprintf("%s.%d.%d", cgroupPrefix, owner.PID, owner.Start)
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var why []string
	for _, try := range []func(l *launcher, mounts []byte, name string, probe []string) (*forkLimit, error){limitV2, limitV1} {
		fl, err := try(l, mounts, name, probe)
		if err == nil {
			return fl, nil
		}
		why = append(why, err.Error())
	}
	return nil, errors.New(strings.Join(why, "; "))
}

// limitV2 sets the limit in the cgroup v2 hierarchy, in a child of the
// cgroup pgwalk runs in.
func limitV2(l *launcher, mounts []byte, name string, probe []string) (*forkLimit, error) {
	mnt, ok := findCgroupMount(mounts, "cgroup2", "")
	if !ok {
		return nil, errors.New("cgroup v2: not mounted")
	}
	own, err := ownCgroup("/proc/self/cgroup", func(ctrls string, hierarchy int) bool { return hierarchy == 0 && ctrls == "" })
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	parent, err := mnt.dir(own)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	ctrls, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if !slices.Contains(strings.Fields(string(ctrls)), "pids") {
		return nil, fmt.Errorf("cgroup v2: no pids controller in %s", parent)
	}
	fl := &forkLimit{Hierarchy: cgroupV2, Dir: filepath.Join(parent, name), fd: -1}
	subtree := filepath.Join(parent, "cgroup.subtree_control")
	on, err := os.ReadFile(subtree)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if !slices.Contains(strings.Fields(string(on)), "pids") {
		if err := writeFile(subtree, "+pids"); err != nil {
			return nil, fmt.Errorf("cgroup v2: enable pids for %s: %w", parent, err)
		}
		fl.subtree = subtree
	}
	if err := fl.create(); err != nil {
		fl.release(l)
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	fl.fd, err = unix.Open(fl.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fl.release(l)
		return nil, fmt.Errorf("cgroup v2: open %s: %w", fl.Dir, err)
	}
	if err := fl.prove(l, probe); err != nil {
		fl.release(l)
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	return fl, nil
}

// limitV1 sets the limit in the cgroup v1 pids hierarchy, in a child of
// the launching thread's cgroup, and moves that thread into it.
func limitV1(l *launcher, mounts []byte, name string, probe []string) (fl *forkLimit, err error) {
	mnt, ok := findCgroupMount(mounts, "cgroup", "pids")
	if !ok {
		return nil, errors.New("cgroup v1: no pids hierarchy mounted")
	}
	l.do(func() {
		tid := unix.Gettid()
		var own string
		own, err = ownCgroup(fmt.Sprintf("/proc/self/task/%d/cgroup", tid), func(ctrls string, hierarchy int) bool {
			return hierarchy > 0 && slices.Contains(strings.Split(ctrls, ","), "pids")
		})
		if err != nil {
			return
		}
		var parent string
		if parent, err = mnt.dir(own); err != nil {
			return
		}
		fl = &forkLimit{Hierarchy: cgroupV1, Dir: filepath.Join(parent, name), fd: -1}
		if err = fl.create(); err != nil {
			return
		}
		if err = writeFile(filepath.Join(fl.Dir, "tasks"), strconv.Itoa(tid)); err != nil {
			err = fmt.Errorf("move thread %d into %s: %w", tid, fl.Dir, err)
			return
		}
		fl.tid, fl.backTo = tid, filepath.Join(parent, "tasks")
	})
	if err == nil {
		err = fl.prove(l, probe)
	}
	if err != nil {
		if fl != nil {
			fl.release(l)
		}
		return nil, fmt.Errorf("cgroup v1: %w", err)
	}
	return fl, nil
}

// create makes fl.Dir with pids.max 0.
func (fl *forkLimit) create() error {
	if err := os.Mkdir(fl.Dir, 0o755); err != nil {
		return err
	}
	fl.made = true
	if err := writeFile(filepath.Join(fl.Dir, "pids.max"), "0"); err != nil {
		return fmt.Errorf("set pids.max: %w", err)
	}
	fl.Max = 0
	return nil
}

// prove launches probe in the limit: the launch must fail with EAGAIN, the
// errno every connection will get. A probe that starts after all is
// killed and reaped, and the limit is refused.
func (fl *forkLimit) prove(l *launcher, probe []string) error {
	devNull, err := openDevNull()
	if err != nil {
		return err
	}
	defer syscall.Close(devNull)
	sys := childSysProcAttr()
	fl.apply(sys)
	fd := uintptr(devNull)
	pid, err := l.forkExec(probe, &syscall.ProcAttr{Files: []uintptr{fd, fd, fd}, Sys: sys})
	if err == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
		return fmt.Errorf("a launch in %s started all the same", fl.Dir)
	}
	// A process limit makes the kernel refuse with EAGAIN; anything else
	// (ENOSYS from a kernel without clone3, EACCES, ...) is not the
	// limit at work.
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.EAGAIN {
		return fmt.Errorf("a launch in %s failed with %v, not with the EAGAIN of a process limit", fl.Dir, err)
	}
	fl.Errno = errno
	return nil
}

// apply makes a launch with sys start its child in fl's cgroup, where the
// hierarchy takes a cgroup per launch (v2).
func (fl *forkLimit) apply(sys *syscall.SysProcAttr) {
	if fl == nil || fl.fd < 0 {
		return
	}
	sys.UseCgroupFD = true
	sys.CgroupFD = fl.fd
}

// release undoes fl: the launching thread back where it was, the cgroup
// removed, pids disabled again where pgwalk enabled it. Safe on nil.
func (fl *forkLimit) release(l *launcher) error {
	if fl == nil {
		return nil
	}
	var errs []error
	if fl.tid > 0 {
		if err := writeFile(fl.backTo, strconv.Itoa(fl.tid)); err != nil {
			errs = append(errs, fmt.Errorf("move thread %d back: %w", fl.tid, err))
		}
		fl.tid = 0
	}
	if fl.fd >= 0 {
		unix.Close(fl.fd)
		fl.fd = -1
	}
	if fl.made {
		if err := rmdirCgroup(fl.Dir); err != nil {
			errs = append(errs, err)
		}
		fl.made = false
	}
	if fl.subtree != "" {
		if err := writeFile(fl.subtree, "-pids"); err != nil {
			errs = append(errs, fmt.Errorf("disable pids in %s: %w", fl.subtree, err))
		}
		fl.subtree = ""
	}
	return errors.Join(errs...)
}

// rmdirCgroup removes an empty cgroup; a task that is still leaving it
// makes rmdir fail with EBUSY for a moment.
func rmdirCgroup(dir string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove the cgroup %s: %w", dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SweepCgroups removes the cgroups that fork-failure runs of pgwalk which
// were killed left behind (a run removes its own when it ends): empty
// cgroups named after a pgwalk process that is gone, in the hierarchies
// where a run of this process would have made one. A cgroup that still
// holds a task cannot be removed (rmdir fails), so nothing running is
// touched. It returns what it removed.
func SweepCgroups() ([]string, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, nil
	}
	var parents []string
	if mnt, ok := findCgroupMount(mounts, "cgroup2", ""); ok {
		if own, err := ownCgroup("/proc/self/cgroup", func(ctrls string, h int) bool { return h == 0 && ctrls == "" }); err == nil {
			if dir, err := mnt.dir(own); err == nil {
				parents = append(parents, dir)
			}
		}
	}
	if mnt, ok := findCgroupMount(mounts, "cgroup", "pids"); ok {
		if own, err := ownCgroup("/proc/self/cgroup", func(ctrls string, h int) bool {
			return h > 0 && slices.Contains(strings.Split(ctrls, ","), "pids")
		}); err == nil {
			if dir, err := mnt.dir(own); err == nil {
				parents = append(parents, dir)
			}
		}
	}
	var removed []string
	var errs []error
	for _, parent := range parents {
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			o, ok := cgroupOwner(e.Name())
			if !ok || !e.IsDir() || !o.Gone() {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			if err := unix.Rmdir(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove the cgroup %s: %w", dir, err))
				continue
			}
			removed = append(removed, dir)
		}
	}
	return removed, errors.Join(errs...)
}

// cgroupOwner reads the pgwalk process a cgroup's name names:
// "<cgroupPrefix>.<pid>.<start time>".
func cgroupOwner(name string) (tmpdir.Owner, bool) {
	rest, ok := strings.CutPrefix(name, cgroupPrefix+".")
	if !ok {
		return tmpdir.Owner{}, false
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok {
		return tmpdir.Owner{}, false
	}
	pid, err1 := strconv.Atoi(p)
	start, err2 := strconv.ParseUint(s, 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return tmpdir.Owner{}, false
	}
	return tmpdir.Owner{PID: pid, Start: start}, true
}

// cgroupMount is a mounted cgroup hierarchy: where it is mounted, and which
// cgroup its mount point shows (mountinfo's root field).
type cgroupMount struct {
	point, root string
}

// dir returns the directory of cgroup path (as /proc/PID/cgroup names it)
// under the mount.
func (m cgroupMount) dir(path string) (string, error) {
	rel := path
	if m.root != "/" {
		r, ok := strings.CutPrefix(path, m.root)
		if !ok || (r != "" && !strings.HasPrefix(r, "/")) {
			return "", fmt.Errorf("cgroup %s is not under the mount of %s at %s", path, m.root, m.point)
		}
		rel = r
	}
	return filepath.Join(m.point, filepath.FromSlash(rel)), nil
}

// findCgroupMount finds, in the text of /proc/self/mountinfo, the mount of
// file system type fstype ("cgroup2", "cgroup") whose super options hold
// option, when option is not "".
func findCgroupMount(mountinfo []byte, fstype, option string) (cgroupMount, bool) {
	sc := bufio.NewScanner(strings.NewReader(string(mountinfo)))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+4 || fields[sep+1] != fstype {
			continue
		}
		if option != "" && !slices.Contains(strings.Split(fields[sep+3], ","), option) {
			continue
		}
		return cgroupMount{point: unescapeMount(fields[4]), root: unescapeMount(fields[3])}, true
	}
	return cgroupMount{}, false
}

// unescapeMount undoes mountinfo's octal escapes ("\040" for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup returns the cgroup path of the line of file (a
// /proc/.../cgroup) that keep accepts, given its controllers and its
// hierarchy number.
func ownCgroup(file string, keep func(ctrls string, hierarchy int) bool) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		h, err := strconv.Atoi(parts[0])
		if err != nil || !keep(parts[1], h) {
			continue
		}
		return parts[2], nil
	}
	return "", fmt.Errorf("%s names no such cgroup", file)
}

// writeFile writes s to an existing file, as a cgroup file is written.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
