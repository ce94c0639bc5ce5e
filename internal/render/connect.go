package render

import (
	"strings"
)

// Connect is what the connect box says: how clients connect to the run's
// postmaster.
type Connect struct {
	// Title heads the box.
	Title string
	// Commands are the psql command lines, shown whole: a cut command
	// line is no use.
	Commands []string
	// Notes follow the commands, wrapped to the box.
	Notes []string
}

// ConnectBox returns the connect box for a screen of width columns: a
// framed box (as the key help) with the title, the command lines indented
// under it and the notes, which wrap to the screen (to 76 columns at most).
func ConnectBox(c Connect, width int, ascii bool) []string {
	// The notes wrap inside the frame and its blank columns, leaving the
	// screen's last column free (no wrap), at most 76 columns wide: a
	// line a class can read.
	inner := min(max(width-5, 20), 76)
	lines := []string{c.Title, ""}
	for _, cmd := range c.Commands {
		lines = append(lines, "  "+cmd)
	}
	for i, n := range c.Notes {
		if i == 0 && len(c.Commands) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, strings.Split(Wrap(n, inner), "\n")...)
	}
	return frame(lines, ascii)
}
