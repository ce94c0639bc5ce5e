//go:build unix

package reenact

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

func (d *Driver) failureEpilogue(ctx context.Context, c *conn) (walkthrough.Event, error) {
	// BackendStartup has returned: ServerLoop closes the client socket.
	d.closeClientSocket(c)
	ev := d.event(c, walkthrough.Epilogue, walkthrough.Client, c.peerPID, walkthrough.M("point.reenact.after_failure"))
	msg := forkFailureText(c.errno)
	slotFree := d.slotFree(c)
	onList := d.onList(c)
	d.mu.Lock()
	list := d.backendListSnapshot()
	d.mu.Unlock()
	ev.Values.PostmasterPID = os.Getpid()
	ev.Values.Errno = errnoValue(c.errno)
	ev.Values.BackendList = list
	ev.Values.Facts = append(ev.Values.Facts, d.pmCloseFact(c))
	ev.Values.Checks = append(ev.Values.Checks, check(slotFree, "check.reenact.slot_released", "slot", c.node.ChildSlot))
	if d.fl.facts.CancelKey.InRecord {
		ev.Values.Checks = append(ev.Values.Checks, check(len(list) == 0 || !containsKey(list, c.node.CancelKey), "check.reenact.not_registered",
			"record", d.fl.record, "list", d.fl.facts.ChildList.Name, "n", len(list)))
	} else {
		ev.Values.Checks = append(ev.Values.Checks, check(!onList, "check.reenact.off_list", "list", d.fl.facts.ChildList.Name, "n", len(list)))
	}
	ev.Values.Checks = append(ev.Values.Checks, d.pmCloseCheck(c))
	if c.own {
		res, err := d.ownResult(ctx)
		if err != nil {
			return walkthrough.Event{}, err
		}
		ev.PID = os.Getpid()
		ev.Values.Facts = append(ev.Values.Facts, d.describeClient(c), receivedFact(res.Received))
		if res.StartupError != "" {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.client_error", "error", strconv.Quote(res.StartupError)))
		}
		ev.Values.Checks = append(ev.Values.Checks, check(strings.Contains(res.StartupError, msg), "check.reenact.fork_error_received",
			"error", quoteOrNone(res.StartupError)))
		if res.Err != nil {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.client_problem", "error", res.Err.Error()))
		}
	} else {
		ev.Values.Facts = append(ev.Values.Facts, d.describeClient(c), c.sent)
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

// receivedFact says the messages a client received, in order, runs of one
// name collapsed (summarize).
func receivedFact(names []string) walkthrough.Fact {
	if len(names) == 0 {
		return fact("fact.reenact.client_received_nothing")
	}
	return fact("fact.reenact.client_received", "messages", summarize(names))
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

	// CleanupBackend: off the list, and the slot given back. A backend
	// that was killed could not clear its row of the shared key table:
	// the postmaster does, so that no stale pid stays there.
	d.releaseRecord(c)
	slotFree := d.slotFree(c)
	if d.keys != nil {
		d.keys.clear(c.node.ChildSlot, c.pid)
	}
	d.mu.Lock()
	// Nothing refers to the connection any more: forget it, so that the
	// driver's memory does not grow with every client either.
	for i, other := range d.all {
		if other == c {
			d.all = append(d.all[:i:i], d.all[i+1:]...)
			break
		}
	}
	list := d.backendListSnapshot()
	startup, errs, queries, signals, logs, cancel := c.startup, c.errs, c.queries, c.signals, c.logs, c.cancel
	d.mu.Unlock()

	end := endOf(c.exitState)
	killErr := syscall.Kill(c.pid, 0)

	ev := d.event(c, walkthrough.Epilogue, walkthrough.Client, c.peerPID, walkthrough.M("point.reenact.reaped"))
	ev.Values.PostmasterPID = os.Getpid()
	ev.Values.ChildPID = c.pid
	// The key as the process that made it has it: the postmaster's
	// record, or what the backend reported it made.
	if d.fl.keyInPostmaster() {
		ev.Values.CancelKey = walkthrough.Int32(c.node.CancelKey)
	} else if startup != nil && startup.KeyMade {
		ev.Values.CancelKeyHex = startup.KeyHex
		if len(startup.KeyHex) == 8 {
			ev.Values.CancelKey = walkthrough.Int32(startup.Key)
		}
	}
	ev.Values.BackendList = list
	ev.Values.Log = append(append(append([]string(nil), logs...), errs...), end.log(d.fl.exitName(c.node.BkendType), c.pid))

	var key *walkthrough.BackendKey
	if c.own {
		res, err := d.ownResult(ctx)
		if err != nil {
			return walkthrough.Event{}, err
		}
		ev.PID = os.Getpid()
		key = res.Key
		ev.Values.Facts = append(ev.Values.Facts, d.describeClient(c), receivedFact(res.Received))
		if res.ServerVersion != "" {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.server_version", "version", res.ServerVersion))
		}
		if res.QueryError != "" {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.query_answer", "query", strconv.Quote(clientQuery), "answer", strconv.Quote(res.QueryError)))
		}
		if res.StartupError != "" {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.client_error", "error", strconv.Quote(res.StartupError)))
		}
		if c.node.DeadEnd {
			ev.Values.Checks = append(ev.Values.Checks, check(strings.Contains(res.StartupError, tooManyClients), "check.reenact.dead_end_refused",
				"error", quoteOrNone(res.StartupError)))
		}
		if res.Err != nil {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.client_problem", "error", res.Err.Error()))
		}
		if key != nil || res.StartupError != "" {
			ev.Values.Checks = append(ev.Values.Checks, d.negotiationCheck(res))
		}
	} else {
		ev.Values.Facts = append(ev.Values.Facts, d.describeClient(c))
		if startup != nil {
			key = &walkthrough.BackendKey{PID: startup.KeyPID, SecretKey: startup.Key, SecretKeyHex: startup.KeyHex}
			ev.Values.Facts = append(ev.Values.Facts,
				fact("fact.reenact.key_as_sent"),
				fact("fact.reenact.backend_sent", "messages", strings.Join(startup.Sent, ", ")),
				fact("fact.reenact.startup_packet", "user", startup.User, "database", startup.Database,
					"application", startup.Application, "protocol", startup.Protocol),
			)
		}
		ev.Values.Facts = append(ev.Values.Facts, queries...)
	}
	if startup != nil && startup.Negotiated != startup.Protocol || startup != nil && len(startup.Options) > 0 {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.negotiated", "requested", startup.Protocol,
			"options", orNone(strings.Join(startup.Options, ", ")), "version", startup.Negotiated,
			"earliest", d.fl.facts.Protocol.Earliest, "latest", d.fl.facts.Protocol.Latest, "at", d.fl.facts.Protocol.NegotiateAt))
	}
	if cancel != nil {
		d.cancelValues(&ev, c, cancel)
	}
	ev.Values.Facts = append(ev.Values.Facts, signals...)
	ev.Values.Facts = append(ev.Values.Facts, end.fact())
	if tail := strings.TrimSpace(string(c.stderr.b)); tail != "" {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.backend_stderr", "text", tail))
	}

	if key != nil {
		ev.Values.ClientBackendKey = key
		ev.Values.Checks = append(ev.Values.Checks,
			check(key.PID == c.pid, "check.reenact.key_pid", "client", key.PID, "child", c.pid))
		if d.fl.keyInPostmaster() {
			ev.Values.Checks = append(ev.Values.Checks,
				check(key.SecretKey == c.node.CancelKey, "check.reenact.key_generated", "client", key.SecretKey, "generated", c.node.CancelKey))
		} else {
			ev.Values.Checks = append(ev.Values.Checks, d.keyChecks(key, startup)...)
		}
	} else if c.own && !c.node.DeadEnd {
		ev.Values.Checks = append(ev.Values.Checks, check(false, "check.reenact.key_received"))
	} else {
		ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.key_none"))
	}
	ev.Values.Facts = append(ev.Values.Facts, d.pmCloseFact(c))
	ev.Values.Checks = append(ev.Values.Checks,
		d.pmCloseCheck(c),
		check(c.exitState != nil && errors.Is(killErr, syscall.ESRCH), "check.reenact.reaped",
			"pid", c.pid, "wait", end.wait(), "kill", callResult(killErr)),
		check(!containsPID(list, c.pid), "check.reenact.removed", "list", d.fl.facts.ChildList.Name, "n", len(list)),
		check(slotFree, "check.reenact.slot_released", "slot", c.node.ChildSlot),
	)
	return ev, nil
}

