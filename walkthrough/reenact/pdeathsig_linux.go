package reenact

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// askParentDeathSignal asks the kernel to send SIGKILL to this process when
// its parent dies (prctl(2) PR_SET_PDEATHSIG), as InitPostmasterChild does
// through PostmasterDeathSignalInit, and reads the setting back. It returns
// the fact for the child stop.
func askParentDeathSignal() walkthrough.Fact {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fact("fact.reenact.pdeathsig_failed", "call", "prctl(PR_SET_PDEATHSIG, SIGKILL)", "result", callResult(err))
	}
	var sig int32
	if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
		return fact("fact.reenact.pdeathsig_failed", "call", "prctl(PR_GET_PDEATHSIG)", "result", callResult(err))
	}
	return fact("fact.reenact.pdeathsig", "signal", unix.SignalName(syscall.Signal(sig)))
}

// childSysProcAttr returns the attributes the postmaster launches a child
// with: on Linux the child is killed if the launching thread dies, even
// before it has asked for that itself.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// awaitExit returns once process pid, a child of this process, has
// exited, without reaping it: the caller's Wait then reaps it at once.
//
// Why not simply block in Wait: when pgwalk is killed, its threads exit
// one by one, and the kernel sends a child its parent-death signal as soon
// as the thread that forked it exits, reparenting it to another thread of
// pgwalk that is still alive (exit_notify, forget_original_parent). A
// thread of pgwalk blocked in wait(2) on that child then wakes, finds it
// dead and reaps it before it notices its own SIGKILL: the child died, but
// its death is hidden from whoever reaps pgwalk's orphans (a subreaper, a
// service manager). Observed with ftrace in the e2e SIGKILL test: the
// launcher thread's exit sent SIGKILL to the stopped backend while
// pgwalk's last thread sat in waitid(P_PIDFD) on it and reaped it.
//
// Here no thread sleeps in wait(2): the goroutine waits in Go's poller for
// the child's pidfd to become readable, which it does when the child has
// exited. Once pgwalk has a SIGKILL pending, none of its threads returns
// to user space, so none reaps a child that dies of it afterwards. Without
// pidfds (Linux before 5.3) awaitExit returns at once and Wait blocks.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("pidfd of %d", pid))
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// A pidfd polls readable once its process has exited. An error ends
	// the wait too (a pidfd the poller cannot watch): Wait blocks then.
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			if err == unix.EINTR {
				continue
			}
			return err != nil || n > 0
		}
	})
}
