//go:build unix

package reenact

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/internal/tmpdir"
	"github.com/pgwalk/pgwalk/walkthrough"
)

// The fd numbers a child receives, in the order PostgreSQL creates the
// objects: listen sockets at startup, then the death pipe, then the client
// socket at accept; pgwalk's control channel comes last.
const (
	childFDTCP        = 3
	childFDUnix       = 4
	childFDDeathRead  = 5
	childFDDeathWrite = 6
	childFDClient     = 7
	childFDControl    = 8
)

// missingBackend is the file name the fork-failure scenario launches: it
// does not exist in the private directory, so the exec fails for real.
const missingBackend = "pgwalk-backend-missing"

// stageRelease is the step after parent registration: the child is let go
// into BackendInitialize and the postmaster returns to its loop.
const stageRelease walkthrough.PhaseID = "release"

// accepted is a connection the postmaster accepted.
type accepted struct {
	nc  net.Conn
	via string // "unix" or "tcp"
}

// conn is one connection walked through BackendStartup.
type conn struct {
	n       int
	nc      net.Conn // the postmaster's copy of the client socket; nil once closed
	pmFD    int
	pmInode uint64 // the client socket's inode, to tell a reused fd number apart
	// pmClosed is true once the postmaster has closed its copy after
	// BackendStartup returned, pmCloseErr is what close returned, and
	// pmClosedOK is true when fd pmFD no longer refers to the client
	// socket afterwards.
	pmClosed   bool
	pmCloseErr error
	pmClosedOK bool
	via        string
	peer       string
	peerPID    int
	own        bool

	node      walkthrough.BackendNode
	canAccept string
	next      walkthrough.PhaseID

	// The child, once launched.
	pid        int
	proc       *os.Process
	ctl        net.Conn
	ctlW       *ctlWriter
	reports    chan fromChild
	readerDone chan struct{}
	exited     chan struct{}
	exitState  *os.ProcessState // set before exited is closed
	stderr     tailBuffer       // written by one goroutine, read after exited
	stderrDone chan struct{}
	forkErr    error
	errno      syscall.Errno
	// sent says what the postmaster sent the client after a failed
	// launch.
	sent walkthrough.Fact
	// listAtLaunch is the length of the BackendList copy sent to the child.
	listAtLaunch int

	// Recorded by the control reader, under Driver.mu.
	startup *fromChild
	errs    []string
	queries []walkthrough.Fact
	signals []walkthrough.Fact
	logs    []string
	// cancel is the CancelRequest the child read, when the startup packet
	// was one.
	cancel *fromChild
}

