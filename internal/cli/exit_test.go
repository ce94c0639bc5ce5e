package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/internal/iostreams"
)

// TestUnknownCommandIsUsage checks that `pgwalk bogus` exits 2, like every
// other usage error, says so once and shows the usage.
func TestUnknownCommandIsUsage(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"verison"}, {"bogus", "--version", "16.4"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			io, _, out, errOut := iostreams.Test()
			if code := Execute(context.Background(), NewFactory(io), args); code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitUsage, errOut)
			}
			want := `pgwalk: unknown command "` + args[0] + `" for "pgwalk"`
			if strings.Count(errOut.String(), want) != 1 || !strings.Contains(errOut.String(), "Usage:") {
				t.Errorf("stderr must say %q once, then the usage:\n%s", want, errOut)
			}
			if out.Len() != 0 {
				t.Errorf("stdout: %q", out)
			}
		})
	}
}
