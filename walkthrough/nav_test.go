package walkthrough

import (
	"strings"
	"testing"
)

// feed applies a key script to a state where the driver delivers the stops
// of phases one by one when asked (NeedStop), then reports the end.
func feed(keys []Key, phases []PhaseID) State {
	var s State
	next := 0
	pull := func() {
		for s.NeedStop() {
			if next < len(phases) {
				s = s.Received(phases[next])
				next++
			} else {
				s = s.Ended()
			}
		}
	}
	pull()
	for _, k := range keys {
		s = Advance(s, k)
		pull()
		if s.Quit || s.Finished {
			break
		}
	}
	return s
}

func TestAdvance(t *testing.T) {
	five := []PhaseID{StructCreation, StructInit, Fork, Child, ParentRegistration}
	tests := []struct {
		name      string
		keys      []Key
		wantPos   int
		wantStops int
		wantQuit  bool
		wantInt   bool
		wantDone  bool
		wantHelp  bool
		wantSrc   bool
		wantMsg   string
	}{
		{name: "start shows the first stop", keys: nil, wantPos: 0, wantStops: 1},
		{name: "next fetches the next stop", keys: []Key{KeyNext, KeyNext}, wantPos: 2, wantStops: 3},
		{name: "next past the end finishes", keys: []Key{KeyNext, KeyNext, KeyNext, KeyNext, KeyNext, KeyNext}, wantPos: 4, wantStops: 5, wantDone: true},
		{name: "q quits at once", keys: []Key{KeyNext, KeyQuit, KeyNext}, wantPos: 1, wantStops: 2, wantQuit: true},
		{name: "ctrl-c interrupts", keys: []Key{KeyInterrupt}, wantPos: 0, wantStops: 1, wantQuit: true, wantInt: true},
		{name: "back does not fetch and says processes do not rewind", keys: []Key{KeyNext, KeyNext, KeyBack}, wantPos: 1, wantStops: 3, wantMsg: "nav.earlier_note"},
		{name: "back at the first stop stays", keys: []Key{KeyBack}, wantPos: 0, wantStops: 1, wantMsg: "nav.first_stop"},
		{name: "next after back re-shows without fetching", keys: []Key{KeyNext, KeyNext, KeyBack, KeyBack, KeyNext}, wantPos: 1, wantStops: 3},
		{name: "g goes to the first note", keys: []Key{KeyNext, KeyNext, KeyFirst}, wantPos: 0, wantStops: 3, wantMsg: "nav.first_note"},
		{name: "G goes to the latest stop", keys: []Key{KeyNext, KeyNext, KeyFirst, KeyLast}, wantPos: 2, wantStops: 3},
		{name: "digit jumps to a reached phase", keys: []Key{KeyNext, KeyNext, KeyNext, PhaseKey(2)}, wantPos: 1, wantStops: 4},
		{name: "digit for an unreached phase stays", keys: []Key{PhaseKey(5)}, wantPos: 0, wantStops: 1, wantMsg: "nav.phase_not_reached"},
		{name: "? shows help, any key closes it without moving", keys: []Key{KeyHelp, KeyNext}, wantPos: 0, wantStops: 1},
		{name: "? shows help", keys: []Key{KeyHelp}, wantPos: 0, wantStops: 1, wantHelp: true},
		{name: "q in help quits", keys: []Key{KeyHelp, KeyQuit}, wantPos: 0, wantStops: 1, wantQuit: true},
		{name: "any key in help only closes it", keys: []Key{KeyNext, KeyHelp, KeyBack, KeyHelp, KeySource, KeyHelp, PhaseKey(1)}, wantPos: 1, wantStops: 2},
		{name: "ctrl-c in help interrupts", keys: []Key{KeyHelp, KeyInterrupt}, wantPos: 0, wantStops: 1, wantQuit: true, wantInt: true},
		{name: "the delay's next-stop key fetches the next stop", keys: []Key{KeyNextStop, KeyNextStop}, wantPos: 2, wantStops: 3},
		{name: "s toggles the source view", keys: []Key{KeySource}, wantPos: 0, wantStops: 1, wantSrc: true},
		{name: "s twice hides it again", keys: []Key{KeySource, KeySource}, wantPos: 0, wantStops: 1},
		{name: "unknown key does nothing", keys: []Key{KeyNone}, wantPos: 0, wantStops: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := feed(tt.keys, five)
			if s.Pos != tt.wantPos || len(s.Stops) != tt.wantStops {
				t.Errorf("Pos=%d Stops=%d, want Pos=%d Stops=%d", s.Pos, len(s.Stops), tt.wantPos, tt.wantStops)
			}
			if s.Quit != tt.wantQuit || s.Interrupted != tt.wantInt {
				t.Errorf("Quit=%v Interrupted=%v, want %v %v", s.Quit, s.Interrupted, tt.wantQuit, tt.wantInt)
			}
			if s.Finished != tt.wantDone {
				t.Errorf("Finished=%v, want %v", s.Finished, tt.wantDone)
			}
			if s.Help != tt.wantHelp || s.Source != tt.wantSrc {
				t.Errorf("Help=%v Source=%v, want %v %v", s.Help, s.Source, tt.wantHelp, tt.wantSrc)
			}
			if s.Message.Key != tt.wantMsg {
				t.Errorf("Message=%q, want %q", s.Message.Key, tt.wantMsg)
			}
		})
	}
}

