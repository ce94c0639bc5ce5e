package trace

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoPostgres is returned by FindPostgres when no postgres binary was
// found in any of the places it looks.
var ErrNoPostgres = errors.New("no PostgreSQL server binary (postgres) found; pass --pg-bin DIR, set PGWALK_PG_BIN, or run scripts/install-pg.sh")

// ErrNotSupported marks every error that says live tracing cannot run on
// this machine at all (another operating system, another architecture,
// ptrace not permitted). Callers test for it with errors.Is and fall back
// to the re-enactment.
var ErrNotSupported = errors.New("live tracing is not supported here")

// UnsupportedError says why live tracing cannot run here. It matches
// ErrNotSupported under errors.Is.
type UnsupportedError struct {
	// Reason names what is missing, for example "live tracing needs Linux
	// (this is darwin)".
	Reason string
	// Err is the underlying error, when there is one (for example EPERM
	// from PTRACE_SEIZE).
	Err error
}

func (e *UnsupportedError) Error() string {
	msg := e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; use --driver reenact to walk pgwalk's own re-enactment instead"
}

// Is reports whether target is ErrNotSupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrNotSupported }

// Unwrap returns the underlying error.
func (e *UnsupportedError) Unwrap() error { return e.Err }

// WrongMajorError is returned when the postgres binary found has another
// major version than the one asked for.
type WrongMajorError struct {
	// Path is the binary that was found.
	Path string
	// Found is the version it reports, for example "15.18".
	Found string
	// Want is the major version asked for.
	Want int
}

func (e *WrongMajorError) Error() string {
	return fmt.Sprintf("%s is PostgreSQL %s, not %d: the live trace needs a PostgreSQL %d server (pass --pg-bin DIR, or run scripts/install-pg.sh)",
		e.Path, e.Found, e.Want, e.Want)
}

// TraceeExitedError is returned when a traced process ended while the
// driver still needed it.
type TraceeExitedError struct {
	PID int
	// Role says which process it was: "postmaster" or "backend".
	Role string
	// Status describes how it ended: "exit status 1", "killed by SIGSEGV".
	Status string
}

func (e *TraceeExitedError) Error() string {
	return fmt.Sprintf("traced %s (pid %d) ended: %s", e.Role, e.PID, e.Status)
}

// StageTimeoutError is returned when a stage of the live trace did not
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

// errClosed is what the trace returns internally when Close interrupted it.
var errClosed = errors.New("live trace closed")
