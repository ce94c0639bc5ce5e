package cli

import (
	"fmt"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live"
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
	case "live":
		return live.New(opts), nil
	}
	return nil, UsageError(&UnknownDriverError{Name: name})
}

// liveHint looks, in the background, for a PostgreSQL of v's major version
// that --driver live could trace, and returns a function that gives the
// one-line hint once the lookup is done ("" when there is nothing to say).
func liveHint(v walkthrough.Version) func() string {
	ch := make(chan string, 1)
	go func() {
		if live.Supported() != nil {
			ch <- ""
			return
		}
		bin, found, err := live.FindPostgres("", v)
		if err != nil {
			ch <- ""
			return
		}
		ch <- fmt.Sprintf("hint: PostgreSQL %s is installed (%s): `pgwalk run --version %s --driver live` traces a real postmaster", found, bin, v.Name)
	}()
	return func() string { return <-ch }
}