// ending is how a backend ended, as wait(2) reported it.
type ending struct {
	known    bool
	exited   bool
	code     int
	signal   syscall.Signal
	coreDump bool
}

// endOf returns how the process whose state is st ended; nil st is a
// process whose end was not seen.
func endOf(st *os.ProcessState) ending {
	if st == nil {
		return ending{}
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return ending{known: true, exited: true, code: st.ExitCode()}
	case ws.Signaled():
		return ending{known: true, signal: ws.Signal(), coreDump: ws.CoreDump()}
	}
	return ending{known: true, exited: true, code: ws.ExitStatus()}
}

// fact says e for the closing check.
func (e ending) fact() walkthrough.Fact {
	switch {
	case !e.known:
		return fact("fact.reenact.ended_unknown")
	case e.exited:
		return fact("fact.reenact.ended_exit", "code", e.code)
	}
	return fact("fact.reenact.ended_signal", "signal", unix.SignalName(e.signal))
}

// wait says e as the C macros of wait(2) would: "exit(0)", "SIGKILL", "?".
func (e ending) wait() string {
	switch {
	case !e.known:
		return "?"
	case e.exited:
		return fmt.Sprintf("exit(%d)", e.code)
	}
	return unix.SignalName(e.signal)
}

// log returns the line PostgreSQL's LogChildExit writes for a backend
// that ended as e.
func (e ending) log(name string, pid int) string {
	switch {
	case !e.known:
		return fmt.Sprintf("%s (PID %d) exited with unrecognized status", name, pid)
	case e.exited:
		return fmt.Sprintf("%s (PID %d) exited with exit code %d", name, pid, e.code)
	}
	return fmt.Sprintf("%s (PID %d) was terminated by signal %d: %s", name, pid, int(e.signal), capitalize(e.signal.String()))
}

