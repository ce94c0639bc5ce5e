package walkthrough

import (
	"context"
	"testing"
)

// scripted is a driver that replays a fixed list of events.
type scripted struct{ evs []Event }

func (d *scripted) Name() string                { return "scripted" }
func (d *scripted) Start(context.Context) error { return nil }
func (d *scripted) Close() error                { return nil }
func (d *scripted) Next(context.Context) (Event, error) {
	if len(d.evs) == 0 {
		return Event{}, EOF
	}
	ev := d.evs[0]
	d.evs = d.evs[1:]
	return ev, nil
}

func TestSessionCountsConnections(t *testing.T) {
	d := &scripted{evs: []Event{
		{Phase: StructCreation}, {Phase: StructInit}, {Phase: Epilogue},
		{Phase: StructCreation}, {Phase: Fork},
	}}
	s := NewSession(d, Version{Name: "17.1"})
	want := []int{1, 1, 1, 2, 2}
	for i := range want {
		ev, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Connection != want[i] || ev.Seq != i+1 || ev.Driver != "scripted" || ev.Version != "17.1" {
			t.Errorf("stop %d: %+v", i+1, ev)
		}
	}
	if _, err := s.Next(context.Background()); !IsEOF(err) {
		t.Fatalf("want EOF, got %v", err)
	}
	if len(s.Stops()) != 5 {
		t.Fatalf("recorded %d stops", len(s.Stops()))
	}
}
