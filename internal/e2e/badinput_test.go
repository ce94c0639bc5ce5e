//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
	"github.com/pgwalk/pgwalk/walkthrough"
	"github.com/pgwalk/pgwalk/walkthrough/live"
)

// The cases of the bad-input catalogue (docs/errors.md) that need a
// terminal, root or a real PostgreSQL; the others are in
// cmd/pgwalk/testdata/script/badinput.txtar.

// runPgwalk runs pgwalk (through wrapper, when given) and returns its exit
// code, stdout and stderr.
func runPgwalk(t *testing.T, env []string, wrapper []string, args ...string) (int, string, string) {
	t.Helper()
	argv := append(append(append([]string{}, wrapper...), pgwalkBinary(t)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var ee *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// startLines returns the lines of stderr that report why the driver could
// not start.
func startLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "pgwalk: starting the live driver: ") {
			out = append(out, l)
		}
	}
	return out
}

// livePG16 returns the bin directory of a PostgreSQL 16 the live driver
// can trace, or skips (fails in CI, which installs it).
func livePG16(t *testing.T) string {
	t.Helper()
	if err := live.Supported(); err != nil {
		t.Skip(err)
	}
	v, err := walkthrough.LookupVersion("16.4")
	if err != nil {
		t.Fatal(err)
	}
	bin, _, err := live.FindPostgres("", v)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return filepath.Dir(bin)
}

// TestPtraceNotPermitted runs the live driver without CAP_SYS_PTRACE
// (setpriv drops it): as root without it, pgwalk may not trace the server,
// which runs as another user. pgwalk must say so and exit 1.
func TestPtraceNotPermitted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: dropping CAP_SYS_PTRACE from root is how this test forbids ptrace")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	dir := livePG16(t)
	code, stdout, stderr := runPgwalk(t, baseEnv("ptrace", ""),
		[]string{setpriv, "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"},
		"run", "--version", "16.4", "--driver", "live", "--pg-bin", dir, "--output", "json")
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	lines := startLines(stderr)
	if len(lines) != 1 || !strings.Contains(lines[0], "ptrace is not permitted here") {
		t.Errorf("want one line saying ptrace is not permitted; stderr:\n%s", stderr)
	}
	if n := strings.Count(stderr, "ptrace is not permitted here"); n != 1 || strings.Contains(stderr, "cleaning up:") {
		t.Errorf("the reason must be said once, and cleaning up say nothing more; it is said %d times; stderr:\n%s", n, stderr)
	}
}

// TestRootWithoutServerUser runs the live driver as root with no
// unprivileged account to run PostgreSQL as (PGWALK_PG_USER names one
// that does not exist, or root itself).
func TestRootWithoutServerUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if err := live.Supported(); err != nil {
		t.Skip(err)
	}
	// A stand-in that answers --version as PostgreSQL 16.4 does: the
	// account is checked before any server starts.
	dir := t.TempDir()
	fake := filepath.Join(dir, "postgres")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'postgres (PostgreSQL) 16.4'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ user, want string }{
		{"pgwalk-no-such-user", `pgwalk: starting the live driver: pgwalk runs as root and PostgreSQL refuses to: it needs an unprivileged account to run the server as ("pgwalk-no-such-user": user: unknown user pgwalk-no-such-user); create one or set PGWALK_PG_USER`},
		{"root", `pgwalk: starting the live driver: account "root" cannot run PostgreSQL (uid 0)`},
	} {
		t.Run(tc.user, func(t *testing.T) {
			env := append(baseEnv("nouser", ""), "PGWALK_PG_USER="+tc.user)
			code, _, stderr := runPgwalk(t, env, nil, "run", "--version", "16.4", "--driver", "live", "--pg-bin", dir)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			if lines := startLines(stderr); len(lines) != 1 || lines[0] != tc.want {
				t.Errorf("stderr:\n%s\nwant the line:\n%s", stderr, tc.want)
			}
		})
	}
}

// TestNarrowTerminal runs pgwalk on a 30-column terminal: it warns once
// and renders the notes at 40 columns (the terminal wraps them), and the
// footer is cut to the terminal's width.
func TestNarrowTerminal(t *testing.T) {
	r := startPTY(t, baseEnv("narrow", ""), 200, 30, "run", "--version", "16.4", "--driver", "narrate")
	// The footer, cut to the terminal's width, ends the screen.
	screen := r.WaitScreenEnd(1, "Phase 1/5 · Struct creation…")
	r.Press("q")
	if code := r.Wait(); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, r.Stderr())
	}
	const warn = "pgwalk: the terminal is 30 columns wide; rendering at 40 (widen it, or pass --width)"
	if n := strings.Count(r.Stderr(), warn); n != 1 {
		t.Errorf("warning said %d times; stderr:\n%s", n, r.Stderr())
	}
	widest := 0
	lines := strings.Split(ptytest.StripEscapes(screen), "\n")
	for _, l := range lines {
		if strings.Contains(l, "https://") {
			continue // permalinks are never wrapped, so that they stay clickable
		}
		widest = max(widest, utf8.RuneCountInString(strings.TrimRight(l, " \r")))
	}
	if widest <= 30 || widest > 40 {
		t.Errorf("widest line %d columns, want 31..40 (rendered at 40)", widest)
	}
	footer := strings.TrimRight(lines[len(lines)-1], "\r\n")
	if footer == "" && len(lines) > 1 {
		footer = strings.TrimRight(lines[len(lines)-2], "\r")
	}
	if n := utf8.RuneCountInString(footer); n > 30 {
		t.Errorf("footer %q is %d columns on a 30-column terminal", footer, n)
	}
}