// Start creates the mini postmaster: a private directory, the TCP and Unix
// listen sockets, the death pipe and the launcher thread; then connects
// pgwalk's own client, or, with WaitForClient, says how to connect psql.
func (d *Driver) Start(ctx context.Context) error {
	if d.started {
		return errors.New("reenact: Start called twice")
	}
	d.started = true
	if err := ctx.Err(); err != nil {
		return err
	}
	switch d.opts.Scenario {
	case "", walkthrough.ScenarioNormal, walkthrough.ScenarioForkFailure, walkthrough.ScenarioTooManyClients:
	default:
		return fmt.Errorf("reenact: unknown scenario %q (scenarios: %s)", d.opts.Scenario, strings.Join(walkthrough.Scenarios, ", "))
	}
	if d.opts.Version.Name == "" {
		return errors.New("reenact: no PostgreSQL version given")
	}
	if d.fl.err != nil {
		return d.fl.err
	}
	d.stop = make(chan struct{})
	d.accepts = make(chan accepted)
	d.exits = make(chan *conn)
	d.sessions = map[*conn]bool{}
	d.nextSlot = 0

	if d.exe == "" {
		exe, err := executable()
		if err != nil {
			return err
		}
		d.exe = exe
	}
	// A marked private directory: if pgwalk is killed, the next run
	// removes it (tmpdir.CleanStale).
	dir, err := tmpdir.Make(tmpdir.Prefix)
	if err != nil {
		return fmt.Errorf("reenact: create the socket directory: %w", err)
	}
	d.dir = dir
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("reenact: %w", err)
	}

	addr, err := d.tcpAddr()
	if err != nil {
		return fmt.Errorf("reenact: listen on TCP: %w", err)
	}
	d.tcpLn, err = net.ListenTCP("tcp", addr)
	if err != nil {
		return fmt.Errorf("reenact: listen on TCP: %w", err)
	}
	d.port = d.tcpLn.Addr().(*net.TCPAddr).Port
	d.sockPath = filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(d.port))
	d.unixLn, err = net.ListenUnix("unix", &net.UnixAddr{Name: d.sockPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("reenact: listen on the Unix socket: %w", err)
	}
	d.death[0], d.death[1], err = pipeCloexec()
	if err != nil {
		return fmt.Errorf("reenact: postmaster death pipe: %w", err)
	}
	if d.opts.Scenario == walkthrough.ScenarioTooManyClients {
		d.maxChildren = tooManyLimit
		d.slots = make([]bool, tooManyLimit)
	}
	if d.fl.pooled() {
		d.pool = newPool(d.fl.facts.Pool.FirstSlot, d.maxChildren)
	}
	if d.fl.sharedKeys() {
		rows := d.maxChildren
		if d.pool != nil {
			rows = d.pool.first - 1 + d.pool.size
		}
		d.keys, d.keysPath, err = createKeyTable(dir, rows)
		if err != nil {
			return fmt.Errorf("reenact: %w", err)
		}
	}
	d.launcher = startLauncher()
	if err := d.prepareScenario(ctx); err != nil {
		return err
	}

	d.wg.Add(1)
	go d.acceptLoop(d.unixLn, "unix")
	if d.opts.WaitForClient {
		d.wg.Add(1)
		go d.acceptLoop(d.tcpLn, "tcp")
		d.opts.Tell(walkthrough.M("say.reenact.waiting", "pid", os.Getpid()))
		for _, cmd := range d.PsqlCommands() {
			d.opts.Tell(walkthrough.M("say.reenact.psql_command", "command", cmd))
		}
		d.opts.Tell(walkthrough.M("say.reenact.private_dir"))
		d.tellScenario()
		return nil
	}

	nc, err := net.Dial("unix", d.sockPath)
	if err != nil {
		return fmt.Errorf("reenact: connect pgwalk's own client: %w", err)
	}
	d.own = &ownClient{conn: nc, done: make(chan struct{})}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.own.res = runClient(nc)
		close(d.own.done)
	}()
	return nil
}

// acceptLoop accepts connections on ln until the driver closes.
func (d *Driver) acceptLoop(ln net.Listener, via string) {
	defer d.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		d.arrived(nc, via)
		select {
		case d.accepts <- accepted{nc: nc, via: via}:
		case <-d.stop:
			nc.Close()
			return
		}
	}
}

// Next lets the processes run to the next stop and returns it.
func (d *Driver) Next(ctx context.Context) (walkthrough.Event, error) {
	if !d.started || d.launcher == nil {
		return walkthrough.Event{}, NotStartedError{}
	}
	if d.broken != nil {
		return walkthrough.Event{}, d.broken
	}
	if err := ctx.Err(); err != nil {
		return walkthrough.Event{}, err
	}
	select {
	case <-d.stop:
		return walkthrough.Event{}, errors.New("reenact: driver closed")
	default:
	}
	ev, err := d.step(ctx)
	if err != nil && !errors.Is(err, walkthrough.EOF) {
		if d.cur != nil {
			// A stop was abandoned half way: the run cannot go on.
			d.broken = err
		}
	}
	return ev, err
}

func (d *Driver) step(ctx context.Context) (walkthrough.Event, error) {
	if c := d.cur; c != nil {
		switch c.next {
		case walkthrough.StructInit:
			return d.structInit(c)
		case walkthrough.Fork:
			return d.fork(c)
		case walkthrough.Child:
			return d.childStop(ctx, c)
		case walkthrough.ParentRegistration:
			return d.register(c)
		case walkthrough.ForkFailure:
			return d.forkFailure(c)
		case walkthrough.Epilogue:
			d.cur = nil
			return d.failureEpilogue(ctx, c)
		case stageRelease:
			// BackendStartup returns: ServerLoop closes the postmaster's
			// copy of the client socket and goes back to waiting; the
			// child goes on to BackendInitialize and serves its client.
			d.closeClientSocket(c)
			if err := c.ctlW.send(toChild{Type: msgProceed}); err != nil {
				return walkthrough.Event{}, fmt.Errorf("reenact: release backend %d: %w", c.pid, err)
			}
			d.sessions[c] = true
			d.cur = nil
		}
	}
	return d.idle(ctx)
}

