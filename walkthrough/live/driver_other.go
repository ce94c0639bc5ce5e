//go:build !linux

package live

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// state is empty where live tracing cannot run.
type state struct{}

// CleanStale does nothing here: no live run can have left anything.
func CleanStale() ([]string, error) { return nil, nil }

// Supported reports whether live tracing can run on this machine: here it
// cannot, because ptrace as the driver uses it exists only on Linux.
func Supported() error {
	return &UnsupportedError{Reason: fmt.Sprintf("live tracing needs Linux x86-64 (this is %s/%s)", runtime.GOOS, runtime.GOARCH)}
}

// Start returns an error that matches ErrNotSupported.
func (d *Driver) Start(ctx context.Context) error { return Supported() }

// Next returns an error that matches ErrNotSupported.
func (d *Driver) Next(ctx context.Context) (walkthrough.Event, error) {
	return walkthrough.Event{}, Supported()
}

// Close does nothing: nothing was started.
func (d *Driver) Close() error { return nil }

// Client returns nil: no client ever connects here.
func (d *Driver) Client() *pgconn.PgConn { return nil }

// Cluster returns the zero ClusterInfo: no cluster runs here.
func (d *Driver) Cluster() ClusterInfo { return ClusterInfo{} }
