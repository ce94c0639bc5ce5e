package annotations_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pgwalk/pgwalk/walkthrough/reenact"
)

// TestMain lets this test binary be the re-enactment's backend: the driver
// re-executes os.Executable(), which under go test is this binary, with
// reenact.ChildCommand as its first argument.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == reenact.ChildCommand {
		os.Exit(reenact.ChildMain(os.Args[2:]))
	}
	// A binary built with -race sleeps a second at exit by default; the
	// backends are such binaries under go test -race.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}