// idle waits for what happens next in the postmaster's loop: a child exits
// (the closing check of its connection) or a new connection arrives.
func (d *Driver) idle(ctx context.Context) (walkthrough.Event, error) {
	first := true
	for {
		if !d.opts.WaitForClient && d.walked > 0 && len(d.sessions) == 0 {
			return walkthrough.Event{}, walkthrough.EOF
		}
		accepts := d.accepts
		if !d.opts.WaitForClient && d.walked > 0 {
			accepts = nil
		}
		if first && d.opts.WaitForClient {
			d.sayWaiting()
		}
		first = false
		select {
		case <-ctx.Done():
			return walkthrough.Event{}, ctx.Err()
		case a := <-accepts:
			return d.structCreation(a)
		case c := <-d.exits:
			if !d.sessions[c] {
				continue
			}
			delete(d.sessions, c)
			return d.epilogue(ctx, c)
		}
	}
}

func (d *Driver) sayWaiting() {
	if len(d.sessions) == 0 {
		d.opts.Tell(walkthrough.M("say.reenact.waiting_next"))
		return
	}
	d.opts.Tell(servingMsg(d.sessions))
}

// servingMsg says which backends serve a client while pgwalk waits: their
// pids in numerical order, the last one apart ({last}, the others in
// {others}) so that each language joins them its own way, and their
// number {n}.
func servingMsg(sessions map[*conn]bool) walkthrough.Msg {
	pids := make([]int, 0, len(sessions))
	for c := range sessions {
		pids = append(pids, c.pid)
	}
	sort.Ints(pids)
	names := make([]string, len(pids))
	for i, p := range pids {
		names[i] = strconv.Itoa(p)
	}
	last := ""
	if len(names) > 0 {
		last = names[len(names)-1]
		names = names[:len(names)-1]
	}
	return walkthrough.M("say.reenact.serving", "n", len(pids), "others", strings.Join(names, ", "), "last", last)
}

// event returns the skeleton of a stop of c, at point (a catalog message).
func (d *Driver) event(c *conn, phase walkthrough.PhaseID, proc walkthrough.Process, pid int, point walkthrough.Msg) walkthrough.Event {
	ev := walkthrough.Event{Connection: c.n, Phase: phase, Process: proc, PID: pid}
	ev.SetPoint(point)
	return ev
}

// closeClientSocket closes the postmaster's copy of c's client socket, as
// ServerLoop does after BackendStartup returns, and checks that fd pmFD no
// longer refers to that socket (a later accept may reuse the number).
func (d *Driver) closeClientSocket(c *conn) {
	if c.nc == nil {
		return
	}
	err := c.nc.Close()
	c.nc = nil
	ino, ferr := inode(c.pmFD)
	c.pmClosed, c.pmCloseErr = true, err
	c.pmClosedOK = err == nil && (ferr != nil || ino != c.pmInode)
}

// pmCloseFact says how the postmaster's copy of c's client socket was
// closed (see closeClientSocket).
func (d *Driver) pmCloseFact(c *conn) walkthrough.Fact {
	switch {
	case !c.pmClosed:
		return fact("fact.reenact.pm_socket_open", "fd", c.pmFD)
	case c.pmCloseErr != nil:
		return fact("fact.reenact.pm_socket_close_failed", "fd", c.pmFD, "error", c.pmCloseErr.Error())
	}
	return fact("fact.reenact.pm_socket_closed", "fd", c.pmFD, "at", d.fl.serverLoopClose)
}

// pmCloseCheck checks that the postmaster closed its copy of c's client
// socket: fd pmFD no longer refers to it (pmCloseFact says how).
func (d *Driver) pmCloseCheck(c *conn) walkthrough.Check {
	return check(c.pmClosedOK, "check.reenact.pm_socket_closed", "fd", c.pmFD)
}

