//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// TestSIGKILL kills pgwalk with SIGKILL at every stop of the drivers that
// run processes and checks that its processes die with it, and that the
// next run removes the temporary directories the killed run left, and
// only those.
//
// The test process makes itself a child subreaper (prctl(2)
// PR_SET_CHILD_SUBREAPER) for the duration, so that pgwalk's orphans
// become its children and it can read how they ended. Before the kill,
// every re-enactment child is stopped with SIGSTOP: a stopped process
// cannot notice that its control channel or the death pipe closed, so if
// it then dies of SIGKILL, only its parent-death signal (PR_SET_PDEATHSIG)
// can have killed it. fullVersion is killed at every stop, every other
// release at the first stop with a child process and every other stop,
// alternating between releases (sampled). With -short only the first stop
// with a child process is killed.
func TestSIGKILL(t *testing.T) {
	pgwalkBinary(t)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a child subreaper: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	for _, row := range driverRows {
		if row.holds.procs < 2 && !row.holds.tempDir {
			continue // nothing of its own to outlive it
		}
		t.Run(row.name, func(t *testing.T) {
			for _, v := range walkthrough.VersionNames() {
				t.Run(v, func(t *testing.T) {
					args := append([]string{"run", "--version", v}, row.args...)
					stops := censusOf(t, row, args)
					for k := 1; k <= len(stops); k++ {
						childStop := stops[k-1].Values.ChildPID > 0 && keyStop(stops, k)
						if !childStop && !sampled(v, k, 0, 2) {
							continue
						}
						if testing.Short() && !childStop {
							continue
						}
						t.Run(fmt.Sprintf("stop%d-%s", k, stops[k-1].Phase), func(t *testing.T) {
							killAt(t, row, args, k)
						})
					}
				})
			}
		})
	}
}

