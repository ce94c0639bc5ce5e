package cli

import (
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/narrate"
	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// DriverNames lists the values of --driver.
var DriverNames = []string{"reenact", "live", "narrate"}

// defaultDriver is the driver run uses unless told otherwise.
const defaultDriver = "reenact"

// driverSummary says in a few words what each driver runs.
var driverSummary = map[string]string{
	"reenact": "pgwalk's own mini postmaster: real sockets, a real client, a real child process",
	"live":    "a real PostgreSQL postmaster, traced with ptrace",
	"narrate": "notes only: no process runs",
}

// newDriver returns the driver called name.
func newDriver(name string, opts walkthrough.DriverOptions) (walkthrough.Driver, error) {
	switch name {
	case "narrate":
		return narrate.New(opts), nil
	case "reenact":
		return reenact.New(opts), nil
	}
	return nil, UsageError(&UnknownDriverError{Name: name})
}
