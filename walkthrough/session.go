package walkthrough

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Session runs a driver and keeps the stops it reported, stamped with their
// sequence number, version and driver name. It checks every stop against
// the release's stop plans as it comes: a driver that strays from them
// (another phase or process than planned, a planned value missing, a stop
// too many, or a connection left short at the end) makes Next fail with a
// *StrayError.
type Session struct {
	driver  Driver
	version Version
	stops   []Event
	conn    int
	last    PhaseID
	// plans are the plans a connection may follow: the release's, or the
	// one of the scenario ForScenario named. None for a version without a
	// manifest: nothing is checked then.
	plans []StopPlan
	// observed is false for a driver that observes nothing (Observer).
	observed bool
	// walked holds the stops of each connection, by its number.
	walked map[int][]Event
}

// Observer is implemented by a driver that says whether it observes
// processes. A driver that does not implement it observes: its stops must
// carry the planned values and the closing check. A narration does not.
type Observer interface {
	// Observes reports whether the driver's stops carry observed values.
	Observes() bool
}

// NewSession returns a session over d for version v. Each connection's
// stops are checked against the plans of v's release: they must be one of
// them, stop by stop.
func NewSession(d Driver, v Version) *Session {
	s := &Session{driver: d, version: v, observed: true, walked: map[int][]Event{}}
	if o, ok := d.(Observer); ok {
		s.observed = o.Observes()
	}
	if r := v.Release(); r != nil {
		s.plans = r.Plans
	}
	return s
}

// ForScenario restricts the check to the plan of scenario ("" is the
// normal one) and returns s. A release without that plan leaves nothing
// to follow: every stop then strays.
func (s *Session) ForScenario(scenario string) *Session {
	if r := s.version.Release(); r != nil {
		s.plans = nil
		if p, err := r.Plan(scenario); err == nil {
			s.plans = []StopPlan{p}
		}
	}
	return s
}

// Driver returns the session's driver.
func (s *Session) Driver() Driver { return s.driver }

// Stops returns the stops received so far.
func (s *Session) Stops() []Event { return s.stops }

// Next fetches the next stop from the driver, checks it against the plan
// and records it. It returns io.EOF when the run is over, and a
// *StrayError when the driver left the plan.
func (s *Session) Next(ctx context.Context) (Event, error) {
	ev, err := s.driver.Next(ctx)
	if IsEOF(err) {
		if serr := s.checkEnd(); serr != nil {
			return Event{}, serr
		}
	}
	if err != nil {
		return Event{}, err
	}
	if ev.Connection == 0 {
		if s.conn == 0 || (ev.Phase == StructCreation && s.last != "") {
			s.conn++
		}
		ev.Connection = s.conn
	} else {
		s.conn = ev.Connection
	}
	s.last = ev.Phase
	ev.Seq = len(s.stops) + 1
	ev.Version = s.version.Name
	ev.Driver = s.driver.Name()
	if err := s.check(ev); err != nil {
		return Event{}, err
	}
	s.stops = append(s.stops, ev)
	return ev, nil
}

// StrayError says where a driver left the release's plan.
type StrayError struct {
	Driver, Release string
	// Connection and Stop place the stop (Stop counts the connection's
	// stops from 1; 0 when the run ended with the connection short).
	Connection, Stop int
	// Got describes the stop the driver reported, Want what the plan has
	// there.
	Got, Want string
}

func (e *StrayError) Error() string {
	if e.Stop == 0 {
		return fmt.Sprintf("the %s driver strayed from the PostgreSQL %s plan: the run ended with connection %d after %s; the plan goes on with %s",
			e.Driver, e.Release, e.Connection, e.Got, e.Want)
	}
	return fmt.Sprintf("the %s driver strayed from the PostgreSQL %s plan at stop %d of connection %d: got %s; the plan has %s",
		e.Driver, e.Release, e.Stop, e.Connection, e.Got, e.Want)
}

