package ptytest

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// open opens a pseudo-terminal of rows x cols. The master is opened
// non-blocking and stays in Go's poller, so that closing it while a
// goroutine reads it really closes it and hangs the terminal up.
// (creack/pty's Start sets the size through File.Fd, which switches the
// master to blocking mode: a pending Read then keeps it open forever.)
func open(rows, cols uint16) (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	fail := func(e error) (*os.File, *os.File, error) {
		unix.Close(fd)
		return nil, nil, e
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlockpt: %w", err))
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("ptsname: %w", err))
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		return fail(fmt.Errorf("set the window size: %w", err))
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), slave, nil
}

// sysProcAttr makes the program a session leader whose controlling
// terminal is its standard input, killed if the test binary dies (a
// timeout). prctl(2)'s parent-death signal follows the thread that
// started it; Go ends a thread only when a goroutine locked to it exits,
// which the tests that use this harness do not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
}
