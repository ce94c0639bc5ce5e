package trace

import (
	"context"
	"encoding/binary"
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
)

// These tests trace the real PostgreSQL 16.4 and 17.1 builds that
// scripts/install-pg.sh installs. They skip only where this machine cannot
// trace (see Supported) or, outside CI, when the builds are not installed;
// with CI=true a missing build fails the test.

// liveBin returns the bin directory of release v in the install cache.
func liveBin(tb testing.TB, v walkthrough.Version) string {
	tb.Helper()
	if err := Supported(); err != nil {
		tb.Skip(err)
	}
	dir := filepath.Join(PGCacheDir(), v.Name, "bin")
	if !isExecutable(filepath.Join(dir, "postgres")) {
		msg := fmt.Sprintf("PostgreSQL %s is not installed in %s: run scripts/install-pg.sh", v.Name, dir)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dir
}

func version(tb testing.TB, name string) walkthrough.Version {
	tb.Helper()
	v, err := walkthrough.LookupVersion(name)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// sayings collects what a driver tells the user.
type sayings struct {
	mu    sync.Mutex
	lines []string
}

func (s *sayings) say(line string) {
	s.mu.Lock()
	s.lines = append(s.lines, line)
	s.mu.Unlock()
}

func (s *sayings) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
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
	said := &sayings{}
	opts := walkthrough.DriverOptions{Version: v, PGBin: liveBin(tb, v), Notify: said.say, Breakpoints: mech}
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
	if mech == "hardware" && !strings.Contains(said.all(), "breakpoints: hardware") {
		_ = d.Close()
		tb.Skipf("the debug registers do not trap here, so the hardware mechanism is not tested: %s", said.all())
	}
	if want := "breakpoints: " + mech; !strings.Contains(said.all(), want) {
		tb.Fatalf("the driver did not say %q; said:\n%s", want, said.all())
	}
	return d, said
}

// drain runs a session over d to the end and returns its stops.
func drain(tb testing.TB, d *Driver, v walkthrough.Version) []walkthrough.Event {
	tb.Helper()
	s := walkthrough.NewSession(d, v)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		_, err := s.Next(ctx)
		if walkthrough.IsEOF(err) {
			return s.Stops()
		}
		if err != nil {
			tb.Fatalf("Next after %d stops: %v", len(s.Stops()), err)
		}
	}
}

type stopWant struct {
	phase walkthrough.PhaseID
	proc  walkthrough.Process
	point string
}

// wantStops lists the stops of one connection in each version.
func wantStops(v walkthrough.Version) []stopWant {
	child := []stopWant{
		{walkthrough.Child, walkthrough.Backend, "InitPostmasterChild called"},
		{walkthrough.Child, walkthrough.Backend, "ClosePostmasterPorts returned"},
		{walkthrough.Child, walkthrough.Backend, "PostgresMain reached"},
	}
	alloc := "malloc returned in ServerLoop"
	if v.Major == 17 {
		child = []stopWant{
			{walkthrough.Child, walkthrough.Backend, "ClosePostmasterPorts returned"},
			{walkthrough.Child, walkthrough.Backend, "InitPostmasterChild called"},
			{walkthrough.Child, walkthrough.Backend, "BackendMain reached"},
		}
		alloc = "palloc_extended returned in ServerLoop"
	}
	out := []stopWant{
		{walkthrough.StructCreation, walkthrough.Postmaster, alloc},
		{walkthrough.StructInit, walkthrough.Postmaster, "AssignPostmasterChildSlot returned"},
		{walkthrough.Fork, walkthrough.Postmaster, "fork_process returned in the postmaster"},
		{walkthrough.Fork, walkthrough.Backend, "fork_process returned in the child"},
	}
	out = append(out, child...)
	return append(out,
		stopWant{walkthrough.ParentRegistration, walkthrough.Postmaster, "dlist_push_head(&BackendList) done"},
		stopWant{walkthrough.Epilogue, walkthrough.Client, "the client is connected"},
	)
}