// planned returns the stops of p a driver of s reports.
func (s *Session) planned(p StopPlan) []PlannedStop {
	if s.observed {
		return p.Stops
	}
	return p.Narrated()
}

// fits reports whether ev may be stop i of a connection that follows p,
// and what is wrong when it may not.
func (s *Session) fits(p StopPlan, i int, ev Event) (ok bool, want string) {
	stops := s.planned(p)
	if i >= len(stops) {
		return false, fmt.Sprintf("no stop %d (the %s plan has %d)", i+1, p.Scenario, len(stops))
	}
	w := stops[i]
	want = fmt.Sprintf("%s in the %s (%s)", w.Phase, w.Process, w.Point)
	if ev.Phase != w.Phase || ev.Process != w.Process {
		return false, want
	}
	if s.observed {
		if missing := ev.Lacks(w.Values); len(missing) > 0 {
			return false, want + " with " + strings.Join(missing, ", ")
		}
	}
	return true, want
}

// follows reports whether evs are the start of a connection that follows p.
func (s *Session) follows(p StopPlan, evs []Event) bool {
	for i, ev := range evs {
		if ok, _ := s.fits(p, i, ev); !ok {
			return false
		}
	}
	return true
}

// check fails when ev, the next stop of its connection, fits no plan the
// connection's earlier stops still follow.
func (s *Session) check(ev Event) error {
	if len(s.plans) == 0 {
		return nil
	}
	prev := s.walked[ev.Connection]
	var wants []string
	for _, p := range s.plans {
		if !s.follows(p, prev) {
			continue
		}
		ok, want := s.fits(p, len(prev), ev)
		if ok {
			s.walked[ev.Connection] = append(prev, ev)
			return nil
		}
		if !slices.Contains(wants, want) {
			wants = append(wants, want)
		}
	}
	if len(wants) == 0 {
		wants = append(wants, "no plan that its earlier stops follow")
	}
	got := fmt.Sprintf("%s in the %s", ev.Phase, ev.Process)
	if ev.Point != "" {
		got += fmt.Sprintf(" (%s)", ev.Point)
	}
	if missing := s.missingAnywhere(ev); missing != "" {
		got += " " + missing
	}
	return &StrayError{Driver: s.driver.Name(), Release: s.version.Name, Connection: ev.Connection, Stop: len(prev) + 1,
		Got: got, Want: strings.Join(wants, " or ")}
}

// missingAnywhere names the values ev lacks for the first plan stop with
// its phase and process, for the error's "got" part.
func (s *Session) missingAnywhere(ev Event) string {
	if !s.observed {
		return ""
	}
	for _, p := range s.plans {
		for _, w := range s.planned(p) {
			if w.Phase == ev.Phase && w.Process == ev.Process {
				if missing := ev.Lacks(w.Values); len(missing) > 0 {
					return "without " + strings.Join(missing, ", ")
				}
				return ""
			}
		}
	}
	return ""
}

// checkEnd fails when a connection's stops, at the end of the run, are not
// a whole plan.
func (s *Session) checkEnd() error {
	if len(s.plans) == 0 {
		return nil
	}
	for n := 1; n <= s.conn; n++ {
		evs, ok := s.walked[n]
		if !ok {
			continue
		}
		complete := false
		var next []string
		for _, p := range s.plans {
			if !s.follows(p, evs) {
				continue
			}
			stops := s.planned(p)
			if len(stops) == len(evs) {
				complete = true
				break
			}
			w := stops[len(evs)]
			next = append(next, fmt.Sprintf("%s in the %s (%s)", w.Phase, w.Process, w.Point))
		}
		if !complete {
			last := evs[len(evs)-1]
			return &StrayError{Driver: s.driver.Name(), Release: s.version.Name, Connection: n,
				Got: fmt.Sprintf("%s in the %s", last.Phase, last.Process), Want: strings.Join(next, " or ")}
		}
	}
	return nil
}

// IsEOF reports whether err marks the end of a run.
func IsEOF(err error) bool { return errors.Is(err, EOF) }
