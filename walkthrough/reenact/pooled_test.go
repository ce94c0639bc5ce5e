//go:build unix

package reenact

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// checkKey returns the check with catalog key key, and whether there is one.
func checkKey(checks []walkthrough.Check, key string) (walkthrough.Check, bool) {
	for _, c := range checks {
		if c.Key == key {
			return c, true
		}
	}
	return walkthrough.Check{}, false
}

// TestRunPooledRelease walks 18.4 with pgwalk's own client and checks what
// 18.4 does differently: canAcceptConnections before the allocation, an
// entry from the pool that is on the list from the first stop, no key in
// the postmaster or at any stop before the fork, the pid store as the
// whole registration, and a 32-byte key made by the backend for a client
// that asked for protocol 3.2, which the client received.
func TestRunPooledRelease(t *testing.T) {
	v := version(t, "18.4")
	d := startDriver(t, walkthrough.DriverOptions{Version: v}, nil)
	var childAlive error = fmt.Errorf("no child stop")
	evs := runAll(t, d, func(ev walkthrough.Event) {
		if ev.Phase == walkthrough.Child {
			childAlive = syscall.Kill(ev.PID, 0)
		}
	})
	plan, err := v.Release().Plan("")
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Check(evs, true); err != nil {
		t.Fatal(err)
	}
	creation, init, fork, child, reg, epi := evs[0], evs[1], evs[2], evs[3], evs[4], evs[5]
	pm := os.Getpid()

	// No stop before the closing check carries a key: not the postmaster's
	// stops, not the child's (it stops before PostgresMain), not the
	// records (a PMChild has no key field).
	for _, ev := range evs[:5] {
		b, err := json.Marshal(ev.Values)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "cancel_key") || strings.Contains(string(b), "secret_key") {
			t.Errorf("%s carries a key: %s", ev.Phase, b)
		}
	}

	// Struct creation: the decision first, then the pool's first entry,
	// already at the head of the list, with pid 0.
	if creation.Values.CanAccept != "CAC_OK" || creation.Values.ChildSlot == nil || *creation.Values.ChildSlot != 1 ||
		creation.Values.DeadEnd == nil || *creation.Values.DeadEnd {
		t.Errorf("struct-creation: can_accept %s slot %v dead_end %v; want CAC_OK, the pool's first slot 1, false",
			creation.Values.CanAccept, creation.Values.ChildSlot, creation.Values.DeadEnd)
	}
	wantEntry := walkthrough.BackendNode{PID: 0, ChildSlot: 1, BkendType: "B_BACKEND", BgworkerNotify: true, NoKey: true}
	if !slices.Equal(creation.Values.BackendList, []walkthrough.BackendNode{wantEntry}) || creation.Values.Backend == nil || *creation.Values.Backend != wantEntry {
		t.Errorf("struct-creation: backend %+v list %+v, want the new entry %+v alone", creation.Values.Backend, creation.Values.BackendList, wantEntry)
	}
	if !atIs(creation, "point.reenact.entry_taken", "accept", "canAcceptConnections", "state", "CAC_OK", "allocator", "AssignPostmasterChildSlot(B_BACKEND)") {
		t.Errorf("struct-creation at %s %v", creation.PointKey, creation.PointArgs)
	}
	for _, key := range []string{"fact.reenact.accept_first", "fact.reenact.pool_entry", "fact.reenact.list_push"} {
		if _, ok := factKey(creation.Values.Facts, key); !ok {
			t.Errorf("struct-creation lacks %s: %+v", key, creation.Values.Facts)
		}
	}
	if f, _ := factKey(creation.Values.Facts, "fact.reenact.pool_entry"); f.Args["free"] != fmt.Sprint(slotCount-1) || f.Args["size"] != fmt.Sprint(slotCount) {
		t.Errorf("pool entry fact %+v, want %d of %d free", f, slotCount-1, slotCount)
	}

	// Struct init: bgworker_notify cleared, the rest unchanged, no key.
	if v, _ := findFact(init.Values.Facts, "fact.reenact.init_order"); v["steps"] != "startup_data.canAcceptConnections (3563) → rw (3564) → bgworker_notify (3567)" {
		t.Errorf("struct-init order = %v", v)
	}
	if b := init.Values.Backend; b == nil || b.BgworkerNotify || b.ChildSlot != 1 || b.PID != 0 {
		t.Errorf("struct-init backend = %+v", b)
	}
	if _, ok := factKey(init.Values.Facts, "fact.reenact.no_key_in_postmaster"); !ok {
		t.Errorf("struct-init facts %+v: no word that the postmaster makes no key", init.Values.Facts)
	}

	// Fork, child.
	childPID := fork.Values.ChildPID
	if childPID <= 0 || fork.Values.ForkReturn == nil || *fork.Values.ForkReturn != childPID {
		t.Fatalf("fork: child_pid %d fork_return %v", childPID, fork.Values.ForkReturn)
	}
	if childAlive != nil || child.PID != childPID || child.Values.ChildSlot == nil || *child.Values.ChildSlot != 1 {
		t.Errorf("child stop: pid %d slot %v alive %v; want %d, 1, alive", child.PID, child.Values.ChildSlot, childAlive, childPID)
	}
	if f, ok := factKey(child.Values.Facts, "fact.reenact.child_sets_slot"); !ok || f.Args["at"] != "launch_backend.c:280" {
		t.Errorf("child facts: MyPMChildSlot %+v", f)
	}
	if v, _ := findFact(child.Values.Facts, "fact.reenact.child_order"); v["first"] != "ClosePostmasterPorts" || v["second"] != "InitPostmasterChild" {
		t.Errorf("child order = %v", v)
	}

	// Registration: the pid store, and 18.4's log line.
	if want := fmt.Sprintf("forked new client backend, pid=%d socket=", childPID); len(reg.Values.Log) != 1 || !strings.HasPrefix(reg.Values.Log[0], want) {
		t.Errorf("registration log = %q, want %q...", reg.Values.Log, want)
	}
	wantEntry.PID, wantEntry.BgworkerNotify = childPID, false
	if !slices.Equal(reg.Values.BackendList, []walkthrough.BackendNode{wantEntry}) {
		t.Errorf("registration list = %+v, want %+v", reg.Values.BackendList, wantEntry)
	}
	if !atIs(reg, "point.reenact.pid_stored") {
		t.Errorf("registration at %s %v", reg.PointKey, reg.PointArgs)
	}

	// Closing check: a 32-byte key, made by the backend, received by the
	// client, checked on both sides.
	k := epi.Values.ClientBackendKey
	if k == nil || k.PID != childPID || len(k.SecretKeyHex) != 64 || k.SecretKeyHex != epi.Values.CancelKeyHex || epi.Values.CancelKey != nil {
		t.Fatalf("closing check: client_backend_key %+v cancel_key_hex %q cancel_key %v; want a 32-byte key from pid %d, the same on both sides, no int32",
			k, epi.Values.CancelKeyHex, epi.Values.CancelKey, childPID)
	}
	if _, err := hex.DecodeString(k.SecretKeyHex); err != nil {
		t.Errorf("key %q: %v", k.SecretKeyHex, err)
	}
	b, err := json.Marshal(epi.Values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"secret_key":`) || strings.Contains(string(b), `"cancel_key":`) {
		t.Errorf("a 32-byte key has an int32 in the JSON: %s", b)
	}
	for _, key := range []string{"check.reenact.key_from_backend", "check.reenact.key_width", "check.reenact.negotiation"} {
		if _, ok := checkKey(epi.Values.Checks, key); !ok {
			t.Errorf("closing check lacks %s", key)
		}
	}
	if c, _ := checkKey(epi.Values.Checks, "check.reenact.key_width"); c.Args["bytes"] != "32" || c.Args["protocol"] != "3.2" {
		t.Errorf("key width check %+v, want 32 bytes for 3.2", c)
	}
	for _, c := range epi.Values.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %v", c.Key, c.Args)
		}
	}
	if len(epi.Values.BackendList) != 0 || !d.pool.isFree(1) || d.pool.inUse() != 0 {
		t.Errorf("after the closing check: list %+v, slot 1 free %t, %d in use", epi.Values.BackendList, d.pool.isFree(1), d.pool.inUse())
	}
	if epi.PID != pm {
		t.Errorf("closing check pid %d, want pgwalk's own client %d", epi.PID, pm)
	}
	if d.keys.published() != 0 {
		t.Errorf("%d keys still published after the backend ended", d.keys.published())
	}
}

// TestKeyWidthByRequestedProtocol connects clients that ask for each
// protocol version: 18.4's backend makes a key as long as the version
// asked for says (3.0 and 3.1: 4 bytes; 3.2 and later: 32), and a newer
// minor version than the release speaks gets NegotiateProtocolVersion
// naming the latest, after which the session goes on. 16.4 speaks only
// 3.0: a 3.1 or 3.2 client is answered with NegotiateProtocolVersion(3.0)
// and gets a session and a 4-byte key, not a refusal.
func TestKeyWidthByRequestedProtocol(t *testing.T) {
	tests := []struct {
		release    string
		proto      uint32
		bytes      int
		negotiated string
	}{
		{"18.4", 0x30000, 4, ""},
		{"18.4", 0x30001, 4, ""},
		{"18.4", 0x30002, 32, ""},
		{"18.4", 0x30003, 32, "3.2"},
		{"16.4", 0x30001, 4, "3.0"},
		{"16.4", 0x30002, 4, "3.0"},
		{"17.1", 0x30001, 4, "3.0"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.release, walkthrough.ProtocolName(tt.proto)), func(t *testing.T) {
			d := startDriver(t, walkthrough.DriverOptions{Version: version(t, tt.release), WaitForClient: true}, nil)
			w := walk(d)
			defer w.stop(t)
			s := openSessionAt(t, dialUnix(t, d), tt.proto)
			w.until(t, 1, walkthrough.ParentRegistration)
			s.ready(t)
			if len(s.raw) != tt.bytes || s.negotiated != tt.negotiated {
				t.Errorf("key of %d bytes, NegotiateProtocolVersion %q; want %d bytes, %q", len(s.raw), s.negotiated, tt.bytes, tt.negotiated)
			}
			s.query(t, "select 1")
			if names, codes := s.answer(t); !slices.Equal(names, []string{"ErrorResponse", "ReadyForQuery(I)"}) || len(codes) != 1 {
				t.Errorf("the session answered %v %v", names, codes)
			}
			s.terminate(t)
			evs := w.until(t, 1, walkthrough.Epilogue)
			epi := evs[len(evs)-1]
			if k := epi.Values.ClientBackendKey; k == nil || k.SecretKeyHex != hex.EncodeToString(s.raw) {
				t.Errorf("closing check key %+v, want the %x the client got", k, s.raw)
			}
			if tt.bytes == 4 && (epi.Values.CancelKey == nil || *epi.Values.CancelKey != s.key.SecretKey) {
				t.Errorf("cancel_key %v, want the int32 %d", epi.Values.CancelKey, s.key.SecretKey)
			}
			if f, ok := factKey(epi.Values.Facts, "fact.reenact.negotiated"); ok != (tt.negotiated != "") || ok && f.Args["version"] != tt.negotiated {
				t.Errorf("negotiation fact %+v (present %t), want version %q", f, ok, tt.negotiated)
			}
			for _, c := range epi.Values.Checks {
				if !c.OK {
					t.Errorf("check %s failed: %v", c.Key, c.Args)
				}
			}
		})
	}
}

// TestPoolEmpty fills 18.4's client-backend pool: the next connection finds
// it empty, canAcceptConnections' CAC_OK becomes CAC_TOOMANY, and it gets a
// dead-end entry (slot 0, outside the pool, on the list all the same),
// whose child refuses the client. A released entry goes back to the head
// of the free list, so the next connection gets that slot again.
func TestPoolEmpty(t *testing.T) {
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "18.4"), WaitForClient: true}, setLimit(2))
	w := walk(d)
	defer w.stop(t)

	var live []*session
	for n := 1; n <= 2; n++ {
		s := openSession(t, dialUnix(t, d))
		evs := w.until(t, n, walkthrough.ParentRegistration)
		if slot := evs[0].Values.ChildSlot; slot == nil || *slot != n {
			t.Errorf("connection %d got slot %v, want %d (the free list in slot order)", n, slot, n)
		}
		s.ready(t)
		live = append(live, s)
	}

	probe := openSession(t, dialUnix(t, d))
	evs := w.until(t, 3, walkthrough.ParentRegistration)
	creation, reg := evs[0], evs[len(evs)-1]
	v := creation.Values
	if v.CanAccept != "CAC_TOOMANY" || v.DeadEnd == nil || !*v.DeadEnd || v.ChildSlot == nil || *v.ChildSlot != 0 {
		t.Errorf("struct-creation: can_accept %s dead_end %v slot %v; want CAC_TOOMANY, true, 0", v.CanAccept, v.DeadEnd, v.ChildSlot)
	}
	if f, ok := factKey(v.Facts, "fact.reenact.pool_empty"); !ok || f.Args["state"] != "CAC_TOOMANY" || f.Args["at"] != "postmaster.c:3541-3548" {
		t.Errorf("pool-empty fact %+v", f)
	}
	if f, _ := findFact(v.Facts, "fact.reenact.allocator"); f["allocator"] != "AllocDeadEndChild()" {
		t.Errorf("allocator = %v, want AllocDeadEndChild()", f)
	}
	if head := v.BackendList[0]; head.BkendType != "B_DEAD_END_BACKEND" || head.ChildSlot != 0 || head.PID != 0 || !head.DeadEnd || len(v.BackendList) != 3 {
		t.Errorf("list at struct-creation = %+v, want the dead-end entry at the head of 3", v.BackendList)
	}
	if d.pool.inUse() != 2 {
		t.Errorf("%d pool entries in use, want the 2 sessions' only", d.pool.inUse())
	}
	if want := fmt.Sprintf("forked new dead-end client backend, pid=%d socket=", reg.Values.ChildPID); !strings.HasPrefix(reg.Values.Log[0], want) {
		t.Errorf("registration log = %q, want %q...", reg.Values.Log, want)
	}
	if got := probe.refused(t); got != "53300 sorry, too many clients already" {
		t.Errorf("refused with %q", got)
	}
	epi := w.until(t, 3, walkthrough.Epilogue)
	for _, c := range epi[len(epi)-1].Values.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %v", c.Key, c.Args)
		}
	}

	// The first session ends; its entry goes back to the head of the free
	// list, and the next connection takes it.
	live[0].terminate(t)
	w.until(t, 1, walkthrough.Epilogue)
	next := openSession(t, dialUnix(t, d))
	evs = w.until(t, 4, walkthrough.StructCreation)
	if slot := evs[len(evs)-1].Values.ChildSlot; slot == nil || *slot != 1 {
		t.Errorf("the next connection got slot %v, want 1 back", slot)
	}
	w.until(t, 4, walkthrough.ParentRegistration)
	next.ready(t)
	next.terminate(t)
	live[1].terminate(t)
	w.untilEpilogues(t, 2, 4)
}

// TestPooledForkFailure: a failed launch gives the entry back with one call:
// it leaves the list and returns to the head of the pool's free list.
func TestPooledForkFailure(t *testing.T) {
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "18.4"), Scenario: walkthrough.ScenarioForkFailure}, nil)
	evs := runAll(t, d, nil)
	if len(evs) != 5 {
		t.Fatalf("%d stops, want 5", len(evs))
	}
	creation, fail, epi := evs[0], evs[3], evs[4]
	if len(creation.Values.BackendList) != 1 || fail.Values.BackendList == nil || len(fail.Values.BackendList) != 0 {
		t.Errorf("list %+v at struct-creation, %+v after the failure; want the entry, then an observed empty list",
			creation.Values.BackendList, fail.Values.BackendList)
	}
	if f, ok := factKey(fail.Values.Facts, "fact.reenact.entry_released"); !ok || f.Args["free"] != "true" || f.Args["release"] != "ReleasePostmasterChildSlot(bn)" {
		t.Errorf("entry released = %+v", f)
	}
	if !d.pool.isFree(1) || d.pool.free[0] != 1 {
		t.Errorf("slot 1 not back at the head of the free list: %v", d.pool.free)
	}
	for _, c := range epi.Values.Checks {
		if !c.OK {
			t.Errorf("check %s failed: %v", c.Key, c.Args)
		}
	}
	if _, ok := checkKey(epi.Values.Checks, "check.reenact.off_list"); !ok {
		t.Errorf("closing check lacks check.reenact.off_list: %+v", epi.Values.Checks)
	}
}

// TestOwnClientNegotiates: pgwalk's own client asks for protocol 3.2 in
// every release; a release that speaks only 3.0 answers with
// NegotiateProtocolVersion(3.0) and a 4-byte key, and the closing check
// says so.
func TestOwnClientNegotiates(t *testing.T) {
	for _, tt := range []struct {
		release, negotiated string
		bytes               int
	}{{"16.4", "3.0", 4}, {"17.1", "3.0", 4}, {"18.4", "", 32}} {
		t.Run(tt.release, func(t *testing.T) {
			d := startDriver(t, walkthrough.DriverOptions{Version: version(t, tt.release)}, nil)
			evs := runAll(t, d, nil)
			epi := evs[len(evs)-1]
			c, ok := checkKey(epi.Values.Checks, "check.reenact.negotiation")
			if !ok || !c.OK || c.Args["requested"] != "3.2" {
				t.Errorf("negotiation check %+v", c)
			}
			if got, _ := factKey(epi.Values.Facts, "fact.reenact.negotiated"); got.Args["version"] != tt.negotiated {
				t.Errorf("negotiated fact %+v, want version %q", got, tt.negotiated)
			}
			received, _ := findFact(epi.Values.Facts, "fact.reenact.client_received")
			if strings.HasPrefix(received["messages"], "NegotiateProtocolVersion") != (tt.negotiated != "") {
				t.Errorf("client received %v", received)
			}
			if k := epi.Values.ClientBackendKey; k == nil || len(k.SecretKeyHex) != 2*tt.bytes {
				t.Errorf("client_backend_key %+v, want %d bytes", k, tt.bytes)
			}
		})
	}
}

// TestServeBackendNegotiation pins what the backend sends for each
// requested version and set of protocol options, as ProcessStartupPacket
// does: the options it does not know, in the order the client sent them.
func TestServeBackendNegotiation(t *testing.T) {
	tests := []struct {
		release string
		proto   uint32
		params  []byte
		want    *pgproto3.NegotiateProtocolVersion
	}{
		{"18.4", 0x30002, []byte("user\x00u\x00\x00"), nil},
		{"18.4", 0x30000, []byte("user\x00u\x00\x00"), nil},
		{"18.4", 0x30005, []byte("user\x00u\x00\x00"), &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0x30002, UnrecognizedOptions: []string{}}},
		{"18.4", 0x30000, []byte("_pq_.zeta\x001\x00user\x00u\x00_pq_.alpha\x002\x00\x00"),
			&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0x30000, UnrecognizedOptions: []string{"_pq_.zeta", "_pq_.alpha"}}},
		{"16.4", 0x30001, []byte("user\x00u\x00\x00"), &pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0x30000, UnrecognizedOptions: []string{}}},
		{"16.4", 0x30000, []byte("user\x00u\x00_pq_.b\x00x\x00_pq_.a\x00y\x00\x00"),
			&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0x30000, UnrecognizedOptions: []string{"_pq_.b", "_pq_.a"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%q", tt.release, walkthrough.ProtocolName(tt.proto), tt.params), func(t *testing.T) {
			s := serveRelease(t, tt.release, backendVars{CancelKey: 7}, nil, nil)
			go func() { _, _ = s.client.Write(packetOf(tt.proto, tt.params)) }()
			names, msgs := s.receive(t, 1)
			if tt.want == nil {
				if names[0] != "AuthenticationOk" {
					t.Errorf("first answer %v, want AuthenticationOk", names)
				}
				return
			}
			got, ok := msgs[0].(*pgproto3.NegotiateProtocolVersion)
			if !ok || got.NewestMinorProtocol != tt.want.NewestMinorProtocol || !slices.Equal(got.UnrecognizedOptions, tt.want.UnrecognizedOptions) {
				t.Errorf("first answer %v %+v, want %+v", names, msgs[0], tt.want)
			}
			if names, _ := s.receive(t, 1); names[0] != "AuthenticationOk" {
				t.Errorf("after NegotiateProtocolVersion: %v, want the session to go on", names)
			}
		})
	}
}

// packetOf returns a startup packet: length, version, parameters.
func packetOf(proto uint32, params []byte) []byte {
	b := appendBE32(nil, uint32(8+len(params)))
	b = appendBE32(b, proto)
	return append(b, params...)
}
