//go:build linux || darwin

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
)

// startTerm runs pgwalk (this test binary, as TestMain lets it act) with
// args on a 200x120 pseudo-terminal.
func startTerm(t *testing.T, args ...string) *ptytest.Term {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PGWALK_TEST_MAIN=1", "NO_COLOR=1", "HOME="+t.TempDir())
	return ptytest.Start(t, cmd, 200, 120)
}

func TestTerminal(t *testing.T) {
	t.Run("pauses at each stop and q quits at once", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "17.1", "--driver", "narrate")
		if s := ptytest.StripEscapes(tm.WaitScreen(1)); !strings.Contains(s, "Phase 1/5 · Struct creation · 17.1") {
			t.Fatalf("screen 1 is not stop 1:\n%s", s)
		}
		// A key pgwalk answers without going on: it reads keys only at
		// a pause, so a pgwalk that did not pause at stop 1 would have
		// drawn stop 2 before this answer.
		tm.Press("?")
		if s := ptytest.StripEscapes(tm.WaitScreen(2)); !strings.Contains(s, "first / latest note") {
			t.Fatalf("screen 2 is not the key help:\n%s", s)
		}
		if strings.Contains(tm.Text(), "Phase 2/5") {
			t.Fatalf("pgwalk went on to stop 2 without a key:\n%s", tm.Text())
		}
		tm.Press("?") // any key closes the help: stop 1 again
		if s := ptytest.StripEscapes(tm.WaitScreen(3)); !strings.Contains(s, "Phase 1/5") {
			t.Fatalf("screen 3 is not stop 1 again:\n%s", s)
		}
		tm.Press("q")
		if code := tm.Wait(); code != 0 {
			t.Fatalf("q: exit %d; stderr:\n%s", code, tm.Stderr())
		}
		if strings.Contains(tm.Text(), "Phase 2/5") {
			t.Fatal("q must quit, not advance")
		}
	})
	t.Run("Enter walks every phase, then finishes", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
		for i, h := range []string{"Phase 1/5", "Phase 2/5", "Phase 3/5", "Phase 4/5", "Phase 5/5"} {
			if s := ptytest.StripEscapes(tm.WaitScreen(i + 1)); !strings.Contains(s, h) {
				t.Fatalf("screen %d is not %s:\n%s", i+1, h, s)
			}
			if i < 4 {
				tm.Press("\r")
			}
		}
		tm.Press(" ")
		if code := tm.Wait(); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, tm.Stderr())
		}
	})
	t.Run("b goes back, ? shows keys", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
		tm.WaitScreen(1)
		tm.Press("n")
		tm.WaitText("Phase 2/5", 1)
		tm.Press("b")
		tm.WaitText("processes do not rewind", 1)
		tm.Press("?")
		tm.WaitText("first / latest note", 1)
		tm.Press("q") // quits, from the help too
		if code := tm.Wait(); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, tm.Stderr())
		}
	})
	t.Run("Ctrl-C at a pause exits 130", func(t *testing.T) {
		tm := startTerm(t, "run", "--version", "16.4", "--driver", "narrate")
		tm.WaitScreen(1)
		tm.Press("\x03")
		if code := tm.Wait(); code != 130 {
			t.Fatalf("Ctrl-C: exit %d, want 130; stderr:\n%s\nterminal:\n%s", code, tm.Stderr(), tm.Tail())
		}
	})
}
