//go:build linux || darwin

package ptytest

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStripEscapes(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "abc", "abc"},
		{"clear screen", ClearScreen + "x", "x"},
		{"colour", "\x1b[1;33mbold\x1b[0m", "bold"},
		{"private mode", "\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"},
		{"two-byte escape", "a\x1b7b\x1b8c", "abc"},
		{"escape at the end", "abc\x1b", "abc"},
		{"cut CSI at the end", "abc\x1b[1;3", "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripEscapes(tc.in); got != tc.want {
				t.Errorf("StripEscapes(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// shell is a program that draws two screens, reading a line between them,
// and then waits for a second line.
const shell = `printf '\033[H\033[2Jfirst screen\nq quit'
read line
printf '\033[H\033[2Jgot %s\nq quit' "$line"
echo on-stderr >&2
while :; do sleep 1; done`

func TestTerm(t *testing.T) {
	tm := Start(t, exec.Command("sh", "-c", shell), 24, 80)
	if s := tm.WaitScreen(1); !strings.Contains(s, "first screen") {
		t.Fatalf("screen 1: %q", s)
	}
	tm.Press("typed\r")
	if s := StripEscapes(tm.WaitScreen(2)); !strings.Contains(s, "got typed") {
		t.Fatalf("screen 2: %q", s)
	}
	tm.WaitText("q quit", 2)
	if got := len(tm.Screens()); got != 2 {
		t.Errorf("%d screens, want 2", got)
	}
	// The shell now only sleeps: the hang-up's SIGHUP is what ends it (a
	// read would see end of file first, under load, and exit 1).
	tm.Hangup()
	if code := tm.Wait(); code != -1 {
		t.Errorf("after the hang-up: exit %d, want -1 (killed by SIGHUP)", code)
	}
	if !strings.Contains(tm.Stderr(), "on-stderr") {
		t.Errorf("stderr %q", tm.Stderr())
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing.T's does.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.msg = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// TestWaitsFail checks that a wait for what never comes fails and names
// what it waited for: the program ends first.
func TestWaitsFail(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait func(tm *Term)
		want string
	}{
		{"screen", func(tm *Term) { tm.WaitScreen(2) }, `the program ended (exit status 3) before screen 2 ending in "q quit"`},
		{"text", func(tm *Term) { tm.WaitText("never", 1) }, `the program ended (exit status 3) before "never" 1 time(s) on the terminal`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			tm := Start(rec, exec.Command("sh", "-c", `printf '\033[H\033[2Jonly screen q quit'; exit 3`), 24, 80)
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.wait(tm)
			}()
			select {
			case <-done:
			case <-time.After(2 * Timeout):
				t.Fatal("the wait neither returned nor failed")
			}
			if !strings.HasPrefix(rec.msg, tc.want) {
				t.Errorf("failure message %q, want it to start with %q", rec.msg, tc.want)
			}
			if !strings.Contains(rec.msg, "only screen") {
				t.Errorf("failure message %q does not show the terminal", rec.msg)
			}
		})
	}
}

// TestWaitTimesOut checks that a wait for what never comes, from a program
// that keeps running, fails once the deadline passes, names what it waited
// for, and first sends the program SIGQUIT (a Go program then writes its
// goroutines to stderr, which the message shows).
func TestWaitTimesOut(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	prog := `trap 'echo got SIGQUIT >&2; exit 3' QUIT
printf '\033[H\033[2Jonly screen q quit'
while :; do sleep 0.05; done`
	tm := Start(rec, exec.Command("sh", "-c", prog), 24, 80)
	tm.timeout = 300 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		tm.WaitScreen(2)
	}()
	select {
	case <-done:
	case <-time.After(Timeout):
		t.Fatal("the wait neither returned nor failed")
	}
	for _, want := range []string{`no screen 2 ending in "q quit" within 300ms`, "got SIGQUIT", "only screen"} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("failure message %q lacks %q", rec.msg, want)
		}
	}
}
