package cluster

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNoPostgres is returned by FindPostgres when no postgres binary was
// found in any of the places it looks.
var ErrNoPostgres = errors.New("no PostgreSQL server binary (postgres) found; pass --pg-bin DIR, set PGWALK_PG_BIN, or run scripts/install-pg.sh")

// WrongMajorError is returned when the postgres binary found belongs to
// another major version than the release asked for.
type WrongMajorError struct {
	// Path is the binary that was found.
	Path string
	// Found is the version it reports, for example "15.18".
	Found string
	// Want is the major version asked for ("16").
	Want string
}

func (e *WrongMajorError) Error() string {
	return fmt.Sprintf("%s is PostgreSQL %s, not %s: the live trace needs a PostgreSQL %s server (pass --pg-bin DIR, or run scripts/install-pg.sh)",
		e.Path, e.Found, e.Want, e.Want)
}

// StageTimeoutError is returned when a stage of a live run did not
// complete within its bound: the driver gave up instead of waiting for
// ever, and cleaned up.
type StageTimeoutError struct {
	// Stage names what was under way: "the connection reaching
	// BackendStartup".
	Stage string
	// Expected says what did not happen: "the postmaster to stop at
	// canAcceptConnections".
	Expected string
	// After is the bound that passed.
	After time.Duration
	// Cause is the likely cause, and Try what to do about it (a flag).
	Cause string
	Try   string
}

func (e *StageTimeoutError) Error() string {
	msg := fmt.Sprintf("the live trace gave up at %s: expected %s, and nothing came within %s", e.Stage, e.Expected, e.After)
	if e.Cause != "" {
		msg += "; likely cause: " + e.Cause
	}
	if e.Try != "" {
		msg += "; try " + e.Try
	}
	return msg
}

// LastLines splits the end of a log into its lines.
func LastLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// RunPrefix begins the name of every run's directory in ScratchDir.
const RunPrefix = "pgwalk-live-"
