//go:build unix

package reenact

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestPsqlConnects lets a real psql connect in WaitForClient mode, over the
// Unix socket and over TCP (where libpq first asks for SSL), to a release
// whose postmaster makes the key and to one whose backend makes it: psql
// asks for protocol 3.0, so an 18.4 backend makes it a 4-byte key.
func TestPsqlConnects(t *testing.T) {
	psql := lookPsql(t)
	for _, name := range []string{"16.4", "18.4"} {
		t.Run(name, func(t *testing.T) { testPsqlConnects(t, psql, name) })
	}
}

func testPsqlConnects(t *testing.T, psql, name string) {
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, name), WaitForClient: true}, nil)
	w := walk(d)
	defer w.stop(t)

	tests := []struct {
		name string
		host string
		via  string
	}{
		{"unix socket", d.SocketDir(), "via socket in"},
		{"tcp", "127.0.0.1", "on host \"127.0.0.1\""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			cmd := exec.CommandContext(ctx, psql, "-X", "-h", tt.host, "-p", strconv.Itoa(d.Port()), "-U", "postgres", "-d", "postgres", "-f", "-")
			cmd.Stdin = strings.NewReader("\\conninfo\nselect 1;\n\\q\n")
			cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=60", "PGSSLMODE=prefer")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			runErr := make(chan error, 1)
			go func() { runErr <- cmd.Run() }()

			evs := w.until(t, i+1, walkthrough.Epilogue)
			if err := <-runErr; err != nil {
				t.Fatalf("psql: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errOut)
			}
			if !strings.Contains(out.String(), tt.via) || !strings.Contains(out.String(), fmt.Sprintf("port \"%d\"", d.Port())) {
				t.Errorf("\\conninfo output %q lacks %q and the port", out.String(), tt.via)
			}
			if !strings.Contains(errOut.String(), queryErrorMessage) {
				t.Errorf("psql's stderr %q lacks the query error", errOut.String())
			}
			t.Logf("psql stdout:\n%s\npsql stderr:\n%s", &out, &errOut)
			epi := evs[len(evs)-1]
			for _, c := range epi.Values.Checks {
				if !c.OK {
					t.Errorf("check %s failed: %v", c.Key, c.Args)
				}
			}
			if v, _ := findFact(epi.Values.Facts, "fact.reenact.startup_packet"); v["application"] != "psql" || v["protocol"] != "3.0" {
				t.Errorf("startup packet fact = %v, want psql's application_name and protocol 3.0", v)
			}
			// A 4-byte key, in both releases: psql asked for 3.0.
			k := epi.Values.ClientBackendKey
			if k == nil || len(k.SecretKeyHex) != 8 || k.SecretKeyHex != walkthrough.KeyHex(k.SecretKey) || epi.Values.CancelKey == nil || *epi.Values.CancelKey != k.SecretKey {
				t.Errorf("client_backend_key %+v, cancel_key %v: want a 4-byte key, the same on both sides", k, epi.Values.CancelKey)
			}
			if !d.fl.keyInPostmaster() {
				if i := slices.IndexFunc(epi.Values.Checks, func(c walkthrough.Check) bool { return c.Key == "check.reenact.key_width" }); i < 0 || epi.Values.Checks[i].Args["bytes"] != "4" {
					t.Errorf("checks %+v: want the key width checked at 4 bytes", epi.Values.Checks)
				}
			}
		})
	}
}

// TestPsqlCancel runs `psql -c 'select pg_sleep(3600)'` and interrupts it
// as Ctrl-C does: psql sends a CancelRequest on a new connection, which is
// walked like any other; that connection's child finds psql's backend in
// its copy of BackendList and signals it, and psql reports the statement
// cancelled.
func TestPsqlCancel(t *testing.T) {
	psql := lookPsql(t)
	for _, name := range []string{"16.4", "17.1", "18.4"} {
		t.Run(name, func(t *testing.T) {
			running := make(chan int, 2)
			d := startDriver(t, walkthrough.DriverOptions{Version: version(t, name), WaitForClient: true},
				func(d *Driver) { d.queryRunning = running })
			w := walk(d)
			defer w.stop(t)

			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			cmd := exec.CommandContext(ctx, psql, "-X", "-h", d.SocketDir(), "-p", strconv.Itoa(d.Port()), "-U", "postgres", "-d", "postgres", "-c", "select pg_sleep(3600)")
			cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=60")
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			runErr := make(chan error, 1)
			go func() { runErr <- cmd.Wait() }()

			evs := w.until(t, 1, walkthrough.Fork)
			backend := evs[len(evs)-1].Values.ChildPID
			waitPID(t, running, backend, "psql's pg_sleep running")
			// What psql does on Ctrl-C: its SIGINT handler sends the
			// CancelRequest.
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			// psql's own connection may end before the cancel connection's
			// child is reaped, or after.
			evs = w.untilEpilogues(t, 1, 2)
			stops := stopsOf(evs, 2)
			if len(stops) != len(allPhases) {
				t.Errorf("the cancel connection had %d stops, want %d", len(stops), len(allPhases))
			}
			epi := stops[len(stops)-1]
			want := walkthrough.CancelRequest{PID: backend, Matched: true, CheckedByPID: stops[2].Values.ChildPID}
			if cr := epi.Values.CancelRequest; cr == nil || *cr != want || cr.CheckedByPID == os.Getpid() {
				t.Errorf("cancel_request = %+v, want %+v (postmaster %d)", cr, want, os.Getpid())
			}
			if d.fl.sharedKeys() {
				// psql's 4-byte key, found among the keys the backends
				// published.
				if f, ok := factKey(epi.Values.Facts, "fact.reenact.keys_searched"); !ok || f.Args["published"] != "1" {
					t.Errorf("keys searched = %+v, want psql's backend's key published", f)
				}
			}
			err := <-runErr
			if err == nil {
				t.Errorf("psql succeeded, want the cancelled statement's error")
			}
			if want := "canceling statement due to user request"; !strings.Contains(errOut.String(), want) {
				t.Errorf("psql's stderr %q lacks %q", errOut.String(), want)
			}
			t.Logf("psql stdout:\n%s\npsql stderr:\n%s", &out, &errOut)
			first := stopsOf(evs, 1)
			v := first[len(first)-1].Values
			if q := factsWith(v.Facts, "fact.reenact.query_cancelled"); len(q) != 1 || q[0]["query"] != `"select pg_sleep(3600)"` {
				t.Errorf("cancelled queries = %v, facts %v", q, v.Facts)
			}
		})
	}
}

// lookPsql returns psql's path. Without one the test skips, saying so,
// except in CI (CI=true), which must not skip: scripts/test.sh installs
// it (Debian's postgresql-client).
func lookPsql(t *testing.T) string {
	t.Helper()
	psql, err := exec.LookPath("psql")
	if err == nil {
		return psql
	}
	const why = "psql is not installed: bash scripts/test.sh installs Debian's postgresql-client"
	if os.Getenv("CI") == "true" {
		t.Fatal(why + "; CI must run this test")
	}
	t.Skip(why)
	return ""
}
