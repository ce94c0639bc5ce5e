package live

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
)

// These tests trace the real PostgreSQL 16.4, 17.1 and 18.4 builds that
// scripts/install-pg.sh installs. They skip only where this machine cannot
// trace (see Supported) or, outside CI, when a build is not installed;
// with CI=true a missing build fails the test.

// liveBin returns the bin directory of release v in the install cache.
func liveBin(tb testing.TB, v walkthrough.Version) string {
	tb.Helper()
	if err := Supported(); err != nil {
		tb.Skip(err)
	}
	dir := filepath.Join(PGCacheDir(), v.Name, "bin")
	if st, err := os.Stat(filepath.Join(dir, "postgres")); err != nil || st.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("PostgreSQL %s is not installed in %s: run scripts/install-pg.sh", v.Name, dir)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dir
}

// sayings collects what a driver tells the user, as catalog messages.
type sayings struct {
	tb   testing.TB
	mu   sync.Mutex
	msgs []walkthrough.Msg
}

func (s *sayings) tell(m walkthrough.Msg) {
	checkMsg(s.tb, m)
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
}

// has reports whether the driver said key (with the given arguments,
// name, value pairs, when there are any).
func (s *sayings) has(key string, args ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.Key != key {
			continue
		}
		ok := true
		for i := 0; i+1 < len(args); i += 2 {
			ok = ok && m.Args[args[i]] == args[i+1]
		}
		if ok {
			return true
		}
	}
	return false
}

func (s *sayings) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := make([]string, len(s.msgs))
	for i, m := range s.msgs {
		lines[i] = line(m)
	}
	return strings.Join(lines, "\n")
}

// mechanisms are the breakpoint mechanisms the live tests run with: int3
// on every machine, the debug registers where they trap here.
var mechanisms = []string{"software", "hardware"}

// startLive starts a live driver for v with int3 breakpoints, which work
// on every machine; setup may change it first. Close runs at the end of
// the test whatever happens.
func startLive(tb testing.TB, v walkthrough.Version, setup func(*Driver, *walkthrough.DriverOptions)) (*Driver, *sayings) {
	tb.Helper()
	return startLiveWith(tb, v, "software", setup)
}

