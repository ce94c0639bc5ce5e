//go:build unix

package reenact

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
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
	// pmClose says how the postmaster's copy was closed after
	// BackendStartup returned; pmClosedOK is true when fd pmFD no longer
	// refers to the client socket afterwards.
	pmClose    string
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
	// listAtLaunch is the length of the BackendList copy sent to the child.
	listAtLaunch int

	// Recorded by the control reader, under Driver.mu.
	startup *fromChild
	errs    []string
	queries []walkthrough.Fact
	signals []string
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
	case "", "normal", walkthrough.ScenarioForkFailure:
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
	if d.opts.Scenario == walkthrough.ScenarioForkFailure {
		d.exe = filepath.Join(dir, missingBackend)
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
	d.launcher = startLauncher()

	d.wg.Add(1)
	go d.acceptLoop(d.unixLn, "unix")
	if d.opts.WaitForClient {
		d.wg.Add(1)
		go d.acceptLoop(d.tcpLn, "tcp")
		d.opts.Say(fmt.Sprintf("pgwalk's postmaster (pid %d) is waiting for clients. Connect with:", os.Getpid()))
		for _, cmd := range d.PsqlCommands() {
			d.opts.Say("  " + cmd)
		}
		d.opts.Say("(the socket directory is private to this user; other users connect over TCP)")
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
		d.opts.Say("waiting for the next client (q or Ctrl-C ends the run)")
		return
	}
	d.opts.Say(servingLine(d.sessions))
}

// servingLine says which backends serve a client while pgwalk waits: their
// pids in numerical order, in a sentence of the right number.
func servingLine(sessions map[*conn]bool) string {
	pids := make([]int, 0, len(sessions))
	for c := range sessions {
		pids = append(pids, c.pid)
	}
	sort.Ints(pids)
	names := make([]string, len(pids))
	for i, p := range pids {
		names[i] = strconv.Itoa(p)
	}
	if len(names) == 1 {
		return fmt.Sprintf("backend %s is serving its client; its closing check comes when the client disconnects (\\q). A new client is walked as soon as it connects.", names[0])
	}
	list := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	return fmt.Sprintf("backends %s are serving their clients; each one's closing check comes when its client disconnects (\\q). A new client is walked as soon as it connects.", list)
}

// event returns the skeleton of a stop of c.
func (d *Driver) event(c *conn, phase walkthrough.PhaseID, proc walkthrough.Process, pid int, point string) walkthrough.Event {
	return walkthrough.Event{Connection: c.n, Phase: phase, Process: proc, PID: pid, Point: point}
}

func (d *Driver) structCreation(a accepted) (walkthrough.Event, error) {
	d.walked++
	c := &conn{n: d.walked, nc: a.nc, via: a.via, own: !d.opts.WaitForClient, pmFD: -1}
	_ = withFD(a.nc.(syscall.Conn), func(fd int) error {
		c.pmFD = fd
		c.pmInode, _ = inode(fd)
		return nil
	})
	c.peer = a.nc.RemoteAddr().String()
	c.peerPID = peerPID(a.nc)
	d.mu.Lock()
	d.all = append(d.all, c)
	list := d.backendListSnapshot()
	d.mu.Unlock()
	d.cur = c
	c.next = walkthrough.StructInit

	pm := os.Getpid()
	ev := d.event(c, walkthrough.StructCreation, walkthrough.Postmaster, pm,
		fmt.Sprintf("BackendStartup(%s): the %s record was just allocated with %s", d.fl.connArg(), d.fl.record, d.fl.allocator))
	ev.Values.PostmasterPID = pm
	ev.Values.BackendList = list
	ev.Values.Facts = []walkthrough.Fact{
		{Name: "allocator", Value: d.fl.allocator},
		{Name: "struct", Value: d.fl.connStruct},
		{Name: "client socket", Value: fmt.Sprintf("fd %d in the postmaster, accepted on the %s", c.pmFD, d.listenerName(a.via))},
		{Name: "client", Value: d.describeClient(c)},
		{Name: "listen sockets", Value: d.describeListeners()},
		{Name: "death pipe", Value: fmt.Sprintf("read end fd %d, write end fd %d", d.death[0], d.death[1])},
		{Name: "Backend fields", Value: "not set yet: the allocator does not zero them"},
		{Name: "startup packet", Value: "not read by the postmaster: whether this is a session or a CancelRequest, only the child will find out"},
	}
	return ev, nil
}

