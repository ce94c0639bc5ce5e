//go:build linux || darwin || freebsd || netbsd || openbsd

package iostreams

import "golang.org/x/sys/unix"

// cbreak clears ICANON and ECHO on fd (termios(3): "noncanonical mode"),
// keeping ISIG and OPOST, and returns the function that restores the old
// settings.
func cbreak(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return func() {}, err
	}
	t := *old
	t.Lflag &^= unix.ICANON | unix.ECHO
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &t); err != nil {
		return func() {}, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, old) }, nil
}