func findStop(evs []walkthrough.Event, phase walkthrough.PhaseID, point string) (walkthrough.Event, bool) {
	for _, ev := range evs {
		if ev.Phase == phase && (point == "" || strings.HasPrefix(ev.Point, point)) {
			return ev, true
		}
	}
	return walkthrough.Event{}, false
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
	key       int32
	slot      int
}

// checkWalk verifies the stops of one connection: the sequence, and every
// value against every other place it was seen.
func checkWalk(t *testing.T, v walkthrough.Version, info ClusterInfo, evs []walkthrough.Event, want []stopWant) walkFacts {
	t.Helper()
	if len(evs) != len(want) {
		for _, ev := range evs {
			t.Logf("stop: %s %s %q", ev.Phase, ev.Process, ev.Point)
		}
		t.Fatalf("%d stops, want %d", len(evs), len(want))
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Phase != w.phase || ev.Process != w.proc || ev.Point != w.point {
			t.Errorf("stop %d = %s/%s %q, want %s/%s %q", i+1, ev.Phase, ev.Process, ev.Point, w.phase, w.proc, w.point)
		}
		if ev.Version != v.Name || ev.Driver != "live" || ev.Seq != i+1 {
			t.Errorf("stop %d stamped %q/%q/%d", i+1, ev.Version, ev.Driver, ev.Seq)
		}
		for _, c := range ev.Values.Checks {
			if !c.OK {
				t.Errorf("stop %d (%s %q): check %q failed: %s", i+1, ev.Phase, ev.Point, c.Name, c.Detail)
			}
		}
	}
	var f walkFacts
	f.pm = info.PostmasterPID
	si, _ := findStop(evs, walkthrough.StructInit, "")
	if si.Values.CanAccept != "CAC_OK" || si.Values.DeadEnd == nil || *si.Values.DeadEnd {
		t.Errorf("struct-init: can_accept %q dead_end %v, want CAC_OK and false", si.Values.CanAccept, si.Values.DeadEnd)
	}
	if si.Values.CancelKey == nil || si.Values.ChildSlot == nil || *si.Values.ChildSlot <= 0 {
		t.Fatalf("struct-init lacks the cancel key or the slot: %+v", si.Values)
	}
	f.key, f.slot = *si.Values.CancelKey, *si.Values.ChildSlot
	pf, _ := findStop(evs, walkthrough.Fork, "fork_process returned in the postmaster")
	if pf.Values.ForkReturn == nil || *pf.Values.ForkReturn <= 0 {
		t.Fatalf("fork in the postmaster returned %v", pf.Values.ForkReturn)
	}
	f.child = *pf.Values.ForkReturn
	cf, _ := findStop(evs, walkthrough.Fork, "fork_process returned in the child")
	if cf.Values.ForkReturn == nil || *cf.Values.ForkReturn != 0 || cf.PID != f.child {
		t.Errorf("fork in the child: pid %d returned %v, want pid %d and 0", cf.PID, cf.Values.ForkReturn, f.child)
	}
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
		}
		if ev.Values.PostmasterPID != f.pm {
			t.Errorf("stop %d: postmaster_pid %d, want %d", i+1, ev.Values.PostmasterPID, f.pm)
		}
	}
	cpp, _ := findStop(evs, walkthrough.Child, "ClosePostmasterPorts returned")
	for _, k := range []string{walkthrough.FDListenSocket, walkthrough.FDDeathPipeWrite, walkthrough.FDEpoll, walkthrough.FDClientSocket} {
		if !hasFD(cpp.Values.FDsBefore, k) {
			t.Errorf("before ClosePostmasterPorts the child holds no %s: %+v", k, cpp.Values.FDsBefore)
		}
	}
	for _, k := range []string{walkthrough.FDListenSocket, walkthrough.FDDeathPipeWrite} {
		if hasFD(cpp.Values.FDsAfter, k) || !hasFD(cpp.Values.ClosedFDs, k) {
			t.Errorf("the child kept its %s: after %+v", k, cpp.Values.FDsAfter)
		}
	}
	if !hasFD(cpp.Values.FDsAfter, walkthrough.FDClientSocket) || !hasFD(cpp.Values.FDsAfter, walkthrough.FDDeathPipeRead) {
		t.Errorf("the child lost its client socket or the death pipe's read end: %+v", cpp.Values.FDsAfter)
	}
	main, _ := findStop(evs, walkthrough.Child, map[int]string{16: "PostgresMain", 17: "BackendMain"}[v.Major])
	if main.Values.CancelKey == nil || *main.Values.CancelKey != f.key {
		t.Errorf("MyCancelKey in the backend = %v, the postmaster's was %d", main.Values.CancelKey, f.key)
	}
	if main.Values.ChildSlot == nil || *main.Values.ChildSlot != f.slot {
		t.Errorf("MyPMChildSlot in the backend = %v, AssignPostmasterChildSlot returned %d", main.Values.ChildSlot, f.slot)
	}
	reg, _ := findStop(evs, walkthrough.ParentRegistration, "")
	want0 := walkthrough.BackendNode{PID: f.child, CancelKey: f.key, ChildSlot: f.slot, BkendType: "BACKEND_TYPE_NORMAL"}
	if reg.Values.Backend == nil || *reg.Values.Backend != want0 {
		t.Errorf("registered Backend = %+v, want %+v", reg.Values.Backend, want0)
	}
	if len(reg.Values.BackendList) == 0 || reg.Values.BackendList[0] != want0 {
		t.Errorf("BackendList head = %+v, want %+v", reg.Values.BackendList, want0)
	}
	if len(reg.Values.Log) != 1 || !strings.Contains(reg.Values.Log[0], fmt.Sprintf("forked new backend, pid=%d socket=", f.child)) {
		t.Errorf("registration log = %q", reg.Values.Log)
	}
	ep := evs[len(evs)-1]
	if k := ep.Values.ClientBackendKey; k == nil || k.PID != f.child || k.SecretKey != f.key {
		t.Errorf("BackendKeyData = %+v, want pid %d secret %d", k, f.child, f.key)
	}
	names := map[string]bool{}
	for _, c := range ep.Values.Checks {
		names[c.Name] = true
	}
	for _, n := range []string{
		"BackendKeyData pid = fork_process return = Backend.pid",
		"BackendKeyData secret = MyCancelKey = Backend.cancel_key",
		"AssignPostmasterChildSlot = MyPMChildSlot = Backend.child_slot",
		"listen socket closed in the child",
	} {
		if !names[n] {
			t.Errorf("closing check %q missing", n)
		}
	}
	return f
}