// structInit fills the Backend record in the release's order: the cancel
// key, the accept decision (from a count of children, as
// canAcceptConnections makes it), dead_end, and a child slot only when the
// answer was CAC_OK.
func (d *Driver) structInit(c *conn) (walkthrough.Event, error) {
	var (
		key      int32
		children int
		slot     int
		order    []string
	)
	c.node = walkthrough.BackendNode{}
	for _, step := range d.fl.initSteps {
		switch step.Role {
		case initRandomKey:
			var b [4]byte
			if _, err := rand.Read(b[:]); err != nil {
				return walkthrough.Event{}, fmt.Errorf("reenact: could not generate random cancel key: %w", err)
			}
			key = int32(binary.BigEndian.Uint32(b[:]))
		case initCancelKey:
			c.node.CancelKey = key
		case initCanAccept:
			d.mu.Lock()
			c.canAccept, children = d.canAcceptConnections()
			d.mu.Unlock()
		case initDeadEnd:
			c.node.DeadEnd = c.canAccept != "CAC_OK"
		case initSlot:
			if !c.node.DeadEnd {
				d.mu.Lock()
				slot = d.assignSlot()
				d.mu.Unlock()
				if slot == 0 {
					// PostgreSQL: elog(FATAL) in the postmaster. The
					// count above makes this unreachable.
					return walkthrough.Event{}, errors.New("reenact: no free slots in PMChildFlags array")
				}
			}
			c.node.ChildSlot = slot
		case initBgworker:
			c.node.BgworkerNotify = false
		}
		order = append(order, fmt.Sprintf("%s (%s)", step.Step, step.At))
	}
	d.mu.Lock()
	inUse := d.slotsInUse()
	d.mu.Unlock()
	c.next = walkthrough.Fork

	pm := os.Getpid()
	ev := d.event(c, walkthrough.StructInit, walkthrough.Postmaster, pm, "BackendStartup: after bgworker_notify = false, just before the fork")
	node := c.node
	cmp := "<"
	if children >= d.maxChildren {
		cmp = ">="
	}
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		CancelKey:     walkthrough.Int32(key),
		CanAccept:     c.canAccept,
		DeadEnd:       walkthrough.Bool(c.node.DeadEnd),
		ChildSlot:     walkthrough.Int(slot),
		Backend:       &node,
		Facts: []walkthrough.Fact{
			{Name: "order", Value: strings.Join(order, ", then ")},
			{Name: "cancel key source", Value: "crypto/rand (the OS CSPRNG): 4 bytes read as an int32, as RandomCancelKey does with pg_strong_random"},
			{Name: "canAcceptConnections", Value: fmt.Sprintf("%s = %s: CountChildren(BACKEND_TYPE_ALL) = %d %s MaxLivePostmasterChildren() = %d (dead-end children are not counted; the mini postmaster is always in PM_RUN)",
				d.fl.canAcceptField, c.canAccept, children, cmp, d.maxChildren)},
		},
	}
	if c.node.DeadEnd {
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "child slot", Value: fmt.Sprintf("none assigned (0): a dead-end child gets no slot; %d of %d slots in use", inUse, len(d.slots))},
			walkthrough.Fact{Name: "dead end", Value: "the child will only tell the client \"sorry, too many clients already\""})
	} else {
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "child slot", Value: fmt.Sprintf("%d, from AssignPostmasterChildSlot, which scans down from the slot it assigned last; %d of %d slots in use", slot, inUse, len(d.slots))})
	}
	return ev, nil
}

func (d *Driver) fork(c *conn) (walkthrough.Event, error) {
	pm := os.Getpid()
	node := c.node
	err := d.launch(c)
	if err != nil {
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return walkthrough.Event{}, fmt.Errorf("reenact: launch backend: %w", err)
		}
		c.forkErr = err
		c.errno = errno
		c.next = walkthrough.ForkFailure
		ev := d.event(c, walkthrough.Fork, walkthrough.Postmaster, pm, "the launch returned -1 in the postmaster: no child process")
		ev.Values = walkthrough.Values{
			PostmasterPID: pm,
			ForkReturn:    walkthrough.Int(-1),
			Backend:       &node,
			Errno:         errnoValue(errno),
			Facts: []walkthrough.Fact{
				{Name: "launch", Value: fmt.Sprintf("fork+exec of %s %s (%s)", d.exe, ChildCommand, d.fl.launch)},
				{Name: "what failed", Value: fmt.Sprintf("execve: %s does not exist in the private directory; Go hands the new process's exec error back to the parent, so the launch fails with that errno, as a failed fork_process does", missingBackend)},
				{Name: "PostgreSQL's own exec failure", Value: "under EXEC_BACKEND a failed execv is logged by the new process (\"could not execute server process\") and the parent counts the fork as done; this branch runs when fork() itself fails, typically with EAGAIN"},
			},
		}
		return ev, nil
	}
	c.next = walkthrough.Child
	ev := d.event(c, walkthrough.Fork, walkthrough.Postmaster, pm, "the launch returned the child's pid in the postmaster ("+d.fl.launch+")")
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ChildPID:      c.pid,
		ForkReturn:    walkthrough.Int(c.pid),
		Backend:       &node,
		Facts: []walkthrough.Fact{
			{Name: "launch", Value: fmt.Sprintf("fork+exec of %s %s", d.exe, ChildCommand)},
			{Name: "PostgreSQL's exec", Value: d.fl.execArgv},
			{Name: "why exec", Value: "Go cannot fork without exec; PostgreSQL starts backends the same way on Windows and in EXEC_BACKEND builds (" + d.fl.launch + ")"},
			{Name: "passed to the child", Value: fmt.Sprintf("fd %d TCP listen socket, fd %d Unix listen socket, fd %d/%d death pipe read/write ends, fd %d client socket, fd %d pgwalk control channel",
				childFDTCP, childFDUnix, childFDDeathRead, childFDDeathWrite, childFDClient, childFDControl)},
			{Name: "backend variables", Value: fmt.Sprintf("MyCancelKey, MyPMChildSlot and the fd numbers are sent over the control channel; EXEC_BACKEND writes them to a backend_var file that the child reads back (%s); a forked child has them in its copy of the postmaster's memory", d.fl.paramFile)},
			{Name: "BackendList copy", Value: fmt.Sprintf("the child is also sent BackendList as it is now (%s): the copy a forked child has of it, which the child searches if its startup packet is a CancelRequest (an EXEC_BACKEND child searches ShmemBackendArray in shared memory instead, which the postmaster keeps current)", entries(c.listAtLaunch))},
			{Name: "Backend.pid", Value: "still 0: the postmaster fills it in at registration"},
			{Name: "child state", Value: fmt.Sprintf("process %d is running and waits on its control channel before its first step", c.pid)},
		},
	}
	return ev, nil
}

