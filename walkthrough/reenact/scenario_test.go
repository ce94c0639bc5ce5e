//go:build unix

package reenact

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// startPsql starts psql against d's postmaster on host (the socket
// directory or 127.0.0.1) with sslmode, asking it to run one query, and
// returns a
// function that waits for psql and returns its standard error and exit
// error.
func startPsql(t *testing.T, psql string, d *Driver, host, sslmode string) func() (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	cmd := exec.CommandContext(ctx, psql, "-X", "-h", host, "-p", strconv.Itoa(d.Port()), "-U", "postgres", "-d", "postgres", "-c", "select 1")
	cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=60", "PGSSLMODE="+sslmode)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); cancel() }()
	return func() (string, error) {
		err := <-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("psql did not end within %v: %s", safety, &errOut)
		}
		return errOut.String(), err
	}
}

// closeAndCheckClean closes d and checks that it left nothing: no child
// process, no private directory, and none of the paths in also.
func closeAndCheckClean(t *testing.T, d *Driver, also ...string) {
	t.Helper()
	dir := d.SocketDir()
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if kids := childrenOf(t, os.Getpid()); len(kids) > 0 {
		t.Errorf("children left after Close: %v", kids)
	}
	for _, p := range append([]string{dir}, also...) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after Close (%v)", p, err)
		}
	}
}

// TestPsqlSeesForkFailure lets psql connect, over the Unix socket and over
// TCP, while every launch fails: psql prints what
// report_fork_failure_to_client sent, the text with the errno the launch
// really got (the kernel's with a process limit, ENOENT with the fallback),
// and every connection of the run fails alike.
func TestPsqlSeesForkFailure(t *testing.T) {
	psql := lookPsql(t)
	for _, name := range []string{"16.4", "17.1", "18.4", "18.4 without a limit"} {
		t.Run(name, func(t *testing.T) {
			release, noLimit := strings.CutSuffix(name, " without a limit")
			v := version(t, release)
			d := New(walkthrough.DriverOptions{Version: v, WaitForClient: true, Scenario: walkthrough.ScenarioForkFailure})
			d.noLimit = noLimit
			t.Cleanup(func() { _ = d.Close() })
			if err := d.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			errno := syscall.ENOENT
			var cgroup string
			if d.limit != nil {
				errno, cgroup = d.limit.Errno, d.limit.Dir
				t.Logf("the launch fails in the kernel: %s, pids.max %d, %s", d.limit.Hierarchy, d.limit.Max, errnoName(errno))
			} else {
				t.Logf("no process limit here (%v): the launch execs a program that does not exist", d.limitErr)
			}
			want := "could not fork new process for connection: " + strerror(errno)
			plan, err := v.Release().Plan(walkthrough.ScenarioForkFailure)
			if err != nil {
				t.Fatal(err)
			}
			if cmds := d.PsqlCommands(); len(cmds) != 2 || !strings.Contains(cmds[1], "sslmode=disable") {
				t.Errorf("psql lines %q: want SSL off over TCP", cmds)
			}
			w := walk(d)
			for i, host := range []string{d.SocketDir(), "127.0.0.1"} {
				n := i + 1
				// SSL off, as the TCP line pgwalk prints says: psql does
				// not print an error that comes during its SSL exchange.
				wait := startPsql(t, psql, d, host, "disable")
				evs := w.until(t, n, walkthrough.Epilogue)
				stderr, err := wait()
				if err == nil {
					t.Fatalf("connection %d: psql connected although the launch failed", n)
				}
				if !strings.Contains(stderr, want) || strings.Contains(stderr, "FATAL") {
					t.Errorf("connection %d: psql's stderr %q lacks %q as PostgreSQL sends it (no severity)", n, stderr, want)
				}
				t.Logf("psql: %s", strings.TrimSpace(stderr))
				stops := stopsOf(evs, n)
				if err := plan.Check(stops, true); err != nil {
					t.Fatalf("connection %d: %v", n, err)
				}
				fork := stops[2].Values
				if fork.ForkReturn == nil || *fork.ForkReturn != -1 || fork.Errno == nil ||
					fork.Errno.Code != int(errno) || fork.Errno.Name != unix.ErrnoName(errno) || fork.Errno.Message != strerror(errno) {
					t.Errorf("connection %d: fork_return %v, errno %+v; want -1 and %s", n, fork.ForkReturn, fork.Errno, errnoName(errno))
				}
				key := "fact.reenact.fork_missing"
				if d.limit != nil {
					key = "fact.reenact.fork_limit"
				}
				if f, ok := factKey(fork.Facts, key); !ok || f.Args["errno"] != errnoName(errno) || (d.limit != nil && f.Args["cgroup"] != cgroup) {
					t.Errorf("connection %d: no fact %s naming %s (facts %+v)", n, key, errnoName(errno), fork.Facts)
				}
				failure := stops[3].Values
				if len(failure.Log) != 1 || failure.Log[0] != want {
					t.Errorf("connection %d: logged %q, want %q", n, failure.Log, want)
				}
				if f, ok := findFact(failure.Facts, "fact.reenact.sent_packet"); !ok || f["message"] != strconv.Quote("E"+want+"\n\x00") || f["n"] != f["len"] {
					t.Errorf("connection %d: sent to client %v", n, f)
				}
				for _, c := range stops[4].Values.Checks {
					if !c.OK {
						t.Errorf("connection %d: check %q failed: %s", n, c.Name, c.Detail)
					}
				}
			}
			w.stop(t)
			var also []string
			if cgroup != "" {
				also = append(also, cgroup)
			}
			closeAndCheckClean(t, d, also...)
		})
	}
}

