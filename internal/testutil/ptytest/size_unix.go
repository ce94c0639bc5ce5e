//go:build linux || darwin

package ptytest

import (
	"os"

	"golang.org/x/sys/unix"
)

// setSize sets the terminal's size to rows x cols; the kernel sends
// SIGWINCH to its foreground process group. The ioctl goes through
// SyscallConn, which keeps the master in Go's poller, non-blocking (see
// open).
func setSize(master *os.File, rows, cols uint16) error {
	rc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return err
	}
	return ioErr
}