// launch starts the child for c: fork+exec of pgwalk's own binary with the
// client socket, both listen sockets, both ends of the death pipe and a
// control channel.
func (d *Driver) launch(c *conn) error {
	ctlParent, ctlChild, err := socketpairCloexec()
	if err != nil {
		return err
	}
	defer syscall.Close(ctlChild)
	keepParent := false
	defer func() {
		if !keepParent {
			syscall.Close(ctlParent)
		}
	}()
	errR, errW, err := pipeCloexec()
	if err != nil {
		return err
	}
	defer syscall.Close(errW)
	keepErrR := false
	defer func() {
		if !keepErrR {
			syscall.Close(errR)
		}
	}()
	devNull, err := openDevNull()
	if err != nil {
		return err
	}
	defer syscall.Close(devNull)

	argv := []string{d.exe, ChildCommand,
		"-version", d.fl.version,
		"-steps", strings.Join(d.fl.childSteps(), ","),
		"-listen", fmt.Sprintf("%d,%d", childFDTCP, childFDUnix),
		"-death-read", strconv.Itoa(childFDDeathRead),
		"-death-write", strconv.Itoa(childFDDeathWrite),
		"-client", strconv.Itoa(childFDClient),
		"-control", strconv.Itoa(childFDControl),
	}
	inodes := map[uint64]string{}
	var pid int
	err = withFD(d.tcpLn, func(tcpFD int) error {
		return withFD(d.unixLn, func(unixFD int) error {
			return withFD(c.nc.(syscall.Conn), func(clientFD int) error {
				for fd, kind := range map[int]string{
					tcpFD: walkthrough.FDListenSocket, unixFD: walkthrough.FDListenSocket,
					d.death[0]: inodeDeathPipe, clientFD: walkthrough.FDClientSocket,
					ctlChild: walkthrough.FDDriverChannel,
				} {
					ino, err := inode(fd)
					if err != nil {
						return err
					}
					inodes[ino] = kind
				}
				files := []uintptr{uintptr(devNull), uintptr(errW), uintptr(errW),
					uintptr(tcpFD), uintptr(unixFD), uintptr(d.death[0]), uintptr(d.death[1]),
					uintptr(clientFD), uintptr(ctlChild)}
				var err error
				pid, err = d.launcher.forkExec(argv, &syscall.ProcAttr{
					Env:   os.Environ(),
					Files: files,
					Sys:   childSysProcAttr(),
				})
				return err
			})
		})
	})
	if err != nil {
		return err
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		// Cannot happen on Unix; keep the error rather than lose the child.
		return fmt.Errorf("reenact: find child %d: %w", pid, err)
	}

	if err := syscall.SetNonblock(ctlParent, true); err != nil {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("reenact: control channel: %w", err)
	}
	f := os.NewFile(uintptr(ctlParent), "pgwalk control channel")
	keepParent = true
	ctl, err := net.FileConn(f)
	f.Close()
	if err != nil {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("reenact: control channel: %w", err)
	}
	if err := syscall.SetNonblock(errR, true); err != nil {
		ctl.Close()
		_ = proc.Kill()
		_, _ = proc.Wait()
		return fmt.Errorf("reenact: child stderr: %w", err)
	}
	errFile := os.NewFile(uintptr(errR), "child stderr")
	keepErrR = true

	// processCancel reads pid and proc from other goroutines.
	d.mu.Lock()
	c.pid = pid
	c.proc = proc
	d.mu.Unlock()
	c.ctl = ctl
	c.ctlW = &ctlWriter{w: ctl}
	c.reports = make(chan fromChild, 1)
	c.readerDone = make(chan struct{})
	c.exited = make(chan struct{})
	c.stderrDone = make(chan struct{})

	d.wg.Add(3)
	go d.waitChild(c)
	go d.readControl(c)
	go func() {
		defer d.wg.Done()
		defer close(c.stderrDone)
		defer errFile.Close()
		buf := make([]byte, 512)
		for {
			n, err := errFile.Read(buf)
			c.stderr.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()

	roles := map[int]string{
		childFDTCP: walkthrough.FDListenSocket, childFDUnix: walkthrough.FDListenSocket,
		childFDDeathRead: walkthrough.FDDeathPipeRead, childFDDeathWrite: walkthrough.FDDeathPipeWrite,
		childFDClient: walkthrough.FDClientSocket, childFDControl: walkthrough.FDDriverChannel,
	}
	// A forked child has a copy of BackendList as it was at the fork, and
	// processCancelRequest searches that copy: the exec'd child cannot
	// inherit memory, so it is sent a snapshot of the list taken now, with
	// the other variables. (An EXEC_BACKEND build does not copy the list:
	// its children search ShmemBackendArray, which lives in shared memory
	// and which the postmaster keeps current; the snapshot follows the
	// fork build, the one the notes describe.)
	d.mu.Lock()
	list := d.backendListSnapshot()
	d.mu.Unlock()
	c.listAtLaunch = len(list)
	// Like internal_forkexec's backend_var file, the variables are written
	// before the child needs them; it reads them on its own.
	if err := c.ctlW.send(toChild{Type: msgVars, Vars: &backendVars{
		Version: d.fl.version, PostmasterPID: os.Getpid(),
		CancelKey: c.node.CancelKey, ChildSlot: c.node.ChildSlot,
		CanAccept: c.canAccept, DeadEnd: c.node.DeadEnd,
		BackendList: list,
		Roles:       roles, Inodes: inodes, Inherited: inheritableFDs(childFDControl + 1),
	}}); err != nil {
		// The child is gone already; the next stop reports how it ended.
		return nil
	}
	return nil
}

// waitChild reaps c's process, as the postmaster's reaper does.
func (d *Driver) waitChild(c *conn) {
	defer d.wg.Done()
	awaitExit(c.pid) // never sleep in wait(2): see awaitExit
	st, err := c.proc.Wait()
	if err == nil {
		c.exitState = st
	}
	close(c.exited)
	select {
	case d.exits <- c:
	case <-d.stop:
	}
}

// readControl handles what c's child sends until its channel ends.
func (d *Driver) readControl(c *conn) {
	defer d.wg.Done()
	defer close(c.readerDone)
	r := newCtlReader(c.ctl)
	for {
		var m fromChild
		if err := r.recv(&m); err != nil {
			return
		}
		switch m.Type {
		case msgChildStop:
			select {
			case c.reports <- m:
			case <-d.stop:
				return
			}
		case msgStartup:
			d.mu.Lock()
			c.startup = &m
			d.mu.Unlock()
		case msgCancel:
			// The child read a CancelRequest, searched its copy of
			// BackendList and, on a match, signalled the backend
			// itself: the postmaster only hears about it.
			d.mu.Lock()
			c.cancel = &m
			if m.Text != "" {
				c.logs = append(c.logs, m.Text)
			}
			d.mu.Unlock()
		case msgSignal:
			d.mu.Lock()
			c.signals = append(c.signals, m.Signal+": "+m.Text)
			d.mu.Unlock()
			if d.signalSeen != nil {
				select {
				case d.signalSeen <- c.pid:
				default:
				}
			}
		case msgRunning:
			if d.queryRunning != nil {
				select {
				case d.queryRunning <- c.pid:
				default:
				}
			}
		case msgError:
			d.mu.Lock()
			c.errs = append(c.errs, m.Text)
			d.mu.Unlock()
		case msgQuery:
			f := walkthrough.Fact{Name: "query refused", Value: m.Text}
			if m.Result != "" {
				f = walkthrough.Fact{Name: "query", Value: strconv.Quote(m.Text) + ": " + m.Result}
			}
			d.mu.Lock()
			c.queries = append(c.queries, f)
			if m.Log != "" {
				c.logs = append(c.logs, m.Log)
			}
			d.mu.Unlock()
		}
	}
}

func (d *Driver) childStop(ctx context.Context, c *conn) (walkthrough.Event, error) {
	if err := c.ctlW.send(toChild{Type: msgProceed}); err != nil {
		return walkthrough.Event{}, d.childGone(c, err)
	}
	var m fromChild
	select {
	case <-ctx.Done():
		return walkthrough.Event{}, ctx.Err()
	case <-c.exited:
		return walkthrough.Event{}, d.childGone(c, nil)
	case m = <-c.reports:
	}
	c.next = walkthrough.ParentRegistration

	order := strings.Join(m.Steps, ", then ")
	ev := d.event(c, walkthrough.Child, walkthrough.Backend, m.PID,
		fmt.Sprintf("in the child, after %s; before %s", order, d.fl.backendMain))
	// cancel_key and child_slot as the child has them (MyCancelKey,
	// MyPMChildSlot), not as the postmaster set them. fork_return stays
	// unset: nothing returns from a fork in an exec'd child.
	ev.Values = walkthrough.Values{
		PostmasterPID: m.PPID,
		ChildPID:      m.PID,
		CancelKey:     walkthrough.Int32(m.MyCancelKey),
		ChildSlot:     walkthrough.Int(m.MyPMChildSlot),
		FDsBefore:     m.FDsBefore,
		FDsAfter:      m.FDsAfter,
		ClosedFDs:     closedFDs(m.FDsBefore, m.FDsAfter),
	}
	facts := []walkthrough.Fact{
		{Name: "order", Value: order},
		{Name: "which path", Value: "the launch is EXEC_BACKEND's (fork+exec, variables passed by the parent); the order of the two steps is " + d.fl.childPath},
		{Name: "MyCancelKey, MyPMChildSlot", Value: fmt.Sprintf("received over the control channel before the first step, as an EXEC_BACKEND child reads them from its parameter file (%s); a forked child has them in its copy of the postmaster's memory", d.fl.paramFile)},
		{Name: "fork return in the child", Value: "none: an exec'd child starts in main (SubPostmasterMain under EXEC_BACKEND), not at fork's return"},
		{Name: "parent", Value: fmt.Sprintf("getppid() = %d", m.PPID)},
	}
	facts = append(facts, m.Facts...)
	if d.fl.freeInChild {
		facts = append(facts, walkthrough.Fact{Name: "free(bn)", Value: d.fl.version + "'s forked child frees its copy of the Backend record; an exec'd child never had one"})
	} else {
		facts = append(facts, walkthrough.Fact{Name: "Backend record", Value: d.fl.version + "'s child leaves it alone (no free in the child any more)"})
	}
	facts = append(facts, walkthrough.Fact{Name: "postmaster epoll", Value: "not inherited: Go opens it close-on-exec (PostgreSQL's child frees the postmaster's wait set in ClosePostmasterPorts)"})
	ev.Values.Facts = facts
	return ev, nil
}

// childGone describes a child that ended before its stop.
func (d *Driver) childGone(c *conn, cause error) error {
	<-c.exited
	<-c.stderrDone
	status := "unknown status"
	if c.exitState != nil {
		status = c.exitState.String()
	}
	if cause != nil {
		status += " (" + cause.Error() + ")"
	}
	return &ChildExitedError{PID: c.pid, Status: status, Stderr: strings.TrimSpace(string(c.stderr.b))}
}

func (d *Driver) register(c *conn) (walkthrough.Event, error) {
	pm := os.Getpid()
	line := fmt.Sprintf("forked new backend, pid=%d socket=%d", c.pid, c.pmFD)
	c.node.PID = c.pid
	c.node.BkendType = d.fl.bkendNormal
	d.mu.Lock()
	d.backendList = append([]*walkthrough.BackendNode{&c.node}, d.backendList...)
	list := d.backendListSnapshot()
	d.mu.Unlock()
	// The postmaster still holds its copy of the client socket: ServerLoop
	// closes it once BackendStartup has returned (closeClientSocket, at the
	// next step).
	c.next = stageRelease

	node := c.node
	ev := d.event(c, walkthrough.ParentRegistration, walkthrough.Postmaster, pm, "BackendStartup: after dlist_push_head(&BackendList, &bn->elem)")
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ChildPID:      c.pid,
		// Still the pid variable BackendStartup got from the launch.
		ForkReturn:  walkthrough.Int(c.pid),
		Backend:     &node,
		BackendList: list,
		Log:         []string{line},
		Facts: []walkthrough.Fact{
			{Name: "client socket", Value: fmt.Sprintf("fd %d is still open in the postmaster: BackendStartup has not returned yet; ServerLoop closes it after the return (%s), and the closing check reports it", c.pmFD, d.fl.serverLoopClose)},
			{Name: "child state", Value: "waiting before BackendInitialize; it reads the startup packet next"},
		},
	}
	return ev, nil
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
	c.pmClosedOK = err == nil && (ferr != nil || ino != c.pmInode)
	c.pmClose = fmt.Sprintf("fd %d closed by ServerLoop after BackendStartup returned (%s)", c.pmFD, d.fl.serverLoopClose)
	if err != nil {
		c.pmClose = fmt.Sprintf("fd %d: close failed: %v", c.pmFD, err)
	}
}

// backendListSnapshot copies BackendList, head first. Call with d.mu held.
func (d *Driver) backendListSnapshot() []walkthrough.BackendNode {
	list := make([]walkthrough.BackendNode, 0, len(d.backendList))
	for _, bn := range d.backendList {
		list = append(list, *bn)
	}
	return list
}

func (d *Driver) forkFailure(c *conn) (walkthrough.Event, error) {
	pm := os.Getpid()
	msg := "could not fork new process for connection: " + strerror(c.errno)
	d.mu.Lock()
	if !c.node.DeadEnd {
		d.releaseSlot(c.node.ChildSlot)
	}
	released := !c.node.DeadEnd && !d.slots[c.node.ChildSlot-1]
	d.mu.Unlock()

	// report_fork_failure_to_client: one try, never blocking the
	// postmaster for long.
	sent := "ErrorResponse (FATAL) " + strconv.Quote(msg)
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	be := pgproto3.NewBackend(c.nc, c.nc)
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Message: msg})
	if err := be.Flush(); err != nil {
		sent = "nothing: " + err.Error()
	}
	d.mu.Lock()
	list := d.backendListSnapshot()
	d.mu.Unlock()
	c.next = walkthrough.Epilogue

	ev := d.event(c, walkthrough.ForkFailure, walkthrough.Postmaster, pm, "BackendStartup: the launch failed (pid < 0)")
	ev.Values = walkthrough.Values{
		PostmasterPID: pm,
		ForkReturn:    walkthrough.Int(-1),
		ChildSlot:     walkthrough.Int(c.node.ChildSlot),
		Errno:         errnoValue(c.errno),
		BackendList:   list,
		Log:           []string{msg},
		Facts: []walkthrough.Fact{
			{Name: "slot released", Value: fmt.Sprintf("slot %d is free again: %t", c.node.ChildSlot, released)},
			{Name: "Backend record", Value: "given back with " + d.fl.release},
			{Name: "sent to client", Value: sent},
			{Name: "wire format", Value: "PostgreSQL writes this text as an old-style 'E' packet without SQLSTATE; pgwalk sends it as a v3 ErrorResponse"},
			{Name: "client socket", Value: fmt.Sprintf("fd %d is still open: BackendStartup returns STATUS_ERROR next, and ServerLoop closes the socket after the return (%s)", c.pmFD, d.fl.serverLoopClose)},
		},
	}
	return ev, nil
}

