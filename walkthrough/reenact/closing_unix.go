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

	"github.com/pgwalk/pgwalk/walkthrough"
)

func (d *Driver) failureEpilogue(ctx context.Context, c *conn) (walkthrough.Event, error) {
	// BackendStartup has returned: ServerLoop closes the client socket.
	d.closeClientSocket(c)
	ev := d.event(c, walkthrough.Epilogue, walkthrough.Client, c.peerPID, "after the fork failure")
	msg := forkFailureText(c.errno)
	slotFree := d.slotFree(c)
	onList := d.onList(c)
	d.mu.Lock()
	list := d.backendListSnapshot()
	d.mu.Unlock()
	ev.Values.PostmasterPID = os.Getpid()
	ev.Values.Errno = errnoValue(c.errno)
	ev.Values.BackendList = list
	ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "postmaster's client socket", Value: c.pmClose})
	ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{Name: "child slot released", OK: slotFree, Detail: fmt.Sprintf("slot %d", c.node.ChildSlot)})
	if d.fl.facts.CancelKey.InRecord {
		ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{Name: "no Backend registered", OK: len(list) == 0 || !containsKey(list, c.node.CancelKey), Detail: fmt.Sprintf("BackendList has %d entries", len(list))})
	} else {
		ev.Values.Checks = append(ev.Values.Checks, check(!onList, "check.reenact.off_list", "list", d.fl.facts.ChildList.Name, "n", len(list)))
	}
	ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{Name: "postmaster closed its client socket", OK: c.pmClosedOK, Detail: c.pmClose})
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
			walkthrough.Fact{Name: "sent to client", Value: c.sent},
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
		if key != nil || res.StartupError != "" {
			ev.Values.Checks = append(ev.Values.Checks, d.negotiationCheck(res))
		}
	} else {
		ev.Values.Facts = append(ev.Values.Facts, walkthrough.Fact{Name: "client", Value: d.describeClient(c)})
		if startup != nil {
			key = &walkthrough.BackendKey{PID: startup.KeyPID, SecretKey: startup.Key, SecretKeyHex: startup.KeyHex}
			ev.Values.Facts = append(ev.Values.Facts,
				walkthrough.Fact{Name: "BackendKeyData", Value: "as sent by the backend (pgwalk cannot look inside an outside client)"},
				walkthrough.Fact{Name: "backend sent", Value: strings.Join(startup.Sent, ", ")},
				walkthrough.Fact{Name: "startup packet", Value: fmt.Sprintf("user=%s database=%s application_name=%s protocol %s", startup.User, startup.Database, startup.Application, startup.Protocol)},
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
			walkthrough.Check{Name: "BackendKeyData pid = child pid", OK: key.PID == c.pid, Detail: fmt.Sprintf("%d = %d", key.PID, c.pid)})
		if d.fl.keyInPostmaster() {
			ev.Values.Checks = append(ev.Values.Checks,
				walkthrough.Check{Name: "BackendKeyData key = generated key", OK: key.SecretKey == c.node.CancelKey, Detail: fmt.Sprintf("%d = %d", key.SecretKey, c.node.CancelKey)})
		} else {
			ev.Values.Checks = append(ev.Values.Checks, d.keyChecks(key, startup)...)
		}
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
		walkthrough.Check{Name: "removed from " + d.fl.facts.ChildList.Name, OK: !containsPID(list, c.pid), Detail: fmt.Sprintf("%s has %d entries", d.fl.facts.ChildList.Name, len(list))},
		walkthrough.Check{Name: "child slot released", OK: slotFree, Detail: fmt.Sprintf("slot %d", c.node.ChildSlot)},
	)
	return ev, nil
}

// cancelValues adds to ev what c's child reported about the CancelRequest
// it read: PostgreSQL's processCancelRequest runs in that child, not in the
// postmaster, and the child sends the SIGINT itself.
func (d *Driver) cancelValues(ev *walkthrough.Event, c *conn, m *fromChild) {
	ev.Values.CancelRequest = &walkthrough.CancelRequest{PID: m.TargetPID, Matched: m.Matched, CheckedByPID: m.PID}
	ev.Values.Facts = append(ev.Values.Facts,
		walkthrough.Fact{Name: "startup packet", Value: fmt.Sprintf("a CancelRequest for pid %d, read by the child, process %d, in %s", m.TargetPID, m.PID, d.fl.cancelCheck)})
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
		signalled := "nothing: no Backend on the list had that pid and that key"
		if len(m.Kills) > 0 {
			signalled = "signal_child (" + d.fl.signalChild + "): " + strings.Join(m.Kills, "; ")
		}
		ev.Values.Facts = append(ev.Values.Facts,
			walkthrough.Fact{Name: "list searched", Value: fmt.Sprintf("the child's copy of BackendList, taken when it was launched (%s), as a forked child searches the copy it got at the fork", entries(m.ListLen))},
			walkthrough.Fact{Name: "signalled", Value: signalled})
	}
	ev.Values.Facts = append(ev.Values.Facts,
		walkthrough.Fact{Name: "postmaster's part", Value: "none beyond BackendStartup: it never read the packet; for it this was an ordinary connection, walked through every phase"},
	)
	pm := os.Getpid()
	ev.Values.Checks = append(ev.Values.Checks, walkthrough.Check{
		Name: "cancel request checked by this connection's child", OK: m.PID == c.pid && m.PID != pm,
		Detail: fmt.Sprintf("checked by pid %d; the connection's child is %d, the postmaster %d", m.PID, c.pid, pm),
	})
}

// keyChecks compare the BackendKeyData the client received with the key
// the backend reported it made, where the backend makes its own key: the
// same bytes, and as many as the release gives a client that asked for the
// protocol version this one asked for.
func (d *Driver) keyChecks(key *walkthrough.BackendKey, startup *fromChild) []walkthrough.Check {
	if startup == nil || !startup.KeyMade {
		return []walkthrough.Check{check(false, "check.reenact.key_from_backend", "client", key.SecretKeyHex, "backend", "nothing reported")}
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

// orNone returns s, or a dash when s is empty.
func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
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
