package render

import (
	"fmt"
	"strings"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// KeyHelp returns the key help shown by ?.
func KeyHelp() string {
	return strings.Join([]string{
		"",
		"  Keys",
		"  Enter, space, n, →   next stop (lets the processes run on)",
		"  b, p, ←              back to an earlier note (the processes do not rewind)",
		"  g / G                first / latest note",
		"  1-5                  the note of that phase",
		"  s                    show or hide the source lines",
		"  (a stop taller than the screen: Enter and b page through it first)",
		"  ?                    this help (any key closes it)",
		"  q                    quit (processes are stopped and cleaned up)",
		"",
	}, "\n")
}

// Footer returns the line under a stop on a terminal, cut to width columns.
func Footer(st walkthrough.State, heading string, width int, color bool) string {
	parts := []string{heading}
	if st.Pages > 1 {
		parts = append(parts, fmt.Sprintf("page %d/%d", st.Page+1, st.Pages))
	}
	switch {
	case st.Message != "":
		parts = append(parts, st.Message)
	case st.Reviewing():
		parts = append(parts, fmt.Sprintf("reviewing stop %d of %d", st.Pos+1, len(st.Stops)))
	case st.Page < st.Pages-1:
		parts = append(parts, "Enter: more")
	case st.Done && st.Pos == len(st.Stops)-1:
		parts = append(parts, "the end: Enter finishes")
	}
	parts = append(parts, "? keys · q quit")
	line := " " + strings.Join(parts, " · ")
	if r := []rune(line); width > 1 && len(r) > width-1 {
		line = string(r[:width-2]) + "…"
	}
	if color {
		return "\x1b[7m" + line + "\x1b[0m"
	}
	return line
}