// cancelValues adds to ev what c's child reported about the CancelRequest
// it read: PostgreSQL's processCancelRequest runs in that child, not in the
// postmaster, and the child sends the SIGINT itself.
func (d *Driver) cancelValues(ev *walkthrough.Event, c *conn, m *fromChild) {
	ev.Values.CancelRequest = &walkthrough.CancelRequest{PID: m.TargetPID, Matched: m.Matched, CheckedByPID: m.PID}
	ev.Values.Facts = append(ev.Values.Facts,
		fact("fact.reenact.cancel_packet", "pid", m.TargetPID, "child", m.PID, "at", d.fl.cancelCheck))
	if d.fl.sharedKeys() {
		ck := d.fl.facts.CancelKey
		ev.Values.Facts = append(ev.Values.Facts,
			fact("fact.reenact.keys_searched", "rows", m.Rows, "published", m.Published, "checked_by", ck.CheckedBy,
				"published_by", ck.PublishedBy, "list", d.fl.facts.ChildList.Name))
		if len(m.Kills) > 0 {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.cancel_signalled", "checked_by", ck.CheckedBy, "kills", strings.Join(m.Kills, "; ")))
		} else {
			ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.cancel_not_signalled"))
		}
	} else {
		signalled := fact("fact.reenact.list_not_signalled", "record", d.fl.record)
		if len(m.Kills) > 0 {
			signalled = fact("fact.reenact.list_signalled", "at", d.fl.signalChild, "kills", strings.Join(m.Kills, "; "))
		}
		ev.Values.Facts = append(ev.Values.Facts,
			fact("fact.reenact.list_searched", "list", d.fl.facts.ChildList.Name, "n", m.ListLen),
			signalled)
	}
	ev.Values.Facts = append(ev.Values.Facts, fact("fact.reenact.pm_part"))
	pm := os.Getpid()
	ev.Values.Checks = append(ev.Values.Checks, check(m.PID == c.pid && m.PID != pm, "check.reenact.cancel_checked_by",
		"checker", m.PID, "child", c.pid, "postmaster", pm))
}

// keyChecks compare the BackendKeyData the client received with the key
// the backend reported it made, where the backend makes its own key: the
// same bytes, and as many as the release gives a client that asked for the
// protocol version this one asked for.
func (d *Driver) keyChecks(key *walkthrough.BackendKey, startup *fromChild) []walkthrough.Check {
	if startup == nil || !startup.KeyMade {
		return []walkthrough.Check{check(false, "check.reenact.key_from_backend", "client", key.SecretKeyHex, "backend", orNone(""))}
	}
	want := d.fl.facts.CancelKey.BytesFor(startup.Protocol)
	got := len(startup.KeyHex) / 2
	return []walkthrough.Check{
		check(key.SecretKeyHex == startup.KeyHex, "check.reenact.key_from_backend", "client", key.SecretKeyHex, "backend", startup.KeyHex),
		check(got == want, "check.reenact.key_width", "protocol", startup.Protocol, "bytes", got, "want", want),
	}
}

// negotiationCheck checks what pgwalk's own client saw of the protocol
// negotiation: a NegotiateProtocolVersion naming the release's latest
// version exactly when the client asked for a newer one, none otherwise.
func (d *Driver) negotiationCheck(res clientResult) walkthrough.Check {
	p := d.fl.facts.Protocol
	rq, _ := walkthrough.ProtocolNumber(res.Requested)
	latest, _ := walkthrough.ProtocolNumber(p.Latest)
	want := ""
	if rq > latest {
		want = p.Latest
	}
	return check(res.Negotiated == want, "check.reenact.negotiation", "requested", res.Requested,
		"latest", p.Latest, "got", orNone(res.Negotiated), "want", orNone(want))
}

// quoteOrNone returns s quoted as Go quotes a string, a message as the
// client received it, or a dash when s is empty.
func quoteOrNone(s string) string {
	if s == "" {
		return orNone(s)
	}
	return strconv.Quote(s)
}

// orNone returns s, or a dash when s is empty.
func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func containsPID(list []walkthrough.BackendNode, pid int) bool {
	for _, bn := range list {
		if bn.PID == pid {
			return true
		}
	}
	return false
}
