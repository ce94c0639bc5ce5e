package live

import (
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
)

// Driver is the live driver. Create it with New; it implements
// walkthrough.Driver.
type Driver struct {
	opts  walkthrough.DriverOptions
	state // the operating system's part, see driver_linux.go
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

// The names the CLI and the tests use, from package cluster.
const (
	// EnvPGBin names the environment variable that points at a directory
	// of PostgreSQL binaries.
	EnvPGBin = cluster.EnvPGBin
	// EnvPGCache names the environment variable that overrides where
	// scripts/install-pg.sh installs PostgreSQL builds.
	EnvPGCache = cluster.EnvPGCache
)

// ErrNoPostgres is returned when no postgres binary was found.
var ErrNoPostgres = cluster.ErrNoPostgres

// WrongMajorError says that the binary found belongs to another major
// version; StageTimeoutError that a stage of the run passed its bound.
type (
	WrongMajorError   = cluster.WrongMajorError
	StageTimeoutError = cluster.StageTimeoutError
)

// RunPrefix begins the name of every live run's directory.
const RunPrefix = cluster.RunPrefix

// FindPostgres finds a postgres server binary of release v's major version
// (see cluster.FindPostgres).
func FindPostgres(pgBin string, v walkthrough.Version) (bin string, version string, err error) {
	return cluster.FindPostgres(pgBin, v)
}

// PGCacheDir returns the directory scripts/install-pg.sh installs into.
func PGCacheDir() string { return cluster.PGCacheDir() }