// backendListSnapshot copies BackendList, head first. Call with d.mu held.
func (d *Driver) backendListSnapshot() []walkthrough.BackendNode {
	list := make([]walkthrough.BackendNode, 0, len(d.backendList))
	for _, bn := range d.backendList {
		list = append(list, *bn)
	}
	return list
}

// callResult says what a system call returned, as C says it: "0", or
// "-1 ESRCH" with the errno's name.
func callResult(err error) string {
	if err == nil {
		return "0"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "-1 " + unix.ErrnoName(errno)
	}
	return "-1 (" + err.Error() + ")"
}

// errnoValue describes errno for Values.Errno.
func errnoValue(errno syscall.Errno) *walkthrough.Errno {
	return &walkthrough.Errno{Code: int(errno), Name: unix.ErrnoName(errno), Message: strerror(errno)}
}

// strerror returns errno's message the way C's strerror spells it.
func strerror(errno syscall.Errno) string {
	return capitalize(errno.Error())
}

// capitalize returns s with its first letter upper case, as C's strerror
// and strsignal spell their messages.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// describeClient says who connected on c.
func (d *Driver) describeClient(c *conn) walkthrough.Fact {
	switch {
	case c.own:
		return fact("fact.reenact.client_own", "pid", os.Getpid())
	case c.via == "tcp":
		return fact("fact.reenact.client_tcp", "peer", c.peer)
	case c.peerPID > 0:
		return fact("fact.reenact.client_unix_pid", "pid", c.peerPID)
	}
	return fact("fact.reenact.client_unix")
}

// clientSocketFact says which fd the postmaster holds c's client socket
// in, and which listen socket accepted it (via).
func (d *Driver) clientSocketFact(c *conn, via string) walkthrough.Fact {
	if via == "tcp" {
		return fact("fact.reenact.client_socket_tcp", "fd", c.pmFD, "addr", d.tcpListening())
	}
	return fact("fact.reenact.client_socket_unix", "fd", c.pmFD, "path", d.sockPath)
}

// describeListeners says the postmaster's listen sockets and their fds.
func (d *Driver) describeListeners() walkthrough.Fact {
	tcpFD, unixFD := -1, -1
	_ = withFD(d.tcpLn, func(fd int) error { tcpFD = fd; return nil })
	_ = withFD(d.unixLn, func(fd int) error { unixFD = fd; return nil })
	return fact("fact.reenact.listen_sockets", "tcp", d.tcpListening(), "tcp_fd", tcpFD, "path", d.sockPath, "unix_fd", unixFD)
}

// Close kills and reaps every child, closes every socket and pipe, removes
// the private directory and waits for the driver's goroutines.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *Driver) close() error {
	if d.stop != nil {
		close(d.stop)
	}
	if d.unixLn != nil {
		d.unixLn.Close()
	}
	if d.tcpLn != nil {
		d.tcpLn.Close()
	}
	if d.own != nil {
		d.own.conn.Close()
	}
	d.closeHeld()
	d.mu.Lock()
	conns := append([]*conn(nil), d.all...)
	d.mu.Unlock()
	for _, c := range conns {
		if c.proc != nil {
			_ = c.proc.Kill()
		}
		if c.nc != nil {
			c.nc.Close()
		}
	}
	// The waiters reap the children; the control readers end when the
	// children's ends close.
	d.wg.Wait()
	for _, c := range conns {
		if c.ctl != nil {
			c.ctl.Close()
		}
	}
	limitErr := d.limit.release(d.launcher)
	if d.launcher != nil {
		d.launcher.stop()
	}
	for i, fd := range d.death {
		if fd >= 0 {
			syscall.Close(fd)
			d.death[i] = -1
		}
	}
	if err := d.keys.close(); err != nil {
		return fmt.Errorf("reenact: %w", err)
	}
	if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			return fmt.Errorf("reenact: remove %s: %w", d.dir, err)
		}
	}
	if limitErr != nil {
		return fmt.Errorf("reenact: %w", limitErr)
	}
	return nil
}
