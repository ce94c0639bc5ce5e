package walkthrough

import (
	"context"
	"errors"
)

// Session runs a driver and keeps the stops it reported, stamped with their
// sequence number, version and driver name.
type Session struct {
	driver  Driver
	version Version
	stops   []Event
	conn    int
	last    PhaseID
}

// NewSession returns a session over d for version v.
func NewSession(d Driver, v Version) *Session {
	return &Session{driver: d, version: v}
}

// Driver returns the session's driver.
func (s *Session) Driver() Driver { return s.driver }

// Stops returns the stops received so far.
func (s *Session) Stops() []Event { return s.stops }

// Next fetches the next stop from the driver and records it. It returns
// io.EOF when the run is over.
func (s *Session) Next(ctx context.Context) (Event, error) {
	ev, err := s.driver.Next(ctx)
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
	s.stops = append(s.stops, ev)
	return ev, nil
}

// IsEOF reports whether err marks the end of a run.
func IsEOF(err error) bool { return errors.Is(err, EOF) }