func TestAdvanceIsPure(t *testing.T) {
	s := State{}.Received(StructCreation).Received(StructInit)
	before := append([]PhaseID(nil), s.Stops...)
	_ = Advance(s, KeyNext).Received(Fork)
	if len(s.Stops) != len(before) || s.Pos != 0 {
		t.Fatalf("Advance changed its input: %+v", s)
	}
}

func TestEndedWithNoStopFinishes(t *testing.T) {
	s := State{}.Ended()
	if !s.Finished || s.NeedStop() {
		t.Fatalf("an empty run must finish and need nothing: %+v", s)
	}
}

func TestDecodeKey(t *testing.T) {
	tests := []struct {
		in   string
		want Key
	}{
		{"\r", KeyNext}, {" ", KeyNext}, {"n", KeyNext}, {"\x1b[C", KeyNext},
		{"b", KeyBack}, {"\x1b[D", KeyBack},
		{"j", KeyDown}, {"\x1b[B", KeyDown}, {"k", KeyUp}, {"\x1b[A", KeyUp},
		{"\x1b[6~", KeyPageDown}, {"\x1b[5~", KeyPageUp}, {"v", KeyValues},
		{"\x1b[H", KeyFirst}, {"\x1b[F", KeyLast},
		{"g", KeyFirst}, {"G", KeyLast}, {"?", KeyHelp}, {"s", KeySource}, {"c", KeyConnect},
		{"q", KeyQuit}, {"\x03", KeyInterrupt},
		{"3", PhaseKey(3)}, {"6", KeyNone}, {"0", KeyNone}, {"x", KeyNone},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.in, "\x1b", "ESC"), func(t *testing.T) {
			if got := DecodeKey([]byte(tt.in)); got != tt.want {
				t.Errorf("DecodeKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLookupPhaseAndPermalink(t *testing.T) {
	if p, err := LookupPhase("3"); err != nil || p.ID != Fork {
		t.Errorf("LookupPhase(3) = %v, %v", p, err)
	}
	if _, err := LookupPhase("forks"); err == nil || !strings.Contains(err.Error(), "parent-registration") {
		t.Errorf("LookupPhase(forks) error %v must list the phases", err)
	}
	r, err := testCatalog(t).Lookup("17.1")
	if err != nil {
		t.Fatal(err)
	}
	want := "https://github.com/postgres/postgres/blob/REL_17_1/src/backend/postmaster/postmaster.c#L3593-L3595"
	if got := r.Version.Permalink("src/backend/postmaster/postmaster.c", 3593, 3595); got != want {
		t.Errorf("Permalink = %s", got)
	}
}

// long is the layout of a stop of 100 lines on pages starting at 0, 20,
// 40 and 70 (a source range of 25 lines kept whole on the last page), its
// values from line 30, its source from line 70.
var long = Layout{Lines: 100, Pages: []int{0, 20, 40, 70}, LastTop: 75, Values: 30, Source: 70}

// walkKeys applies keys to a state at the first of two stops, laying every
// stop out as layout, and returns the states after each key.
func walkKeys(layout Layout, keys ...Key) []State {
	s := State{}.Received(StructCreation).Received(StructInit).WithLayout(layout)
	var out []State
	for _, k := range keys {
		s = Advance(s, k)
		if s.Layout.Lines == 0 && !s.Finished {
			s = s.WithLayout(layout)
		}
		out = append(out, s)
	}
	return out
}

// TestAdvanceWithinAStop checks paging, scrolling and the jumps on a stop
// taller than the screen, key sequence by key sequence.
func TestAdvanceWithinAStop(t *testing.T) {
	tests := []struct {
		name    string
		keys    []Key
		wantPos int
		wantTop int
		wantMsg string
	}{
		{"Enter turns the page", []Key{KeyNext}, 0, 20, ""},
		{"Enter pages through, then goes to the next stop at its top", []Key{KeyNext, KeyNext, KeyNext, KeyNext}, 1, 0, ""},
		{"b turns back a page first", []Key{KeyNext, KeyNext, KeyBack}, 0, 20, ""},
		{"b on the first page goes to the earlier stop", []Key{KeyNextStop, KeyBack}, 0, 0, "nav.earlier_note"},
		{"PgDn and PgUp stay within the stop", []Key{KeyPageDown, KeyPageDown, KeyPageDown, KeyPageDown, KeyPageUp}, 0, 40, ""},
		{"PgDn on the last page says so", []Key{KeyPageDown, KeyPageDown, KeyPageDown, KeyPageDown}, 0, 70, "nav.last_page"},
		{"j scrolls one line", []Key{KeyDown, KeyDown, KeyDown}, 0, 3, ""},
		{"k scrolls back, not above the top", []Key{KeyDown, KeyUp, KeyUp}, 0, 0, ""},
		{"j scrolls until the end is on screen", []Key{KeyPageDown, KeyPageDown, KeyPageDown, KeyDown, KeyDown, KeyDown, KeyDown, KeyDown, KeyDown, KeyDown}, 0, 75, ""},
		{"after j to the end, Enter goes to the next stop", []Key{KeyPageDown, KeyPageDown, KeyPageDown, KeyDown, KeyDown, KeyDown, KeyDown, KeyDown, KeyNext}, 1, 0, ""},
		{"Enter after scrolling goes to the next page start", []Key{KeyDown, KeyDown, KeyNext}, 0, 20, ""},
		{"b after scrolling goes back to the page start", []Key{KeyNext, KeyDown, KeyBack}, 0, 20, ""},
		{"v jumps to the values", []Key{KeyValues}, 0, 30, ""},
		{"the delay's key goes to the next stop from any page", []Key{KeyNext, KeyNextStop}, 1, 0, ""},
		{"? then Enter closes the help, the page stays", []Key{KeyNext, KeyHelp, KeyNext}, 0, 20, ""},
		{"? then j closes the help without scrolling", []Key{KeyHelp, KeyDown}, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states := walkKeys(long, tt.keys...)
			s := states[len(states)-1]
			if s.Pos != tt.wantPos || s.Top != tt.wantTop {
				t.Errorf("Pos=%d Top=%d, want Pos=%d Top=%d", s.Pos, s.Top, tt.wantPos, tt.wantTop)
			}
			if s.Message.Key != tt.wantMsg {
				t.Errorf("Message=%q, want %q", s.Message.Key, tt.wantMsg)
			}
		})
	}
}

// TestValuesNearTheEnd checks that after v shows values that fit on the
// screen with everything after them, Enter goes on to the next stop
// instead of paging to what is already shown.
func TestValuesNearTheEnd(t *testing.T) {
	short := Layout{Lines: 50, Pages: []int{0, 20, 40}, LastTop: 30, Values: 35, Source: -1}
	states := walkKeys(short, KeyValues, KeyNext)
	if s := states[0]; s.Top != 35 || !s.AtEnd() {
		t.Fatalf("v: Top=%d AtEnd=%v, want 35, true", s.Top, s.AtEnd())
	}
	if s := states[1]; s.Pos != 1 {
		t.Fatalf("Enter after v must go to the next stop: Pos=%d Top=%d", s.Pos, s.Top)
	}
}

// TestBreakEndsTheScreen checks that a screen before the source's page
// is not the end of the stop, even when scrolled: Enter goes to the source.
func TestBreakEndsTheScreen(t *testing.T) {
	l := Layout{Lines: 50, Pages: []int{0, 20, 30}, Breaks: []int{30}, LastTop: 30, Values: 25, Source: 30}
	states := walkKeys(l, KeyValues, KeyNext, KeyNext)
	if s := states[0]; s.Top != 25 || s.AtEnd() {
		t.Fatalf("v: Top=%d AtEnd=%v, want 25, false", s.Top, s.AtEnd())
	}
	if s := states[1]; s.Pos != 0 || s.Top != 30 {
		t.Fatalf("Enter after v must show the source's page: Pos=%d Top=%d", s.Pos, s.Top)
	}
	if s := states[2]; s.Pos != 1 {
		t.Fatalf("Enter on the last page must go to the next stop: Pos=%d", s.Pos)
	}
}

// TestResizeKeepsThePlace checks that a stop laid out anew at another width
// starts at the page that holds the same share of it.
func TestResizeKeepsThePlace(t *testing.T) {
	s := State{}.Received(Child).WithLayout(long)
	s = Advance(Advance(s, KeyNext), KeyNext) // line 40 of 100
	wide := Layout{Lines: 50, Pages: []int{0, 15, 30, 45}, LastTop: 20, Values: 10, Source: 0}
	if s = s.WithLayout(wide); s.Top != 15 {
		t.Fatalf("line 40 of 100 is line 20 of 50, on the page from 15: Top=%d", s.Top)
	}
	if s = s.WithLayout(wide); s.Top != 15 {
		t.Fatalf("the same layout again keeps the place: Top=%d", s.Top)
	}
}

// TestSourceJump checks that s shows the source and, once the view has
// laid the stop out with it, puts its first line at the top; s again hides
// it and goes back to the top.
func TestSourceJump(t *testing.T) {
	noSource := Layout{Lines: 40, Pages: []int{0, 20}, Values: 30, Source: -1}
	s := State{}.Received(Fork).WithLayout(noSource)
	s = Advance(s, KeySource)
	if !s.Source {
		t.Fatal("s must switch the source on")
	}
	s = s.WithLayout(long)
	if s.Top != 70 {
		t.Fatalf("after s the source must be on top: Top=%d", s.Top)
	}
	s = Advance(s, KeyUp).WithLayout(long)
	if s.Top != 69 {
		t.Fatalf("the jump is made once: Top=%d", s.Top)
	}
	s = Advance(s, KeySource).WithLayout(noSource)
	if s.Source || s.Top != 0 {
		t.Fatalf("s again must hide the source and go to the top: %+v", s)
	}
}

// TestHelpOnAnyPage checks that ? shows the help on every page of a long
// stop, and that the page under it stays.
func TestHelpOnAnyPage(t *testing.T) {
	for _, page := range long.Pages {
		s := State{Top: page}.Received(Child).WithLayout(long)
		s = Advance(s, KeyHelp)
		if !s.Help || s.Top != page {
			t.Errorf("? on the page at line %d: Help=%v Top=%d", page, s.Help, s.Top)
		}
		if p, n := s.Page(); n != 4 || long.Pages[p] != page {
			t.Errorf("page %d of %d under the help, want the one at line %d", p, n, page)
		}
	}
}

func TestDecodeKeys(t *testing.T) {
	got := DecodeKeys([]byte("qq\x1b[Cb\r\n3x"))
	want := []Key{KeyQuit, KeyQuit, KeyNext, KeyBack, KeyNext, PhaseKey(3)}
	if len(got) != len(want) {
		t.Fatalf("DecodeKeys = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("DecodeKeys = %q, want %q", got, want)
		}
	}
}

// TestKeysWhileWaiting checks, key sequence by key sequence, what keys do
// while the driver works on a stop the user asked for (a client that has
// not connected yet): n keeps waiting, ? and c open over the latest stop,
// any other key stops the waiting and acts on the stops received; the
// stop that comes then is kept, and shown when asked for.
func TestKeysWhileWaiting(t *testing.T) {
	// Two stops received, the latest laid out as long, on its last page;
	// n asked for the third.
	start := func() State {
		s := State{}.Received(StructCreation).Received(StructInit).WithLayout(long)
		s = Advance(s, KeyNextStop).WithLayout(long)
		s.Top = 70
		s = Advance(s, KeyNext)
		if !s.Waiting() || s.Shown() != 1 || s.Top != 70 {
			t.Fatalf("n on the last page of the latest stop must wait with it on screen: %+v", s)
		}
		return s
	}
	tests := []struct {
		name      string
		keys      []Key
		wantWait  bool
		wantShown int
		wantTop   int
		wantHelp  bool
		wantConn  bool
		wantMsg   string
	}{
		{"n again keeps waiting, the page stays", []Key{KeyNext, KeyNextStop}, true, 1, 70, false, false, ""},
		{"? opens the help over the latest stop and keeps waiting", []Key{KeyHelp}, true, 1, 70, true, false, ""},
		{"c opens the connect commands and keeps waiting", []Key{KeyConnect}, true, 1, 70, false, true, ""},
		{"the key after ? only closes it", []Key{KeyHelp, KeyBack}, true, 1, 70, false, false, ""},
		{"b turns back a page and stops waiting", []Key{KeyBack}, false, 1, 40, false, false, ""},
		{"k scrolls back a line and stops waiting", []Key{KeyUp}, false, 1, 69, false, false, ""},
		{"g goes to the first note", []Key{KeyFirst}, false, 0, 0, false, false, "nav.first_note"},
		{"a phase key goes to its note", []Key{PhaseKey(1)}, false, 0, 0, false, false, ""},
		{"v jumps to the values of the latest stop", []Key{KeyValues}, false, 1, 30, false, false, ""},
		{"s shows the source of the latest stop", []Key{KeySource}, false, 1, 70, false, false, ""},
		{"n after moving away asks again", []Key{KeyBack, KeyNext, KeyNext}, true, 1, 70, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start()
			for _, k := range tt.keys {
				s = Advance(s, k)
				if s.Layout.Lines == 0 {
					s = s.WithLayout(long)
				}
			}
			if s.Waiting() != tt.wantWait || s.Shown() != tt.wantShown || s.Top != tt.wantTop {
				t.Errorf("Waiting=%v Shown=%d Top=%d, want %v %d %d", s.Waiting(), s.Shown(), s.Top, tt.wantWait, tt.wantShown, tt.wantTop)
			}
			if s.Help != tt.wantHelp || s.Connect != tt.wantConn {
				t.Errorf("Help=%v Connect=%v, want %v %v", s.Help, s.Connect, tt.wantHelp, tt.wantConn)
			}
			if s.Message.Key != tt.wantMsg {
				t.Errorf("Message=%q, want %q", s.Message.Key, tt.wantMsg)
			}
			// The stop comes: shown from its top when still waited
			// for, kept for later otherwise.
			r := s.Received(Fork)
			switch {
			case tt.wantWait && (r.Shown() != 2 || r.Top != 0 || r.Reviewing()):
				t.Errorf("the stop waited for must be shown from its top: Shown=%d Top=%d", r.Shown(), r.Top)
			case !tt.wantWait && (r.Shown() != tt.wantShown || r.Top != tt.wantTop || !r.Reviewing()):
				t.Errorf("a stop no longer waited for must not move the screen: Shown=%d Top=%d", r.Shown(), r.Top)
			}
			if last := Advance(r, KeyLast); !tt.wantWait && last.Shown() != 2 {
				t.Errorf("G must go to the stop that came: Shown=%d", last.Shown())
			}
		})
	}
}

// TestKeysBeforeTheFirstStop checks a run that waits for its first client:
// the overlays, q and Ctrl-C work; a key that needs a stop says there is
// none yet.
func TestKeysBeforeTheFirstStop(t *testing.T) {
	tests := []struct {
		name     string
		keys     []Key
		wantHelp bool
		wantConn bool
		wantQuit bool
		wantMsg  string
	}{
		{"? shows the help", []Key{KeyHelp}, true, false, false, ""},
		{"c shows the connect commands", []Key{KeyConnect}, false, true, false, ""},
		{"the next key closes them", []Key{KeyConnect, KeyBack}, false, false, false, ""},
		{"b says there is no stop yet", []Key{KeyBack}, false, false, false, "nav.no_stop_yet"},
		{"n says so too", []Key{KeyNext}, false, false, false, "nav.no_stop_yet"},
		{"q quits", []Key{KeyHelp, KeyQuit}, false, false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			for _, k := range tt.keys {
				s = Advance(s, k)
			}
			if s.Help != tt.wantHelp || s.Connect != tt.wantConn || s.Quit != tt.wantQuit || s.Message.Key != tt.wantMsg {
				t.Errorf("Help=%v Connect=%v Quit=%v Message=%q, want %v %v %v %q", s.Help, s.Connect, s.Quit, s.Message.Key, tt.wantHelp, tt.wantConn, tt.wantQuit, tt.wantMsg)
			}
			if !s.Quit && (!s.NeedStop() || s.Shown() != -1) {
				t.Errorf("the run must still want its first stop: %+v", s)
			}
			if r := s.Received(StructCreation); !s.Quit && (r.Shown() != 0 || r.Reviewing()) {
				t.Errorf("the first stop must be shown when it comes: %+v", r)
			}
		})
	}
}
