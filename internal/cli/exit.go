package cli

import (
	"errors"
	"fmt"
)

// ExitCode is pgwalk's process exit status.
type ExitCode int

// The exit codes pgwalk documents in README.md.
const (
	ExitOK        ExitCode = 0
	ExitFailure   ExitCode = 1
	ExitUsage     ExitCode = 2
	ExitHangup    ExitCode = 129
	ExitInterrupt ExitCode = 130
	ExitTerm      ExitCode = 143
)

// ExitError is an error that asks for a specific exit code.
type ExitError struct {
	Code ExitCode
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks an error in how pgwalk was called (exit 2). Flag errors
// are FlagErrors and show the usage as well.
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// FlagError is a malformed flag or argument: pgwalk prints it and the
// command's usage, and exits 2.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// errSilent reports failure with the given code when the message was already
// printed.
type errSilent struct{ code ExitCode }

func (e errSilent) Error() string { return fmt.Sprintf("exit %d", e.code) }

// SilentExit returns an error that exits with code and prints nothing.
func SilentExit(code ExitCode) error { return errSilent{code} }

// exitCodeFor maps an error from a command to an exit code.
func exitCodeFor(err error) ExitCode {
	var ee *ExitError
	var fe *FlagError
	var se errSilent
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &fe):
		return ExitUsage
	case errors.As(err, &ee):
		return ee.Code
	}
	return ExitFailure
}