// cancelRequest sends a CancelRequest for pid and key to the cluster.
func cancelRequest(info ClusterInfo, pid int, key int32) error {
	c, err := net.Dial("unix", filepath.Join(info.SocketDir, fmt.Sprintf(".s.PGSQL.%d", info.Port)))
	if err != nil {
		return err
	}
	defer c.Close()
	secret := make([]byte, 4)
	binary.BigEndian.PutUint32(secret, uint32(key))
	msg, err := (&pgproto3.CancelRequest{ProcessID: uint32(pid), SecretKey: secret}).Encode(nil)
	if err != nil {
		return err
	}
	_, err = c.Write(msg)
	return err
}

// confirmByServer asks the server itself: the traced connection's backend
// pid, and a CancelRequest built from the observed pid and key cancelling
// a pg_sleep on it.
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
	if left := processesIn(info.Dir); len(left) > 0 {
		t.Errorf("processes still work in %s: %v", info.Dir, left)
	}
	if exists, _, err := shmExists(info.ShmID, info.ShmKey); exists || err != nil {
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

func TestLiveWalk(t *testing.T) {
	for _, name := range []string{"16.4", "17.1"} {
		for _, mech := range mechanisms {
			t.Run(name+"/"+mech, func(t *testing.T) { testLiveWalk(t, name, mech) })
		}
	}
}

func testLiveWalk(t *testing.T, name, mech string) {
	v := version(t, name)
	d, said := startLiveWith(t, v, mech, nil)
	info := d.Cluster()
	evs := drain(t, d, v)
	f := checkWalk(t, v, info, evs, wantStops(v))
	if s := said.all(); strings.Contains(s, "unavailable") || strings.Contains(s, "warning") {
		t.Errorf("the exact release should give every stop without warnings; said:\n%s", s)
	}
	conn := d.Client()
	if conn == nil {
		t.Fatal("Client() is nil after the closing check")
	}
	confirmByServer(t, conn, info, f)
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Next(context.Background()); err == nil {
		t.Error("Next after Close returned no error")
	}
	assertCleanedUp(t, info, f.child)
	checkMechanism(t, evs, mech)
}

// checkMechanism checks that every breakpoint of the walk was of mech's
// kind, but for the accept function's, which is an int3 everywhere.
func checkMechanism(t *testing.T, evs []walkthrough.Event, mech string) {
	t.Helper()
	for _, ev := range evs {
		for _, f := range ev.Values.Facts {
			if f.Name != "breakpoint" || strings.Contains(f.Value, "StreamConnection") || strings.Contains(f.Value, "AcceptConnection") {
				continue
			}
			if soft := strings.HasPrefix(f.Value, "int3 "); soft != (mech == "software") {
				t.Errorf("stop %q used %s with %s breakpoints", ev.Point, f.Value, mech)
			}
		}
	}
}

// TestLiveCloseAtEveryStop closes the driver after every number of stops:
// with int3 in both versions, and with the debug registers (where they
// trap) in 16.4, a sample that keeps the matrix from doubling.
func TestLiveCloseAtEveryStop(t *testing.T) {
	for _, run := range []struct{ name, mech string }{{"16.4", "software"}, {"17.1", "software"}, {"16.4", "hardware"}} {
		name, mech := run.name, run.mech
		v := version(t, name)
		for k := 0; k <= len(wantStops(v)); k++ {
			t.Run(fmt.Sprintf("%s/%s/after_%d_stops", name, mech, k), func(t *testing.T) {
				d, _ := startLiveWith(t, v, mech, nil)
				info := d.Cluster()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				var pids []int
				for i := 0; i < k; i++ {
					ev, err := d.Next(ctx)
					if err != nil {
						t.Fatalf("Next %d: %v", i+1, err)
					}
					if ev.Process != walkthrough.Client {
						pids = append(pids, ev.PID)
					}
					pids = append(pids, ev.Values.ChildPID)
				}
				if err := d.Close(); err != nil {
					t.Errorf("Close at stop %d: %v", k, err)
				}
				assertCleanedUp(t, info, pids...)
			})
		}
	}
}

func TestLiveInterruptedNext(t *testing.T) {
	v := version(t, "16.4")
	d, said := startLive(t, v, func(_ *Driver, o *walkthrough.DriverOptions) { o.WaitForClient = true })
	info := d.Cluster()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Next(ctx)
		errc <- err
	}()
	// Nobody connects: Next waits until cancelled.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(said.all(), "psql -h "+info.SocketDir) {
		if time.Now().After(deadline) {
			t.Fatalf("within a minute of Next the driver did not say how to connect; it said:\n%s", said.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Next = %v, want context.Canceled", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	assertCleanedUp(t, info)
}

// outsideClient connects to the cluster the way psql would, in the
// background.
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

func TestLiveWaitForClient(t *testing.T) {
	for _, mech := range mechanisms {
		t.Run(mech, func(t *testing.T) { testLiveWaitForClient(t, mech) })
	}
}

func testLiveWaitForClient(t *testing.T, mech string) {
	v := version(t, "17.1")
	d, _ := startLiveWith(t, v, mech, func(_ *Driver, o *walkthrough.DriverOptions) { o.WaitForClient = true })
	info := d.Cluster()
	s := walkthrough.NewSession(d, v)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for conn := 1; conn <= 2; conn++ {
		connc := outsideClient(info)
		var evs []walkthrough.Event
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("connection %d: Next: %v", conn, err)
			}
			evs = append(evs, ev)
			if ev.Connection != conn {
				t.Errorf("stop %q of connection %d says connection %d", ev.Point, conn, ev.Connection)
			}
			if ev.Phase == walkthrough.Epilogue {
				break
			}
		}
		c := <-connc
		if c == nil {
			t.Fatalf("connection %d failed", conn)
		}
		reg, ok := findStop(evs, walkthrough.ParentRegistration, "")
		key := backendKey(c)
		if !ok || reg.Values.Backend.PID != key.PID || reg.Values.Backend.CancelKey != key.SecretKey {
			t.Errorf("connection %d: client got %+v, the postmaster registered %+v", conn, key, reg.Values.Backend)
		}
		for _, ch := range evs[len(evs)-1].Values.Checks {
			if !ch.OK {
				t.Errorf("connection %d: check %q failed: %s", conn, ch.Name, ch.Detail)
			}
		}
		c.Close(ctx)
	}
}

