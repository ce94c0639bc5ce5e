package cli

import (
	"io"
	"strings"
	"sync"

	"github.com/charmbracelet/x/ansi"

	"github.com/pgwalk/pgwalk/internal/render"
)

// Terminal sequences of the interactive screen (xterm; every terminal
// emulator in use understands them).
const (
	// altScreenOn switches to the alternate screen and hides the cursor:
	// the shell's screen and scrollback stay as they were.
	altScreenOn = "\x1b[?1049h\x1b[?25l"
	// altScreenOff shows the cursor and goes back to the shell's screen.
	altScreenOff = "\x1b[?25h\x1b[?1049l"
	// clearScreen starts every screen drawn: home, then erase.
	clearScreen = "\x1b[H\x1b[2J"
	// home starts a repaint of what is on screen, line by line.
	home = "\x1b[H"
	// eraseLine erases the rest of a line.
	eraseLine = "\x1b[K"
)

// screen is the terminal of an interactive run. It shows one stop at a
// time on the alternate screen; the notices (a warning, a driver's
// message, what a key did) stand above the footer until the next key.
// Notices may arrive from other goroutines.
type screen struct {
	mu     sync.Mutex
	out    io.Writer
	active bool
	width  int
	height int
	// body and footer are what was drawn last.
	body   []string
	footer string
	// notices are shown until clearNotices.
	notices []string
}

// enter switches to the alternate screen.
func (s *screen) enter() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		_, _ = io.WriteString(s.out, altScreenOn)
		s.active = true
	}
}

// leave goes back to the shell's screen, as it was before enter. It is
// safe to call more than once.
func (s *screen) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		_, _ = io.WriteString(s.out, altScreenOff)
		s.active = false
	}
}

// noticeRows returns the notices wrapped to the terminal's width, at most
// a third of its height; s.mu is held.
func (s *screen) noticeRows() []string {
	var rows []string
	for _, n := range s.notices {
		rows = append(rows, strings.Split(render.Wrap(n, s.width-1), "\n")...)
	}
	if limit := max(s.height/3, 1); len(rows) > limit {
		rows = rows[len(rows)-limit:]
	}
	return rows
}

// BodyRows returns how many rows a stop has on a screen of width x height
// with the notices shown now.
func (s *screen) BodyRows(width, height int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.width, s.height = width, height
	return max(height-1-len(s.noticeRows()), 1)
}

// draw clears the screen and shows body (the lines of a stop), the notices
// and footer.
func (s *screen) draw(body []string, footer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.footer = body, footer
	s.paint(true)
}

// queue adds a line above the footer, shown from the next draw.
func (s *screen) queue(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = append(s.notices, line)
}

// noticeIfActive shows line above the footer at once and reports true
// when the screen is up; otherwise it does nothing and reports false.
func (s *screen) noticeIfActive(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return false
	}
	s.notices = append(s.notices, line)
	if s.footer != "" {
		s.paint(false)
	}
	return true
}

// clearNotices takes the notices away; the next draw shows none.
func (s *screen) clearNotices() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = nil
}

// paint writes the whole screen: after clearing it, or over what is there
// (a notice came: the stop on screen is the same one); s.mu is held.
func (s *screen) paint(clear bool) {
	notices := s.noticeRows()
	room := max(s.height-1-len(notices), 0)
	var b strings.Builder
	if clear {
		b.WriteString(clearScreen)
	} else {
		b.WriteString(home)
	}
	used := 0
	for _, l := range s.body {
		r := 1
		if w := ansi.StringWidth(l); s.width > 0 && w > s.width {
			r = (w + s.width - 1) / s.width
		}
		if used+r > room {
			break
		}
		used += r
		b.WriteString(l)
		if !clear {
			b.WriteString(eraseLine)
		}
		b.WriteString("\n")
	}
	for ; used < room; used++ {
		if !clear {
			b.WriteString(eraseLine)
		}
		b.WriteString("\n")
	}
	for _, n := range notices {
		b.WriteString(n)
		if !clear {
			b.WriteString(eraseLine)
		}
		b.WriteString("\n")
	}
	b.WriteString(s.footer)
	if !clear {
		b.WriteString(eraseLine)
	}
	_, _ = io.WriteString(s.out, b.String())
}
