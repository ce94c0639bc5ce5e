//go:build linux || darwin

// Package ptytest runs pgwalk on a pseudo-terminal for tests: the one
// terminal harness of the repository, used by cmd/pgwalk's and
// internal/e2e's tests. Only _test.go files import it.
//
// The program runs as a new session whose controlling terminal the
// pseudo-terminal is, in the foreground (as a shell's job on its own
// terminal): its standard input and output are the terminal, so it pauses
// at every stop and reads keys; its standard error is a pipe the test
// reads, so that what it says stays readable after the terminal is hung
// up. Every wait is bounded by Timeout and says what it waited for.
package ptytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ClearScreen starts every screen an interactive run draws.
const ClearScreen = "\x1b[H\x1b[2J"

// FooterEnd ends the footer line of every screen: WaitScreen takes a
// screen whose footer is drawn as complete.
const FooterEnd = "q quit"

// Timeout bounds every wait of a Term, so that a hang fails the test
// instead of stalling it. It asserts nothing about speed.
const Timeout = 90 * time.Second

// poll is how often a wait looks at the output again.
const poll = 5 * time.Millisecond

// Term is a program running on a pseudo-terminal.
type Term struct {
	t       testing.TB
	cmd     *exec.Cmd
	tty     *os.File
	out     buffer
	stderr  buffer
	done    chan struct{}
	readEnd chan struct{}
	closeMu sync.Mutex
	closed  bool
	// timeout bounds every wait: Timeout, shorter in this package's
	// own tests.
	timeout time.Duration
}

// buffer is a bytes.Buffer safe for one writer and many readers.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs cmd on a new rows x cols pseudo-terminal, with TERM=xterm
// added to its environment (cmd.Env, or this process's when nil). The
// test's cleanup kills it if it still runs and closes the terminal. cmd's
// Stdin, Stdout, Stderr and SysProcAttr must not be set.
func Start(t testing.TB, cmd *exec.Cmd, rows, cols uint16) *Term {
	t.Helper()
	return start(t, cmd, rows, cols, false)
}

// StartAll is Start with the program's standard error on the terminal
// too, as in a real terminal: Output then shows what it wrote to both in
// the order it wrote it, and Stderr stays empty.
func StartAll(t testing.TB, cmd *exec.Cmd, rows, cols uint16) *Term {
	t.Helper()
	return start(t, cmd, rows, cols, true)
}

func start(t testing.TB, cmd *exec.Cmd, rows, cols uint16, stderrOnTerminal bool) *Term {
	t.Helper()
	if cmd.Stdin != nil || cmd.Stdout != nil || cmd.Stderr != nil || cmd.SysProcAttr != nil {
		t.Fatal("ptytest.Start: cmd's Stdin, Stdout, Stderr and SysProcAttr are the harness's")
	}
	master, slave, err := open(rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "TERM=xterm")
	tm := &Term{t: t, cmd: cmd, tty: master, done: make(chan struct{}), readEnd: make(chan struct{}), timeout: Timeout}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &tm.stderr
	if stderrOnTerminal {
		cmd.Stderr = slave
	}
	cmd.SysProcAttr = sysProcAttr()
	// A process the program started may outlive it holding its stderr:
	// Wait stops copying it then, rather than wait for that process too.
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Start()
	slave.Close()
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	go func() {
		defer close(tm.readEnd)
		b := make([]byte, 32<<10)
		for {
			n, err := master.Read(b)
			tm.out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(tm.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			_ = cmd.Process.Kill()
			<-tm.done
		}
		tm.Hangup()
		<-tm.readEnd
	})
	return tm
}

// Pid returns the program's pid.
func (tm *Term) Pid() int { return tm.cmd.Process.Pid }

// ProcessState returns how the program ended; nil before Wait returned.
func (tm *Term) ProcessState() *os.ProcessState {
	select {
	case <-tm.done:
		return tm.cmd.ProcessState
	default:
		return nil
	}
}

// Output returns what the program wrote to the terminal so far, escapes
// included.
func (tm *Term) Output() string { return tm.out.String() }

// Text returns what the program wrote to the terminal so far, escapes
// removed.
func (tm *Term) Text() string { return StripEscapes(tm.out.String()) }

// Stderr returns what the program wrote to its standard error so far.
func (tm *Term) Stderr() string { return tm.stderr.String() }

// Screens returns the screens drawn so far, each from a ClearScreen to
// the next; the last one may be partial.
func (tm *Term) Screens() []string {
	return strings.Split(tm.out.String(), ClearScreen)[1:]
}

