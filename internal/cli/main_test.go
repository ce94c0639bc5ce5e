package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// TestMain lets this test binary be the re-enactment's backend: the driver
// re-executes os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == reenact.ChildCommand {
		os.Exit(reenact.ChildMain(os.Args[2:]))
	}
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}
