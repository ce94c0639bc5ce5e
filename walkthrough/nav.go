package walkthrough

import "fmt"

// Key is a navigation command, decoded from what the user pressed.
type Key string

// The navigation keys of an interactive run.
const (
	// KeyNext shows the next page of the stop, then the next stop.
	KeyNext Key = "next"
	// KeyBack shows the previous page of the stop, then an earlier stop.
	KeyBack Key = "back"
	// KeyNextStop goes to the next stop whatever the page: what --delay
	// presses.
	KeyNextStop Key = "next-stop"
	// KeyDown and KeyUp scroll by one line.
	KeyDown Key = "down"
	KeyUp   Key = "up"
	// KeyPageDown and KeyPageUp turn the page within the stop.
	KeyPageDown Key = "page-down"
	KeyPageUp   Key = "page-up"
	KeyFirst    Key = "first"
	KeyLast     Key = "last"
	// KeyValues jumps to every value observed at the stop.
	KeyValues Key = "values"
	// KeySource shows the source lines and jumps to them, or hides them.
	KeySource Key = "source"
	// KeyConnect shows how clients connect (the psql command lines) over
	// the page, as KeyHelp shows the keys.
	KeyConnect   Key = "connect"
	KeyHelp      Key = "help"
	KeyQuit      Key = "quit"
	KeyInterrupt Key = "interrupt"
	KeyNone      Key = ""
)

// PhaseKey returns the key that jumps to the note of phase number n (1..5).
func PhaseKey(n int) Key { return Key(fmt.Sprintf("phase-%d", n)) }

// DecodeKey turns the bytes of one key press on a raw terminal into a Key.
// Unknown input decodes to KeyNone.
func DecodeKey(b []byte) Key {
	switch string(b) {
	case "\r", "\n", "\r\n", " ", "n", "l", "\x1b[C", "\x1bOC":
		return KeyNext
	case "b", "p", "h", "\x1b[D", "\x1bOD", "\x7f", "\b":
		return KeyBack
	case "j", "\x1b[B", "\x1bOB":
		return KeyDown
	case "k", "\x1b[A", "\x1bOA":
		return KeyUp
	case "\x1b[6~", "\x06": // PgDn, Ctrl-F
		return KeyPageDown
	case "\x1b[5~", "\x02": // PgUp, Ctrl-B
		return KeyPageUp
	case "g", "\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~":
		return KeyFirst
	case "G", "\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~":
		return KeyLast
	case "v":
		return KeyValues
	case "?":
		return KeyHelp
	case "s":
		return KeySource
	case "c":
		return KeyConnect
	case "q", "Q", "\x04", "\x1b":
		return KeyQuit
	case "\x03":
		return KeyInterrupt
	}
	if len(b) == 1 && b[0] >= '1' && b[0] <= '0'+MainPhaseCount {
		return PhaseKey(int(b[0] - '0'))
	}
	return KeyNone
}

// DecodeKeys splits what one read from a terminal returned into key presses
// (a fast typist or a paste can deliver several at once) and decodes each.
func DecodeKeys(b []byte) []Key {
	var keys []Key
	for len(b) > 0 {
		n := 1
		if b[0] == 0x1b && len(b) > 1 && (b[1] == '[' || b[1] == 'O') {
			n = 2
			for n < len(b) && (b[n] < 0x40 || b[n] > 0x7e) {
				n++
			}
			n = min(n+1, len(b))
		} else if b[0] == '\r' && len(b) > 1 && b[1] == '\n' {
			n = 2
		}
		if k := DecodeKey(b[:n]); k != KeyNone {
			keys = append(keys, k)
		}
		b = b[n:]
	}
	return keys
}

// Layout is what the view measured of the stop on screen, for Advance to
// move within it. The zero Layout is a stop that fits on one screen.
type Layout struct {
	// Lines is how many lines the stop has.
	Lines int
	// Pages holds the first line of each page, ascending from 0. The view
	// chooses them: a page never splits a source range that fits on one,
	// and in a narrow terminal the source starts a page of its own.
	Pages []int
	// Breaks are the lines that start a page whatever comes before them
	// (the source in a narrow terminal): no screen shows both sides.
	Breaks []int
	// LastTop is the first line from which the rest of the stop fits on
	// the screen: scrolling stops there.
	LastTop int
	// Values is the first line of every value observed at the stop, and
	// Source the first line of the source lines; -1 when there are none.
	Values, Source int
}

// pageAfter returns the first page that starts after line top, or -1.
func (l Layout) pageAfter(top int) int {
	for _, p := range l.Pages {
		if p > top {
			return p
		}
	}
	return -1
}

// pageBefore returns the last page that starts before line top, or -1.
func (l Layout) pageBefore(top int) int {
	for i := len(l.Pages) - 1; i >= 0; i-- {
		if l.Pages[i] < top {
			return l.Pages[i]
		}
	}
	return -1
}