func (d *Driver) failureEpilogue(ctx context.Context, c *conn) (walkthrough.Event, error) {
	// BackendStartup has returned: ServerLoop closes the client socket.
	d.closeClientSocket(c)
	ev := d.event(c, walkthrough.Epilogue, walkthrough.Client, c.peerPID, "after the fork failure")
	msg := "could not fork new process for connection: " + strerror(c.errno)
	d.mu.Lock()
	slotFree := c.node.DeadEnd || !d.slots[c.node.ChildSlot-1]
	list := d.backendListSnapshot()
	d.mu.Unlock()
	ev.Values.PostmasterPID = os.Getpid()
	ev.Values.Errno = errnoValue(c.errno)
	ev.Values.BackendList = list
	ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "postmaster's client socket", Value: c.pmClose})
	ev.Values.Checks = append(ev.Values.Checks,
		walkthrough.Check{Name: "child slot released", OK: slotFree, Detail: fmt.Sprintf("slot %d", c.node.ChildSlot)},
		walkthrough.Check{Name: "no Backend registered", OK: len(list) == 0 || !containsKey(list, c.node.CancelKey), Detail: fmt.Sprintf("BackendList has %d entries", len(list))},
		walkthrough.Check{Name: "postmaster closed its client socket", OK: c.pmClosedOK, Detail: c.pmClose},
	)
	if c.own {
		res, err := d.ownResult(ctx)
		if err != nil {
			return walkthrough.Event{}, err
		}
		ev.PID = os.Getpid()
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "client", Value: fmt.Sprintf("pgwalk's own client (pgproto3.Frontend) in process %d, over the Unix socket", os.Getpid())},
			walkthrough.Fact{Name: "client received", Value: orNothing(summarize(res.Received))},
		)
		if res.StartupError != "" {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "client error", Value: res.StartupError})
		}
		ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{
			Name: "client received the fork-failure error", OK: strings.Contains(res.StartupError, msg),
			Detail: orNothing(res.StartupError),
		})
		if res.Err != nil {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "client problem", Value: res.Err.Error()})
		}
	} else {
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "client", Value: d.describeClient(c)},
			walkthrough.Fact{Name: "sent to client", Value: "ErrorResponse (FATAL) " + strconv.Quote(msg)},
		)
	}
	return ev, nil
}

