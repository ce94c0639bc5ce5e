//go:build unix

package reenact

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// tooManyLimit is MaxLivePostmasterChildren(), or the size of the
// client-backend pool in a release that has one, in the too-many-clients
// scenario: one child fills the table.
const tooManyLimit = 1

// holdTimeout bounds how long one of pgwalk's own held sessions may take to
// start in the too-many-clients scenario.
const holdTimeout = 10 * time.Second

// heldSession is a session of pgwalk's own that holds a slot of the table
// of children for the whole run (the too-many-clients scenario).
type heldSession struct {
	c      *conn
	client net.Conn
}

// prepareScenario does what the scenario needs before the first client: a
// process limit for the fork-failure scenario (or, where none can be set, a
// launch of a program that does not exist), a full table of children for
// the too-many-clients scenario.
func (d *Driver) prepareScenario(ctx context.Context) error {
	switch d.opts.Scenario {
	case walkthrough.ScenarioForkFailure:
		if d.noLimit {
			d.limitErr = errors.New("the test asked for no process limit")
		} else {
			d.limit, d.limitErr = limitForks(d.launcher, []string{d.exe, ChildCommand})
		}
		if d.limit == nil {
			d.exe = filepath.Join(d.dir, missingBackend)
		}
	case walkthrough.ScenarioTooManyClients:
		return d.fillTable(ctx)
	}
	return nil
}

// fillTable opens sessions of pgwalk's own until the table of children is
// full (the client-backend pool is empty): each one a real connection,
// walked through every phase of BackendStartup without stopping, whose
// backend then serves pgwalk's client until the run ends. The accept loops
// do not run yet: the connections are accepted here.
func (d *Driver) fillTable(ctx context.Context) error {
	for range d.maxChildren {
		if err := d.holdSession(ctx); err != nil {
			return fmt.Errorf("reenact: fill the table of children: %w", err)
		}
	}
	d.walked = 0
	d.mu.Lock()
	full := d.tableFull()
	d.mu.Unlock()
	if !full {
		return errors.New("reenact: fill the table of children: it is not full")
	}
	return nil
}

// tableFull reports whether the next connection finds no room: the count
// of children canAcceptConnections compares, or an empty pool. Call with
// d.mu held.
func (d *Driver) tableFull() bool {
	if d.pool != nil {
		return len(d.pool.free) == 0
	}
	return d.countChildren() >= d.maxChildren
}

// holdSession connects one session of pgwalk's own and walks it through
// BackendStartup, then waits for its ReadyForQuery.
func (d *Driver) holdSession(ctx context.Context) error {
	client, err := net.Dial("unix", d.sockPath)
	if err != nil {
		return err
	}
	h := &heldSession{client: client}
	held := false
	defer func() {
		if !held {
			client.Close()
		}
	}()
	if err := d.unixLn.SetDeadline(time.Now().Add(holdTimeout)); err != nil {
		return err
	}
	nc, err := d.unixLn.Accept()
	if err != nil {
		return fmt.Errorf("accept pgwalk's own session: %w", err)
	}
	if err := d.unixLn.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return err
	}
	fe := pgproto3.NewFrontend(client, client)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: protocol30, Parameters: map[string]string{
		"user": "postgres", "database": "postgres", "application_name": "pgwalk (holds a slot)",
	}})
	if err := fe.Flush(); err != nil {
		nc.Close()
		return fmt.Errorf("send pgwalk's own session's startup packet: %w", err)
	}

	if _, err := d.structCreation(accepted{nc: nc, via: "unix"}); err != nil {
		return err
	}
	c := d.cur
	h.c = c
	defer func() { d.cur = nil }()
	for c.next != stageRelease {
		var err error
		switch c.next {
		case walkthrough.StructInit:
			_, err = d.structInit(c)
		case walkthrough.Fork:
			_, err = d.fork(c)
		case walkthrough.Child:
			_, err = d.childStop(ctx, c)
		case walkthrough.ParentRegistration:
			_, err = d.register(c)
		default:
			err = fmt.Errorf("its connection went to %s", c.next)
		}
		if err != nil {
			return err
		}
	}
	d.closeClientSocket(c)
	if err := c.ctlW.send(toChild{Type: msgProceed}); err != nil {
		return fmt.Errorf("release backend %d: %w", c.pid, err)
	}
	if err := client.SetReadDeadline(time.Now().Add(holdTimeout)); err != nil {
		return err
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			return fmt.Errorf("pgwalk's own session with backend %d did not start: %w", c.pid, err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("pgwalk's own session with backend %d was refused: %s", c.pid, m.Message)
		case *pgproto3.ReadyForQuery:
			if err := client.SetReadDeadline(time.Time{}); err != nil {
				return err
			}
			held = true
			d.held = append(d.held, h)
			return nil
		}
	}
}