// isPage reports whether a page starts at line top.
func (l Layout) isPage(top int) bool {
	for _, p := range l.Pages {
		if p == top {
			return true
		}
	}
	return top == 0
}

// atEnd reports whether the screen that starts at line top shows the end
// of the stop. A screen that starts a page shows that page only; another
// shows as much as fits, up to a break.
func (l Layout) atEnd(top int) bool {
	if l.pageAfter(top) < 0 {
		return true
	}
	if l.isPage(top) {
		return false
	}
	for _, b := range l.Breaks {
		if b > top {
			return false
		}
	}
	return top >= l.LastTop
}

// maxTop returns the last line the screen may start at.
func (l Layout) maxTop() int {
	m := l.LastTop
	if len(l.Pages) > 0 {
		m = max(m, l.Pages[len(l.Pages)-1])
	}
	return max(m, l.Values, l.Source, 0)
}

// Page returns the number (from 0) of the page that holds line top.
func (l Layout) Page(top int) int {
	n := 0
	for i, p := range l.Pages {
		if p <= top {
			n = i
		}
	}
	return n
}

// jump is a place in the stop that a key asked for before the view could
// lay the stop out anew (the source lines just switched on).
type jump string

const (
	jumpNone   jump = ""
	jumpSource jump = "source"
)

// State is where an interactive run stands. It changes only through Advance,
// Received, Ended and WithLayout, which are pure.
//
// Every key works at any time, also while the driver works on the next
// stop (which can take as long as a client takes to connect): the screen
// shows the latest stop meanwhile, and a key that moves elsewhere stops
// the waiting. The stop is then received all the same, and shown when
// asked for.
type State struct {
	// Stops holds the phase of every stop received so far, in order.
	Stops []PhaseID
	// Pos is the index in Stops of the stop on screen. Pos == len(Stops)
	// means the next stop is wanted from the driver (see NeedStop and
	// Waiting): the screen shows the latest stop (Shown) until it comes.
	Pos int
	// Done is set when the driver reported that no stop follows.
	Done bool
	// Help is set while the key help is shown over the page; Connect
	// while the connect commands are.
	Help, Connect bool
	// Source is set while source lines are shown with the notes.
	Source bool
	// Quit is set when the user asked to leave; Interrupted when by Ctrl-C.
	Quit, Interrupted bool
	// Finished is set when the user advanced past the last stop.
	Finished bool
	// Message is a one-line notice for the screen (a message of the
	// catalog), cleared by the next key; its Key is "" when there is none.
	Message Msg
	// Top is the first line of the stop on screen.
	Top int
	// Layout is the view's measure of the stop on screen.
	Layout Layout
	// jump is where the next layout must put Top.
	jump jump
}

// WithLayout returns the state after the view laid out the stop on screen
// as l: a jump asked for is made, and Top stays within the stop. When the
// same stop was laid out anew at another width (the terminal was resized),
// the screen starts at the page that holds the same share of the stop.
func (s State) WithLayout(l Layout) State {
	if old := s.Layout; old.Lines > 0 && l.Lines > 0 && old.Lines != l.Lines && s.Top > 0 {
		at := s.Top * l.Lines / old.Lines
		s.Top = 0
		for _, p := range l.Pages {
			if p <= at {
				s.Top = p
			}
		}
	}
	s.Layout = l
	if s.jump == jumpSource {
		if l.Source >= 0 {
			s.Top = l.Source
		}
		s.jump = jumpNone
	}
	s.Top = min(max(s.Top, 0), l.maxTop())
	return s
}

// Page returns the number (from 0) of the page on screen, and how many
// pages the stop has.
func (s State) Page() (int, int) {
	return s.Layout.Page(s.Top), max(len(s.Layout.Pages), 1)
}

// AtEnd reports whether the end of the stop is on screen.
func (s State) AtEnd() bool { return s.Layout.atEnd(s.Top) }

// NeedStop reports whether the caller must fetch the next stop from the
// driver before it can show State.Pos.
func (s State) NeedStop() bool {
	return !s.Done && !s.Quit && s.Pos >= len(s.Stops)
}

// Waiting reports whether the user asked for a stop the driver has not
// reported yet, while an earlier one is on screen.
func (s State) Waiting() bool { return s.NeedStop() && len(s.Stops) > 0 }

// Shown returns the index in Stops of the stop on screen: Pos, or while
// Waiting the latest stop; -1 before the first stop.
func (s State) Shown() int { return min(s.Pos, len(s.Stops)-1) }

// Reviewing reports whether the stop on screen is an earlier one than the
// stop the processes are paused at.
func (s State) Reviewing() bool { return s.Pos < len(s.Stops)-1 }

