package live

import (
	"errors"
)

// ErrNotSupported marks every error that says live tracing cannot run on
// this machine at all (another operating system, another architecture,
// ptrace not permitted). Callers test for it with errors.Is and fall back
// to the re-enactment.
var ErrNotSupported = errors.New("live tracing is not supported here")

// UnsupportedError says why live tracing cannot run here. It matches
// ErrNotSupported under errors.Is.
type UnsupportedError struct {
	// Reason names what is missing, for example "live tracing needs Linux
	// x86-64 (this is darwin/arm64)".
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

// errClosed is what the walk returns internally when Close interrupted it.
var errClosed = errors.New("live trace closed")
