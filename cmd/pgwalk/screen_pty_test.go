//go:build linux || darwin

package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
)

// The screen's sequences, as pgwalk writes them (internal/cli/screen.go).
const (
	altOn    = "\x1b[?1049h"
	altOff   = "\x1b[?1049l"
	newFrame = "\x1b[H\x1b[2J"
)

// term is pgwalk on a sized pseudo-terminal (the one harness,
// internal/testutil/ptytest), read frame by frame.
type term struct {
	*ptytest.Term
	t *testing.T
}

// startSized runs pgwalk with args on a pseudo-terminal of cols x rows,
// its standard error on the terminal too.
func startSized(t *testing.T, cols, rows uint16, args ...string) *term {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PGWALK_TEST_MAIN=1", "NO_COLOR=1", "HOME="+t.TempDir(), "COLUMNS=", "LINES=")
	return &term{Term: ptytest.StartAll(t, cmd, rows, cols), t: t}
}

// frames returns the screens drawn so far, escapes removed, each split
// into its lines; the last may be partial.
func (tm *term) frames() [][]string {
	parts := strings.Split(tm.Output(), newFrame)
	var out [][]string
	for _, p := range parts[1:] {
		p = strings.ReplaceAll(ptytest.StripEscapes(p), "\r", "")
		out = append(out, strings.Split(p, "\n"))
	}
	return out
}

