//go:build unix

package iostreams

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// NotifyResize sends on ch (without blocking: one pending resize is
// enough) each time the terminal changes size (SIGWINCH), until the
// returned function is called.
func (s *IOStreams) NotifyResize(ch chan<- struct{}) (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-sig:
				select {
				case ch <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}