// Received returns the state after the driver reported a stop of phase p.
// A stop that was waited for is shown from its top; otherwise the screen
// stays where it is.
func (s State) Received(p PhaseID) State {
	s.Stops = append(append([]PhaseID(nil), s.Stops...), p)
	if s.Pos == len(s.Stops)-1 && len(s.Stops) > 1 {
		s.Top, s.Layout, s.jump = 0, Layout{}, jumpNone
	}
	return s
}

// Ended returns the state after the driver reported that the run is over.
func (s State) Ended() State {
	s.Done = true
	if s.Pos >= len(s.Stops) {
		s.Pos = len(s.Stops) - 1
		s.Finished = true
	}
	return s
}

// Advance returns the state after key. Moving to another stop starts at
// its top, with its layout still to be measured. While Waiting, the next
// keys keep waiting and the overlays open over the latest stop; any other
// key stops the waiting and acts on the latest stop.
func Advance(s State, k Key) State {
	if s.Waiting() {
		switch k {
		case KeyNext, KeyNextStop, KeyNone:
			if !s.Help && !s.Connect {
				s.Message = Msg{}
				return s
			}
		case KeyHelp, KeyConnect, KeyQuit, KeyInterrupt:
		default:
			if !s.Help && !s.Connect {
				s.Pos = len(s.Stops) - 1
			}
		}
	} else if len(s.Stops) == 0 {
		// Nothing to show yet: the overlays, q and Ctrl-C work.
		switch k {
		case KeyHelp, KeyConnect, KeyQuit, KeyInterrupt:
		default:
			s.Message = Msg{}
			if !s.Help && !s.Connect && k != KeyNone {
				s.Message = M("nav.no_stop_yet")
			}
			s.Help, s.Connect = false, false
			return s
		}
	}
	n := advance(s, k)
	if n.Shown() != s.Shown() {
		n.Top, n.Layout, n.jump = 0, Layout{}, jumpNone
	}
	return n
}

// nextStop moves to the next stop, asks the driver for it, or finishes.
func (s State) nextStop() State {
	last := len(s.Stops) - 1
	switch {
	case s.Pos < last:
		s.Pos++
	case !s.Done:
		s.Pos = last + 1
	default:
		s.Finished = true
	}
	return s
}

func advance(s State, k Key) State {
	s.Message = Msg{}
	if k == KeyInterrupt {
		s.Quit, s.Interrupted, s.Help, s.Connect = true, true, false, false
		return s
	}
	if s.Help || s.Connect {
		// The help and the connect commands are overlays: the next key
		// closes them and does nothing else, except q, which always
		// quits.
		s.Help, s.Connect = false, false
		if k != KeyQuit {
			return s
		}
	}
	last := len(s.Stops) - 1
	switch k {
	case KeyNext:
		if p := s.Layout.pageAfter(s.Top); p >= 0 && !s.Layout.atEnd(s.Top) {
			s.Top = p
			return s
		}
		return s.nextStop()
	case KeyNextStop:
		return s.nextStop()
	case KeyBack:
		if p := s.Layout.pageBefore(s.Top); p >= 0 {
			s.Top = p
			return s
		}
		if s.Pos > 0 {
			s.Pos--
			s.Message = M("nav.earlier_note")
		} else {
			s.Message = M("nav.first_stop")
		}
	case KeyPageDown:
		if p := s.Layout.pageAfter(s.Top); p >= 0 && !s.Layout.atEnd(s.Top) {
			s.Top = p
		} else {
			s.Message = M("nav.last_page")
		}
	case KeyPageUp:
		if p := s.Layout.pageBefore(s.Top); p >= 0 {
			s.Top = p
		}
	case KeyDown:
		if s.Top < s.Layout.LastTop {
			s.Top++
		}
	case KeyUp:
		s.Top = max(s.Top-1, 0)
	case KeyValues:
		if s.Layout.Values >= 0 {
			s.Top = s.Layout.Values
		} else {
			s.Message = M("nav.no_values")
		}
	case KeyFirst:
		if s.Pos != 0 && last >= 0 {
			s.Pos = 0
			s.Message = M("nav.first_note")
		}
	case KeyLast:
		if last >= 0 {
			s.Pos = last
		}
	case KeyHelp:
		s.Help = true
	case KeyConnect:
		s.Connect = true
	case KeySource:
		s.Source = !s.Source
		if s.Source {
			s.jump = jumpSource
		} else {
			s.Top = 0
		}
	case KeyQuit:
		s.Quit = true
	default:
		var n int
		if _, err := fmt.Sscanf(string(k), "phase-%d", &n); err == nil {
			for i, p := range s.Stops {
				if ph, err := LookupPhase(string(p)); err == nil && ph.Number == n {
					s.Pos = i
					return s
				}
			}
			s.Message = M("nav.phase_not_reached", "n", n)
		}
	}
	return s
}
