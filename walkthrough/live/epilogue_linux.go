package live

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
	"github.com/pgwalk/pgwalk/walkthrough/live/ptrace"
)

// This file is the closing check of a connection: where the backend makes
// the cancel key, the key caught as it fills it; the processes let go;
// and what pgwalk's client received against what memory held.

// epilogue lets the processes go and reports the closing check.
func (w *walker) epilogue(c *conn) error {
	t, tab := w.t, w.tab
	if err := t.DisarmAll(w.pm); err != nil {
		return err
	}
	if c.child != nil && !c.child.Exited() && !tab.keyInPostmaster {
		// The postmaster stays stopped meanwhile, as at every stop: a
		// client that connects now is walked next, not let through.
		w.pm.Hold(true)
		err := w.catchKey(c)
		w.pm.Hold(false)
		if err != nil {
			return err
		}
	}
	if c.child != nil {
		if err := t.Detach(c.child); err != nil {
			return err
		}
	}
	// Once the walked backend is running on its own, the postmaster stays
	// attached with its breakpoints removed until Close, so that
	// PTRACE_O_EXITKILL still takes the cluster down if pgwalk is killed at
	// the closing check. When no backend was seen, the connection has yet
	// to be forked, and a postmaster left attached would stop at that fork
	// with nobody to continue it: detach it then.
	if c.child == nil && !w.opts.WaitForClient {
		if err := t.DetachAll(); err != nil {
			return err
		}
	}
	t.StopFollowing()
	v := w.values(c)
	pid := 0
	var key *walkthrough.BackendKey
	if cl := w.d.client; cl != nil && !w.opts.WaitForClient {
		timer := time.NewTimer(w.d.bounds.stage)
		select {
		case <-cl.done:
			timer.Stop()
		case <-w.d.quit:
			timer.Stop()
			return errClosed
		case <-timer.C:
			return w.stalled(stClient)
		}
		if cl.err != nil {
			// A dead-end child, for one, sends an error instead of the
			// key: report it, it is what happened.
			v.Facts = append(v.Facts, walkthrough.F("fact.live.client_error", "error", cl.err.Error()))
		}
		key = cl.key
		pid = os.Getpid()
		v.ClientBackendKey = key
		v.Facts = append(v.Facts, walkthrough.F("fact.live.own_client", "socket", filepath.Join(w.d.cl.Dir, fmt.Sprintf(".s.PGSQL.%d", cluster.Port))))
	} else {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.outside_client"))
	}
	if c.keyHex != "" {
		v.CancelKeyHex = c.keyHex
		if c.keyLen == 4 {
			b, _ := hex.DecodeString(c.keyHex)
			v.CancelKey = walkthrough.Int32(int32(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])))
		}
		v.Facts = append(v.Facts, walkthrough.F("fact.live.key_made", "variable", tab.keyVar, "bytes", c.keyLen,
			"by", tab.keyMadeBy, "call", tab.keyFill.fn, "length_variable", tab.keyLenVar))
	}
	v.Checks = w.finalChecks(c, key)
	if w.foreign > 0 {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.other_connections", "count", w.foreign, "address", w.client.local))
	}
	if n := t.Others(); n > 0 {
		v.Facts = append(v.Facts, walkthrough.F("fact.live.other_children", "count", n, "restored", t.Restored()))
	}
	return w.emit(walkthrough.Epilogue, pid, v)
}