// waitFrame waits until frame n (from 1) is drawn whole (its footer, the
// last line, ends in "q quit") and returns its lines.
func (tm *term) waitFrame(n int) []string {
	tm.t.Helper()
	deadline := time.Now().Add(ptytest.Timeout)
	for {
		f := tm.frames()
		if len(f) > n || (len(f) == n && strings.HasSuffix(f[n-1][len(f[n-1])-1], "q quit")) {
			return f[n-1]
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("frame %d never came whole within %v; output:\n%s", n, ptytest.Timeout, tm.Tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// press types keys; exit waits for pgwalk's exit code.
func (tm *term) press(keys string) { tm.Press(keys) }
func (tm *term) exit() int         { return tm.Wait() }

// footer returns the last line of a frame.
func footer(frame []string) string { return frame[len(frame)-1] }

var pageOf = regexp.MustCompile(` · (\d+)/(\d+) · `)

// TestScreenHelpOverAnyPage walks to a stop taller than a 80x24 terminal
// and presses ? on its first and its second page: the help lists every
// key over the page, the footer of the page stays, and the next key only
// closes it.
func TestScreenHelpOverAnyPage(t *testing.T) {
	tm := startSized(t, 80, 24, "run", "--version", "16.4", "--driver", "narrate")
	f := tm.waitFrame(1)
	m := pageOf.FindStringSubmatch(footer(f))
	if m == nil || m[2] == "1" {
		t.Fatalf("the first stop must take several pages at 80x24; footer %q", footer(f))
	}
	keys := []string{"Enter, space, n, →", "b, p, ←", "j, ↓ / k, ↑", "PgDn / PgUp", "v ", "s ", "g, Home / G, End", "1-5", "? ", "q ", "Ctrl-C"}
	frame := 1
	for _, page := range []string{"1/" + m[2], "2/" + m[2]} {
		tm.press("?")
		frame++
		f = tm.waitFrame(frame)
		text := strings.Join(f, "\n")
		for _, k := range keys {
			if !strings.Contains(text, "│ "+k) {
				t.Errorf("page %s: the help lacks the key %q:\n%s", page, k, text)
			}
		}
		if !strings.Contains(footer(f), " · "+page+" · ") {
			t.Errorf("under the help the footer must stay on page %s: %q", page, footer(f))
		}
		if !strings.Contains(text, "Phase 1/5 · Struct creation") && page == "1/"+m[2] {
			t.Errorf("the page must show around the help:\n%s", text)
		}
		tm.press("j") // closes the help, does not scroll
		frame++
		f = tm.waitFrame(frame)
		if strings.Contains(strings.Join(f, "\n"), "PgDn / PgUp") || !strings.Contains(footer(f), " · "+page+" · ") {
			t.Errorf("the next key must close the help and do nothing else; frame:\n%s", strings.Join(f, "\n"))
		}
		tm.press("\r") // the next page
		frame++
		tm.waitFrame(frame)
	}
	tm.press("q")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestScreenQuitRestores checks that the run draws on the alternate screen,
// leaves it on q, and prints its summary line after leaving, on the shell's
// screen.
func TestScreenQuitRestores(t *testing.T) {
	tm := startSized(t, 80, 24, "run", "--version", "17.1", "--driver", "narrate")
	for frame := 1; !strings.Contains(footer(tm.waitFrame(frame)), "Phase 2/5"); frame++ {
		tm.press("\r")
	}
	tm.press("q")
	if code := tm.exit(); code != 0 {
		t.Fatalf("q: exit %d", code)
	}
	out := tm.Output()
	on, off := strings.Index(out, altOn), strings.LastIndex(out, altOff)
	first, last := strings.Index(out, newFrame), strings.LastIndex(out, newFrame)
	summary := strings.Index(out, "pgwalk: walked 2 stops with the narrate driver (ended with q)")
	switch {
	case on < 0 || off < 0:
		t.Fatalf("no alternate screen (on %d, off %d):\n%q", on, off, out)
	case !(on < first && last < off):
		t.Errorf("every screen must be drawn on the alternate screen: on %d, frames %d..%d, off %d", on, first, last, off)
	case summary < 0:
		t.Errorf("q must print the summary line:\n%q", out)
	case summary < off:
		t.Errorf("the summary must come after the alternate screen is left (at %d), not at %d", off, summary)
	}
	if strings.Count(out, altOn) != 1 || strings.Count(out, altOff) != 1 {
		t.Errorf("the alternate screen is entered %d and left %d times", strings.Count(out, altOn), strings.Count(out, altOff))
	}
	if strings.Contains(out[off:], "Phase 2/5") {
		t.Errorf("nothing of the walk may be written on the shell's screen:\n%q", out[off:])
	}
}

// TestScreenFooterFits80 walks every stop on an 80-column terminal: every
// footer fits in 79 columns and ends in "? keys · q quit"; no line of the
// body is wider than the terminal but a permalink.
func TestScreenFooterFits80(t *testing.T) {
	tm := startSized(t, 80, 24, "run", "--version", "16.4", "--driver", "narrate")
	for frame := 1; ; frame++ {
		f := tm.waitFrame(frame)
		if w := ansi.StringWidth(footer(f)); w > 79 || !strings.HasSuffix(footer(f), "? keys · q quit") {
			t.Errorf("frame %d: footer of %d columns: %q", frame, w, footer(f))
		}
		for _, l := range f {
			if w := ansi.StringWidth(l); w > 80 && !strings.Contains(l, "https://") {
				t.Errorf("frame %d: a line of %d columns: %q", frame, w, l)
			}
			if strings.HasSuffix(l, " ") {
				t.Errorf("frame %d: a line ends in a blank: %q", frame, l)
			}
		}
		if strings.Contains(footer(f), "Phase 5/5") && !strings.Contains(footer(f), "more") {
			break
		}
		tm.press("\r")
	}
	tm.press("\r")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(tm.Output(), "pgwalk: walked 5 stops with the narrate driver") {
		t.Errorf("no summary:\n%s", tm.Output())
	}
}

// TestScreenResize widens the terminal from 80 to 120 columns: the stop is
// drawn again at once, without a key, wrapped at the new width.
func TestScreenResize(t *testing.T) {
	tm := startSized(t, 80, 24, "run", "--version", "16.4", "--driver", "narrate")
	f := tm.waitFrame(1)
	widest := func(f []string) int {
		w := 0
		for _, l := range f {
			if !strings.Contains(l, "https://") {
				w = max(w, ansi.StringWidth(l))
			}
		}
		return w
	}
	if w := widest(f); w > 80 {
		t.Fatalf("at 80 columns a line of %d", w)
	}
	tm.Resize(40, 120)
	f = tm.waitFrame(2)
	if w := widest(f); w <= 80 || w > 120 {
		t.Errorf("after the resize to 120 columns the widest line is %d columns:\n%s", w, strings.Join(f, "\n"))
	}
	if len(f) != 40 {
		t.Errorf("after the resize to 40 rows the frame has %d lines", len(f))
	}
	tm.press("q")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestScreenSourceBeside runs with a source tree (PGWALK_PG_SOURCE, else an
// empty tree whose ranges are all refused) on a 170-column terminal: the
// source stands beside the note, on the same rows. Narrowed to 100
// columns, the source moves to pages of its own after the note.
func TestScreenSourceBeside(t *testing.T) {
	dir := os.Getenv("PGWALK_PG_SOURCE")
	want := "lines 4121-4132" // the header of the first range, when shown
	if dir == "" {
		dir = t.TempDir()
		if err := os.MkdirAll(dir+"/src/backend/postmaster", 0o755); err != nil {
			t.Fatal(err)
		}
		want = "postmaster.c:4121-4132: not shown"
	}
	tm := startSized(t, 170, 40, "run", "--version", "16.4", "--driver", "narrate", "--source", dir)
	f := tm.waitFrame(1)
	beside := false
	for _, l := range f {
		if i := strings.Index(l, want); i > 60 && strings.Contains(f[0], "Phase 1/5") {
			beside = true
		}
	}
	if !beside {
		t.Fatalf("at 170 columns %q must stand beside the note:\n%s", want, strings.Join(f, "\n"))
	}
	tm.Resize(40, 100)
	f = tm.waitFrame(2)
	if strings.Contains(strings.Join(f, "\n"), want) {
		t.Errorf("at 100 columns the first page must hold the note only:\n%s", strings.Join(f, "\n"))
	}
	for frame := 3; ; frame++ {
		tm.press("\r")
		f = tm.waitFrame(frame)
		if strings.Contains(strings.Join(f, "\n"), want) {
			if !strings.HasPrefix(f[0], want) && !strings.HasPrefix(f[0], "src/backend/postmaster/postmaster.c, "+want) {
				t.Errorf("the source must start its own page:\n%s", strings.Join(f, "\n"))
			}
			break
		}
		if frame > 12 {
			t.Fatalf("the source never came:\n%s", strings.Join(f, "\n"))
		}
	}
	tm.press("q")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
