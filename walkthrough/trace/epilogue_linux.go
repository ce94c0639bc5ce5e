package trace

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// This file is the closing check of a connection: the processes let go,
// and what pgwalk's client received against what memory held.

// epilogue lets the processes go and reports the closing check: the
// BackendKeyData pgwalk's client received against what memory held.
func (w *walker) epilogue(o *obs) error {
	t := w.t
	if o.child != nil {
		if err := t.detach(o.child); err != nil {
			return err
		}
	}
	// Once the walked backend is running on its own, the postmaster stays
	// attached with its breakpoints removed until Close, so that
	// PTRACE_O_EXITKILL still takes the cluster down if pgwalk is killed at
	// the closing check. When no backend was seen, the connection has yet
	// to be forked, and a postmaster left attached would stop at that fork
	// with nobody to continue it: detach it then.
	if o.child == nil && !w.opts.WaitForClient {
		if err := t.detachAll(); err != nil {
			return err
		}
	} else if err := t.disarmAll(w.pm); err != nil {
		return err
	}
	t.target = nil
	t.expectFork = nil
	v := w.values(o)
	ev := w.event(walkthrough.Epilogue, nil, "the client is connected", v)
	if c := w.d.client; c != nil && !w.opts.WaitForClient {
		timer := time.NewTimer(w.d.bounds.stage)
		select {
		case <-c.done:
			timer.Stop()
		case <-w.d.quit:
			timer.Stop()
			return errClosed
		case <-timer.C:
			return w.stalled(stClient)
		}
		ev.Process = walkthrough.Client
		ev.PID = os.Getpid()
		if c.err != nil {
			// A dead-end child, for one, sends an error instead of the
			// key: report it, it is what happened.
			ev.Point = "the client was refused"
			ev.Values.Facts = append(ev.Values.Facts, fact("client error", c.err.Error()))
		}
		ev.Values.ClientBackendKey = c.key
		ev.Values.Facts = append(ev.Values.Facts, fact("client", fmt.Sprintf("pgwalk's own client (pgconn) over %s", filepath.Join(w.d.cl.dir, fmt.Sprintf(".s.PGSQL.%d", clusterPort)))))
	} else {
		ev.Process = walkthrough.Client
		ev.Point = "the backend runs on its own"
		ev.Values.Facts = append(ev.Values.Facts, fact("client", "an outside client: pgwalk does not see the BackendKeyData it received, so the checks compare what memory held"))
	}
	ev.Values.Checks = w.finalChecks(o, ev.Values.ClientBackendKey)
	if w.foreign > 0 {
		ev.Values.Facts = append(ev.Values.Facts, fact("other connections", fmt.Sprintf("other clients' connections that reached the postmaster first and went through untraced: %d; pgwalk told its own by the peer address accept() recorded (%s)", w.foreign, w.client.local)))
	}
	if n := t.others.Load(); n > 0 {
		ev.Values.Facts = append(ev.Values.Facts, fact("other children", fmt.Sprintf("%d other children of the postmaster were forked while traced and let go at once (%d inherited int3 bytes removed from them)", n, t.restored.Load())))
	}
	return w.emit(ev)
}

// finalChecks are the cross-checks of the closing stop.
func (w *walker) finalChecks(o *obs, key *walkthrough.BackendKey) []walkthrough.Check {
	var cs []walkthrough.Check
	add := func(name string, pairs ...string) {
		var names, vals []string
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] != "" {
				names = append(names, pairs[i])
				vals = append(vals, pairs[i+1])
			}
		}
		if len(vals) >= 2 {
			cs = append(cs, check(name, names, vals))
		}
	}
	str := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	str32 := func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	}
	var keyPID, keySecret string
	if key != nil {
		keyPID, keySecret = strconv.Itoa(key.PID), strconv.Itoa(int(key.SecretKey))
	}
	var nodePID, nodeKey, nodeSlot string
	if o.node != nil {
		nodePID, nodeKey, nodeSlot = strconv.Itoa(o.node.PID), strconv.Itoa(int(o.node.CancelKey)), strconv.Itoa(o.node.ChildSlot)
	}
	childPID := ""
	if o.childPID != 0 {
		childPID = strconv.Itoa(o.childPID)
	}
	add("BackendKeyData pid = fork_process return = Backend.pid",
		"BackendKeyData.pid", keyPID, "fork_process", str(o.forkRet), "PTRACE_EVENT_FORK", childPID, "MyProcPid", str(o.childProcID), "Backend.pid", nodePID)
	add("BackendKeyData secret = MyCancelKey = Backend.cancel_key",
		"BackendKeyData.secret", keySecret, "MyCancelKey (postmaster)", str32(o.cancelKey), "MyCancelKey (backend)", str32(o.childKey), "Backend.cancel_key", nodeKey)
	add("AssignPostmasterChildSlot = MyPMChildSlot = Backend.child_slot",
		symSlot, str(o.slot), "MyPMChildSlot", str(o.childSlot), "Backend.child_slot", nodeSlot)
	if o.fdsBefore != nil {
		had, kept := false, false
		for _, fd := range o.fdsBefore {
			had = had || fd.Kind == walkthrough.FDListenSocket
		}
		for _, fd := range o.fdsAfter {
			kept = kept || fd.Kind == walkthrough.FDListenSocket
		}
		cs = append(cs, walkthrough.Check{Name: "listen socket closed in the child", OK: had && !kept,
			Detail: fmt.Sprintf("before ClosePostmasterPorts: %v, after: %v", had, kept)})
		client := false
		for _, fd := range o.fdsAfter {
			client = client || fd.Kind == walkthrough.FDClientSocket
		}
		cs = append(cs, walkthrough.Check{Name: "client socket kept in the child", OK: client})
	}
	return cs
}

// ownFDs lists the descriptors of child that the postmaster's table pm
// did not hold at the fork; "" when pm is unknown or all were inherited.
func ownFDs(child []walkthrough.FD, pm []rawFD) string {
	if pm == nil {
		return ""
	}
	had := map[string]bool{}
	for _, fd := range pm {
		had[strconv.Itoa(fd.Num)+" "+fd.Target] = true
	}
	var out []string
	for _, fd := range child {
		if !had[strconv.Itoa(fd.Num)+" "+fd.Target] {
			out = append(out, fmt.Sprintf("fd %d (%s)", fd.Num, fd.Kind))
		}
	}
	return strings.Join(out, ", ")
}
