package walkthrough

import "fmt"

// Key is a navigation command, decoded from what the user pressed.
type Key string

// The navigation keys of an interactive run.
const (
	KeyNext      Key = "next"
	KeyBack      Key = "back"
	KeyFirst     Key = "first"
	KeyLast      Key = "last"
	KeyHelp      Key = "help"
	KeySource    Key = "source"
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
	case "\r", "\n", "\r\n", " ", "n", "j", "l", "\x1b[C", "\x1b[B", "\x1b[6~":
		return KeyNext
	case "b", "p", "k", "h", "\x1b[D", "\x1b[A", "\x1b[5~", "\x7f":
		return KeyBack
	case "g", "\x1b[H":
		return KeyFirst
	case "G", "\x1b[F":
		return KeyLast
	case "?":
		return KeyHelp
	case "s":
		return KeySource
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

// State is where an interactive run stands. It changes only through Advance,
// Received and Ended, which are pure.
type State struct {
	// Stops holds the phase of every stop received so far, in order.
	Stops []PhaseID
	// Pos is the index in Stops of the stop on screen. Pos == len(Stops)
	// means the next stop is wanted from the driver (see NeedStop).
	Pos int
	// Done is set when the driver reported that no stop follows.
	Done bool
	// Help is set while the key help is shown.
	Help bool
	// Source is set while source lines are shown beside the notes.
	Source bool
	// Quit is set when the user asked to leave; Interrupted when by Ctrl-C.
	Quit, Interrupted bool
	// Finished is set when the user advanced past the last stop.
	Finished bool
	// Message is a one-line notice for the footer, cleared by the next key.
	Message string
	// Page is the page of the stop on screen, when the stop is taller than
	// the terminal; Pages is how many pages it has (set by the view).
	Page, Pages int
}

// WithPages returns the state after the view found that the stop on screen
// needs n pages.
func (s State) WithPages(n int) State {
	s.Pages = n
	if s.Page >= n {
		s.Page = max(n-1, 0)
	}
	return s
}

// NeedStop reports whether the caller must fetch the next stop from the
// driver before it can show State.Pos.
func (s State) NeedStop() bool {
	return !s.Done && !s.Quit && s.Pos >= len(s.Stops)
}

// Reviewing reports whether the stop on screen is an earlier one than the
// stop the processes are paused at.
func (s State) Reviewing() bool { return s.Pos < len(s.Stops)-1 }

// Received returns the state after the driver reported a stop of phase p.
func (s State) Received(p PhaseID) State {
	s.Stops = append(append([]PhaseID(nil), s.Stops...), p)
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

// Advance returns the state after key.
func Advance(s State, k Key) State {
	n := advance(s, k)
	if n.Pos != s.Pos {
		n.Page, n.Pages = 0, 0
	}
	return n
}

func advance(s State, k Key) State {
	s.Message = ""
	if k == KeyInterrupt {
		s.Quit, s.Interrupted = true, true
		return s
	}
	if s.Help {
		s.Help = false
		if k == KeyQuit {
			s.Quit = true
		}
		return s
	}
	last := len(s.Stops) - 1
	switch k {
	case KeyNext:
		if s.Page < s.Pages-1 {
			s.Page++
			return s
		}
		switch {
		case s.Pos < last:
			s.Pos++
		case !s.Done:
			s.Pos = last + 1
		default:
			s.Finished = true
		}
	case KeyBack:
		if s.Page > 0 {
			s.Page--
			return s
		}
		if s.Pos > 0 {
			s.Pos--
			s.Message = "an earlier note: the processes do not rewind, they stay paused at the latest stop"
		} else {
			s.Message = "this is the first stop"
		}
	case KeyFirst:
		if s.Pos != 0 && last >= 0 {
			s.Pos = 0
			s.Message = "the first note: the processes do not rewind, they stay paused at the latest stop"
		}
	case KeyLast:
		if last >= 0 {
			s.Pos = last
		}
	case KeyHelp:
		s.Help = true
	case KeySource:
		s.Source = !s.Source
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
			s.Message = fmt.Sprintf("phase %d has not been reached yet: press Enter to run on", n)
		}
	}
	return s
}