// WaitScreen waits until screen n (from 1) is drawn completely, its
// footer included, and returns it.
func (tm *Term) WaitScreen(n int) string {
	tm.t.Helper()
	return tm.WaitScreenEnd(n, FooterEnd)
}

// WaitScreenEnd waits until screen n (from 1) holds end, the last thing
// drawn on it, and returns it. A later screen proves screen n complete.
func (tm *Term) WaitScreenEnd(n int, end string) string {
	tm.t.Helper()
	var screen string
	tm.waitUntil(func() bool {
		s := tm.Screens()
		if len(s) > n || (len(s) == n && strings.Contains(s[n-1], end)) {
			screen = s[n-1]
			return true
		}
		return false
	}, "screen %d ending in %q", n, end)
	return screen
}

// WaitText waits until the terminal's text (escapes removed) holds s at
// least n times in all.
func (tm *Term) WaitText(s string, n int) {
	tm.t.Helper()
	tm.waitUntil(func() bool { return strings.Count(tm.Text(), s) >= n }, "%q %d time(s) on the terminal", s, n)
}

// waitUntil polls cond until it holds; it fails the test, naming what it
// waited for, when the program ends first or Timeout passes.
func (tm *Term) waitUntil(cond func() bool, format string, args ...any) {
	tm.t.Helper()
	what := fmt.Sprintf(format, args...)
	deadline := time.Now().Add(tm.timeout)
	for !cond() {
		select {
		case <-tm.done:
			// What the program wrote before it ended may still be on
			// its way through the terminal: read it all, look again.
			tm.drain()
			if cond() {
				return
			}
			tm.t.Fatalf("the program ended (%v) before %s; stderr:\n%s\nterminal:\n%s", tm.cmd.ProcessState, what, tm.Stderr(), tm.Tail())
		default:
		}
		if time.Now().After(deadline) {
			tm.dumpStacks()
			tm.t.Fatalf("no %s within %v; stderr (with the program's goroutines, when it is a Go program):\n%s\nterminal:\n%s", what, tm.timeout, tm.Stderr(), tm.Tail())
		}
		time.Sleep(poll)
	}
}

// drain gives the reader a moment to reach the end of what the ended
// program wrote to the terminal. A descendant that still holds the
// terminal keeps it open: then drain returns after a few seconds, and
// the caller judges what arrived.
func (tm *Term) drain() {
	select {
	case <-tm.readEnd:
	case <-time.After(5 * time.Second):
	}
}

// dumpStacks sends the program SIGQUIT, on which a Go program writes
// every goroutine's stack to its standard error and exits, and gives it a
// few seconds to do so: a hang then says where it hangs.
func (tm *Term) dumpStacks() {
	if err := tm.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return
	}
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
	}
}

// Tail returns the end of the terminal output, escapes removed, for
// failure messages.
func (tm *Term) Tail() string {
	s := tm.Text()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// Press types keys on the terminal.
func (tm *Term) Press(keys string) {
	tm.t.Helper()
	if _, err := tm.tty.Write([]byte(keys)); err != nil {
		tm.t.Fatalf("typing %q: %v", keys, err)
	}
}

// Resize changes the terminal's size to rows x cols, as a terminal window
// does when it is resized: the program gets SIGWINCH.
func (tm *Term) Resize(rows, cols uint16) {
	tm.t.Helper()
	if err := setSize(tm.tty, rows, cols); err != nil {
		tm.t.Fatalf("resizing the terminal to %dx%d: %v", cols, rows, err)
	}
}

// Hangup closes the terminal's master side: the kernel hangs up the
// terminal and sends SIGHUP to its session, as when a terminal window is
// closed.
func (tm *Term) Hangup() {
	tm.closeMu.Lock()
	defer tm.closeMu.Unlock()
	if !tm.closed {
		tm.closed = true
		tm.tty.Close()
	}
}

// Wait waits for the program to exit and returns its exit code (-1 when a
// signal ended it). It kills the program and fails the test when it does
// not exit within Timeout.
func (tm *Term) Wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(tm.timeout):
		tm.dumpStacks()
		_ = tm.cmd.Process.Kill()
		<-tm.done
		tm.t.Fatalf("the program did not exit within %v; stderr (with the program's goroutines, when it is a Go program):\n%s\nterminal:\n%s", tm.timeout, tm.Stderr(), tm.Tail())
	}
	return tm.cmd.ProcessState.ExitCode()
}

// StripEscapes removes terminal escape sequences (CSI sequences and
// two-byte escapes) from s.
func StripEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		j := i + 1
		if j < len(s) && s[j] == '[' {
			j++
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
		}
		i = j // skips the final byte of a CSI, or the byte after ESC
	}
	return b.String()
}
