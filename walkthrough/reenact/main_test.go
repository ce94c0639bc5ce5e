package reenact

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary be the backend: the driver re-executes
// os.Executable(), which under go test is this binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildCommand {
		os.Exit(ChildMain(os.Args[2:]))
	}
	// A binary built with -race sleeps a second at exit by default; the
	// backends are such binaries under go test -race.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	os.Exit(m.Run())
}