func TestLiveSoftwareBreakpoints(t *testing.T) {
	for _, name := range []string{"16.4", "17.1"} {
		t.Run(name, func(t *testing.T) {
			v := version(t, name)
			d, said := startLive(t, v, func(d *Driver, o *walkthrough.DriverOptions) {
				o.Breakpoints = "software"
				o.WaitForClient = true
				// Autovacuum workers get forked while the int3 bytes sit
				// in the postmaster: each inherits them.
				d.extraConf = []string{"autovacuum_naptime=1"}
			})
			info := d.Cluster()
			if !strings.Contains(said.all(), "breakpoints: software (--breakpoints software)") {
				t.Errorf("the driver did not say it uses int3: %s", said.all())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := walkthrough.NewSession(d, v)
			type result struct {
				ev  walkthrough.Event
				err error
			}
			first := make(chan result, 1)
			go func() {
				ev, err := s.Next(ctx)
				first <- result{ev, err}
			}()
			restored := func() int64 {
				d.mu.Lock()
				defer d.mu.Unlock()
				if d.tr == nil {
					return 0
				}
				return d.tr.restored.Load()
			}
			for restored() == 0 {
				if ctx.Err() != nil {
					t.Fatal("no other child was forked while the int3 bytes were set")
				}
				time.Sleep(50 * time.Millisecond)
			}
			connc := outsideClient(info)
			r := <-first
			if r.err != nil {
				t.Fatal(r.err)
			}
			evs := []walkthrough.Event{r.ev}
			for evs[len(evs)-1].Phase != walkthrough.Epilogue {
				ev, err := s.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			c := <-connc
			if c == nil {
				t.Fatal("the outside client failed")
			}
			defer c.Close(ctx)
			want := wantStops(v)
			want[len(want)-1] = stopWant{walkthrough.Epilogue, walkthrough.Client, "the backend runs on its own"}
			for _, ev := range evs {
				if ev.Phase == walkthrough.Epilogue {
					continue
				}
				for _, f := range ev.Values.Facts {
					if f.Name == "breakpoint" && !strings.HasPrefix(f.Value, "int3 ") {
						t.Errorf("stop %q used %s with debug registers off", ev.Point, f.Value)
					}
				}
			}
			if len(evs) != len(want) {
				t.Fatalf("%d stops, want %d", len(evs), len(want))
			}
			for i, w := range want {
				if ev := evs[i]; ev.Phase != w.phase || ev.Process != w.proc || ev.Point != w.point {
					t.Errorf("stop %d = %s/%s %q, want %s/%s %q", i+1, ev.Phase, ev.Process, ev.Point, w.phase, w.proc, w.point)
				}
				for _, c := range evs[i].Values.Checks {
					if !c.OK {
						t.Errorf("stop %d: check %q failed: %s", i+1, c.Name, c.Detail)
					}
				}
			}
			reg, _ := findStop(evs, walkthrough.ParentRegistration, "")
			if k := backendKey(c); reg.Values.Backend == nil || reg.Values.Backend.PID != k.PID || reg.Values.Backend.CancelKey != k.SecretKey {
				t.Errorf("client got %+v, the postmaster registered %+v", k, reg.Values.Backend)
			}
			// No autovacuum worker may have died of an inherited int3: the
			// postmaster would have logged it.
			log, err := os.ReadFile(d.cl.log)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(log), "autovacuum") {
				t.Errorf("no autovacuum activity in the server log")
			}
			for _, bad := range []string{"signal 5", "Trace/breakpoint trap", "terminated by signal"} {
				if strings.Contains(string(log), bad) {
					t.Errorf("the server log shows a child killed (%q)", bad)
				}
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			assertCleanedUp(t, info)
		})
	}
}

func TestLiveMissingSymbols(t *testing.T) {
	v := version(t, "16.4")
	tests := []struct {
		name     string
		hide     []string
		phases   []walkthrough.PhaseID
		saidWant []string
	}{
		{
			name: "stripped-like",
			// A stripped distribution binary keeps only exported
			// symbols: these two are static.
			hide: []string{symCanAccept, symBackendLst},
			phases: []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Fork,
				walkthrough.Child, walkthrough.Child, walkthrough.Child, walkthrough.Epilogue},
			saidWant: []string{"parent-registration", symCanAccept},
		},
		{
			name:     "no way to see a connection",
			hide:     []string{symCanAccept, "StreamConnection"},
			phases:   []walkthrough.PhaseID{walkthrough.Epilogue},
			saidWant: []string{"only the closing check"},
		},
		{
			name: "no child functions",
			hide: []string{symInitChild, symClosePorts, "PostgresMain"},
			phases: []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.Fork,
				walkthrough.ParentRegistration, walkthrough.Epilogue},
			saidWant: []string{"InitPostmasterChild", "PostgresMain"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, said := startLive(t, v, func(d *Driver, _ *walkthrough.DriverOptions) { d.hide = tt.hide })
			info := d.Cluster()
			evs := drain(t, d, v)
			var got []walkthrough.PhaseID
			for _, ev := range evs {
				got = append(got, ev.Phase)
				for _, c := range ev.Values.Checks {
					if !c.OK {
						t.Errorf("stop %q: check %q failed: %s", ev.Point, c.Name, c.Detail)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.phases) {
				t.Errorf("phases = %v, want %v", got, tt.phases)
			}
			for _, w := range tt.saidWant {
				if !strings.Contains(said.all(), w) {
					t.Errorf("the driver did not mention %q: %s", w, said.all())
				}
			}
			ep := evs[len(evs)-1]
			if ep.Values.ClientBackendKey == nil || d.Client() == nil {
				t.Fatal("no BackendKeyData at the closing check")
			}
			if res, err := d.Client().Exec(context.Background(), "SELECT pg_backend_pid()").ReadAll(); err != nil ||
				string(res[0].Rows[0][0]) != fmt.Sprint(ep.Values.ClientBackendKey.PID) {
				t.Errorf("pg_backend_pid() = %v, %v; BackendKeyData said %d", res, err, ep.Values.ClientBackendKey.PID)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			assertCleanedUp(t, info)
		})
	}
}

func TestLiveStrippedBinary(t *testing.T) {
	v := version(t, "16.4")
	src := filepath.Dir(liveBin(t, v))
	strip, err := exec.LookPath("strip")
	if err != nil {
		t.Skip("no strip command")
	}
	// A world-readable copy, so that the server's user can run it.
	dir, err := os.MkdirTemp(scratchDir(), "pgwalk-stripped-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(src, dir, nil); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "postgres")
	if out, err := exec.Command(strip, bin).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v: %s", err, out)
	}
	d, said := startLive(t, v, func(_ *Driver, o *walkthrough.DriverOptions) { o.PGBin = filepath.Dir(bin) })
	info := d.Cluster()
	evs := drain(t, d, v)
	if !strings.Contains(said.all(), "no symbol table") || !strings.Contains(said.all(), "parent-registration") {
		t.Errorf("the driver did not explain what the stripped binary lacks: %s", said.all())
	}
	if _, ok := findStop(evs, walkthrough.ParentRegistration, ""); ok {
		t.Error("parent-registration reported without BackendList")
	}
	if _, ok := findStop(evs, walkthrough.Child, "ClosePostmasterPorts returned"); !ok {
		t.Error("no ClosePostmasterPorts stop, though the function is exported")
	}
	ep := evs[len(evs)-1]
	if ep.Phase != walkthrough.Epilogue {
		t.Fatalf("last stop is %s", ep.Phase)
	}
	for _, c := range ep.Values.Checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Detail)
		}
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	assertCleanedUp(t, info)
}

func TestLiveWrongMajor(t *testing.T) {
	v := version(t, "17.1")
	bin16 := liveBin(t, version(t, "16.4"))
	d := New(walkthrough.DriverOptions{Version: v, PGBin: bin16})
	err := d.Start(context.Background())
	defer d.Close()
	var wm *WrongMajorError
	if !errors.As(err, &wm) || wm.Want != 17 || wm.Found != "16.4" {
		t.Fatalf("Start with a 16.4 binary for 17.1 = %v, want a WrongMajorError", err)
	}
	if info := d.Cluster(); info.Dir != "" {
		t.Errorf("a cluster was made: %+v", info)
	}
}

func TestLiveFindInCache(t *testing.T) {
	for _, name := range []string{"16.4", "17.1"} {
		t.Run(name, func(t *testing.T) {
			v := version(t, name)
			dir := liveBin(t, v)
			t.Setenv(EnvPGBin, "")
			bin, got, err := FindPostgres(dir, v.Major)
			if err != nil || got != v.Name || filepath.Dir(bin) != dir {
				t.Errorf("FindPostgres(%s) = %q, %q, %v", dir, bin, got, err)
			}
		})
	}
}

// TestLiveOwnClientFirst makes another client connect just before
// pgwalk's own: the walk must follow pgwalk's connection, and let the
// other one through, untraced and served.
func TestLiveOwnClientFirst(t *testing.T) {
	for _, name := range []string{"16.4", "17.1"} {
		for _, mech := range mechanisms {
			t.Run(name+"/"+mech, func(t *testing.T) {
				v := version(t, name)
				type result struct {
					conn *pgconn.PgConn
					err  error
				}
				other := make(chan result, 1)
				var otherQueued bool
				d, _ := startLiveWith(t, v, mech, func(d *Driver, _ *walkthrough.DriverOptions) {
					d.beforeClient = func() {
						info := d.Cluster()
						dialed := make(chan struct{})
						go func() {
							ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
							defer cancel()
							cfg, err := pgconn.ParseConfig(connString(info.SocketDir, info.Port))
							if err != nil {
								other <- result{err: err}
								close(dialed)
								return
							}
							cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
								defer close(dialed)
								var d net.Dialer
								return d.DialContext(ctx, network, addr)
							}
							conn, err := pgconn.ConnectConfig(ctx, cfg)
							other <- result{conn, err}
						}()
						// connect() returns once the connection waits in the
						// listen socket's queue, before pgwalk's client dials.
						select {
						case <-dialed:
							otherQueued = true
						case <-time.After(time.Minute):
						}
					}
				})
				info := d.Cluster()
				evs := drain(t, d, v)
				if !otherQueued {
					t.Fatal("the other client did not connect within a minute")
				}
				f := checkWalk(t, v, info, evs, wantStops(v))
				var r result
				select {
				case r = <-other:
				case <-time.After(time.Minute):
					t.Fatal("the other client was not served within a minute")
				}
				if r.err != nil {
					t.Fatalf("the other client: %v", r.err)
				}
				defer r.conn.Close(context.Background())
				if pid := int(r.conn.PID()); pid == f.child || pid == 0 {
					t.Errorf("the other client's backend is pid %d; the walked one is %d", pid, f.child)
				}
				ep := evs[len(evs)-1]
				said := false
				for _, fa := range ep.Values.Facts {
					said = said || (fa.Name == "other connections" && strings.Contains(fa.Value, ": 1;"))
				}
				if !said {
					t.Errorf("the closing check does not say one other connection went through: %+v", ep.Values.Facts)
				}
				checkMechanism(t, evs, mech)
				if err := d.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				assertCleanedUp(t, info, f.child)
			})
		}
	}
}

