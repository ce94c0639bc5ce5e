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
		{name: "back does not fetch and says processes do not rewind", keys: []Key{KeyNext, KeyNext, KeyBack}, wantPos: 1, wantStops: 3, wantMsg: "do not rewind"},
		{name: "back at the first stop stays", keys: []Key{KeyBack}, wantPos: 0, wantStops: 1, wantMsg: "first stop"},
		{name: "next after back re-shows without fetching", keys: []Key{KeyNext, KeyNext, KeyBack, KeyBack, KeyNext}, wantPos: 1, wantStops: 3},
		{name: "g goes to the first note", keys: []Key{KeyNext, KeyNext, KeyFirst}, wantPos: 0, wantStops: 3, wantMsg: "do not rewind"},
		{name: "G goes to the latest stop", keys: []Key{KeyNext, KeyNext, KeyFirst, KeyLast}, wantPos: 2, wantStops: 3},
		{name: "digit jumps to a reached phase", keys: []Key{KeyNext, KeyNext, KeyNext, PhaseKey(2)}, wantPos: 1, wantStops: 4},
		{name: "digit for an unreached phase stays", keys: []Key{PhaseKey(5)}, wantPos: 0, wantStops: 1, wantMsg: "not been reached"},
		{name: "? shows help, any key closes it without moving", keys: []Key{KeyHelp, KeyNext}, wantPos: 0, wantStops: 1},
		{name: "? shows help", keys: []Key{KeyHelp}, wantPos: 0, wantStops: 1, wantHelp: true},
		{name: "q in help quits", keys: []Key{KeyHelp, KeyQuit}, wantPos: 0, wantStops: 1, wantQuit: true},
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
			if !strings.Contains(s.Message, tt.wantMsg) || (tt.wantMsg == "" && s.Message != "") {
				t.Errorf("Message=%q, want it to contain %q", s.Message, tt.wantMsg)
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
		{"g", KeyFirst}, {"G", KeyLast}, {"?", KeyHelp}, {"s", KeySource},
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

func TestAdvancePages(t *testing.T) {
	s := State{}.Received(StructCreation).WithPages(3)
	s = Advance(s, KeyNext)
	if s.Pos != 0 || s.Page != 1 {
		t.Fatalf("next on a long stop must page: %+v", s)
	}
	s = Advance(s, KeyBack)
	if s.Pos != 0 || s.Page != 0 {
		t.Fatalf("back must page up first: %+v", s)
	}
	s = Advance(Advance(s, KeyNext), KeyNext)
	if s.Page != 2 {
		t.Fatalf("page 3 expected: %+v", s)
	}
	s = Advance(s, KeyNext)
	if s.Pos != 1 || s.Page != 0 || !s.NeedStop() {
		t.Fatalf("next on the last page must ask for the next stop and reset the page: %+v", s)
	}
	s = s.Received(StructInit).WithPages(2)
	s = Advance(s, PhaseKey(1))
	if s.Pos != 0 || s.Page != 0 {
		t.Fatalf("a jump resets the page: %+v", s)
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
