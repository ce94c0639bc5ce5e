// Package reenact is the driver that performs every phase of BackendStartup
// for real, with nothing but pgwalk: a mini postmaster with a Unix and a TCP
// listen socket, a postmaster-death pipe, a child-slot table (or, for a
// release that has one, a pool of child entries) and a list of children; a
// client that connects; a cancel key from the OS CSPRNG, made by the
// postmaster or by the backend as the release makes it (a backend publishes
// its key in a shared-memory table that a cancel connection's child
// searches); a real child process that closes the sockets it inherited and
// then speaks the PostgreSQL v3 wire protocol, with the protocol versions
// the release speaks, far enough for psql to connect.
//
// What differs between releases comes from the release's manifest
// (walkthrough.Facts): the driver branches on facts such as where the key
// is made, when a child joins the list and whether there is a pool, never
// on a version number.
//
// Go cannot fork without exec, so the child is started the way PostgreSQL
// itself starts backends on Windows and in EXEC_BACKEND builds: fork+exec of
// the program's own binary (a hidden subcommand, ChildCommand), handing it
// the client socket and, on purpose, the listen sockets and both ends of the
// death pipe, so that it inherits what a forked child inherits and closes
// what it must not keep, as ClosePostmasterPorts does.
//
// The driver pauses the real processes at every stop: between two calls of
// Next the child blocks on its control channel and the postmaster does
// nothing.
package reenact

import (
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// ChildCommand is the hidden subcommand that runs the backend side of the
// re-enactment. The postmaster re-executes its own binary as
// `<binary> __reenact-backend <flags>`; the program's main must call
// ChildMain with the arguments that follow ChildCommand.
const ChildCommand = "__reenact-backend"

// slotCount is the mini postmaster's MaxLivePostmasterChildren(): the
// too-many-children limit of canAcceptConnections and the size of the
// child-slot table, one number for both as in PostgreSQL (which computes it
// from max_connections and related settings). For a release with a pool it
// is the size of the client-backend pool (PostgreSQL 18 sizes it
// 2 * (MaxConnections + max_wal_senders)).
const slotCount = 16

// Driver re-enacts BackendStartup with real processes. Create it with New;
// it implements walkthrough.Driver.
type Driver struct {
	opts walkthrough.DriverOptions
	fl   flavor

	// exe is the program the postmaster launches for a backend.
	exe string

	// Set by Start; released by Close.
	dir      string
	sockPath string
	port     int
	unixLn   *net.UnixListener
	tcpLn    *net.TCPListener
	death    [2]int // postmaster-death pipe: read end, write end (-1 when closed)
	launcher *launcher

	stop      chan struct{}
	accepts   chan accepted
	exits     chan *conn
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	started   bool

	// mu guards what the control-channel readers touch: BackendList,
	// the slot table and the per-connection records.
	mu          sync.Mutex
	backendList []*walkthrough.BackendNode // head first
	// maxChildren is MaxLivePostmasterChildren(): len(slots) and the
	// limit canAcceptConnections compares CountChildren with.
	maxChildren int
	slots       []bool
	nextSlot    int
	// pool is the client-backend pool of a release that has one (built
	// at Start with maxChildren entries); nil otherwise.
	pool *pool
	all  []*conn

	// limit is the process limit that makes every launch fail in the
	// fork-failure scenario, and limitErr why none could be set (the
	// launch then execs a program that does not exist). Set by Start.
	limit    *forkLimit
	limitErr error
	// noLimit, when set (tests), sets no process limit: the fork-failure
	// scenario falls back to the program that does not exist.
	noLimit bool
	// held are pgwalk's own sessions that fill the table of children in
	// the too-many-clients scenario. Set by Start.
	held []*heldSession

	// keys is the shared key table of a release whose cancel requests
	// are checked against the keys the backends published, and keysPath
	// its file; nil and "" otherwise. Set by Start.
	keys     *keyTable
	keysPath string

	// Owned by the goroutine that calls Next.
	cur      *conn
	sessions map[*conn]bool
	walked   int
	broken   error
	said     bool

	own *ownClient

	// signalSeen, when set (tests), receives the pid of every backend that
	// reports a SIGINT.
	signalSeen chan int
	// queryRunning, when set (tests), receives the pid of every backend
	// that reports a statement running (pg_sleep).
	queryRunning chan int
}

// New returns a re-enactment driver for opts. Nothing happens until Start.
func New(opts walkthrough.DriverOptions) *Driver {
	return &Driver{
		opts:        opts,
		fl:          flavorFor(opts.Version),
		death:       [2]int{-1, -1},
		maxChildren: slotCount,
		slots:       make([]bool, slotCount),
	}
}

// Name returns "reenact".
func (d *Driver) Name() string { return "reenact" }

// SocketDir returns the private directory that holds the Unix listen
// socket, or "" before Start.
func (d *Driver) SocketDir() string { return d.dir }

// Port returns the TCP port the mini postmaster listens on, which is also
// the number in the Unix socket's name (.s.PGSQL.<port>), or 0 before
// Start.
func (d *Driver) Port() int { return d.port }

// PsqlCommands returns the psql command lines that connect to the mini
// postmaster: over the Unix socket, then over TCP. It returns nil before
// Start. In the fork-failure scenario the TCP line turns SSL off: the
// postmaster answers psql's SSLRequest with the failure's message, which
// psql does not print when it comes during the SSL exchange.
func (d *Driver) PsqlCommands() []string {
	if d.port == 0 {
		return nil
	}
	db := "postgres"
	if d.opts.Scenario == walkthrough.ScenarioForkFailure {
		db = `"dbname=postgres sslmode=disable"`
	}
	return []string{
		fmt.Sprintf("psql -h %s -p %d -U postgres postgres", d.dir, d.port),
		fmt.Sprintf("psql -h %s -p %d -U postgres %s", d.tcpHost(), d.port, db),
	}
}

// UnsupportedOSError is returned by Start on a system where the
// re-enactment cannot run (Windows: sockets cannot be inherited the way it
// needs).
type UnsupportedOSError struct{ GOOS string }

func (e *UnsupportedOSError) Error() string {
	return fmt.Sprintf("the re-enactment needs a Unix-like OS (this is %s); use --driver narrate", e.GOOS)
}

// ChildExitedError is returned by Next when a backend process ended before
// it reached the stop the driver was waiting for.
type ChildExitedError struct {
	PID    int
	Status string
	// Stderr is the end of what the child wrote to its standard error.
	Stderr string
}

func (e *ChildExitedError) Error() string {
	msg := fmt.Sprintf("backend process %d ended early: %s", e.PID, e.Status)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// NotStartedError is returned by Next when Start has not succeeded.
type NotStartedError struct{}

func (NotStartedError) Error() string { return "reenact: Next called before a successful Start" }

// executable returns the binary to re-execute for a backend.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find pgwalk's own binary: %w", err)
	}
	return exe, nil
}
