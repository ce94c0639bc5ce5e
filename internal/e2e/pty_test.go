//go:build linux

package e2e

import (
	"os/exec"
	"testing"

	"github.com/pgwalk/pgwalk/internal/testutil/ptytest"
)

// startPTY starts pgwalk with args and env on a rows x cols terminal (the
// one harness, internal/testutil/ptytest): a new session whose
// controlling terminal it is, in the foreground, its standard error a
// pipe the test reads.
func startPTY(t testing.TB, env []string, rows, cols uint16, args ...string) *ptytest.Term {
	t.Helper()
	cmd := exec.Command(pgwalkBinary(t), args...)
	cmd.Env = env
	return ptytest.Start(t, cmd, rows, cols)
}
