//go:build linux || darwin

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// term is pgwalk running on a pseudo-terminal.
type term struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

// startTerm runs pgwalk with args on a 120x200 pseudo-terminal.
func startTerm(t *testing.T, args ...string) *term {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PGWALK_TEST_MAIN=1", "TERM=xterm", "NO_COLOR=1", "HOME="+t.TempDir())
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 200, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := tty.Read(b)
			tm.mu.Lock()
			tm.buf.Write(b[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { tm.err = cmd.Wait(); close(tm.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-tm.done
		tty.Close()
	})
	return tm
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// waitFor waits until the screen output contains s n times in all. The
// deadline only bounds a hang; it asserts nothing about speed.
func (tm *term) waitFor(s string, n int) {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(tm.output(), s) < n {
		if time.Now().After(deadline) {
			tm.t.Fatalf("never saw %q %d times; output:\n%s", s, n, tm.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tm *term) press(keys string) {
	if _, err := tm.tty.Write([]byte(keys)); err != nil {
		tm.t.Fatal(err)
	}
}

// exit waits for pgwalk to end and returns its exit code.
func (tm *term) exit() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(20 * time.Second):
		tm.t.Fatalf("pgwalk did not exit; output:\n%s", tm.output())
	}
	var ee *exec.ExitError
	if errors.As(tm.err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

func TestTerminal(t *testing.T) {
	t.Run("pauses at each stop and q quits at once", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "17.1", "--driver", "narrate")
		tm.waitFor("Phase 1/5 · Struct creation · 17.1", 1)
		time.Sleep(200 * time.Millisecond)
		if strings.Contains(tm.output(), "Phase 2/5") {
			t.Fatal("pgwalk went on without a key")
		}
		tm.press("q")
		if code := tm.exit(); code != 0 {
			t.Fatalf("q: exit %d", code)
		}
		if strings.Contains(tm.output(), "Phase 2/5 · Struct init") {
			t.Fatal("q must quit, not advance")
		}
	})
	t.Run("Enter walks every phase, then finishes", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
		for i, h := range []string{"Phase 1/5", "Phase 2/5", "Phase 3/5", "Phase 4/5", "Phase 5/5"} {
			tm.waitFor(h, 1)
			if i < 4 {
				tm.press("\r")
			}
		}
		tm.press(" ")
		if code := tm.exit(); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("b goes back, ? shows keys", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
		tm.waitFor("Phase 1/5", 1)
		tm.press("n")
		tm.waitFor("Phase 2/5", 1)
		tm.press("b")
		tm.waitFor("processes do not rewind", 1)
		tm.press("?")
		tm.waitFor("first / latest note", 1)
		tm.press("q") // closes the help
		tm.press("q")
		if code := tm.exit(); code != 0 {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("Ctrl-C at a pause exits 130", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
		tm.waitFor("Phase 1/5", 1)
		tm.press("\x03")
		if code := tm.exit(); code != 130 {
			t.Fatalf("Ctrl-C: exit %d, want 130; output:\n%s", code, tm.output())
		}
	})
}