// startLiveWith starts a live driver for v with the breakpoint mechanism
// mech. For "hardware" it lets the driver probe (auto) and skips, saying
// why, where the debug registers were not seen to trap.
func startLiveWith(tb testing.TB, v walkthrough.Version, mech string, setup func(*Driver, *walkthrough.DriverOptions)) (*Driver, *sayings) {
	tb.Helper()
	said := &sayings{tb: tb}
	opts := walkthrough.DriverOptions{Version: v, PGBin: liveBin(tb, v), Teller: said.tell, Breakpoints: mech,
		Notify: func(l string) { tb.Errorf("the driver said a line instead of a message: %s", l) }}
	if mech == "hardware" {
		opts.Breakpoints = "auto"
	}
	d := New(opts)
	if setup != nil {
		setup(d, &d.opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		_ = d.Close()
		if errors.Is(err, ErrNotSupported) {
			tb.Skip(err)
		}
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	if mech == "auto" || d.opts.Breakpoints != opts.Breakpoints {
		return d, said // no mechanism to check: the test looks itself
	}
	hw := said.has("say.live.breakpoints_hardware_trapped") || said.has("say.live.breakpoints_hardware_watch_trapped") ||
		said.has("say.live.breakpoints_hardware_forced")
	if mech == "hardware" && !hw {
		_ = d.Close()
		tb.Skipf("the debug registers do not trap here, so the hardware mechanism is not tested: %s", said.all())
	}
	if mech == "software" && !said.has("say.live.breakpoints_software_forced") {
		tb.Fatalf("the driver did not say it uses int3; said:\n%s", said.all())
	}
	return d, said
}

// drain runs a session over d to the end and returns its stops. The
// session checks them against the release's normal plan.
func drain(tb testing.TB, d *Driver, v walkthrough.Version) []walkthrough.Event {
	tb.Helper()
	s := walkthrough.NewSession(d, v).ForScenario(walkthrough.ScenarioNormal)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		_, err := s.Next(ctx)
		if walkthrough.IsEOF(err) {
			checkStopMessages(tb, s.Stops())
			return s.Stops()
		}
		if err != nil {
			tb.Fatalf("Next after %d stops: %v", len(s.Stops()), err)
		}
	}
}

// checkStopMessages checks every fact and check of evs against
// messages.txt.
func checkStopMessages(tb testing.TB, evs []walkthrough.Event) {
	tb.Helper()
	for _, ev := range evs {
		for _, f := range ev.Values.Facts {
			checkMsg(tb, f.Msg())
		}
		for _, c := range ev.Values.Checks {
			checkMsg(tb, c.Msg())
		}
	}
}

// facts returns the facts of ev with key.
func facts(ev walkthrough.Event, key string) []walkthrough.Fact {
	var out []walkthrough.Fact
	for _, f := range ev.Values.Facts {
		if f.Key == key {
			out = append(out, f)
		}
	}
	return out
}

// failedChecks lists the checks of evs that did not hold.
func failedChecks(evs []walkthrough.Event) []string {
	var out []string
	for _, ev := range evs {
		for _, c := range ev.Values.Checks {
			if !c.OK {
				out = append(out, fmt.Sprintf("%s: %s %v", ev.Phase, c.Key, c.Args))
			}
		}
	}
	return out
}

func hasFD(fds []walkthrough.FD, kind string) bool {
	for _, fd := range fds {
		if fd.Kind == kind {
			return true
		}
	}
	return false
}

// walkFacts are the values one walked connection must show everywhere.
type walkFacts struct {
	pm, child int
	// key is the cancel key's bytes, as BackendKeyData carries them.
	key  []byte
	slot int
}

// stop returns the stop of phase among evs.
func stop(t *testing.T, evs []walkthrough.Event, phase walkthrough.PhaseID) walkthrough.Event {
	t.Helper()
	for _, ev := range evs {
		if ev.Phase == phase {
			return ev
		}
	}
	t.Fatalf("no %s stop", phase)
	return walkthrough.Event{}
}

// checkWalk verifies the stops of one connection of pgwalk's own client:
// the plan's points, and every value against every other place it was
// seen. The session checked the phases, processes and planned values.
func checkWalk(t *testing.T, v walkthrough.Version, info ClusterInfo, evs []walkthrough.Event) walkFacts {
	t.Helper()
	rel := v.Release()
	plan, _ := rel.Plan("")
	if len(evs) != len(plan.Stops) {
		t.Fatalf("%d stops, the plan has %d", len(evs), len(plan.Stops))
	}
	for i, s := range plan.Stops {
		if ev := evs[i]; ev.Point != s.At || ev.Version != v.Name || ev.Driver != "live" || ev.Seq != i+1 || len(ev.Unobserved) > 0 {
			t.Errorf("stop %d: point %q, stamped %s/%s/%d, unobserved %v; want the plan's %q and nothing unobserved", i+1, ev.Point, ev.Version, ev.Driver, ev.Seq, ev.Unobserved, s.At)
		}
	}
	if bad := failedChecks(evs); len(bad) > 0 {
		t.Errorf("checks failed: %v", bad)
	}
	inPostmaster := rel.Facts.CancelKey.MadeIn == walkthrough.Postmaster
	f := walkFacts{pm: info.PostmasterPID}
	si := stop(t, evs, walkthrough.StructInit)
	if si.Values.CanAccept != "CAC_OK" || si.Values.DeadEnd == nil || *si.Values.DeadEnd {
		t.Errorf("struct-init: can_accept %q dead_end %v, want CAC_OK and false", si.Values.CanAccept, si.Values.DeadEnd)
	}
	if si.Values.ChildSlot == nil || *si.Values.ChildSlot <= 0 {
		t.Fatalf("struct-init lacks the slot: %+v", si.Values)
	}
	f.slot = *si.Values.ChildSlot
	if inPostmaster != (si.Values.CancelKey != nil) {
		t.Errorf("struct-init cancel key %v; the key is made in the %s", si.Values.CancelKey, rel.Facts.CancelKey.MadeIn)
	}
	if si.Values.CancelKey != nil {
		f.key, _ = hex.DecodeString(walkthrough.KeyHex(*si.Values.CancelKey))
	}
	pf := stop(t, evs, walkthrough.Fork)
	if pf.Values.ForkReturn == nil || *pf.Values.ForkReturn <= 0 || pf.Values.ChildPID != *pf.Values.ForkReturn {
		t.Fatalf("fork in the postmaster returned %v (child_pid %d)", pf.Values.ForkReturn, pf.Values.ChildPID)
	}
	f.child = *pf.Values.ForkReturn
	for i, ev := range evs {
		switch ev.Process {
		case walkthrough.Postmaster:
			if ev.PID != f.pm {
				t.Errorf("stop %d: postmaster stop in pid %d, the postmaster is %d", i+1, ev.PID, f.pm)
			}
		case walkthrough.Backend:
			if ev.PID != f.child {
				t.Errorf("stop %d: backend stop in pid %d, the backend is %d", i+1, ev.PID, f.child)
			}
		case walkthrough.Client:
			if ev.PID != os.Getpid() {
				t.Errorf("stop %d: client stop in pid %d, the client is this process (%d)", i+1, ev.PID, os.Getpid())
			}
		}
		if ev.Values.PostmasterPID != f.pm {
			t.Errorf("stop %d: postmaster_pid %d, want %d", i+1, ev.Values.PostmasterPID, f.pm)
		}
	}
	ch := stop(t, evs, walkthrough.Child)
	for _, k := range []string{walkthrough.FDListenSocket, walkthrough.FDDeathPipeWrite, walkthrough.FDEpoll, walkthrough.FDClientSocket} {
		if !hasFD(ch.Values.FDsBefore, k) {
			t.Errorf("before ClosePostmasterPorts the child holds no %s: %+v", k, ch.Values.FDsBefore)
		}
	}
	for _, k := range []string{walkthrough.FDListenSocket, walkthrough.FDDeathPipeWrite} {
		if hasFD(ch.Values.FDsAfter, k) || !hasFD(ch.Values.ClosedFDs, k) {
			t.Errorf("the child kept its %s: after %+v", k, ch.Values.FDsAfter)
		}
	}
	if !hasFD(ch.Values.FDsAfter, walkthrough.FDClientSocket) || !hasFD(ch.Values.FDsAfter, walkthrough.FDDeathPipeRead) {
		t.Errorf("the child lost its client socket or the death pipe's read end: %+v", ch.Values.FDsAfter)
	}
	if fr := facts(ch, "fact.live.child_fork_return"); len(fr) != 1 || fr[0].Args["value"] != "0" {
		t.Errorf("the child stop does not say fork_process returned 0 in the child: %+v", fr)
	}
	if inPostmaster && (ch.Values.CancelKey == nil || walkthrough.KeyHex(*ch.Values.CancelKey) != hex.EncodeToString(f.key)) {
		t.Errorf("MyCancelKey in the backend = %v, the postmaster's was %x", ch.Values.CancelKey, f.key)
	}
	if ch.Values.ChildSlot == nil || *ch.Values.ChildSlot != f.slot {
		t.Errorf("MyPMChildSlot in the backend = %v, the slot was %d", ch.Values.ChildSlot, f.slot)
	}
	reg := stop(t, evs, walkthrough.ParentRegistration)
	want0 := walkthrough.BackendNode{PID: f.child, ChildSlot: f.slot, BkendType: rel.Facts.Record.Normal, NoKey: !inPostmaster}
	if inPostmaster {
		want0.CancelKey = *si.Values.CancelKey
	}
	if reg.Values.Backend == nil || *reg.Values.Backend != want0 {
		t.Errorf("registered record = %+v, want %+v", reg.Values.Backend, want0)
	}
	found := false
	for i, n := range reg.Values.BackendList {
		found = found || (n == want0 && (i == 0 || rel.Facts.ChildList.JoinedIn != walkthrough.ParentRegistration))
	}
	if !found {
		t.Errorf("%s = %+v lacks %+v (at its head, where the push is the registration)", rel.Facts.ChildList.Name, reg.Values.BackendList, want0)
	}
	if len(reg.Values.Log) != 1 || !strings.Contains(reg.Values.Log[0], "forked new ") || !strings.Contains(reg.Values.Log[0], fmt.Sprintf("pid=%d socket=", f.child)) {
		t.Errorf("registration log = %q", reg.Values.Log)
	}
	ep := evs[len(evs)-1]
	if !inPostmaster {
		// The backend made the key: 32 bytes for pgwalk's client, which
		// asks for protocol 3.2.
		if n := rel.Facts.CancelKey.Bytes("3.2"); len(ep.Values.CancelKeyHex) != 2*n {
			t.Errorf("the key the backend made is %q, want %d bytes", ep.Values.CancelKeyHex, n)
		}
		f.key, _ = hex.DecodeString(ep.Values.CancelKeyHex)
	} else if len(f.key) != rel.Facts.CancelKey.Bytes("3.0") {
		t.Errorf("the key is %x, want %d bytes", f.key, rel.Facts.CancelKey.Bytes("3.0"))
	}
	k := ep.Values.ClientBackendKey
	if k == nil || k.PID != f.child || k.SecretKeyHex != hex.EncodeToString(f.key) {
		t.Errorf("BackendKeyData = %+v, want pid %d secret %x", k, f.child, f.key)
	}
	names := map[string]bool{}
	for _, c := range ep.Values.Checks {
		names[c.Key] = true
	}
	for _, n := range []string{"check.live.same_pid", "check.live.same_key", "check.live.same_slot", "check.live.listen_closed", "check.live.client_kept"} {
		if !names[n] {
			t.Errorf("closing check %s missing", n)
		}
	}
	return f
}

// cancelRequest sends a CancelRequest for pid and key to the cluster.
func cancelRequest(info ClusterInfo, pid int, key []byte) error {
	c, err := net.Dial("unix", filepath.Join(info.SocketDir, fmt.Sprintf(".s.PGSQL.%d", info.Port)))
	if err != nil {
		return err
	}
	defer c.Close()
	msg, err := (&pgproto3.CancelRequest{ProcessID: uint32(pid), SecretKey: key}).Encode(nil)
	if err != nil {
		return err
	}
	_, err = c.Write(msg)
	return err
}

// confirmByServer asks the server itself: the traced connection's backend
// pid, and a CancelRequest built from the observed pid and key (of any
// length) cancelling a pg_sleep on it.
func confirmByServer(t *testing.T, conn *pgconn.PgConn, info ClusterInfo, f walkFacts) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := conn.Exec(ctx, "SELECT pg_backend_pid()").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res[0].Rows[0][0]); got != fmt.Sprint(f.child) {
		t.Errorf("pg_backend_pid() = %s, the trace saw %d", got, f.child)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "SELECT pg_sleep(60)").ReadAll()
		done <- err
	}()
	// A cancel that arrives before the query starts cancels nothing, so
	// send one until the query ends.
	var qerr error
	for sent := 0; ; sent++ {
		if ctx.Err() != nil {
			t.Fatalf("pg_sleep(60) did not end within a minute of %d CancelRequests", sent)
		}
		if err := cancelRequest(info, f.child, f.key); err != nil {
			t.Fatal(err)
		}
		select {
		case qerr = <-done:
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	var pgErr *pgconn.PgError
	if !errors.As(qerr, &pgErr) || pgErr.Code != "57014" {
		t.Errorf("pg_sleep ended with %v, want query_canceled (57014)", qerr)
	}
}

// assertCleanedUp checks that nothing of a run is left: no process, no
// directory, no shared memory segment.
func assertCleanedUp(t *testing.T, info ClusterInfo, pids ...int) {
	t.Helper()
	pids = append(pids, info.PostmasterPID)
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		if pid <= 0 {
			continue
		}
		// A process that just ended may stay a zombie until its new
		// parent reaps it.
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("process %d is still there: %s", pid, b)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := os.Stat(info.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory %s still exists (%v)", info.Dir, err)
	}
	if left := cluster.ProcessesIn(info.Dir); len(left) > 0 {
		t.Errorf("processes still work in %s: %v", info.Dir, left)
	}
	if exists, _, err := cluster.ShmExists(info.ShmID, info.ShmKey); exists || err != nil {
		t.Errorf("shared memory segment %d (key %d) still exists (%v)", info.ShmID, info.ShmKey, err)
	}
	if out, err := exec.Command("ipcs", "-m").Output(); err == nil && info.ShmID > 0 {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[1] == fmt.Sprint(info.ShmID) {
				t.Errorf("ipcs still lists segment %d: %s", info.ShmID, line)
			}
		}
	}
}