// TestPsqlSeesTooManyClients lets psql connect, over the Unix socket and
// over TCP, to a postmaster whose table of children pgwalk's own session
// holds: every connection finds it full, becomes a dead-end child with no
// slot, and psql prints the FATAL error that child sends.
func TestPsqlSeesTooManyClients(t *testing.T) {
	psql := lookPsql(t)
	for _, name := range []string{"16.4", "17.1", "18.4"} {
		t.Run(name, func(t *testing.T) {
			v := version(t, name)
			d := startDriver(t, walkthrough.DriverOptions{Version: v, WaitForClient: true, Scenario: walkthrough.ScenarioTooManyClients}, nil)
			if len(d.held) != tooManyLimit {
				t.Fatalf("%d sessions of pgwalk's own hold the table, want %d", len(d.held), tooManyLimit)
			}
			held := d.held[0].c.pid
			if err := syscall.Kill(held, 0); err != nil {
				t.Fatalf("the held session's backend %d: %v", held, err)
			}
			plan, err := v.Release().Plan(walkthrough.ScenarioTooManyClients)
			if err != nil {
				t.Fatal(err)
			}
			w := walk(d)
			for i, host := range []string{d.SocketDir(), "127.0.0.1"} {
				n := i + 1
				wait := startPsql(t, psql, d, host, "prefer")
				evs := w.until(t, n, walkthrough.Epilogue)
				stderr, err := wait()
				if err == nil {
					t.Fatalf("connection %d: psql connected to a full table", n)
				}
				if want := "FATAL:  sorry, too many clients already"; !strings.Contains(stderr, want) {
					t.Errorf("connection %d: psql's stderr %q lacks %q", n, stderr, want)
				}
				t.Logf("psql: %s", strings.TrimSpace(stderr))
				stops := stopsOf(evs, n)
				if err := plan.Check(stops, true); err != nil {
					t.Fatalf("connection %d: %v", n, err)
				}
				// The accept decision is made at struct creation where
				// the release has a pool, at struct init otherwise.
				i := slices.IndexFunc(stops, func(ev walkthrough.Event) bool { return ev.Values.DeadEnd != nil })
				if i < 0 || stops[i].Phase != walkthrough.StructCreation && stops[i].Phase != walkthrough.StructInit {
					t.Fatalf("connection %d: no dead_end value at struct creation or init", n)
				}
				dv := stops[i].Values
				if dv.CanAccept != "CAC_TOOMANY" || !*dv.DeadEnd || dv.ChildSlot == nil || *dv.ChildSlot != 0 {
					t.Errorf("connection %d at %s: can_accept %s, dead_end %v, child_slot %v; want CAC_TOOMANY, true, 0",
						n, stops[i].Phase, dv.CanAccept, *dv.DeadEnd, dv.ChildSlot)
				}
				full := "fact.reenact.table_full"
				if d.pool != nil {
					full = "fact.reenact.pool_full"
				}
				if f, ok := factKey(stops[0].Values.Facts, full); !ok || f.Args["pids"] != strconv.Itoa(held) || f.Args["n"] != strconv.Itoa(tooManyLimit) {
					t.Errorf("connection %d: struct-creation lacks %s naming backend %d: %+v", n, full, held, stops[0].Values.Facts)
				}
				reg := stops[4].Values
				if len(reg.BackendList) != 2 || !reg.BackendList[0].DeadEnd || reg.BackendList[0].ChildSlot != 0 ||
					reg.BackendList[0].PID != reg.ChildPID || reg.BackendList[1].PID != held || reg.BackendList[1].DeadEnd {
					t.Errorf("connection %d: list at registration %+v, want the dead end at the head, then backend %d", n, reg.BackendList, held)
				}
				epi := stops[5].Values
				if epi.ClientBackendKey != nil {
					t.Errorf("connection %d: a dead-end child sent BackendKeyData %+v", n, epi.ClientBackendKey)
				}
				for _, c := range epi.Checks {
					if !c.OK {
						t.Errorf("connection %d: check %q failed: %s", n, c.Name, c.Detail)
					}
				}
			}
			// The held session outlives every refused connection.
			if err := syscall.Kill(held, 0); err != nil {
				t.Errorf("the held session's backend %d after the refusals: %v", held, err)
			}
			w.stop(t)
			closeAndCheckClean(t, d)
			if err := syscall.Kill(held, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the held session's backend %d after Close: kill(0) = %v, want ESRCH", held, err)
			}
		})
	}
}

// TestOwnClientReadsOldError: pgwalk's own client reads the error of the
// protocol before 3.0 that a failed launch sends, and leaves a protocol 3
// message alone.
func TestOwnClientReadsOldError(t *testing.T) {
	msg := forkFailureMessage(syscall.EAGAIN)
	if want := "Ecould not fork new process for connection: Resource temporarily unavailable\n\x00"; string(msg) != want {
		t.Fatalf("packet %q, want %q", msg, want)
	}
	text, ok := readOldError(bufio.NewReader(bytes.NewReader(msg)))
	if !ok || text != "could not fork new process for connection: Resource temporarily unavailable" {
		t.Errorf("readOldError = %q, %t", text, ok)
	}
	// A protocol 3 ErrorResponse: 'E' and a length word that fits.
	v3 := []byte{'E', 0, 0, 0, 8, 'S', 'x', 0, 0}
	br := bufio.NewReader(bytes.NewReader(v3))
	if _, ok := readOldError(br); ok {
		t.Error("a protocol 3 ErrorResponse read as an old error")
	}
	if n := br.Buffered(); n != len(v3) {
		t.Errorf("%d bytes left to read, want all %d", n, len(v3))
	}
}
