package trace

import "github.com/pgwalk/pgwalk/walkthrough"

// Driver is the live driver. Create it with New; it implements
// walkthrough.Driver.
type Driver struct {
	opts walkthrough.DriverOptions
	live // the operating system's part, see trace_linux.go
}

// New returns a live driver for opts.Version. Nothing runs before Start.
func New(opts walkthrough.DriverOptions) *Driver {
	return &Driver{opts: opts}
}

// Name returns "live".
func (d *Driver) Name() string { return "live" }

// ClusterInfo describes the throwaway cluster of a run.
type ClusterInfo struct {
	// Bin is the postgres binary that runs, and Version what it reports.
	Bin     string
	Version string
	// Dir is the private temporary directory that holds everything of the
	// run: the data directory, the socket and the server log.
	Dir string
	// SocketDir and Port address the server's Unix socket
	// (SocketDir/.s.PGSQL.Port).
	SocketDir string
	Port      int
	// PostmasterPID is the postmaster's pid.
	PostmasterPID int
	// ShmKey and ShmID name the cluster's System V shared memory segment,
	// as recorded in postmaster.pid.
	ShmKey int
	ShmID  int
}