func containsKey(list []walkthrough.BackendNode, key int32) bool {
	for _, bn := range list {
		if bn.CancelKey == key {
			return true
		}
	}
	return false
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// ownResult waits for pgwalk's own client to finish.
func (d *Driver) ownResult(ctx context.Context) (clientResult, error) {
	select {
	case <-d.own.done:
		return d.own.res, nil
	case <-ctx.Done():
		d.broken = ctx.Err()
		return clientResult{}, ctx.Err()
	}
}

// epilogue is the closing check of c, whose child has exited and been
// reaped: the postmaster removes it from BackendList and frees its slot
// (CleanupBackend), and the client's view is checked against the
// postmaster's.
func (d *Driver) epilogue(ctx context.Context, c *conn) (walkthrough.Event, error) {
	select {
	case <-c.readerDone:
	case <-ctx.Done():
		d.broken = ctx.Err()
		return walkthrough.Event{}, ctx.Err()
	}
	<-c.stderrDone
	// The child is gone and its control reader has ended: close the
	// postmaster's end of the channel now rather than at Close, or a long
	// --wait-for-client run would keep one descriptor per client it
	// served. (Close closes it again, harmlessly.)
	c.ctl.Close()

	d.mu.Lock()
	for i, bn := range d.backendList {
		if bn == &c.node {
			d.backendList = append(d.backendList[:i:i], d.backendList[i+1:]...)
			break
		}
	}
	// Nothing refers to the connection any more: forget it, so that the
	// driver's memory does not grow with every client either.
	for i, other := range d.all {
		if other == c {
			d.all = append(d.all[:i:i], d.all[i+1:]...)
			break
		}
	}
	if !c.node.DeadEnd {
		d.releaseSlot(c.node.ChildSlot)
	}
	list := d.backendListSnapshot()
	slotFree := c.node.DeadEnd || !d.slots[c.node.ChildSlot-1]
	startup, errs, queries, signals, logs, cancel := c.startup, c.errs, c.queries, c.signals, c.logs, c.cancel
	d.mu.Unlock()

	exitCode := -1
	status := "unknown"
	if c.exitState != nil {
		exitCode = c.exitState.ExitCode()
		status = c.exitState.String()
	}
	killErr := syscall.Kill(c.pid, 0)

	ev := d.event(c, walkthrough.Epilogue, walkthrough.Client, c.peerPID, "the client is done and the postmaster reaped the backend")
	ev.Values.PostmasterPID = os.Getpid()
	ev.Values.ChildPID = c.pid
	ev.Values.CancelKey = walkthrough.Int32(c.node.CancelKey)
	ev.Values.BackendList = list
	ev.Values.Log = append(append([]string(nil), logs...), errs...)
	if exitCode >= 0 {
		ev.Values.Log = append(ev.Values.Log, fmt.Sprintf("server process (PID %d) exited with exit code %d", c.pid, exitCode))
	} else {
		ev.Values.Log = append(ev.Values.Log, fmt.Sprintf("server process (PID %d) ended: %s", c.pid, status))
	}

	var key *walkthrough.BackendKey
	if c.own {
		res, err := d.ownResult(ctx)
		if err != nil {
			return walkthrough.Event{}, err
		}
		ev.PID = os.Getpid()
		key = res.Key
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "client", Value: fmt.Sprintf("pgwalk's own client (pgproto3.Frontend) in process %d, over the Unix socket", os.Getpid())},
			walkthrough.Fact{Name: "client received", Value: orNothing(summarize(res.Received))},
		)
		if res.ServerVersion != "" {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "server_version", Value: res.ServerVersion})
		}
		if res.QueryError != "" {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "answer to " + strconv.Quote(clientQuery), Value: res.QueryError})
		}
		if res.StartupError != "" {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "client error", Value: res.StartupError})
		}
		if c.node.DeadEnd {
			ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{
				Name: "dead-end backend refused the client", OK: strings.Contains(res.StartupError, "sorry, too many clients already"),
				Detail: orNothing(res.StartupError),
			})
		}
		if res.Err != nil {
			ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "client problem", Value: res.Err.Error()})
		}
	} else {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "client", Value: d.describeClient(c)})
		if startup != nil {
			key = &walkthrough.BackendKey{PID: startup.KeyPID, SecretKey: startup.Key}
			ev.Values.Facts = append(ev.Values.Facts,
				walkthrough.Fact{Name: "BackendKeyData", Value: "as sent by the backend (pgwalk cannot look inside an outside client)"},
				walkthrough.Fact{Name: "backend sent", Value: strings.Join(startup.Sent, ", ")},
				walkthrough.Fact{Name: "startup packet", Value: fmt.Sprintf("user=%s database=%s application_name=%s protocol %s", startup.User, startup.Database, startup.Application, startup.Protocol)},
			)
		}
		ev.Values.Facts = append(ev.Values.Facts, queries...)
	}
	if cancel != nil {
		d.cancelValues(&ev, c, cancel)
	}
	for _, s := range signals {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "signal received", Value: s})
	}
	ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "how the backend ended", Value: status})
	if tail := strings.TrimSpace(string(c.stderr.b)); tail != "" {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "backend stderr", Value: tail})
	}

	if key != nil {
		ev.Values.ClientBackendKey = key
		ev.Values.Checks = append(ev.Values.Checks,
			walkthrough.Check{Name: "BackendKeyData pid = child pid", OK: key.PID == c.pid, Detail: fmt.Sprintf("%d = %d", key.PID, c.pid)},
			walkthrough.Check{Name: "BackendKeyData key = generated key", OK: key.SecretKey == c.node.CancelKey, Detail: fmt.Sprintf("%d = %d", key.SecretKey, c.node.CancelKey)},
		)
	} else if c.own && !c.node.DeadEnd {
		ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{Name: "client received BackendKeyData", OK: false})
	} else {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "BackendKeyData", Value: "none sent: the backend ended before a session started"})
	}
	ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "postmaster's client socket", Value: c.pmClose})
	ev.Values.Checks = append(ev.Values.Checks,
		walkthrough.Check{Name: "postmaster closed its client socket", OK: c.pmClosedOK, Detail: c.pmClose},
		walkthrough.Check{Name: "child reaped", OK: c.exitState != nil && errors.Is(killErr, syscall.ESRCH),
			Detail: fmt.Sprintf("wait: pid %d %s; kill(%d, 0): %s", c.pid, status, c.pid, errnoText(killErr))},
		walkthrough.Check{Name: "removed from BackendList", OK: !containsPID(list, c.pid), Detail: fmt.Sprintf("BackendList has %d entries", len(list))},
		walkthrough.Check{Name: "child slot released", OK: slotFree, Detail: fmt.Sprintf("slot %d", c.node.ChildSlot)},
	)
	return ev, nil
}

