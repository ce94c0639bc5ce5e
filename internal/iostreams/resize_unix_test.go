//go:build unix

package iostreams

import (
	"syscall"
	"testing"
	"time"
)

// TestNotifyResize sends SIGWINCH to the test process: the channel hears of
// it; after stop it does not.
func TestNotifyResize(t *testing.T) {
	s, _, _, _ := Test()
	ch := make(chan struct{}, 1)
	stop := s.NotifyResize(ch)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no resize notification within 10s of SIGWINCH")
	}
	stop()
}
