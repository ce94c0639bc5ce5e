package walkthrough

import (
	"context"
	"fmt"
	"io"
)

// Driver makes the phases of BackendStartup happen and reports what it
// observed at each stop. A driver is paused between two calls of Next: the
// processes it controls wait at the stop it last reported, so a reader can
// look at a real, stopped state.
type Driver interface {
	// Name returns the driver's name as users type it: "reenact", "live",
	// "narrate".
	Name() string
	// Start prepares the run (processes, sockets, clusters). It returns
	// before the first stop; a driver that cannot run returns an error
	// that says why.
	Start(ctx context.Context) error
	// Next lets the processes run to the next stop and returns it. It
	// returns io.EOF when the run is over. Cancelling ctx abandons the
	// wait; Close must still be called.
	Next(ctx context.Context) (Event, error)
	// Close stops and reaps every process the driver started and removes
	// what it created. It is safe to call more than once and after a
	// failed Start.
	Close() error
}

// DriverOptions are the settings every driver receives.
type DriverOptions struct {
	Version Version
	// WaitForClient makes the driver wait for outside clients (psql) and
	// walk every connection, one after another, instead of connecting
	// its own client once.
	WaitForClient bool
	// Scenario asks for a branch: "" for the normal run, or one of
	// Scenarios ("fork-failure", "too-many-clients").
	Scenario string
	// PGBin is the directory of the PostgreSQL binaries (live driver).
	PGBin string
	// Listen is the address the driver's postmaster listens on for TCP
	// clients ("" is the loopback, 127.0.0.1), and Port its port (0: a
	// free one), for drivers that listen themselves (the re-enactment).
	Listen string
	Port   int
	// Arrived, when set, is told of every client that connects, as the
	// driver accepts it and before its walk begins (a client that
	// connects while another one is walked waits for its turn). It is
	// called from the driver's own goroutines and must not block.
	Arrived func(Arrival)
	// Breakpoints chooses the live driver's breakpoints: "auto" (or "")
	// uses the CPU's debug registers once they were seen to trap, and int3
	// otherwise; "hardware" and "software" force one (BreakpointModes).
	Breakpoints string
	// Notify receives progress and diagnostics lines meant for the user
	// (for example the psql command to type); it may be nil. Old-style:
	// a driver says a catalog message with Tell instead.
	Notify func(line string)
	// Teller receives progress and diagnostics meant for the user as
	// catalog messages, which the CLI says in the reader's language; it
	// may be nil.
	Teller func(m Msg)
}

// Arrival is a client that connected to a driver's postmaster, as the
// driver saw it when it accepted the connection: from where, and which
// process when the kernel says (the startup packet, with the user and the
// database, is read later, by the backend).
type Arrival struct {
	// Via is the listen socket it connected to: "unix" or "tcp".
	Via string
	// Addr is where it came from: the client's address and port over
	// TCP, the socket's path over Unix.
	Addr string
	// PID is the client's process over a Unix socket (SO_PEERCRED), 0
	// when the kernel does not say.
	PID int
}

// Say sends line to o.Notify when there is one.
func (o DriverOptions) Say(line string) {
	if o.Notify != nil {
		o.Notify(line)
	}
}

// Tell sends m to o.Teller when there is one.
func (o DriverOptions) Tell(m Msg) {
	if o.Teller != nil {
		o.Teller(m)
	}
}

// Scenarios lists the values DriverOptions.Scenario accepts.
var Scenarios = []string{ScenarioNormal, ScenarioForkFailure, ScenarioTooManyClients}

// The scenarios: the normal run; ScenarioForkFailure, which makes the
// launch of every connection's child fail for real, so that the
// fork-failure branch runs; and ScenarioTooManyClients, which fills the
// postmaster's table of children before the first client, so that every
// connection becomes a dead-end child that only refuses its client.
const (
	ScenarioNormal         = "normal"
	ScenarioForkFailure    = "fork-failure"
	ScenarioTooManyClients = "too-many-clients"
)

// UnsupportedError says that a driver cannot walk a release, and why: the
// release's facts ask for something the driver does not do.
type UnsupportedError struct {
	Driver  string
	Release string
	// What the release needs, and Why the driver cannot give it.
	What, Why string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the %s driver does not support PostgreSQL %s: %s, and %s", e.Driver, e.Release, e.What, e.Why)
}

// BreakpointModes lists the values DriverOptions.Breakpoints accepts.
var BreakpointModes = []string{"auto", "hardware", "software"}

// EOF is returned by Driver.Next after the last stop.
var EOF = io.EOF
