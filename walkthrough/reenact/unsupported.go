//go:build !unix

package reenact

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// On systems that are not Unix-like the driver only says why it cannot
// run; these empty types stand in for the Unix implementation's.
type (
	conn        struct{ node walkthrough.BackendNode }
	accepted    struct{}
	launcher    struct{}
	heldSession struct{}
	keyTable    struct{}
)

// Start returns an UnsupportedOSError: the re-enactment passes sockets to a
// child in a way only Unix-like systems allow.
func (d *Driver) Start(ctx context.Context) error {
	d.started = true
	return &UnsupportedOSError{GOOS: runtime.GOOS}
}

// Next returns an UnsupportedOSError.
func (d *Driver) Next(ctx context.Context) (walkthrough.Event, error) {
	return walkthrough.Event{}, &UnsupportedOSError{GOOS: runtime.GOOS}
}

// Close does nothing: Start created nothing.
func (d *Driver) Close() error { return nil }

// ChildMain reports that the backend side cannot run here and returns 1.
func ChildMain(args []string) int {
	fmt.Fprintln(os.Stderr, (&UnsupportedOSError{GOOS: runtime.GOOS}).Error())
	return 1
}