// tellScenario says, once the psql command lines are out, what the
// scenario means for the clients that connect.
func (d *Driver) tellScenario() {
	switch {
	case d.opts.Scenario == walkthrough.ScenarioForkFailure:
		d.opts.Tell(walkthrough.M("reenact.scenario.fork_failure"))
	case len(d.held) > 0:
		d.opts.Tell(walkthrough.M("reenact.scenario.too_many_clients", "n", len(d.held), "pids", d.heldPIDs()))
	}
}

// heldPIDs lists the pids of the backends of pgwalk's own held sessions.
func (d *Driver) heldPIDs() string {
	pids := make([]string, len(d.held))
	for i, h := range d.held {
		pids[i] = strconv.Itoa(h.c.pid)
	}
	return strings.Join(pids, ", ")
}

// closeHeld closes pgwalk's own held sessions' client ends.
func (d *Driver) closeHeld() {
	for _, h := range d.held {
		h.client.Close()
	}
}

// scenarioFacts says, at the first stop of every connection, what the
// scenario prepared.
func (d *Driver) scenarioFacts() []walkthrough.Fact {
	if d.opts.Scenario != walkthrough.ScenarioTooManyClients || len(d.held) == 0 {
		return nil
	}
	if d.pool != nil {
		p := d.fl.facts.Pool
		return []walkthrough.Fact{fact("fact.reenact.pool_full", "n", d.pool.size, "type", p.BackendType,
			"rule", p.Size, "rule_at", p.SizeAt, "pids", d.heldPIDs())}
	}
	return []walkthrough.Fact{fact("fact.reenact.table_full", "n", d.maxChildren, "pids", d.heldPIDs())}
}

// forkFailureFacts say how the launch of c was made to fail, and with what.
func (d *Driver) forkFailureFacts(c *conn) []walkthrough.Fact {
	errno := errnoName(c.errno)
	if d.limit != nil {
		how := fact("fact.reenact.fork_limit_clone")
		if d.limit.tid > 0 {
			how = fact("fact.reenact.fork_limit_thread", "tid", d.limit.tid)
		}
		return []walkthrough.Fact{
			fact("fact.reenact.fork_limit", "cgroup", d.limit.Dir, "hierarchy", d.limit.Hierarchy, "max", d.limit.Max, "errno", errno),
			how,
		}
	}
	why := fact("fact.reenact.fork_missing_why")
	if d.limitErr != nil {
		why = fact("fact.reenact.fork_missing_error", "error", d.limitErr.Error())
	}
	return []walkthrough.Fact{
		fact("fact.reenact.fork_missing", "path", d.exe, "errno", errno),
		why,
		fact("fact.reenact.exec_failure_pg"),
	}
}

// errnoName names errno with its message: "EAGAIN (Resource temporarily
// unavailable)".
func errnoName(errno syscall.Errno) string {
	return fmt.Sprintf("%s (%q)", unix.ErrnoName(errno), strerror(errno))
}

// forkFailureMessage is the packet report_fork_failure_to_client sends:
// 'E', the text, a newline and the string's terminating NUL, the error
// format of the protocol before 3.0.
func forkFailureMessage(errno syscall.Errno) []byte {
	return append([]byte("E"+forkFailureText(errno)+"\n"), 0)
}

// forkFailureText is the text of the fork failure, as BackendStartup logs
// it and as the client receives it.
func forkFailureText(errno syscall.Errno) string {
	return "could not fork new process for connection: " + strerror(errno)
}

// reportForkFailure sends msg on c's client socket as
// report_fork_failure_to_client does: one send() on the non-blocking
// socket, tried again only after EINTR. It says what was sent.
func (d *Driver) reportForkFailure(c *conn, msg []byte) walkthrough.Fact {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return fact("fact.reenact.sent_nothing", "error", "the client socket has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fact("fact.reenact.sent_nothing", "error", err.Error())
	}
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		for {
			n, serr = unix.SendmsgN(int(fd), msg, nil, nil, 0)
			if !errors.Is(serr, unix.EINTR) {
				return true // one try, whatever came of it
			}
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fact("fact.reenact.sent_nothing", "error", fmt.Sprintf("send(%d bytes) = -1 %s", len(msg), sendErrName(err)))
	}
	return fact("fact.reenact.sent_packet", "message", strconv.Quote(string(msg)), "n", n, "len", len(msg))
}

// sendErrName names a failed send's error as C code writes it (EAGAIN).
func sendErrName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}