// TestLiveDeadDebugRegisters reproduces, on any machine, the virtual
// machines whose debug registers take every write and never trap: DR7 is
// written with its enable bits cleared.
func TestLiveDeadDebugRegisters(t *testing.T) {
	t.Run("auto uses int3", func(t *testing.T) {
		for _, name := range []string{"16.4", "17.1"} {
			t.Run(name, func(t *testing.T) {
				v := version(t, name)
				d, said := startLiveWith(t, v, "auto", func(d *Driver, _ *walkthrough.DriverOptions) { d.deadDR7 = true })
				want := "breakpoints: software (the hardware debug registers took the writes but did not trap when the warm-up connection ran canAcceptConnections)"
				if !strings.Contains(said.all(), want) {
					t.Errorf("the driver did not say %q; said:\n%s", want, said.all())
				}
				info := d.Cluster()
				evs := drain(t, d, v)
				f := checkWalk(t, v, info, evs, wantStops(v))
				checkMechanism(t, evs, "software")
				confirmByServer(t, d.Client(), info, f)
				if err := d.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				assertCleanedUp(t, info, f.child)
			})
		}
	})
	t.Run("forced hardware gives up", func(t *testing.T) {
		v := version(t, "16.4")
		const bound = 3 * time.Second
		d, _ := startLiveWith(t, v, "auto", func(d *Driver, o *walkthrough.DriverOptions) {
			d.deadDR7 = true
			d.bounds.stage = bound
			o.Breakpoints = "hardware"
		})
		info := d.Cluster()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		for i := 0; err == nil; i++ {
			if i > 20 {
				t.Fatal("more than 20 stops with debug registers that cannot trap")
			}
			_, err = d.Next(ctx)
		}
		var st *StageTimeoutError
		if !errors.As(err, &st) {
			t.Fatalf("Next = %v, want a StageTimeoutError", err)
		}
		if st.Stage != "the connection reaching BackendStartup" || st.After != bound || st.Try != "--breakpoints software" ||
			!strings.Contains(st.Expected, "canAcceptConnections") || !strings.Contains(st.Cause, "debug registers") {
			t.Errorf("the error does not name the stage, the bound, the cause and the flag: %+v", st)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close said more than Next did: %v", err)
		}
		assertCleanedUp(t, info)
	})
}

// TestLiveProbeBound gives the probe no time at all: the driver must give
// up on the debug registers at once, clean up the probe's breakpoints in
// a postmaster that may still run, and walk with int3.
func TestLiveProbeBound(t *testing.T) {
	v := version(t, "16.4")
	d, said := startLiveWith(t, v, "auto", func(d *Driver, _ *walkthrough.DriverOptions) { d.bounds.probe = time.Nanosecond })
	if want := "breakpoints: software (the hardware debug registers took the writes but did not trap within 1ns)"; !strings.Contains(said.all(), want) {
		t.Errorf("the driver did not say %q; said:\n%s", want, said.all())
	}
	info := d.Cluster()
	evs := drain(t, d, v)
	f := checkWalk(t, v, info, evs, wantStops(v))
	checkMechanism(t, evs, "software")
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	assertCleanedUp(t, info, f.child)
}