// catchKey runs the backend until it has filled its cancel key
// (facts.cancel_key: filled_by, given &variable and the length) and reads
// the key from its memory, with the postmaster held.
func (w *walker) catchKey(c *conn) error {
	t, tab, ch := w.t, w.tab, c.child
	fill, ok := w.sym(tab.keyFill.fn)
	keyAt, okVar := w.sym(tab.keyVar)
	if !ok || !okVar {
		return nil
	}
	entry, err := t.Arm(ch, tab.keyFill.fn, fill, ptrace.Exec)
	if err != nil {
		return err
	}
	var ret *ptrace.Breakpoint
	defer func() { _ = t.DisarmEach(ch, entry, ret) }()
	ch.Hold(false)
	defer ch.Hold(true)
	w.deadline = time.Now().Add(w.d.bounds.stage)
	st := stKey(tab)
	for {
		h, err := w.wait(st)
		if err != nil {
			return err
		}
		if h.Proc != ch {
			continue
		}
		if h.Exit != "" {
			// A dead-end child ends before it makes a key.
			c.childExit = h.Exit
			return nil
		}
		switch h.BP {
		case entry:
			if h.Regs.Arg(0) != keyAt {
				continue // another call: the key is filled at &variable
			}
			c.keyLen = int(h.Regs.Arg(1))
			if c.keyLen < 1 || c.keyLen > 256 {
				return fmt.Errorf("%s was called to fill %s with %d bytes: not a cancel key", tab.keyFill.fn, tab.keyVar, c.keyLen)
			}
			if err := t.Disarm(ch, entry); err != nil {
				return err
			}
			entry = nil
			if ret, _, err = t.ArmReturn(ch, tab.keyFill.fn, h.Regs); err != nil {
				return err
			}
		case ret:
			buf := make([]byte, c.keyLen)
			if err := t.ReadMem(ch, keyAt, buf); err != nil {
				return err
			}
			c.keyHex = hex.EncodeToString(buf)
			return nil
		}
	}
}

// finalChecks are the cross-checks of the closing stop: each value seen
// in more than one place, everywhere the same.
func (w *walker) finalChecks(c *conn, key *walkthrough.BackendKey) []walkthrough.Check {
	tab := w.tab
	var cs []walkthrough.Check
	// same adds a check when at least two of the named values were seen.
	same := func(checkKey string, pairs ...string) {
		var parts []string
		ok, first := true, ""
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i+1] == "" {
				continue
			}
			if first == "" {
				first = pairs[i+1]
			}
			ok = ok && pairs[i+1] == first
			parts = append(parts, pairs[i]+"="+pairs[i+1])
		}
		if len(parts) >= 2 {
			cs = append(cs, walkthrough.C(ok, checkKey, "values", strings.Join(parts, ", ")))
		}
	}
	num := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	hex32 := func(p *int32) string {
		if p == nil {
			return ""
		}
		return keyHex(*p)
	}
	var keyPID, keySecret string
	if key != nil {
		keyPID, keySecret = strconv.Itoa(key.PID), key.SecretKeyHex
	}
	var nodePID, nodeKey, nodeSlot string
	if n := c.node; n != nil {
		nodePID, nodeSlot = strconv.Itoa(n.PID), strconv.Itoa(n.ChildSlot)
		if !n.NoKey {
			nodeKey = keyHex(n.CancelKey)
		}
	}
	childPID := ""
	if c.childPID != 0 {
		childPID = strconv.Itoa(c.childPID)
	}
	rec := tab.rec.typ
	same("check.live.same_pid", "BackendKeyData.pid", keyPID, tab.fork.fn, num(c.forkRet), "PTRACE_EVENT_FORK", childPID,
		tab.pidVar, num(c.childProcID), rec+".pid", nodePID)
	same("check.live.same_key", "BackendKeyData.secret", keySecret, tab.keyVar+" (postmaster)", hex32(c.cancelKey),
		tab.keyVar+" (backend)", hex32(c.childKey)+c.keyHex, rec+".cancel_key", nodeKey)
	slotFrom := c.slotFrom
	if slotFrom == "" {
		slotFrom = "child_slot"
	}
	same("check.live.same_slot", slotFrom, num(c.slot), tab.slotVar, num(c.childSlot), rec+".child_slot", nodeSlot)
	if c.forkRet != nil && *c.forkRet < 0 && !w.opts.WaitForClient {
		// No child: the client must have got an error, not a key.
		cs = append(cs, walkthrough.C(key == nil, "check.live.no_backend", "function", tab.fork.fn, "returned", *c.forkRet))
	}
	if c.fdsBefore != nil {
		had, kept, client := false, false, false
		for _, fd := range c.fdsBefore {
			had = had || fd.Kind == walkthrough.FDListenSocket
		}
		for _, fd := range c.fdsAfter {
			kept = kept || fd.Kind == walkthrough.FDListenSocket
			client = client || fd.Kind == walkthrough.FDClientSocket
		}
		cs = append(cs,
			walkthrough.C(had && !kept, "check.live.listen_closed", "step", stepClosePorts, "before", had, "after", kept),
			walkthrough.C(client, "check.live.client_kept", "step", stepClosePorts))
	}
	return cs
}
