package walkthrough

import (
	"context"
	"errors"
	"strings"
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

// narrating is a scripted driver that observes nothing.
type narrating struct{ scripted }

func (d *narrating) Observes() bool { return false }

// planned returns the events of plan p of r, with the planned values when
// observed.
func plannedEvents(r *Release, scenario string, observed bool) []Event {
	p, _ := r.Plan(scenario)
	stops := p.Stops
	if !observed {
		stops = p.Narrated()
	}
	var evs []Event
	for _, s := range stops {
		ev := Event{Phase: s.Phase, Process: s.Process, Point: s.At}
		if observed {
			for _, k := range s.Values {
				fillValue(&ev.Values, k)
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// runSession drains a session over d and returns its error (nil at EOF).
func runSession(s *Session) error {
	for {
		_, err := s.Next(context.Background())
		if IsEOF(err) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestSessionChecksThePlan: a session passes a driver that reports one of
// the release's plans per connection, and stops one that strays, naming
// the driver, the stop it got and the stop the plan has there.
func TestSessionChecksThePlan(t *testing.T) {
	r := parseManifest(t, "16.4")
	v := r.Version
	normal := func() []Event { return plannedEvents(r, ScenarioNormal, true) }
	tests := []struct {
		name  string
		evs   []Event
		scen  string // ForScenario, when set
		want  string // "" for a run that follows the plan
		count int    // stops recorded before the error
	}{
		{name: "normal", evs: normal()},
		{name: "two connections", evs: append(normal(), normal()...)},
		{name: "a fork failure", evs: plannedEvents(r, ScenarioForkFailure, true)},
		{name: "a fork failure where a normal walk was asked for", evs: plannedEvents(r, ScenarioForkFailure, true), scen: ScenarioNormal,
			want: "the scripted driver strayed from the PostgreSQL 16.4 plan at stop 3 of connection 1: got fork in the postmaster", count: 2},
		{name: "a second fork stop in the backend", evs: func() []Event {
			evs := normal()
			return append(evs[:3:3], append([]Event{{Phase: Fork, Process: Backend}}, evs[3:]...)...)
		}(), want: "at stop 4 of connection 1: got fork in the backend; the plan has child in the backend (child-cleaned-up)", count: 3},
		{name: "a planned value missing", evs: func() []Event { evs := normal(); evs[2].Values.ForkReturn = nil; return evs }(),
			want: "at stop 3 of connection 1: got fork in the postmaster", count: 2},
		{name: "a value it says it could not observe", evs: func() []Event {
			evs := normal()
			evs[4].Values.BackendList = nil
			evs[4].Unobserved = []string{"backend_list"}
			return evs
		}()},
		{name: "a connection left short", evs: normal()[:4],
			want: "the run ended with connection 1 after child in the backend; the plan goes on with parent-registration in the postmaster (child-registered)", count: 4},
		{name: "a stop after the closing check", evs: append(normal(), Event{Phase: Epilogue, Process: Client, Connection: 1}),
			want: "at stop 7 of connection 1: got epilogue in the client", count: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSession(&scripted{evs: tt.evs}, v)
			if tt.scen != "" {
				s.ForScenario(tt.scen)
			}
			err := runSession(s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("a run that follows the plan: %v", err)
				}
				return
			}
			var stray *StrayError
			if !errors.As(err, &stray) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a StrayError saying %q", err, tt.want)
			}
			if len(s.Stops()) != tt.count {
				t.Errorf("%d stops recorded before the error, want %d", len(s.Stops()), tt.count)
			}
		})
	}
	t.Run("a narration", func(t *testing.T) {
		if err := runSession(NewSession(&narrating{scripted{evs: plannedEvents(r, "", false)}}, v)); err != nil {
			t.Errorf("a narration of the plan: %v", err)
		}
		err := runSession(NewSession(&narrating{scripted{evs: plannedEvents(r, "", true)}}, v))
		if err == nil || !strings.Contains(err.Error(), "got epilogue in the client") {
			t.Errorf("a narration with a closing check: %v", err)
		}
	})
	t.Run("an observing driver without values", func(t *testing.T) {
		err := runSession(NewSession(&scripted{evs: plannedEvents(r, "", false)}, v))
		if err == nil || !strings.Contains(err.Error(), "at stop 1 of connection 1: got struct-creation in the postmaster (") || !strings.Contains(err.Error(), "without postmaster_pid") {
			t.Errorf("err = %v", err)
		}
	})
}