// cleanUpAfter removes, when the test ends, whatever of fp a failing
// check let survive, so that a failure does not leave a cluster running.
func cleanUpAfter(t *testing.T, fp footprint) {
	t.Cleanup(func() {
		for _, p := range fp.Procs {
			if _, ok := alive(p); ok {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
		for _, p := range fp.Procs {
			_, _ = unix.Wait4(p.PID, nil, unix.WNOHANG, nil)
		}
		for _, s := range fp.SysVShm {
			for _, cur := range sysvSegments() {
				if cur.ID == s.ID && cur.CPID == s.CPID {
					_, _ = unix.SysvShmCtl(s.ID, unix.IPC_RMID, nil)
				}
			}
		}
		for d := range fp.Dirs {
			_ = os.RemoveAll(d)
		}
	})
}

// isBackend reports whether p is a re-enactment child.
func isBackend(p procInfo) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
	return err == nil && bytes.Contains(b, []byte(reenact.ChildCommand))
}

// killAt runs pgwalk to stop k on a terminal, kills it with SIGKILL and
// checks what follows.
func killAt(t *testing.T, row driverRow, args []string, k int) {
	r, fp, _, _, tmp := runToStop(t, row, args, k)
	cleanUpAfter(t, fp)
	var stopped []procInfo
	for _, p := range fp.Procs[1:] {
		if isBackend(p) {
			if err := syscall.Kill(p.PID, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped = append(stopped, p)
		}
	}
	for _, p := range stopped {
		waitState(t, p, 'T')
	}
	if err := syscall.Kill(r.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := r.Wait(); code != -1 {
		t.Fatalf("pgwalk exited %d after SIGKILL", code)
	}

	// Every process of the run ends: the stopped backends by their
	// parent-death signal, the others (the live driver's server) on
	// their own. A stopped backend must end as this subreaper's child:
	// pgwalk, killed, must not reap it in its last moments (it did while
	// one of its threads slept in wait(2) on the backend: the kernel
	// sends the parent-death signal when the launching thread exits,
	// while other threads of pgwalk still live; see reenact's
	// awaitExit).
	deadline := time.Now().Add(goneWithin)
	proven := 0
	for _, p := range fp.Procs[1:] {
		status, reaped := waitGone(t, p, deadline)
		if !slicesContainsPID(stopped, p.PID) {
			continue
		}
		switch {
		case !reaped:
			t.Errorf("stopped backend %s ended, but not as this subreaper's child: something else reaped it (pgwalk, dying?), so nothing proves its parent-death signal killed it", p)
		case !status.Signaled() || status.Signal() != syscall.SIGKILL:
			t.Errorf("stopped backend %s ended with %v, want killed by SIGKILL (its parent-death signal)", p, describeStatus(status))
		default:
			proven++
		}
	}
	if len(stopped) > 0 {
		t.Logf("%d of %d stopped backend(s) killed by their parent-death signal", proven, len(stopped))
	}

	// What the kill left: the private directory, and for the live driver
	// its cluster's shared memory. The next run removes it.
	var left []string
	for d := range fp.Dirs {
		if _, err := os.Lstat(d); err == nil {
			left = append(left, d)
		}
	}
	if row.systemTemp {
		nextLiveRun(t, row, args, fp, left)
		return
	}
	nextRun(t, tmp, args, fp, left)
}

// nextRun plants directories that are not stale next to what the killed
// run left in tmp, runs pgwalk again there, and checks that it removed
// exactly the stale ones.
func nextRun(t *testing.T, tmp string, args []string, fp footprint, left []string) {
	t.Helper()
	for _, d := range left {
		if o, err := tmpdir.ReadOwner(d); err != nil || o.PID != fp.Procs[0].PID {
			t.Errorf("%s: marker %+v, %v; want pgwalk pid %d", d, o, err, fp.Procs[0].PID)
		}
	}
	if len(left) == 0 && len(fp.Dirs) > 0 {
		t.Fatalf("the killed run left nothing in %s (it had %v): nothing to clean", tmp, fp.Dirs)
	}
	running, err := tmpdir.MakeIn(tmp, tmpdir.Prefix) // owner: this test, alive
	if err != nil {
		t.Fatal(err)
	}
	noMarker := filepath.Join(tmp, tmpdir.Prefix+"nomarker")
	otherName := filepath.Join(tmp, "other-dir")
	for _, d := range []string{noMarker, otherName} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if len(left) > 0 {
		// A dead owner's marker under a name pgwalk does not use.
		b, err := os.ReadFile(filepath.Join(left[0], tmpdir.MarkerName))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(otherName, tmpdir.MarkerName), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	v := args[2]
	r := startJSON(t, baseEnv("next", tmp), "next", "run", "--version", v, "--driver", "narrate")
	r.rest()
	if code := r.wait(); code != 0 {
		t.Fatalf("next run: exit %d; stderr:\n%s", code, r.stderr.String())
	}
	stderr := r.stderr.String()
	for _, d := range left {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("the next run did not remove %s", d)
		}
		if !strings.Contains(stderr, d) {
			t.Errorf("the next run did not say it removed %s; stderr:\n%s", d, stderr)
		}
	}
	if len(left) > 0 && !strings.Contains(stderr, "removed what killed runs left behind") {
		t.Errorf("stderr:\n%s", stderr)
	}
	for _, d := range []string{running, noMarker, otherName} {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("the next run removed %s, which it does not own or whose owner runs: %v", d, err)
		}
		os.RemoveAll(d)
	}
	checkEmpty(t, tmp)
}

// nextLiveRun runs the live driver to the end and checks that it removed
// what the killed live run left: its cluster directory and its System V
// segment.
func nextLiveRun(t *testing.T, row driverRow, args []string, fp footprint, left []string) {
	t.Helper()
	t.Logf("the killed run left %v and System V segments %v", left, fp.SysVShm)
	r := startJSON(t, baseEnv("next", ""), "next", args...)
	r.rest()
	if code := r.wait(); code != 0 {
		t.Fatalf("next live run: exit %d; stderr:\n%s", code, r.stderr.String())
	}
	for _, d := range left {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("the next live run did not remove %s", d)
		}
	}
	segs := sysvSegments()
	for _, old := range fp.SysVShm {
		for _, s := range segs {
			if s.ID == old.ID && s.CPID == old.CPID {
				t.Errorf("the next live run did not remove System V segment id %d (created by the killed run's pid %d)", s.ID, s.CPID)
			}
		}
	}
}

// waitState waits until p is in state (for example 'T', stopped).
func waitState(t *testing.T, p procInfo, state byte) {
	t.Helper()
	deadline := time.Now().Add(safety)
	for {
		cur, err := readProc(p.PID)
		if err == nil && cur.Start == p.Start && cur.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached state %c (now %c, %v)", p, state, cur.State, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goneWithin bounds how long the processes of a killed pgwalk may take
// to notice and end; it only bounds a hang.
const goneWithin = 30 * time.Second

// waitGone waits until p has ended, at the latest by deadline. When p
// became this process's child (it was orphaned and this process is its
// subreaper), it is reaped and its status returned with reaped set.
func waitGone(t *testing.T, p procInfo, deadline time.Time) (status unix.WaitStatus, reaped bool) {
	t.Helper()
	for {
		// Ask wait4 first, whatever /proc says: a backend killed by its
		// parent-death signal can already be this subreaper's zombie
		// while /proc still shows the old parent, and a check of /proc
		// first would count it as ended elsewhere. wait4 answers ECHILD
		// for a process that is not this process's child.
		pid, err := unix.Wait4(p.PID, &status, unix.WNOHANG, nil)
		if err == nil && pid == p.PID {
			return status, true
		}
		if err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.ECHILD) {
			t.Fatalf("wait4 %d: %v", p.PID, err)
		}
		if errors.Is(err, unix.ECHILD) {
			if _, ok := alive(p); !ok {
				// One more wait4: it may have become this process's
				// child between the two looks.
				if pid, err := unix.Wait4(p.PID, &status, unix.WNOHANG, nil); err == nil && pid == p.PID {
					return status, true
				}
				return status, false
			}
		}
		if time.Now().After(deadline) {
			cur, _ := readProc(p.PID)
			t.Errorf("%s still running after pgwalk was killed (now %s)", p, cur)
			return status, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func slicesContainsPID(ps []procInfo, pid int) bool {
	for _, p := range ps {
		if p.PID == pid {
			return true
		}
	}
	return false
}

func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}