// checkMechanism checks that every breakpoint of the walk was of mech's
// kind, but for the accept function's, which is an int3 everywhere.
func checkMechanism(t *testing.T, v walkthrough.Version, evs []walkthrough.Event, mech string) {
	t.Helper()
	gate := v.Release().Facts.Functions.AcceptSocket
	for _, ev := range evs {
		for _, f := range ev.Values.Facts {
			if !strings.HasPrefix(f.Key, "fact.live.breakpoint_") && !strings.HasPrefix(f.Key, "fact.live.watchpoint_") || strings.HasPrefix(f.Args["at"], gate) {
				continue
			}
			if soft := f.Key == "fact.live.breakpoint_int3"; soft != (mech == "software") {
				t.Errorf("stop %s used %s %v with %s breakpoints", ev.Phase, f.Key, f.Args, mech)
			}
		}
	}
}

// outsideClient connects to the cluster the way psql does (protocol 3.0),
// in the background.
func outsideClient(info ClusterInfo) <-chan *pgconn.PgConn {
	out := make(chan *pgconn.PgConn, 1)
	go func() {
		conn, err := pgconn.Connect(context.Background(), connString(info.SocketDir, info.Port))
		if err != nil {
			out <- nil
			return
		}
		out <- conn
	}()
	return out
}
