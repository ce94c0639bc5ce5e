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
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live/cluster"
)

// The live suite samples the releases so that the whole package stays
// quick: every path on 16.4 (both mechanisms), one walk with a cancel on
// 17.1, and on 18.4 (where the key is made in the backend) walks with both
// mechanisms, a protocol 3.0 client and a close at every stop.

// TestLiveWalk walks one connection of pgwalk's own client, checks every
// value, and confirms with the server: its pid, and a CancelRequest with
// the key the trace reported cancelling a pg_sleep.
func TestLiveWalk(t *testing.T) {
	for _, run := range []struct{ release, mech string }{
		{"16.4", "software"}, {"16.4", "hardware"}, {"17.1", "software"}, {"18.4", "software"}, {"18.4", "hardware"},
	} {
		t.Run(run.release+"/"+run.mech, func(t *testing.T) { testLiveWalk(t, run.release, run.mech) })
	}
}

func testLiveWalk(t *testing.T, name, mech string) {
	v := version(t, name)
	d, said := startLiveWith(t, v, mech, nil)
	info := d.Cluster()
	evs := drain(t, d, v)
	f := checkWalk(t, v, info, evs)
	for _, m := range []string{"say.live.no_symbol", "say.live.other_release", "say.live.first_connection", "say.live.peer_unknown"} {
		if said.has(m) {
			t.Errorf("the exact release should give every stop without warnings; said:\n%s", said.all())
		}
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
	checkMechanism(t, v, evs, mech)
}

// TestLiveCloseAtEveryStop closes the driver after every number of stops.
func TestLiveCloseAtEveryStop(t *testing.T) {
	for _, run := range []struct{ name, mech string }{{"16.4", "software"}, {"16.4", "hardware"}, {"18.4", "software"}} {
		name, mech := run.name, run.mech
		v := version(t, name)
		plan, _ := v.Release().Plan("")
		for k := 0; k <= len(plan.Stops); k++ {
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
	for !said.has("say.live.wait_client", "dir", info.SocketDir, "port", fmt.Sprint(info.Port)) {
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

// TestLiveWaitForClient walks two connections of an outside client that
// speaks protocol 3.0, as psql does: in 18.4 the backend makes it a key of
// 4 bytes, which the walk catches.
func TestLiveWaitForClient(t *testing.T) {
	for _, run := range []struct{ release, mech string }{{"16.4", "hardware"}, {"18.4", "software"}} {
		t.Run(run.release+"/"+run.mech, func(t *testing.T) { testLiveWaitForClient(t, run.release, run.mech) })
	}
}

func testLiveWaitForClient(t *testing.T, name, mech string) {
	v := version(t, name)
	d, _ := startLiveWith(t, v, mech, func(_ *Driver, o *walkthrough.DriverOptions) { o.WaitForClient = true })
	info := d.Cluster()
	s := walkthrough.NewSession(d, v).ForScenario("")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for conn := 1; conn <= 2; conn++ {
		connc := outsideClient(info)
		var evs []walkthrough.Event
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("connection %d: Next: %v\nserver log:\n%s", conn, err, d.cl.LogTail(40))
			}
			evs = append(evs, ev)
			if ev.Connection != conn {
				t.Errorf("stop %s of connection %d says connection %d", ev.Phase, conn, ev.Connection)
			}
			if ev.Phase == walkthrough.Epilogue {
				break
			}
		}
		checkStopMessages(t, evs)
		c := <-connc
		if c == nil {
			t.Fatalf("connection %d failed", conn)
		}
		key := backendKey(c)
		reg := stop(t, evs, walkthrough.ParentRegistration)
		if reg.Values.Backend == nil || reg.Values.Backend.PID != key.PID {
			t.Errorf("connection %d: client got %+v, the postmaster registered %+v", conn, key, reg.Values.Backend)
		}
		var made string
		if si := stop(t, evs, walkthrough.StructInit); si.Values.CancelKey != nil {
			made = walkthrough.KeyHex(*si.Values.CancelKey)
		} else {
			ep := evs[len(evs)-1]
			made = ep.Values.CancelKeyHex
			if ep.Values.CancelKey == nil || walkthrough.KeyHex(*ep.Values.CancelKey) != made {
				t.Errorf("connection %d: a 4-byte key %s without its int32 (%v)", conn, made, ep.Values.CancelKey)
			}
		}
		if len(made) != 8 || made != key.SecretKeyHex {
			t.Errorf("connection %d: the client (protocol 3.0) got key %s, the trace saw %s", conn, key.SecretKeyHex, made)
		}
		if bad := failedChecks(evs); len(bad) > 0 {
			t.Errorf("connection %d: checks failed: %v", conn, bad)
		}
		c.Close(ctx)
	}
}

// TestLiveSoftwareBreakpoints lets autovacuum workers be forked while the
// int3 bytes sit in the postmaster: each inherits them, and must get them
// taken out, or it dies of SIGTRAP.
func TestLiveSoftwareBreakpoints(t *testing.T) {
	v := version(t, "16.4")
	d, said := startLive(t, v, func(d *Driver, o *walkthrough.DriverOptions) {
		o.WaitForClient = true
		d.extraConf = []string{"autovacuum_naptime=1"}
	})
	info := d.Cluster()
	if !said.has("say.live.breakpoints_software_forced") {
		t.Errorf("the driver did not say it uses int3: %s", said.all())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := walkthrough.NewSession(d, v).ForScenario("")
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
		return d.tr.Restored()
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
	checkMechanism(t, v, evs, "software")
	if bad := failedChecks(evs); len(bad) > 0 {
		t.Errorf("checks failed: %v", bad)
	}
	if ep := evs[len(evs)-1]; len(facts(ep, "fact.live.outside_client")) != 1 || len(facts(ep, "fact.live.other_children")) != 1 {
		t.Errorf("the closing check does not say the client was an outside one and other children were let go: %+v", ep.Values.Facts)
	}
	// No autovacuum worker may have died of an inherited int3: the
	// postmaster would have logged it.
	log, err := os.ReadFile(d.cl.Log)
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
}

// TestLiveMissingSymbols hides symbols as a stripped distribution binary
// lacks them: every planned stop still comes, and what the walk could not
// read there is reported unobserved, never made up.
func TestLiveMissingSymbols(t *testing.T) {
	v := version(t, "16.4")
	tests := []struct {
		name       string
		hide       []string
		unobserved map[walkthrough.PhaseID][]string
		said       []string // symbols a say.live.no_symbol names
	}{
		{
			// A stripped binary keeps only exported symbols: these two
			// are static.
			name: "stripped-like",
			hide: []string{"canAcceptConnections", "BackendList"},
			unobserved: map[walkthrough.PhaseID][]string{
				walkthrough.StructInit: {"can_accept"}, walkthrough.ParentRegistration: {"backend_list"},
			},
			said: []string{"canAcceptConnections", "BackendList"},
		},
		{
			name: "no child functions",
			hide: []string{"InitPostmasterChild", "ClosePostmasterPorts", "PostgresMain"},
			unobserved: map[walkthrough.PhaseID][]string{
				walkthrough.Child: {"fds_before", "fds_after", "closed_fds"},
			},
			said: []string{"InitPostmasterChild", "ClosePostmasterPorts"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, said := startLive(t, v, func(d *Driver, _ *walkthrough.DriverOptions) { d.hide = tt.hide })
			info := d.Cluster()
			evs := drain(t, d, v)
			for _, ev := range evs {
				if got, want := strings.Join(ev.Unobserved, ","), strings.Join(tt.unobserved[ev.Phase], ","); got != want {
					t.Errorf("%s: unobserved %q, want %q", ev.Phase, got, want)
				}
			}
			if bad := failedChecks(evs); len(bad) > 0 {
				t.Errorf("checks failed: %v", bad)
			}
			for _, sym := range tt.said {
				if !said.has("say.live.no_symbol", "symbol", sym) {
					t.Errorf("the driver did not say it lacks %s: %s", sym, said.all())
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
	t.Run("no way to see a connection", func(t *testing.T) {
		d := New(walkthrough.DriverOptions{Version: v, PGBin: liveBin(t, v), Breakpoints: "software", Teller: (&sayings{tb: t}).tell})
		d.hide = []string{"canAcceptConnections", "StreamConnection"}
		err := d.Start(context.Background())
		info := d.Cluster()
		if err == nil || !strings.Contains(err.Error(), "cannot see a connection reach BackendStartup") {
			t.Errorf("Start = %v, want it to say it cannot see a connection", err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertCleanedUp(t, info)
	})
}

func TestLiveStrippedBinary(t *testing.T) {
	v := version(t, "16.4")
	src := filepath.Dir(liveBin(t, v))
	strip, err := exec.LookPath("strip")
	if err != nil {
		t.Skip("no strip command")
	}
	// A world-readable copy, so that the server's user can run it.
	dir, err := os.MkdirTemp(cluster.ScratchDir(), "pgwalk-stripped-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cluster.CopyTree(src, dir, nil); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "postgres")
	if out, err := exec.Command(strip, bin).CombinedOutput(); err != nil {
		t.Fatalf("strip: %v: %s", err, out)
	}
	d, said := startLive(t, v, func(_ *Driver, o *walkthrough.DriverOptions) { o.PGBin = filepath.Dir(bin) })
	info := d.Cluster()
	evs := drain(t, d, v)
	if !said.has("say.live.no_symtab") || !said.has("say.live.no_symbol", "symbol", "BackendList", "phase", string(walkthrough.ParentRegistration)) {
		t.Errorf("the driver did not explain what the stripped binary lacks: %s", said.all())
	}
	reg := stop(t, evs, walkthrough.ParentRegistration)
	if len(reg.Values.BackendList) > 0 || !strings.Contains(strings.Join(reg.Unobserved, ","), "backend_list") {
		t.Errorf("parent-registration without BackendList: list %v, unobserved %v", reg.Values.BackendList, reg.Unobserved)
	}
	if ch := stop(t, evs, walkthrough.Child); ch.Values.FDsAfter == nil {
		t.Error("no descriptors at the child stop, though ClosePostmasterPorts is exported")
	}
	if bad := failedChecks(evs); len(bad) > 0 {
		t.Errorf("checks failed: %v", bad)
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
	if !errors.As(err, &wm) || wm.Want != "17" || wm.Found != "16.4" {
		t.Fatalf("Start with a 16.4 binary for 17.1 = %v, want a WrongMajorError", err)
	}
	if info := d.Cluster(); info.Dir != "" {
		t.Errorf("a cluster was made: %+v", info)
	}
}

func TestLiveFindInCache(t *testing.T) {
	for _, name := range []string{"16.4", "17.1", "18.4"} {
		t.Run(name, func(t *testing.T) {
			v := version(t, name)
			dir := liveBin(t, v)
			t.Setenv(EnvPGBin, "")
			bin, got, err := FindPostgres(dir, v)
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
	for _, run := range []struct{ release, mech string }{{"16.4", "software"}, {"16.4", "hardware"}, {"18.4", "software"}} {
		t.Run(run.release+"/"+run.mech, func(t *testing.T) { testLiveOwnClientFirst(t, run.release, run.mech) })
	}
}

func testLiveOwnClientFirst(t *testing.T, name, mech string) {
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
	f := checkWalk(t, v, info, evs)
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
	if hex.EncodeToString(r.conn.SecretKey()) == hex.EncodeToString(f.key) {
		t.Error("the other client got the walked connection's key")
	}
	ep := evs[len(evs)-1]
	if oc := facts(ep, "fact.live.other_connections"); len(oc) != 1 || oc[0].Args["count"] != "1" {
		t.Errorf("the closing check does not say one other connection went through: %+v", ep.Values.Facts)
	}
	checkMechanism(t, v, evs, mech)
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	assertCleanedUp(t, info, f.child)
}

// TestLiveDeadDebugRegisters reproduces, on any machine, the virtual
// machines whose debug registers take every write and never trap: DR7 is
// written with its enable bits cleared.
func TestLiveDeadDebugRegisters(t *testing.T) {
	t.Run("auto uses int3", func(t *testing.T) {
		for _, name := range []string{"16.4", "18.4"} {
			t.Run(name, func(t *testing.T) {
				v := version(t, name)
				d, said := startLiveWith(t, v, "auto", func(d *Driver, _ *walkthrough.DriverOptions) { d.deadDR7 = true })
				if !said.has("say.live.breakpoints_no_trap", "function", "canAcceptConnections") {
					t.Errorf("the driver did not say the registers did not trap on canAcceptConnections; said:\n%s", said.all())
				}
				info := d.Cluster()
				evs := drain(t, d, v)
				f := checkWalk(t, v, info, evs)
				checkMechanism(t, v, evs, "software")
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
	if !said.has("say.live.breakpoints_no_trap_within", "bound", "1ns") {
		t.Errorf("the driver did not say the registers did not trap within 1ns; said:\n%s", said.all())
	}
	info := d.Cluster()
	evs := drain(t, d, v)
	f := checkWalk(t, v, info, evs)
	checkMechanism(t, v, evs, "software")
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	assertCleanedUp(t, info, f.child)
}

// TestLivePsqlCancel walks the connection of a real psql (protocol 3.0)
// on 18.4, where the backend makes the key itself, and cancels psql's
// pg_sleep with a CancelRequest built from the pid and the key the walk
// reported.
func TestLivePsqlCancel(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must have psql")
		}
		t.Skip("no psql")
	}
	v := version(t, "18.4")
	d, _ := startLive(t, v, func(_ *Driver, o *walkthrough.DriverOptions) { o.WaitForClient = true })
	info := d.Cluster()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// psql runs detached (setsid --fork): the tracer's wait4 reaps any
	// child of this process, so a child of its own would lose its exit
	// status to it. psql's output and status go to files.
	dir := t.TempDir()
	outFile, rcFile := filepath.Join(dir, "out"), filepath.Join(dir, "rc")
	script := `"$0" "$@" >"$PSQL_OUT" 2>&1; echo $? >"$PSQL_RC.tmp" && mv "$PSQL_RC.tmp" "$PSQL_RC"`
	cmd := exec.Command("setsid", "--fork", "sh", "-c", script, psql, "-X", "-h", info.SocketDir, "-p", fmt.Sprint(info.Port),
		"-U", "postgres", "-d", "postgres", "-c", "SELECT pg_sleep(60)")
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=60", "PSQL_OUT="+outFile, "PSQL_RC="+rcFile)
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start psql detached: %v", err)
	}
	go func() { _ = cmd.Wait() }() // setsid itself ends at once
	psqlDone := func() (string, bool) {
		rc, err := os.ReadFile(rcFile)
		if err != nil {
			return "", false
		}
		out, _ := os.ReadFile(outFile)
		return strings.TrimSpace(string(rc)) + ": " + string(out), true
	}
	s := walkthrough.NewSession(d, v).ForScenario("")
	var evs []walkthrough.Event
	for len(evs) == 0 || evs[len(evs)-1].Phase != walkthrough.Epilogue {
		ev, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		evs = append(evs, ev)
	}
	checkStopMessages(t, evs)
	if bad := failedChecks(evs); len(bad) > 0 {
		t.Errorf("checks failed: %v", bad)
	}
	ep := evs[len(evs)-1]
	key, err := hex.DecodeString(ep.Values.CancelKeyHex)
	if err != nil || len(key) != v.Release().Facts.CancelKey.Bytes("3.0") || ep.Values.CancelKey == nil {
		t.Fatalf("psql asked for protocol 3.0: the key %q (%v) should have 4 bytes", ep.Values.CancelKeyHex, ep.Values.CancelKey)
	}
	pid := stop(t, evs, walkthrough.Fork).Values.ChildPID
	// Keep the walk going: a cancel connection that arrives while the
	// walk waits for a client is walked too.
	walked := make(chan []walkthrough.Event, 1)
	go func() {
		var more []walkthrough.Event
		for {
			ev, err := s.Next(ctx)
			if err != nil {
				walked <- more
				return
			}
			more = append(more, ev)
		}
	}()
	defer func() {
		cancel()
		more := <-walked
		checkStopMessages(t, more)
		if bad := failedChecks(more); len(bad) > 0 {
			t.Errorf("checks of the later connections failed: %v", bad)
		}
	}()
	// A cancel that arrives while psql's connection starts up ends the
	// startup instead: wait until the backend's process title says it
	// runs the query.
	for {
		title, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(title), "SELECT") {
			break
		}
		if res, ok := psqlDone(); ok || ctx.Err() != nil {
			t.Fatalf("psql's query did not start (psql: %s)", res)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for sent := 0; ; sent++ {
		if err := cancelRequest(info, pid, key); err != nil {
			t.Fatal(err)
		}
		if res, ok := psqlDone(); ok {
			if !strings.HasPrefix(res, "1: ") || !strings.Contains(res, "canceling statement due to user request") {
				t.Fatalf("psql ended with %s", res)
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("psql's pg_sleep(60) did not end after %d CancelRequests", sent)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveForkFailure makes the fork fail for real: the postmaster is
// moved into a process-number cgroup that it fills alone (pids.max 1), so
// that its next fork gets EAGAIN. The walk follows the release's
// fork-failure plan, with the error read from the postmaster's log, and
// the client gets the error.
func TestLiveForkFailure(t *testing.T) {
	for _, name := range []string{"16.4", "18.4"} {
		t.Run(name, func(t *testing.T) {
			v := version(t, name)
			d, _ := startLive(t, v, nil)
			info := d.Cluster()
			pidsCgroup(t, d, 1)
			// The session checks the walk against both plans: this one
			// must be the fork-failure plan's.
			s := walkthrough.NewSession(d, v)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for {
				_, err := s.Next(ctx)
				if walkthrough.IsEOF(err) {
					break
				}
				if err != nil {
					t.Fatalf("Next after %d stops: %v", len(s.Stops()), err)
				}
			}
			evs := s.Stops()
			checkStopMessages(t, evs)
			plan, _ := v.Release().Plan(walkthrough.ScenarioForkFailure)
			if err := plan.Check(evs, true); err != nil {
				t.Fatal(err)
			}
			for i, ev := range evs {
				if ev.Point != plan.Stops[i].At || len(ev.Unobserved) > 0 && ev.Phase != walkthrough.Fork {
					t.Errorf("stop %d: point %q, unobserved %v", i+1, ev.Point, ev.Unobserved)
				}
			}
			if f := stop(t, evs, walkthrough.Fork); f.Values.ForkReturn == nil || *f.Values.ForkReturn != -1 {
				t.Errorf("the fork returned %v, want -1", f.Values.ForkReturn)
			}
			ff := stop(t, evs, walkthrough.ForkFailure)
			if e := ff.Values.Errno; e == nil || e.Name != "EAGAIN" || len(ff.Values.Log) != 1 || !strings.Contains(ff.Values.Log[0], "could not fork new process for connection") {
				t.Errorf("fork failure: errno %+v, log %q", ff.Values.Errno, ff.Values.Log)
			}
			ep := evs[len(evs)-1]
			// report_fork_failure_to_client writes a bare error message,
			// not a protocol 3 one: pgconn reports it as a bad message.
			if ce := facts(ep, "fact.live.client_error"); len(ce) != 1 || ep.Values.ClientBackendKey != nil {
				t.Errorf("the client did not get an error instead of a key: %+v", ep.Values)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			assertCleanedUp(t, info)
		})
	}
}

// pidsCgroup moves d's postmaster into a new process-number cgroup whose
// limit is max (cgroup v1's pids controller, or v2 where it is enabled),
// removed at the end of the test, once d is closed. It skips where no such
// cgroup can be made here.
func pidsCgroup(t *testing.T, d *Driver, max int) {
	t.Helper()
	pid := d.Cluster().PostmasterPID
	var dir string
	for _, parent := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(parent, "cgroup.procs")); err != nil {
			continue
		}
		cg := filepath.Join(parent, fmt.Sprintf("pgwalk-test-%d-%d", os.Getpid(), pid))
		if err := os.Mkdir(cg, 0o755); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(cg, "pids.max")); err != nil {
			_ = os.Remove(cg)
			continue
		}
		dir = cg
		break
	}
	if dir == "" {
		t.Skip("no process-number cgroup can be made here (cgroup v1 pids, or v2 with the pids controller)")
	}
	t.Cleanup(func() {
		// Empty once the cluster is gone; wait for its processes to leave.
		_ = d.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := os.Remove(dir)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("cgroup %s: %v", dir, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(fmt.Sprint(max)), 0o644); err != nil {
		t.Skipf("cannot limit the cgroup's processes: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0o644); err != nil {
		t.Skipf("cannot move the postmaster into the cgroup: %v", err)
	}
}
