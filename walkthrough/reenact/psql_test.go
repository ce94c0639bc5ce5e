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
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough"
)

// TestPsqlConnects lets a real psql connect in WaitForClient mode, over the
// Unix socket and over TCP (where libpq first asks for SSL).
func TestPsqlConnects(t *testing.T) {
	psql := lookPsql(t)
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "16.4"), WaitForClient: true}, nil)
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
					t.Errorf("check %q failed: %s", c.Name, c.Detail)
				}
			}
			if v, _ := findFact(epi.Values.Facts, "startup packet"); !strings.Contains(v, "application_name=psql") {
				t.Errorf("startup packet fact = %q, want psql's application_name", v)
			}
		})
	}
}

// TestPsqlSeesForkFailure lets psql connect while every launch fails: psql
// reports the error the postmaster sends, as report_fork_failure_to_client
// does.
func TestPsqlSeesForkFailure(t *testing.T) {
	psql := lookPsql(t)
	d := startDriver(t, walkthrough.DriverOptions{Version: version(t, "17.1"), WaitForClient: true, Scenario: walkthrough.ScenarioForkFailure}, nil)
	w := walk(d)
	defer w.stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, "-X", "-h", d.SocketDir(), "-p", strconv.Itoa(d.Port()), "-U", "postgres", "-c", "select 1")
	cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=60")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	runErr := make(chan error, 1)
	go func() { runErr <- cmd.Run() }()
	evs := w.until(t, 1, walkthrough.Epilogue)
	if err := <-runErr; err == nil {
		t.Fatal("psql connected although the fork failed")
	}
	if want := "could not fork new process for connection: No such file or directory"; !strings.Contains(errOut.String(), want) {
		t.Errorf("psql's stderr %q lacks %q", errOut.String(), want)
	}
	var phases []walkthrough.PhaseID
	for _, ev := range evs {
		phases = append(phases, ev.Phase)
	}
	if !slices.Equal(phases, []walkthrough.PhaseID{walkthrough.StructCreation, walkthrough.StructInit, walkthrough.Fork, walkthrough.ForkFailure, walkthrough.Epilogue}) {
		t.Errorf("phases = %v", phases)
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
