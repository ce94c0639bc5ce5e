//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package iostreams

import (
	"golang.org/x/term"
)

// cbreak falls back to x/term's raw mode where termios is not available.
func cbreak(fd int) (func(), error) {
	old, err := term.MakeRaw(fd)
	if err != nil {
		return func() {}, err
	}
	return func() { _ = term.Restore(fd, old) }, nil
}