// cancelValues adds to ev what c's child reported about the CancelRequest
// it read: PostgreSQL's processCancelRequest runs in that child, not in the
// postmaster, and the child sends the SIGINT itself.
func (d *Driver) cancelValues(ev *walkthrough.Event, c *conn, m *fromChild) {
	ev.Values.CancelRequest = &walkthrough.CancelRequest{PID: m.TargetPID, Matched: m.Matched, CheckedByPID: m.PID}
	signalled := "nothing: no Backend on the list had that pid and that key"
	if len(m.Kills) > 0 {
		signalled = "signal_child (" + d.fl.signalChild + "): " + strings.Join(m.Kills, "; ")
	}
	ev.Values.Facts = append(ev.Values.Facts,
		walkthrough.Fact{Name: "startup packet", Value: fmt.Sprintf("a CancelRequest for pid %d, read by the child, process %d, in %s", m.TargetPID, m.PID, d.fl.cancelCheck)},
		walkthrough.Fact{Name: "list searched", Value: fmt.Sprintf("the child's copy of BackendList, taken when it was launched (%s), as a forked child searches the copy it got at the fork", entries(m.ListLen))},
		walkthrough.Fact{Name: "signalled", Value: signalled},
		walkthrough.Fact{Name: "postmaster's part", Value: "none beyond BackendStartup: it never read the packet; for it this was an ordinary connection, walked through every phase"},
	)
	pm := os.Getpid()
	ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{
		Name: "cancel request checked by this connection's child", OK: m.PID == c.pid && m.PID != pm,
		Detail: fmt.Sprintf("checked by pid %d; the connection's child is %d, the postmaster %d", m.PID, c.pid, pm),
	})
}

