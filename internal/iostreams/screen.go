package iostreams

import (
	"io"
	"strings"
	"sync"

	"github.com/charmbracelet/x/ansi"
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

// Screen is the terminal of an interactive run. It shows one page at a
// time on the alternate screen, under a footer line; the notices (a
// warning, a driver's message, what a key did) stand above the footer
// until ClearNotices. Notices may arrive from other goroutines.
type Screen struct {
	mu  sync.Mutex
	out io.Writer
	// wrap wraps a notice to a width.
	wrap   func(s string, width int) string
	active bool
	width  int
	height int
	// body and footer are what was drawn last.
	body   []string
	footer string
	// notices are shown until clearNotices.
	notices []string
}

// NewScreen returns the screen of out (the terminal on Out). wrap wraps a
// notice to the terminal's width.
func (s *IOStreams) NewScreen(wrap func(text string, width int) string) *Screen {
	return &Screen{out: s.Out, wrap: wrap}
}

// Enter switches to the alternate screen.
func (s *Screen) Enter() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		_, _ = io.WriteString(s.out, altScreenOn)
		s.active = true
	}
}

// Leave goes back to the shell's screen, as it was before Enter. It is
// safe to call more than once.
func (s *Screen) Leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active {
		_, _ = io.WriteString(s.out, altScreenOff)
		s.active = false
	}
}

// noticeRows returns the notices wrapped to the terminal's width, at most
// a third of its height; s.mu is held.
func (s *Screen) noticeRows() []string {
	var rows []string
	for _, n := range s.notices {
		if s.wrap != nil {
			n = s.wrap(n, s.width-1)
		}
		rows = append(rows, strings.Split(n, "\n")...)
	}
	if limit := max(s.height/3, 1); len(rows) > limit {
		rows = rows[len(rows)-limit:]
	}
	return rows
}

// BodyRows returns how many rows a page has on a screen of width x height
// with the notices shown now.
func (s *Screen) BodyRows(width, height int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.width, s.height = width, height
	return max(height-1-len(s.noticeRows()), 1)
}

// Draw clears the screen and shows body (the lines of a page), the
// notices and footer.
func (s *Screen) Draw(body []string, footer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.footer = body, footer
	s.paint(true)
}

// Refresh shows footer under the page drawn last, and the notices queued
// since, over what is on screen (no new screen: the page is the same one).
// It does nothing before the first Draw.
func (s *Screen) Refresh(footer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active || s.footer == "" {
		return
	}
	s.footer = footer
	s.paint(false)
}

// Drawn reports whether a page is on screen.
func (s *Screen) Drawn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active && s.footer != ""
}

// Queue adds a line above the footer, shown from the next Draw.
func (s *Screen) Queue(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = append(s.notices, line)
}

// NoticeIfActive shows line above the footer at once and reports true
// when the screen is up; otherwise it does nothing and reports false.
func (s *Screen) NoticeIfActive(line string) bool {
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

// ClearNotices takes the notices away; the next Draw shows none.
func (s *Screen) ClearNotices() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = nil
}

// paint writes the whole screen: after clearing it, or over what is there
// (a notice came: the stop on screen is the same one); s.mu is held.
func (s *Screen) paint(clear bool) {
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
