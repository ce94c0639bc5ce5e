package trace

import (
	"fmt"
	"strings"
	"time"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// This file finds the connection to walk: the postmaster reaching
// BackendStartup for it, with the allocation of its Backend record on the
// way.

// detect waits for a connection to reach BackendStartup: canAcceptConnections
// called for a normal backend, or (without that symbol) the accept function
// returning STATUS_OK. On the way it catches the allocation of the Backend
// record and reports struct-creation there. With pgwalk's own client, a
// connection that is not that client's goes through untraced (see ours).
// It returns the hit it detected the connection at.
//
// The accept function's breakpoint is an int3 whatever the mechanism: it
// marks a client's arrival, from which the wait for an outside client is
// bounded, so it must trap on every machine.
func (w *walker) detect(o *obs) (hit, error) {
	t, pm := w.t, w.pm
	var trig, gate, gateRet, alloc, allocRet *breakpoint
	var err error
	armPM := func(name string, addr uint64) (*breakpoint, error) { return t.arm(pm, name, addr, bpExec) }
	armGate := func() (err error) {
		gate, err = t.armSoft(pm, w.plan.accept, w.addr[w.plan.accept])
		return err
	}
	if a, ok := w.addr[symCanAccept]; ok {
		if trig, err = armPM(symCanAccept, a); err != nil {
			return hit{}, err
		}
	}
	if w.has(w.plan.accept) {
		if err := armGate(); err != nil {
			return hit{}, err
		}
	}
	w.connect()
	st := w.stDetect()
	disarmAll := func() {
		for _, b := range []*breakpoint{trig, gate, gateRet, alloc, allocRet} {
			_ = t.disarm(pm, b)
		}
	}
	// record is the accept function's second argument, the record it
	// fills for the connection; foreign is set from its return until the
	// next accept when that connection is not pgwalk's.
	var record uint64
	foreign := false
	for {
		h, err := w.wait(st)
		if err != nil {
			return h, err
		}
		if h.p != pm || h.bp == nil {
			continue
		}
		switch h.bp {
		case gate:
			if w.deadline.IsZero() {
				// An outside client connected: from now on the stops
				// are due.
				w.deadline = time.Now().Add(w.d.bounds.stage)
			}
			record, foreign = h.regs.arg(1), false
			ret, err := returnAddress(pm.pid, &h.regs)
			if err != nil {
				return h, err
			}
			_ = t.disarm(pm, gate)
			gate = nil
			if gateRet, err = armPM(w.plan.accept+" (return)", ret); err != nil {
				return h, err
			}
		case gateRet:
			_ = t.disarm(pm, gateRet)
			gateRet = nil
			if int32(h.regs.ret()) != statusOK || !w.ours(record) {
				// Accepting failed, or another client's connection:
				// let it go, and wait for the next one.
				foreign = int32(h.regs.ret()) == statusOK
				if foreign {
					w.foreign++
				}
				if err := armGate(); err != nil {
					return h, err
				}
				continue
			}
			if a, ok := w.addr[w.plan.alloc]; ok {
				if alloc, err = armPM(w.plan.alloc, a); err != nil {
					return h, err
				}
			}
			if trig == nil && alloc == nil {
				disarmAll()
				return h, nil
			}
		case alloc:
			if h.regs.arg(0) != uint64(w.layout.Size) || (w.plan.allocFlags >= 0 && int64(h.regs.arg(1)) != w.plan.allocFlags) {
				continue // another allocation
			}
			ret, err := returnAddress(pm.pid, &h.regs)
			if err != nil {
				return h, err
			}
			_ = t.disarm(pm, alloc)
			alloc = nil
			if allocRet, err = armPM(w.plan.alloc+" (return)", ret); err != nil {
				return h, err
			}
		case allocRet:
			_ = t.disarm(pm, allocRet)
			allocRet = nil
			o.allocAddr, o.allocSeen = h.regs.ret(), true
			if err := w.emitStructCreation(o, h, ""); err != nil {
				return h, err
			}
			if trig == nil {
				disarmAll()
				return h, nil
			}
		case trig:
			if int32(h.regs.arg(0)) != backendTypeNormal || foreign {
				continue // an autovacuum worker, a background worker, or another client
			}
			disarmAll()
			return h, nil
		}
	}
}

// emitStructCreation reports phase 1. With the allocation seen it stops
// where the allocator returned; otherwise at the first later stop, saying
// so.
func (w *walker) emitStructCreation(o *obs, h hit, point string) error {
	v := w.values(o)
	call := fmt.Sprintf("%s(%d)", w.plan.alloc, w.layout.Size)
	if w.plan.allocFlags >= 0 {
		call = fmt.Sprintf("%s(%d, MCXT_ALLOC_NO_OOM)", w.plan.alloc, w.layout.Size)
	}
	if o.allocSeen {
		point = w.plan.alloc + " returned"
		if fn := w.exe.funcAt(h.bp.addr); fn != "" {
			point += " in " + fn
		}
		v.Facts = append(v.Facts,
			fact("allocation", fmt.Sprintf("%s returned %#x: the new Backend record", call, o.allocAddr)),
			fact("allocator", w.plan.alloc),
		)
	} else {
		v.Facts = append(v.Facts,
			fact("allocation", fmt.Sprintf("%s already ran in BackendStartup, just before this stop: the driver could not break on it in this binary", call)),
		)
	}
	where := ""
	if o.allocSeen {
		where = w.exe.funcAt(h.bp.addr)
	}
	if in := w.inlined(where); in != "" {
		v.Facts = append(v.Facts, fact("inlined", in))
	}
	v.Facts = append(v.Facts,
		fact("binary", w.exe.path),
		fact("backend record", fmt.Sprintf("sizeof(Backend) = %d; layout %s", w.layout.Size, w.layout)),
		bpFact(h.bp),
	)
	return w.emit(w.event(walkthrough.StructCreation, w.pm, point, v))
}

// inlined says which functions of the path have no symbol of their own:
// the compiler folded them into their callers. where names the function
// BackendStartup's allocation returned into, when known.
func (w *walker) inlined(where string) string {
	if w.exe.noSymtab {
		return ""
	}
	var gone []string
	for _, n := range w.plan.inlinable {
		if _, _, ok := w.exe.lookup(n); !ok {
			gone = append(gone, n)
		}
	}
	if len(gone) == 0 {
		return ""
	}
	msg := strings.Join(gone, ", ") + ": no symbol of their own in this binary, the compiler inlined them into their callers"
	if gone[0] == "BackendStartup" {
		msg += "; no breakpoint can mark where BackendStartup begins"
		if where != "" {
			msg += fmt.Sprintf(" (its allocation returned into %s)", where)
		}
	}
	return msg
}