// entries says how many entries a list has, in words.
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

func containsPID(list []walkthrough.BackendNode, pid int) bool {
	for _, bn := range list {
		if bn.PID == pid {
			return true
		}
	}
	return false
}

func errnoText(err error) string {
	if err == nil {
		return "success (the process still exists)"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// errnoValue describes errno for Values.Errno.
func errnoValue(errno syscall.Errno) *walkthrough.Errno {
	return &walkthrough.Errno{Code: int(errno), Name: unix.ErrnoName(errno), Message: strerror(errno)}
}

// strerror returns errno's message the way C's strerror spells it.
func strerror(errno syscall.Errno) string {
	s := errno.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// describeClient says who connected on c.
func (d *Driver) describeClient(c *conn) string {
	if c.own {
		return fmt.Sprintf("pgwalk's own client (pgproto3.Frontend) in process %d, over the Unix socket", os.Getpid())
	}
	if c.via == "tcp" {
		return "outside client over TCP from " + c.peer
	}
	if c.peerPID > 0 {
		return fmt.Sprintf("outside client over the Unix socket, process %d (SO_PEERCRED)", c.peerPID)
	}
	return "outside client over the Unix socket"
}

func (d *Driver) listenerName(via string) string {
	if via == "tcp" {
		return "TCP socket " + d.tcpListening()
	}
	return "Unix socket " + d.sockPath
}

func (d *Driver) describeListeners() string {
	tcpFD, unixFD := -1, -1
	_ = withFD(d.tcpLn, func(fd int) error { tcpFD = fd; return nil })
	_ = withFD(d.unixLn, func(fd int) error { unixFD = fd; return nil })
	return fmt.Sprintf("TCP %s (fd %d), Unix %s (fd %d)", d.tcpListening(), tcpFD, d.sockPath, unixFD)
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
	if d.launcher != nil {
		d.launcher.stop()
	}
	for i, fd := range d.death {
		if fd >= 0 {
			syscall.Close(fd)
			d.death[i] = -1
		}
	}
	if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			return fmt.Errorf("reenact: remove %s: %w", d.dir, err)
		}
	}
	return nil
}
